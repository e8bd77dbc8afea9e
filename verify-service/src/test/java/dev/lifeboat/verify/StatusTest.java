package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.verify.service.DrStatus;
import dev.lifeboat.verify.service.DrStatus.Health;
import dev.lifeboat.verify.service.StatusService;
import dev.lifeboat.verify.service.VerificationServiceAccess;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.net.URL;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The DR status and its metrics, from real backups and verifications of database {@code sized} (used by no other
 * test) and the configured database {@code empty}, which never gets a backup; and a damaged metadata object of
 * {@code main}, as the backup list (backup-service, a process), the status and the metrics show it.
 */
@QuarkusTest
@QuarkusTestResource(VerifyStack.class)
class StatusTest {
    @Inject
    StatusService status;

    @Inject
    dev.lifeboat.common.store.ObjectStore store;

    @Inject
    dev.lifeboat.common.catalog.BackupCatalog catalog;

    @Inject
    dev.lifeboat.common.catalog.WalArchive walArchive;

    @TestHTTPResource(value = "metrics", management = true)
    URL metrics;

    @Test
    void aConfiguredDatabaseWithoutAnyBackupIsBreached() {
        Response r = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/status?database=empty");
        r.then().statusCode(200).body("status", equalTo("BREACHED")).body("databases[0].database", equalTo("empty"))
                .body("databases[0].findings[0].message", equalTo("no completed backup"))
                .body("databases[0].rpo.objectiveSeconds", equalTo(3600));
        given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/status?database=nope").then().statusCode(404)
                .contentType("application/problem+json");
        given().get("/api/v1/status").then().statusCode(401);
    }

