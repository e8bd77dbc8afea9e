package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.not;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.config.EncryptionConfig;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.ContentFingerprint;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.job.JobJournal;
import dev.lifeboat.common.job.JobRecord;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.TableFingerprint;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.S3FaultProxy;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.verify.service.VerificationJob;
import dev.lifeboat.verify.service.StatusService;
import dev.lifeboat.verify.service.VerificationService;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.io.InputStream;
import java.net.URL;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * verify-service in-process against real parts: PostgreSQL, the S3 server, and backup-service and restore-service
 * as real processes. Backups are taken by backup-service; damage is done to the stored objects directly, the way a
 * failing disk or a tampering hand would.
 */
@QuarkusTest
@QuarkusTestResource(VerifyStack.class)
class VerificationTest {
    @Inject
    ObjectStore store;

    @Inject
    BackupCatalog catalog;

    @Inject
    EncryptionConfig encryption;

    @Inject
    VerificationService service;

    @Inject
    StatusService statusService;

    @TestHTTPResource(value = "metrics", management = true)
    URL metrics;

    // ---- passing ----

    @Test
    void aGoodBackupPassesFullVerificationAndTheRecordIsStoredBesideIt() {
        String id = backup("main");
        BackupMetadata m = catalog.get(id);

        Response r = verify(id, "full");
        r.then().statusCode(201).header("Location", containsString("/api/v1/verifications/verify_"))
                .body("result", equalTo("PASSED")).body("status", equalTo("FINISHED")).body("level", equalTo("FULL"))
                .body("trigger", equalTo("MANUAL")).body("tablesCompared", equalTo(m.fingerprint().size()));
        // the restore's read of the data object is the checksum: the object is read once
        assertThat(r.jsonPath().getList("steps.name", String.class)).containsExactly("METADATA", "RESTORE", "CHECKSUM",
                "FINGERPRINT", "AMCHECK", "SQL_CHECKS", "DROP_SCRATCH");
        assertThat(r.jsonPath().getList("steps.status", String.class)).containsOnly("DONE");
        assertThat(r.jsonPath().getString("steps.find { it.name == 'CHECKSUM' }.detail"))
                .contains(m.storedSizeBytes() + " stored bytes read by restore " + r.jsonPath().getString("restoreId"))
                .contains("SHA-256 match");
        assertThat(service.job(r.jsonPath().getString("id")).orElseThrow().bytesChecked()).isEqualTo(m.storedSizeBytes());
        assertThat(r.jsonPath().getString("steps.find { it.name == 'AMCHECK' }.detail")).contains("B-tree indexes checked");
        assertThat(r.jsonPath().getString("steps.find { it.name == 'SQL_CHECKS' }.detail")).contains("people-present");
        assertThat(r.jsonPath().getDouble("restoreSeconds")).isGreaterThan(0);
        assertNoScratchDatabaseLeft();

        // stored beside the backup, readable by the other services
        String verificationId = r.jsonPath().getString("id");
        List<VerificationRecord> records = catalog.verificationsOf("main", id);
        assertThat(records).extracting(VerificationRecord::id).contains(verificationId);
        assertThat(BackupCatalog.provenRestorable(records)).isTrue();
        operator().get("/api/v1/verifications/" + verificationId).then().statusCode(200).body("result", equalTo("PASSED"));
        assertThat(operator().get("/api/v1/verifications?backupId=" + id).jsonPath().getList("id", String.class))
                .contains(verificationId);

        // backup-service lists it as verified; restore-service restores it as latest-verified
        given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/backups?database=main&verified=true").then().statusCode(200)
                .body("id", org.hamcrest.Matchers.hasItem(id));
        given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/backups/" + id).then().statusCode(200).body("verification.verified", equalTo(true))
                .body("verification.lastResult", equalTo("PASSED"));
        String latestVerified = given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/backups/latest?database=main&verified=true").then().statusCode(200).extract().path("id");
        Response restore = given().baseUri(VerifyStack.restoreService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("backupId", "latest-verified", "target", "scratch",
                        "database", "main")).post("/api/v1/restores?wait=true");
        restore.then().statusCode(201).body("backupId", equalTo(latestVerified));
        given().baseUri(VerifyStack.restoreService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .delete("/api/v1/restores/" + restore.jsonPath().getString("id") + "/database").then().statusCode(204);
    }

    @Test
    void latin1DataDumpedInAFarTimeZoneComparesEqualAfterRestoreIntoAUtf8ScratchDatabase() {
        String id = backup("legacy");
        assertThat(catalog.get(id).encoding()).isEqualTo("LATIN1");
        verify(id, "full").then().statusCode(201).body("result", equalTo("PASSED")).body("tablesCompared", equalTo(3))
                .body("steps.find { it.name == 'SQL_CHECKS' }.detail", containsString("legacy-clean"))
                // bulk (and only it) is large enough to be read back in block ranges; their sums make the table's
                .body("steps.find { it.name == 'FINGERPRINT' }.detail",
                        containsString("1 large table(s) read back in block ranges"));
    }

    @Test
    void aSecondRequestForTheSameBackupAndLevelGetsTheQueuedJob() {
        String id = backup("main");
        Response first = operator().body(Map.of("backupId", id, "level", "full")).post("/api/v1/verifications");
        first.then().statusCode(202).header("Location", containsString(first.jsonPath().getString("id")));
        Response second = operator().body(Map.of("backupId", id, "level", "full")).post("/api/v1/verifications");
        second.then().statusCode(202).body("id", equalTo(first.jsonPath().getString("id")));
        VerificationJob job = service.job(first.jsonPath().getString("id")).orElseThrow();
        assertThat(service.await(job).result()).isEqualTo(VerificationRecord.Result.PASSED);
    }

    // ---- failing: the backup is proven bad ----

    @Test
    void aFlippedByteFailsTheChecksumAndFullVerificationStopsThere() throws Exception {
        String id = backup("main");
        BackupMetadata m = catalog.get(id);
        verify(id, "checksum").then().statusCode(201).body("result", equalTo("PASSED"));
        byte[] data = read(m.key());
        data[data.length / 2] ^= 0x01;
        overwrite(m.key(), data);

        Response checksum = verify(id, "checksum");
        checksum.then().statusCode(201).body("result", equalTo("FAILED")).body("failedStep", equalTo("CHECKSUM"))
                .body("error", containsString("SHA-256 of the stored bytes is"))
                .body("error", containsString("does not decrypt"));
        // full: the restore's read finds it, stops before its COMMIT, and that read's verdict is the CHECKSUM's
        Response full = verify(id, "full");
        full.then().statusCode(201).body("result", equalTo("FAILED")).body("failedStep", equalTo("CHECKSUM"))
                .body("error", containsString("SHA-256 of the stored bytes is"))
                .body("error", containsString("does not decrypt")).body("error", containsString(m.key()));
        assertThat(full.jsonPath().getList("steps.name", String.class)).containsExactly("METADATA", "RESTORE",
                "CHECKSUM");
        assertThat(full.jsonPath().getList("steps.status", String.class)).containsExactly("DONE", "FAILED", "FAILED");
        assertNoScratchDatabaseLeft();
        assertThat(BackupCatalog.provenBad(catalog.verificationsOf("main", id))).isTrue();

        statusService.refresh();
        List<String> failed = statusService.status(Instant.now(), "main").databases().get(0).failedBackups();
        assertThat(failed).contains(id);
        String metricsText = given().get(metrics).then().statusCode(200).extract().asString();
        assertThat(metricsText).contains("# HELP lifeboat_verification_failed_backups Retained backups proven bad")
                .contains("lifeboat_verification_failed_backups{database=\"main\"} " + (double) failed.size());
    }

    @Test
    void aTruncatedObjectFailsWhetherOrNotTheMetadataWasMadeToMatch() throws Exception {
        String id = backup("main");
        BackupMetadata m = catalog.get(id);
        byte[] data = read(m.key());
        byte[] cut = Arrays.copyOf(data, data.length * 2 / 3);
        overwrite(m.key(), cut);
        verify(id, "checksum").then().statusCode(201).body("result", equalTo("FAILED"))
                .body("failedStep", equalTo("METADATA")).body("error", containsString("truncated"));

        // the size in the metadata forged to match: reading to the end still finds it
        String forged = id.replace(".sql.zst.age", "_9.sql.zst.age");
        BackupMetadata fake = copy(m, forged, catalog.dataKey("main", forged), cut.length, m.sha256(), m.fingerprint());
        overwrite(fake.key(), cut);
        catalog.commit(fake); // signed: the forger has the integrity key, only the bytes can give it away
        verify(forged, "checksum").then().statusCode(201).body("result", equalTo("FAILED"))
                .body("failedStep", equalTo("CHECKSUM")).body("error", containsString("does not decrypt"));
    }

    @Test
    void anAlteredFingerprintFailsFullVerificationNamingTheTable() throws Exception {
        String id = backup("main");
        BackupMetadata m = catalog.get(id);
        List<TableFingerprint> altered = new ArrayList<>();
        for (TableFingerprint t : m.fingerprint()) {
            String hash = t.table().equals("billing.\"Invoice Lines\"")
                    ? (t.hash().charAt(0) == '0' ? "1" : "0") + t.hash().substring(1) : t.hash();
            altered.add(new TableFingerprint(t.table(), t.columns(), t.rows(), hash));
        }
        assertThat(altered).isNotEqualTo(m.fingerprint());
        store.delete(catalog.metadataKey("main", id));
        catalog.commit(copy(m, id, m.key(), m.storedSizeBytes(), m.sha256(), altered)); // signed, as by a key holder

        // the stored bytes are intact...
        verify(id, "checksum").then().statusCode(201).body("result", equalTo("PASSED"));
        // ...but what they restore to is not what the metadata says was dumped
        Response r = verify(id, "full");
        r.then().statusCode(201).body("result", equalTo("FAILED")).body("failedStep", equalTo("FINGERPRINT"))
                .body("failedTable", equalTo("billing.\"Invoice Lines\""))
                .body("error", containsString("billing.\"Invoice Lines\" (content differs, 3 rows)"))
                .body("error", not(containsString("public.people")))
                .body("mismatches.size()", equalTo(1)).body("mismatches[0].problem", equalTo("content differs"));
        assertThat(r.jsonPath().getString("steps.find { it.name == 'DROP_SCRATCH' }.status")).isEqualTo("DONE");
        assertNoScratchDatabaseLeft();
    }

    @Test
    void manySmallTablesAreReadBackSeveralToASessionAndEachDifferenceIsPinnedToItsTable() throws Exception {
        String id = backup("many");
        BackupMetadata m = catalog.get(id);
        assertThat(m.fingerprint()).hasSize(VerifyStack.MANY_TABLES);
        assertThat(m.fingerprint()).extracting(TableFingerprint::table).contains("public.\"Odd \\. Name\"", "public.nocols");
        // 452 small tables over 2 connections, at most 200 to a psql session: 3 sessions (one a table: 452); docs, whose
        // heap is one block but whose TOAST holds 4 MB, is not small: a session of its own
        verify(id, "full").then().statusCode(201).body("result", equalTo("PASSED"))
                .body("tablesCompared", equalTo(VerifyStack.MANY_TABLES))
                .body("steps.find { it.name == 'FINGERPRINT' }.detail", containsString("; 4 read sessions"));

        // two tables' recorded fingerprints altered, read in different sessions: each difference is named, nothing else
        List<TableFingerprint> altered = new ArrayList<>();
        for (TableFingerprint t : m.fingerprint()) {
            altered.add(switch (t.table()) {
                // 5 rows: among the first session's tables (largest first); t0007, empty, among the last session's
                case "public.\"Odd \\. Name\"" -> new TableFingerprint(t.table(), t.columns(), t.rows(),
                        (t.hash().charAt(0) == '0' ? "1" : "0") + t.hash().substring(1));
                case "public.t0007" -> new TableFingerprint(t.table(), t.columns(), t.rows() + 1, t.hash());
                default -> t;
            });
        }
        store.delete(catalog.metadataKey("many", id));
        catalog.commit(copy(m, id, m.key(), m.storedSizeBytes(), m.sha256(), altered)); // signed, as by a key holder
        Response r = verify(id, "full");
        r.then().statusCode(201).body("result", equalTo("FAILED")).body("failedStep", equalTo("FINGERPRINT"))
                .body("mismatches.size()", equalTo(2));
        assertThat(r.jsonPath().getList("mismatches", Map.class)).extracting(x -> x.get("table") + ": " + x.get("problem"))
                .containsExactlyInAnyOrder("public.t0007: row count differs", "public.\"Odd \\. Name\": content differs");
        assertNoScratchDatabaseLeft();
    }

    @Test
    void aBackupFingerprintedWithTheLegacyAlgorithmIsVerifiedWithIt() throws Exception {
        String id = backup("main");
        BackupMetadata m = catalog.get(id);
        assertThat(m.fingerprintAlgorithm()).isEqualTo(ContentFingerprint.XXH3_128);
        // what a backup written before the algorithm was recorded holds: SHA-256 row hashes and no algorithm
        ContentFingerprint legacy = new ContentFingerprint(BackupMetadata.LEGACY_FINGERPRINT);
        ReadChain.Result read = ReadChain.read(store, m, AgeKeys.readIdentities(encryption.identityFiles().orElseThrow()),
                new Measure(), legacy::write);
        assertThat(read.ok()).as(read.detail()).isTrue();
        List<TableFingerprint> old = legacy.result();
        assertThat(old).extracting(TableFingerprint::table)
                .containsExactlyElementsOf(m.fingerprint().stream().map(TableFingerprint::table).toList());
        assertThat(old).extracting(TableFingerprint::hash).doesNotContainAnyElementsOf(
                m.fingerprint().stream().filter(t -> t.rows() > 0).map(TableFingerprint::hash).toList());
        store.delete(catalog.metadataKey("main", id));
        BackupMetadata before = copy(m, id, m.key(), m.storedSizeBytes(), m.sha256(), old);
        catalog.commit(new BackupMetadata(before.schemaVersion(), before.id(), before.database(), before.databaseName(),
                before.key(), before.serverVersion(), before.pgDumpVersion(), before.encoding(), before.format(),
                before.compression(), before.encryptionRecipients(), before.trigger(), before.labels(),
                before.startedAt(), before.finishedAt(), before.durationSeconds(), before.rawSizeBytes(),
                before.storedSizeBytes(), before.sha256(), old, null, before.largeObjects(), before.roles()));
        assertThat(catalog.get(id).fingerprintAlgorithm()).isNull();

        verify(id, "full").then().statusCode(201).body("result", equalTo("PASSED"))
                .body("steps.find { it.name == 'FINGERPRINT' }.status", equalTo("DONE"));
        assertNoScratchDatabaseLeft();
    }

    @Test
    void aFailingSqlCheckFailsFullVerificationNamingTheCheck() {
        VerifyStack.postgres().psql("legacydb", "INSERT INTO keep VALUES ('bad')");
        try {
            String id = backup("legacy");
            verify(id, "full").then().statusCode(201).body("result", equalTo("FAILED"))
                    .body("failedStep", equalTo("SQL_CHECKS")).body("error", containsString("'legacy-clean' returned false"));
        } finally {
            VerifyStack.postgres().psql("legacydb", "DELETE FROM keep WHERE v = 'bad'");
        }
        assertNoScratchDatabaseLeft();
    }

    // ---- no verdict: something other than the backup failed ----

    @Test
    void restoreServiceDownEndsInErrorNeverPassAndTheSweepRetriesItLater() {
        String id = backup("main");
        VerifyStack.restoreService().stop();
        Response r;
        try {
            r = verify(id, "full");
        } finally {
            VerifyStack.restoreService().restart();
        }
        r.then().statusCode(201).body("result", equalTo("ERROR")).body("failedStep", equalTo("RESTORE"))
                .body("error", containsString("restore-service"));
        List<VerificationRecord> records = catalog.verificationsOf("main", id);
        assertThat(records).extracting(VerificationRecord::result).containsExactly(VerificationRecord.Result.ERROR);
        assertThat(BackupCatalog.provenRestorable(records)).isFalse();

        // the sweep picks the backup up again once the retry delay (1 s here) has passed
        // (main only: the other databases hold other tests' backups, whose verification proves nothing here)
        List<VerificationJob> immediately = service.sweep(records.get(0).finishedAt(), List.of("main"));
        assertThat(immediately).extracting(VerificationJob::backupId).doesNotContain(id);
        List<VerificationJob> later = service.sweep(Instant.now().plusSeconds(2), List.of("main"));
        immediately.forEach(service::await); // main's other backups without a verdict get verified too
        later.forEach(service::await);
        VerificationJob retry = later.stream().filter(j -> j.backupId().equals(id)).findFirst().orElseThrow();
        assertThat(retry.trigger()).isEqualTo(VerificationRecord.Trigger.SWEEP);
        assertThat(service.await(retry).result()).isEqualTo(VerificationRecord.Result.PASSED);
        assertThat(BackupCatalog.provenRestorable(catalog.verificationsOf("main", id))).isTrue();
    }

    @Test
    void aChecksumWhoseReadsMeetTransientFaultsPasses() {
        String id = backup("main");
        S3FaultProxy.Rule busy = VerifyStack.faults().on(S3FaultProxy.Call.GET_OBJECT).key(".*/" + id + "$")
                .respond(503, "SlowDown");
        S3FaultProxy.Rule broken = VerifyStack.faults().on(S3FaultProxy.Call.GET_OBJECT).key(".*/" + id + "$")
                .skip(1).times(1).resetMidBody(4096);
        try {
            verify(id, "checksum").then().statusCode(201).body("result", equalTo("PASSED"));
        } finally {
            VerifyStack.faults().clearRules();
        }
        assertThat(busy.fired()).isEqualTo(1);
        assertThat(broken.fired()).isEqualTo(1);
    }

    @Test
    void aVerificationWhoseReadsMeetOnlyFaultsEndsInErrorNeverFailed() {
        String id = backup("main");
        S3FaultProxy.Rule down = VerifyStack.faults().on(S3FaultProxy.Call.GET_OBJECT).key(".*/" + id + "$").always()
                .respond(503, "SlowDown");
        Response r;
        try {
            r = verify(id, "full");
        } finally {
            VerifyStack.faults().clearRules();
        }
        r.then().statusCode(201).body("result", equalTo("ERROR")).body("failedStep", equalTo("CHECKSUM"))
                .body("error", containsString("SlowDown"));
        assertThat(down.fired()).as("retried before giving up").isGreaterThan(1);
        List<VerificationRecord> records = catalog.verificationsOf("main", id);
        assertThat(BackupCatalog.provenBad(records)).isFalse();
        // once the store answers again the same backup passes: it was never bad
        verify(id, "checksum").then().statusCode(201).body("result", equalTo("PASSED"));
    }

    // ---- trust in the store ----

    @Test
    void aBackupPlantedInTheStoreWithoutTheIntegrityKeyIsListedUntrustedAndNeverVerified() throws Exception {
        String id = backup("main");
        BackupMetadata m = catalog.get(id);
        // a copy of a real backup's data under a future-dated name, with metadata written straight into the store
        String planted = "main_backup_20990101_000000.sql.zst.age";
        BackupMetadata fake = copy(m, planted, catalog.dataKey("main", planted), m.storedSizeBytes(), m.sha256(),
                m.fingerprint());
        overwrite(fake.key(), read(m.key()));
        overwrite(catalog.metadataKey("main", planted), Json.write(fake));

        given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/backups?database=main").then().statusCode(200)
                .body("find { it.id == '" + planted + "' }.trusted", equalTo(false))
                .body("find { it.id == '" + planted + "' }.error", containsString("UNTRUSTED"));
        given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/backups/latest?database=main").then().statusCode(200).body("id", not(equalTo(planted)));
        operator().body(Map.of("backupId", planted, "level", "full")).post("/api/v1/verifications?wait=true")
                .then().statusCode(409).body("type", equalTo("/problems/untrusted-backup"));
        given().baseUri(VerifyStack.restoreService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("backupId", planted, "target", "scratch"))
                .post("/api/v1/restores").then().statusCode(409).body("detail", containsString("UNTRUSTED"));
        // the planted backup is main's: sweeping the other databases (the backups of every other test) proves nothing
        List<VerificationJob> swept = service.sweep(Instant.now(), List.of("main"));
        swept.forEach(service::await);
        assertThat(swept).extracting(VerificationJob::backupId).doesNotContain(planted);
        assertThat(catalog.verificationsOf("main", planted)).isEmpty();
        String scraped = given().get(metrics).then().statusCode(200).extract().asString();
        assertThat(scraped).containsPattern("lifeboat_untrusted_records\\{database=\"main\"[^}]*} [1-9]");
        store.delete(catalog.metadataKey("main", planted));
        store.delete(fake.key());
    }

    // ---- the daily checksum pass ----

    @Test
    void theChecksumPassVerifiesEveryRetainedBackupAndFindsExactlyTheDamagedOnes() throws Exception {
        String damaged = backup("main");
        BackupMetadata m = catalog.get(damaged);
        byte[] data = read(m.key());
        data[10] ^= 0x40;
        overwrite(m.key(), data);

        List<VerificationJob> jobs = service.checksumAll();
        List<String> retained = new ArrayList<>();
        for (String label : VerifyStack.labels()) {
            catalog.list(label).forEach(b -> retained.add(b.id()));
        }
        assertThat(jobs).extracting(VerificationJob::backupId).containsExactlyInAnyOrderElementsOf(retained);
        for (VerificationJob job : jobs) {
            VerificationJob done = service.await(job);
            BackupMetadata backup = catalog.get(job.backupId());
            // the oracle: the stored bytes hashed here, independently of verify-service
            byte[] stored = read(backup.key());
            boolean intact = stored.length == backup.storedSizeBytes() && java.util.HexFormat.of().formatHex(
                    java.security.MessageDigest.getInstance("SHA-256").digest(stored)).equals(backup.sha256());
            assertThat(done.result()).as(job.backupId()).isEqualTo(intact ? VerificationRecord.Result.PASSED
                    : VerificationRecord.Result.FAILED);
            assertThat(done.trigger()).isEqualTo(VerificationRecord.Trigger.SCHEDULED);
        }
        assertThat(jobs).filteredOn(j -> j.backupId().equals(damaged))
                .extracting(VerificationJob::result).containsExactly(VerificationRecord.Result.FAILED);
    }

    // ---- archived data (S3FaultProxy's simulation of AWS archive behaviour) ----

    @Test
    void theChecksumPassReportsArchivedDataAsArchivedAndAnOnDemandChecksumRestoresItFirst() {
        String id = backup("main");
        S3FaultProxy.ArchiveSimulation glacier = VerifyStack.faults().archive(".*/" + id + "$", "GLACIER", 2);
        try {
            VerificationJob scheduled = service.await(service.submit(catalog.get(id),
                    VerificationRecord.Level.CHECKSUM, VerificationRecord.Trigger.SCHEDULED));
            assertThat(scheduled.result()).isEqualTo(VerificationRecord.Result.ARCHIVED);
            VerificationRecord record = scheduled.record();
            assertThat(record.failedStep()).isEqualTo(VerificationRecord.StepName.CHECKSUM);
            assertThat(record.error()).contains("is archived");
            assertThat(record.steps()).filteredOn(s -> s.name() == VerificationRecord.StepName.CHECKSUM)
                    .extracting(s -> s.status().name()).containsExactly("SKIPPED");
            assertThat(glacier.restoreRequests()).as("the daily pass restores nothing").isZero();
            assertThat(glacier.refusedGets()).as("nor reads archived data").isZero();
            List<VerificationRecord> records = catalog.verificationsOf("main", id);
            assertThat(records).extracting(VerificationRecord::result).contains(VerificationRecord.Result.ARCHIVED);
            assertThat(BackupCatalog.provenBad(records)).as("ARCHIVED is not FAILED").isFalse();
            assertThat(BackupCatalog.provenRestorable(records)).as("nor a pass").isFalse();

            // asked for, the checksum requests the restore, waits for it, then reads and passes
            verify(id, "checksum").then().statusCode(201).body("result", equalTo("PASSED"))
                    .body("steps.find { it.name == 'CHECKSUM' }.detail", containsString("archived data restored first"));
            assertThat(glacier.restoreRequests()).isEqualTo(1);
            assertThat(glacier.refusedGets()).isZero();
        } finally {
            VerifyStack.faults().clearRules();
        }
    }

    @Test
    void aDatabaseWhoseProvenBackupsAreAllArchivedIsAtRiskForItsRto() {
        String id = backup("legacy");
        verify(id, "full").then().statusCode(201).body("result", equalTo("PASSED"));
        List<BackupMetadata> proven = catalog.list("legacy").stream()
                .filter(b -> BackupCatalog.provenRestorable(catalog.verificationsOf("legacy", b.id()))).toList();
        Map<String, List<VerificationRecord>> records = catalog.verifications("legacy");
        assertThat(statusService.archivedOnly(proven, records, 20.0)).isEmpty();
        // every proven backup of the database archived
        String ids = String.join("|", proven.stream().map(BackupMetadata::id).toList());
        VerifyStack.faults().archive(".*/(" + ids + ")$", "DEEP_ARCHIVE", 1);
        try {
            assertThat(statusService.archivedOnly(proven, records, 20.0)).hasValueSatisfying(f -> {
                assertThat(f.severity()).isEqualTo(dev.lifeboat.verify.service.DrStatus.Health.AT_RISK);
                assertThat(f.message()).contains("archived (DEEP_ARCHIVE)").contains("up to 12.0 h");
            });
            assertThat(statusService.status(Instant.now(), "legacy").databases().get(0).findings())
                    .anySatisfy(f -> assertThat(f.message()).contains("every backup proven restorable is archived"));
        } finally {
            VerifyStack.faults().clearRules();
        }
    }

    // ---- bad requests ----

    @Test
    void badRequestsGetProblemJsonWithoutStackTraces() {
        String id = backup("main");
        given().contentType("application/json").body(Map.of("backupId", id)).post("/api/v1/verifications")
                .then().statusCode(401).contentType("application/problem+json");
        given().auth().oauth2(TokenResource.VIEWER).contentType("application/json").body(Map.of("backupId", id))
                .post("/api/v1/verifications").then().statusCode(403).contentType("application/problem+json");
        operator().body(Map.of("backupId", "../../etc/passwd")).post("/api/v1/verifications")
                .then().statusCode(400).contentType("application/problem+json").body("type", equalTo("/problems/invalid-backup-id"));
        operator().body(Map.of("backupId", "main_backup_20200101_000000.sql.zst.age")).post("/api/v1/verifications")
                .then().statusCode(404).body("type", equalTo("/problems/backup-not-found"));
        operator().body(Map.of("backupId", id, "level", "deep")).post("/api/v1/verifications")
                .then().statusCode(400).body("detail", containsString("full or checksum"));
        operator().body(Map.of("backupId", id, "trigger", "SWEEP")).post("/api/v1/verifications")
                .then().statusCode(400).body("detail", containsString("trigger"));
        operator().body(Map.of("backupId", "latest")).post("/api/v1/verifications")
                .then().statusCode(400).body("detail", containsString("\"database\""));
        operator().body(Map.of("backupId", "latest", "database", "nope")).post("/api/v1/verifications")
                .then().statusCode(404).body("type", equalTo("/problems/unknown-database"));
        operator().body("{not json").post("/api/v1/verifications").then().statusCode(400)
                .contentType("application/problem+json");
        operator().get("/api/v1/verifications/verify_..%2F").then().statusCode(400)
                .body("type", equalTo("/problems/invalid-request"));
        operator().get("/api/v1/verifications/verify_20200101_000000_abcdef").then().statusCode(404)
                .body("type", equalTo("/problems/verification-not-found"));
        operator().get("/api/v1/verifications?limit=0").then().statusCode(400);
        String body = operator().get("/api/v1/verifications?backupId=a%00b").then().statusCode(400).extract().asString();
        assertThat(body).doesNotContain("Exception").doesNotContain("\tat ");
    }

    // ---- replicas ----

    @Test
    void aVerificationRunningOnAnotherReplicaIsReadFromItsJobRecordAndAbandonedOnceThatReplicaIsSilent() throws Exception {
        // what another replica's journal writes, straight into the store this one reads
        String id = "verify_20260101_000000_e1e2e3";
        String backupId = "main_backup_20260101_000000.sql.zst.age";
        Instant started = Instant.now().minusSeconds(5);
        try (JobJournal elsewhere = new JobJournal(store, "verification", "replica-elsewhere", Duration.ofHours(1),
                Duration.ofSeconds(30))) {
            JobRecord running = new JobRecord(id, "verification", backupId, JobState.RUNNING, "RESTORE",
                    List.of(new JobRecord.StepRecord("METADATA", Step.Status.DONE, started, started, 0.0, "ok"),
                            new JobRecord.StepRecord("CHECKSUM", Step.Status.DONE, started, started, 0.1, "ok"),
                            new JobRecord.StepRecord("RESTORE", Step.Status.RUNNING, started, null, null, "into scratch")),
                    Map.of("bytesChecked", 1234.0, "storedBytes", 1234.0, "restorePercent", 40.0),
                    Map.of("backupId", backupId, "database", "main", "level", "FULL", "trigger", "NEW_BACKUP"), null,
                    "replica-elsewhere", started, started, null, Instant.now());
            elsewhere.put(running);
            operator().get("/api/v1/verifications/" + id).then().statusCode(200).body("status", equalTo("RUNNING"))
                    .body("holder", equalTo("replica-elsewhere")).body("phase", equalTo("RESTORE"))
                    .body("backupId", equalTo(backupId)).body("level", equalTo("FULL"))
                    .body("trigger", equalTo("NEW_BACKUP")).body("progress.restorePercent", equalTo(40.0f))
                    .body("steps.name", equalTo(List.of("METADATA", "CHECKSUM", "RESTORE")));
            assertThat(operator().get("/api/v1/verifications?backupId=" + backupId).jsonPath()
                    .getList("holder", String.class)).containsExactly("replica-elsewhere");

            // its replica last reported an hour ago: gone, the verification ABANDONED with the reason, not listed
            Instant silent = Instant.now().minusSeconds(3600);
            elsewhere.put(new JobRecord(id, "verification", backupId, JobState.RUNNING, "RESTORE", running.steps(),
                    running.progress(), running.detail(), null, "replica-elsewhere", silent, silent, null, silent));
            operator().get("/api/v1/verifications/" + id).then().statusCode(200).body("status", equalTo("ABANDONED"))
                    .body("holder", equalTo("replica-elsewhere")).body("result", org.hamcrest.Matchers.nullValue())
                    .body("error", containsString("replica replica-elsewhere stopped reporting"));
            assertThat(operator().get("/api/v1/verifications?backupId=" + backupId).jsonPath().getList("id"))
                    .isEmpty();

            elsewhere.delete(id);
            operator().get("/api/v1/verifications/" + id).then().statusCode(404);
        }
    }

    // ---- helpers ----

    static String backup(String database) {
        return given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("database", database)).post("/api/v1/backups?wait=true")
                .then().statusCode(201).extract().path("id");
    }