    @Test
    void statusShowsTheLastPitrCheckOfADatabaseWithPitrEnabled() throws Exception {
        String unavailable = "PITR unavailable: wal_level is minimal (needs replica or logical)";
        catalog.recordPitrCheck(new dev.lifeboat.common.catalog.BackupCatalog.PitrCheck("empty", false,
                List.of("wal_level is minimal (needs replica or logical)"), List.of(), unavailable, Instant.now()));
        Response refused = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/status?database=empty");
        refused.then().statusCode(200).body("databases[0].pitr.available", equalTo(false))
                .body("databases[0].pitr.message", equalTo(unavailable));
        assertThat(refused.jsonPath().getList("databases[0].findings.message", String.class))
                .anyMatch(m -> m.startsWith(unavailable) && m.endsWith("logical backups go on)"));

        catalog.recordPitrCheck(new dev.lifeboat.common.catalog.BackupCatalog.PitrCheck("empty", true, List.of(),
                List.of("max_slot_wal_keep_size is not set (-1)"), null, Instant.now()));
        Response available = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/status?database=empty");
        available.then().statusCode(200).body("databases[0].pitr.available", equalTo(true))
                .body("databases[0].pitr.warnings[0]", equalTo("max_slot_wal_keep_size is not set (-1)"));
        assertThat(available.jsonPath().getList("databases[0].findings.message", String.class))
                .noneMatch(m -> m.contains("PITR"))
                .contains("point-in-time recovery: no base backup can be restored with the archived WAL yet (no WAL "
                        + "archived)");

        // a base backup, the WAL after it up to a snapshot 5 min ago, then a segment missing and one more
        Instant now = Instant.now();
        catalog.commitBase(new dev.lifeboat.common.model.BaseBackupMetadata(1, "empty_base_20261202_100000.tar.zst",
                "empty", catalog.baseDataKey("empty", "empty_base_20261202_100000.tar.zst"), "15.10", "15.10", "7300",
                1, "0/3000028", "0/3000028", "0/3000138", "m", "c", dev.lifeboat.common.model.Compression.ZSTD,
                List.of(), dev.lifeboat.common.model.Trigger.MANUAL, java.util.Map.of(), now.minusSeconds(660),
                now.minusSeconds(600), 60, 1, 1, "s", null));
        dev.lifeboat.common.pipeline.Codec codec = dev.lifeboat.common.pipeline.Codec.forWriting(
                dev.lifeboat.common.model.Compression.ZSTD, 1, 0, List.of());
        byte[] segment = new byte[16 << 20];
        walArchive.put("empty", dev.lifeboat.common.model.WalObject.Kind.SEGMENT, "000000010000000000000003",
                new java.io.ByteArrayInputStream(segment), codec, false, null, now.minusSeconds(540), "7300");
        walArchive.put("empty", dev.lifeboat.common.model.WalObject.Kind.PARTIAL, "000000010000000000000004",
                new java.io.ByteArrayInputStream(segment), codec, false, "0/4000200", now.minusSeconds(300), "7300");
        walArchive.put("empty", dev.lifeboat.common.model.WalObject.Kind.SEGMENT, "000000010000000000000006",
                new java.io.ByteArrayInputStream(segment), codec, false, null, null, "7300");
        Response window = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/status?database=empty");
        window.then().statusCode(200)
                .body("databases[0].pitr.oldestRecoverable", equalTo(now.minusSeconds(600).toString()))
                .body("databases[0].pitr.newestRecoverable", equalTo(now.minusSeconds(300).toString()))
                .body("databases[0].pitr.recoverableBaseBackups", equalTo(1))
                // 4 only as a snapshot: its end never reached the archive, and 6 was written after it
                .body("databases[0].pitr.gaps", equalTo(List.of("000000010000000000000004", "000000010000000000000005")));
        assertThat(window.jsonPath().getLong("databases[0].pitr.rpoSeconds")).isBetween(300L, 420L);
        assertThat(window.jsonPath().getList("databases[0].findings.message", String.class))
                .noneMatch(m -> m.startsWith("point-in-time recovery: no base backup"))
                .anyMatch(m -> m.startsWith("the WAL archive has a gap: 2 segment(s) missing from 000000010000000000000004"));
        String scraped = given().get(metrics).then().statusCode(200).extract().asString();
        assertThat(scraped).contains("lifeboat_recovery_window_seconds{database=\"empty\"} 300.0");

        // the WAL receiver's own record: not streaming, a lost slot still open
        catalog.recordWalState(new dev.lifeboat.common.model.WalArchiveState(1, "empty", false, "backup-0", 1,
                "000000010000000000000006", now, now.minusSeconds(300), "lifeboat_empty", null, "0/7000000",
                List.of(new dev.lifeboat.common.model.WalArchiveState.Problem(
                        dev.lifeboat.common.model.WalArchiveState.ProblemKind.SLOT_LOST, "slot lifeboat_empty is lost",
                        now, null)), now));
        Response state = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/status?database=empty");
        state.then().statusCode(200).body("databases[0].pitr.receiverUp", equalTo(false))
                .body("databases[0].pitr.problems[0].kind", equalTo("SLOT_LOST"));
        assertThat(state.jsonPath().getList("databases[0].findings.message", String.class))
                .anyMatch(m -> m.startsWith("WAL archive SLOT_LOST (") && m.contains("slot lifeboat_empty is lost"))
                .anyMatch(m -> m.startsWith("the WAL receiver was not streaming when last recorded"));
        // the databases without pitr.enabled show none, even with a check in the store
        catalog.recordPitrCheck(new dev.lifeboat.common.catalog.BackupCatalog.PitrCheck("sized", false,
                List.of("wal_level is minimal"), List.of(), "PITR unavailable: wal_level is minimal", Instant.now()));
        assertThat(status.status(Instant.now(), "sized").databases().get(0).pitr()).isNull();
    }

    @Test
    void statusGoesFromAtRiskToOkWhenVerifiedToBreachedPastTheRpoAndFlagsAShrunkenBackup() {
        String first = VerificationTest.backup("sized");
        DrStatus.DatabaseStatus unproven = sized(Instant.now());
        assertThat(unproven.status()).isEqualTo(Health.AT_RISK);
        assertThat(unproven.findings()).extracting(DrStatus.Finding::message)
                .anyMatch(m -> m.startsWith("no backup is proven restorable yet"));
        assertThat(unproven.lastBackup().id()).isEqualTo(first);

        VerificationTest.verify(first, "full").then().statusCode(201).body("result", equalTo("PASSED"));
        Response ok = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/status?database=sized");
        ok.then().statusCode(200).body("status", equalTo("OK")).body("databases[0].status", equalTo("OK"))
                .body("databases[0].lastVerifiedBackup.id", equalTo(first))
                .body("databases[0].rpo.met", equalTo(true)).body("databases[0].rto.met", equalTo(true))
                .body("databases[0].sizeAnomaly.flagged", equalTo(false));
        assertThat(ok.jsonPath().getDouble("databases[0].rto.measuredSeconds")).isGreaterThan(0);
        assertThat(ok.jsonPath().getList("databases[0].findings")).isEmpty();

        // a day and more without a new backup: the RPO of 24 h is breached
        DrStatus.DatabaseStatus later = sized(Instant.now().plus(Duration.ofHours(25)));
        assertThat(later.status()).isEqualTo(Health.BREACHED);
        assertThat(later.rpo().met()).isFalse();
        assertThat(later.rpo().currentSeconds()).isGreaterThan(24 * 3600);
        assertThat(later.findings()).extracting(DrStatus.Finding::message)
                .anyMatch(m -> m.contains("over the RPO of 24.0 h"));

        // three more backups of the same size, then one of a database that lost almost all its rows
        for (int i = 0; i < 3; i++) {
            VerificationTest.backup("sized");
        }
        assertThat(sized(Instant.now()).sizeAnomaly().flagged()).isFalse();
        VerifyStack.postgres().psql("sizeddb", "DELETE FROM items WHERE id > 30");
        String small = VerificationTest.backup("sized");
        DrStatus.DatabaseStatus shrunk = sized(Instant.now());
        assertThat(shrunk.lastBackup().id()).isEqualTo(small);
        assertThat(shrunk.sizeAnomaly().flagged()).isTrue();
        assertThat(shrunk.sizeAnomaly().comparedWith()).isEqualTo(4);
        assertThat(shrunk.sizeAnomaly().ratio()).isLessThan(0.5);
        assertThat(shrunk.status()).isEqualTo(Health.AT_RISK);
        assertThat(shrunk.findings()).extracting(DrStatus.Finding::message).anyMatch(m -> m.startsWith("size anomaly"));
        assertThat(metricsText()).contains("lifeboat_backup_size_anomaly{database=\"sized\"} 1.0")
                .contains("lifeboat_dr_status{database=\"sized\"} 1.0");
    }