    static RequestSpecification operator() {
        return given().auth().oauth2(TokenResource.OPERATOR).contentType("application/json");
    }

    static Response verify(String backupId, String level) {
        return operator().body(Map.of("backupId", backupId, "level", level)).post("/api/v1/verifications?wait=true");
    }

    static void assertNoScratchDatabaseLeft() {
        assertThat(VerifyStack.postgres().psql("postgres",
                "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_scratch\\_%'")).isEqualTo("0");
    }

    private byte[] read(String key) throws Exception {
        try (InputStream in = store.open(key)) {
            return in.readAllBytes();
        }
    }

    private void overwrite(String key, byte[] data) throws Exception {
        store.delete(key);
        store.putIfAbsent(key, data);
    }

    private static BackupMetadata copy(BackupMetadata m, String id, String key, long storedSize, String sha256,
                                       List<TableFingerprint> fingerprint) {
        return new BackupMetadata(m.schemaVersion(), id, m.database(), m.databaseName(), key, m.serverVersion(),
                m.pgDumpVersion(), m.encoding(), m.format(), m.compression(), m.encryptionRecipients(), m.trigger(),
                m.labels(), m.startedAt(), m.finishedAt(), m.durationSeconds(), m.rawSizeBytes(), storedSize, sha256,
                fingerprint, m.fingerprintAlgorithm(), m.largeObjects(), m.roles());
    }
}