    @Test
    void unparseableMetadataIsListedAsDamagedMakesTheDatabaseAtRiskAndIsCounted() throws Exception {
        String id = "main_backup_20250101_000000.sql.zst.age";
        String key = catalog.metadataKey("main", id);
        store.putIfAbsent(key, "{\"id\": \"main_backup_2025".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        try {
            Response list = given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                    .get("/api/v1/backups?database=main");
            list.then().statusCode(200);
            String shown = "find { it.id == '" + id + "' }";
            assertThat(list.jsonPath().getString(shown + ".damaged.metadataKey")).isEqualTo(key);
            assertThat(list.jsonPath().getString(shown + ".damaged.error")).contains("end-of-input");
            assertThat(list.jsonPath().getBoolean(shown + ".trusted")).isFalse();
            assertThat(list.jsonPath().getString(shown + ".error")).startsWith("DAMAGED").contains(key);
            given().baseUri(VerifyStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                    .get("/api/v1/backups/" + id).then().statusCode(409).body("detail", org.hamcrest.Matchers.containsString("DAMAGED"));

            DrStatus.DatabaseStatus main = status.status(Instant.now(), "main").databases().get(0);
            assertThat(main.status()).isNotEqualTo(Health.OK);
            assertThat(main.findings()).anySatisfy(f -> {
                assertThat(f.severity()).isEqualTo(Health.AT_RISK);
                assertThat(f.message()).contains(key).contains("cannot be parsed");
            });
            assertThat(main.damagedMetadata()).extracting(d -> d.key()).containsExactly(key);
            String text = metricsText();
            assertThat(value(text, "lifeboat_backup_metadata_damaged{database=\"main\"}")).isEqualTo(1.0);
            assertThat(text).contains("# HELP lifeboat_backup_metadata_damaged Metadata objects");
        } finally {
            store.delete(key);
        }
        DrStatus.DatabaseStatus repaired = status.status(Instant.now(), "main").databases().get(0);
        assertThat(repaired.damagedMetadata()).isNull();
        assertThat(repaired.findings()).noneSatisfy(f -> assertThat(f.message()).contains(key));
        assertThat(value(metricsText(), "lifeboat_backup_metadata_damaged{database=\"main\"}")).isEqualTo(0.0);
    }

    @Test
    void verificationMetricsAreExported() {
        String id = VerificationTest.backup("main");
        VerificationTest.verify(id, "checksum").then().statusCode(201).body("result", equalTo("PASSED"));
        VerificationTest.verify(id, "full").then().statusCode(201).body("result", equalTo("PASSED"));
        String text = metricsText();
        assertThat(value(text, "lifeboat_verifications_total{database=\"main\",level=\"full\",result=\"passed\"}"))
                .isGreaterThanOrEqualTo(1);
        assertThat(value(text, "lifeboat_verifications_total{database=\"main\",level=\"checksum\",result=\"passed\"}"))
                .isGreaterThanOrEqualTo(1);
        assertThat(value(text, "lifeboat_verification_last_success_timestamp_seconds{database=\"main\",level=\"full\"}"))
                .isGreaterThan(Instant.now().minusSeconds(300).getEpochSecond());
        assertThat(value(text, "lifeboat_rpo_seconds{database=\"main\"}")).isBetween(0.0, 600.0);
        assertThat(value(text, "lifeboat_rto_seconds{database=\"main\"}")).isGreaterThan(0);
        assertThat(value(text, "lifeboat_rpo_objective_seconds{database=\"main\"}")).isEqualTo(86400.0);
        assertThat(value(text, "lifeboat_rto_objective_seconds{database=\"main\"}")).isEqualTo(1800.0);
        assertThat(text).contains("lifeboat_dr_status{database=\"empty\"} 2.0");
    }

    @Test
    void theSweepSkipsVerdictsAndRetriesErrorsWithAGrowingDelay() {
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        Duration delay = Duration.ofMinutes(15);
        assertThat(needsFull(t)).isTrue();
        assertThat(needsFull(t, record(Level.FULL, Result.PASSED, t))).isFalse();
        assertThat(needsFull(t, record(Level.CHECKSUM, Result.FAILED, t))).isFalse();
        assertThat(needsFull(t, record(Level.CHECKSUM, Result.PASSED, t))).isTrue();
        VerificationRecord error = record(Level.FULL, Result.ERROR, t);
        assertThat(needsFull(t.plus(delay).minusSeconds(1), error)).isFalse();
        assertThat(needsFull(t.plus(delay), error)).isTrue();
        VerificationRecord second = record(Level.FULL, Result.ERROR, t.plus(delay));
        assertThat(needsFull(t.plus(delay).plus(delay), error, second)).isFalse();
        assertThat(needsFull(t.plus(delay).plus(delay.multipliedBy(2)), error, second)).isTrue();
    }

    private static boolean needsFull(Instant now, VerificationRecord... records) {
        return VerificationServiceAccess.needsFull(List.of(records), now, Duration.ofMinutes(15));
    }

    private static VerificationRecord record(Level level, Result result, Instant at) {
        return new VerificationRecord(1, "verify_20260101_000000_abcdef", "main_backup_20260101_000000.sql", "main", level,
                VerificationRecord.Trigger.MANUAL, result, at, at, 1, null, null, null, null, null, null, null, List.of());
    }

    private DrStatus.DatabaseStatus sized(Instant at) {
        return status.status(at, "sized").databases().get(0);
    }

    private String metricsText() {
        return given().get(metrics).then().statusCode(200).extract().asString();
    }

    private static double value(String text, String series) {
        return text.lines().filter(l -> l.startsWith(series + " ")).map(l -> Double.parseDouble(l.substring(series.length() + 1)))
                .findFirst().orElseThrow(() -> new AssertionError("no metric " + series));
    }
}
