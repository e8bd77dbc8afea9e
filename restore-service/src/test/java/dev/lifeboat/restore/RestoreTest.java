package dev.lifeboat.restore;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.ForgedBackups;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.restore.service.WorkloadScaler;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.KubernetesServer;
import io.quarkus.test.kubernetes.client.KubernetesTestServer;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * restore-service against real parts: PostgreSQL, the in-process S3 server, backup-service as a real process
 * (its backups are what gets restored) and the fabric8 mock Kubernetes API in CRUD mode. Every failure test checks
 * that {@code pg_dump} of the target is the same before and after, and that the workloads are back at 3.
 */
@QuarkusTest
@QuarkusTestResource(value = RestoreStack.class, restrictToAnnotatedClass = true)
@WithKubernetesTestServer(crud = true, setup = ShopWorkloads.class)
class RestoreTest {
    @KubernetesTestServer
    KubernetesServer kubernetes;

    @Inject
    ObjectStore store;

    @Inject
    BackupCatalog catalog;

    @Inject
    dev.lifeboat.restore.service.ScratchJanitor janitor;

    @Inject
    dev.lifeboat.restore.service.StartupRecovery recovery;

    @Inject
    io.quarkus.scheduler.Scheduler scheduler;

    @TestHTTPResource(value = "metrics", management = true)
    URL metrics;

    /** Lowest replica count each workload had while the test ran, seen by the stand-in controller. */
    static final Map<String, Integer> lowest = new ConcurrentHashMap<>();
    static volatile Thread controller;
    static volatile KubernetesClient controllerClient;

    @BeforeAll
    static void loadFixture() throws Exception {
        try (InputStream sql = RestoreTest.class.getResourceAsStream("/fixtures/hard-content.sql")) {
            pg().load("app", sql);
        }
        pg().psql("stuckdb", "CREATE TABLE keep(v text); INSERT INTO keep VALUES ('untouched');");
        // two tables larger than a lane's threshold (1 MiB of dump), with COPY escapes, a row longer than a lane's
        // chunk (256 KiB), a foreign key and an index built after the rows; and a small one
        pg().psql("bigdb", "CREATE TABLE wide (id bigint PRIMARY KEY, body text NOT NULL, bin bytea, at timestamptz);"
                + " INSERT INTO wide SELECT g, repeat(md5(g::text), 1 + g % 4) || E'\\t tab, \\\\ backslash,\\n' || g,"
                + " decode(md5(g::text), 'hex'), timestamptz '2024-01-01 00:00+00' + g * interval '1 minute'"
                + " FROM generate_series(1, 200000) g;"
                + " INSERT INTO wide VALUES (0, repeat('x', 600000), NULL, NULL);"
                + " CREATE TABLE line (id bigint PRIMARY KEY, wide_id bigint NOT NULL REFERENCES wide, qty int CHECK (qty > 0));"
                + " INSERT INTO line SELECT g, 1 + g % 200000, 1 + g % 7 FROM generate_series(1, 150000) g;"
                + " CREATE INDEX line_wide ON line (wide_id);"
                + " CREATE TABLE tiny (k text PRIMARY KEY); INSERT INTO tiny VALUES ('a'), ('b');");
    }

    /**
     * The tests call the janitor themselves: its scheduled pass, a minute after the start, would drop their
     * old-named databases under them (seen when the class ran past a minute on a busy machine).
     */
    @BeforeEach
    void pauseScheduledJanitor() {
        scheduler.pause("scratch-janitor");
        assertThat(scheduler.isPaused("scratch-janitor")).isTrue();
    }

    @BeforeEach
    void startController() {
        if (controller == null) {
            controllerClient = kubernetes.getClient();
            controller = Thread.ofPlatform().daemon().name("fake-controllers").start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        for (Deployment d : controllerClient.apps().deployments().inNamespace(ShopWorkloads.NS).list().getItems()) {
                            lowest.merge(d.getMetadata().getName(), d.getSpec().getReplicas(), Math::min);
                        }
                        ShopWorkloads.reconcile(controllerClient);
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    } catch (RuntimeException e) {
                        // the mock server is going away at the end
                    }
                }
            });
        }
    }

    @AfterAll
    static void stopController() {
        if (controller != null) {
            controller.interrupt();
            controller = null;
        }
    }

    // ---- the round trip ----

    @Test
    void restoreInPlaceBringsBackTheDataOfTheBackupAndScalesWorkloadsAround() {
        String backupId = backup("main");
        String atBackup = pg().pgDump("app");
        changeData();
        assertThat(pg().pgDump("app")).isNotEqualTo(atBackup);
        lowest.clear();

        Response r = restorer().body(Map.of("backupId", backupId, "target", "primary")).post("/api/v1/restores?wait=true");
        r.then().statusCode(201).header("Location", containsString("/api/v1/restores/restore_"))
                .body("status", equalTo("COMPLETED")).body("backupId", equalTo(backupId))
                .body("mode", equalTo("clean-schema")).body("progress.percent", equalTo(100.0f));

        assertThat(pg().pgDump("app")).isEqualTo(atBackup);
        List<String> steps = r.jsonPath().getList("steps.name");
        assertThat(steps).containsExactly("RESOLVE", "SCALE_DOWN", "SAFETY_BACKUP", "LOAD", "SCALE_UP");
        assertThat(r.jsonPath().getList("steps.status", String.class)).containsOnly("DONE");
        assertThat(r.jsonPath().getList("steps.seconds", Float.class)).allMatch(s -> s != null && s >= 0);

        // web (by name), worker and queue (by selector) went to 0 and came back; others were not touched
        assertThat(lowest).containsEntry("web", 0).containsEntry("worker", 0).containsEntry("unrelated", 2);
        assertWorkloadsBack();
        assertThat(replicas("StatefulSet", "queue")).isEqualTo(1);

        // the safety backup holds the data as it was just before the restore
        String safetyId = r.jsonPath().getString("safetyBackupId");
        Response safety = given().baseUri(RestoreStack.backupService().apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/backups/" + safetyId);
        safety.then().statusCode(200).body("status", equalTo("COMPLETED")).body("trigger", equalTo("PRE_RESTORE"))
                .body("metadata.labels.restore", equalTo(r.jsonPath().getString("id")));
    }

    @Test
    void recreateDatabaseReplacesTheDatabaseWithTheBackup() {
        String backupId = backup("main");
        String atBackup = pg().pgDump("app");
        String oidBefore = pg().psql("postgres", "SELECT oid FROM pg_database WHERE datname = 'app'");
        changeData();

        restorer().body(Map.of("backupId", backupId, "target", "primary", "mode", "recreate-database", "safetyBackup", false))
                .post("/api/v1/restores?wait=true").then().statusCode(201).body("status", equalTo("COMPLETED"));

        assertThat(pg().pgDump("app")).isEqualTo(atBackup);
        assertThat(pg().psql("postgres", "SELECT oid FROM pg_database WHERE datname = 'app'")).isNotEqualTo(oidBefore);
        assertThat(pg().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new%' OR datname LIKE 'lifeboat\\_old%'"))
                .isEqualTo("0");
        assertWorkloadsBack();
    }

    @Test
    void recreateDatabaseAndCleanSchemaKeepTheDatabasesSettingsGrantsConnectionLimitAndComment() {
        String password = "'" + PostgresServer.PASSWORD.replace("'", "''") + "'";
        for (String role : List.of("reporting", "outsider")) {
            pg().psql("postgres", "DO $$ BEGIN CREATE ROLE " + role + " LOGIN PASSWORD " + password
                    + "; EXCEPTION WHEN duplicate_object THEN NULL; END $$;");
        }
        pg().psql("postgres", "ALTER DATABASE app SET search_path = public, billing;"
                + "ALTER DATABASE app SET work_mem = '5MB';"
                + "ALTER ROLE reporting IN DATABASE app SET statement_timeout = '7s';"
                + "REVOKE CONNECT ON DATABASE app FROM PUBLIC;"
                + "GRANT CONNECT ON DATABASE app TO reporting;"
                + "ALTER DATABASE app CONNECTION LIMIT 7;"
                + "COMMENT ON DATABASE app IS 'the shop''s database';");
        try {
            String backupId = backup("main");
            String settings = databaseSettings("app");
            assertThat(settings).contains("limit 7").contains("comment the shop's database")
                    .contains("reporting=c/postgres").doesNotContain("acl {=Tc/").contains("* search_path=public, billing")
                    .contains("reporting statement_timeout=7s").contains("outsider f").contains("reporting t");
            changeData();

            Response r = restorer().body(Map.of("backupId", backupId, "target", "primary", "mode", "recreate-database",
                    "safetyBackup", false)).post("/api/v1/restores?wait=true");
            r.then().statusCode(201).body("status", equalTo("COMPLETED"))
                    .body("steps.find { it.name == 'SWAP' }.detail", containsString("connection limit 7"));
            assertThat(databaseSettings("app")).isEqualTo(settings);
            assertSessionsSeeTheSettings();

            changeData();
            restorer().body(Map.of("backupId", backupId, "target", "primary", "safetyBackup", false))
                    .post("/api/v1/restores?wait=true").then().statusCode(201).body("mode", equalTo("clean-schema"));
            assertThat(databaseSettings("app")).isEqualTo(settings);
            assertSessionsSeeTheSettings();
        } finally {
            pg().psql("postgres", "ALTER DATABASE app RESET ALL; ALTER ROLE reporting IN DATABASE app RESET ALL;"
                    + "GRANT CONNECT ON DATABASE app TO PUBLIC; REVOKE CONNECT ON DATABASE app FROM reporting;"
                    + "ALTER DATABASE app CONNECTION LIMIT -1; COMMENT ON DATABASE app IS NULL;");
        }
    }

    /** What the database carries outside its dump, one property a line, comparable before and after a restore. */
    private static String databaseSettings(String database) {
        String d = "(SELECT oid FROM pg_database WHERE datname = '" + database + "')";
        return pg().psql("postgres", "SELECT concat_ws(E'\\n',"
                + " 'owner ' || (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE oid = " + d + "),"
                + " 'limit ' || (SELECT datconnlimit FROM pg_database WHERE oid = " + d + "),"
                + " 'template ' || (SELECT datistemplate FROM pg_database WHERE oid = " + d + "),"
                + " 'connections ' || (SELECT datallowconn FROM pg_database WHERE oid = " + d + "),"
                + " 'comment ' || shobj_description(" + d + ", 'pg_database'),"
                + " 'acl ' || (SELECT array(SELECT a::text FROM unnest(datacl) a ORDER BY 1)::text FROM pg_database WHERE oid = " + d + "),"
                + " (SELECT string_agg(coalesce(pg_get_userbyid(nullif(s.setrole, 0))::text, '*') || ' ' || c, E'\\n' ORDER BY s.setrole, c)"
                + "   FROM pg_db_role_setting s, unnest(s.setconfig) c WHERE s.setdatabase = " + d + "),"
                + " 'outsider ' || has_database_privilege('outsider', '" + database + "', 'CONNECT'),"
                + " 'reporting ' || has_database_privilege('reporting', '" + database + "', 'CONNECT'))");
    }

    /** A role with CONNECT gets the database's and its own settings; a role without it cannot connect at all. */
    private static void assertSessionsSeeTheSettings() {
        Map<String, String> asReporting = new java.util.HashMap<>(pg().env());
        asReporting.put("PGUSER", "reporting");
        String seen = new String(PostgresServer.run(List.of(pg().bin().resolve("psql").toString(), "-X", "-A", "-t", "-d",
                "app", "-c", "SELECT current_setting('search_path') || '|' || current_setting('work_mem') || '|' "
                        + "|| current_setting('statement_timeout')"), asReporting, null), StandardCharsets.UTF_8).strip();
        assertThat(seen).isEqualTo("public, billing|5MB|7s");
        Map<String, String> asOutsider = new java.util.HashMap<>(pg().env());
        asOutsider.put("PGUSER", "outsider");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PostgresServer.run(List.of(
                pg().bin().resolve("psql").toString(), "-X", "-d", "app", "-c", "SELECT 1"), asOutsider, null))
                .hasMessageContaining("permission denied for database");
    }

    @Test
    void latestVerifiedNeverPicksASafetyBackupEvenWhenItIsNewerAndVerified() throws Exception {
        String regular = backup("main");
        String safety = given().baseUri(RestoreStack.backupService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("database", "main", "trigger", "PRE_RESTORE"))
                .post("/api/v1/backups?wait=true").then().statusCode(201).extract().path("id");
        for (String id : List.of(regular, safety)) {
            Instant at = Instant.now();
            catalog.recordVerification(new dev.lifeboat.common.model.VerificationRecord(
                    dev.lifeboat.common.model.VerificationRecord.SCHEMA_VERSION,
                    "verify_" + id.substring("main_backup_".length(), "main_backup_".length() + 15) + "_" + (id.equals(safety) ? "bbbbbb" : "aaaaaa"),
                    id, "main", dev.lifeboat.common.model.VerificationRecord.Level.FULL,
                    dev.lifeboat.common.model.VerificationRecord.Trigger.MANUAL,
                    dev.lifeboat.common.model.VerificationRecord.Result.PASSED, at, at, 1, null, null, null, null, 1.0,
                    null, null, List.of()), 5);
        }
        assertThat(catalog.latestVerified("main").map(BackupMetadata::id)).as("the newest verified is the safety backup")
                .contains(safety);

        Response r = operator().body(Map.of("backupId", "latest-verified", "target", "scratch", "database", "main"))
                .post("/api/v1/restores?wait=true");
        r.then().statusCode(201).body("status", equalTo("COMPLETED")).body("backupId", equalTo(regular));
        operator().delete("/api/v1/restores/" + r.jsonPath().getString("id") + "/database").then().statusCode(204);
    }

    @Test
    void startupRecoveryReopensATargetClosedByAnInterruptedSwapButNotOneClosedByItsOperator() {
        String atStart = pg().pgDump("app");
        String marked = "lifeboat_new_20200101_000000_abcde1";
        String unmarked = "lifeboat_new_20200101_000000_abcde2";
        pg().createDatabase(marked);
        pg().createDatabase(unmarked);
        try {
            // what an interrupted swap leaves: the target closed, the loaded copy marked (see RestoreService.swap)
            pg().psql("postgres", "COMMENT ON DATABASE " + marked + " IS 'lifeboat:swap {\"restore\":\"restore_20200101_000000_abcde1\","
                    + "\"database\":\"app\",\"allowConnections\":true}'; ALTER DATABASE app ALLOW_CONNECTIONS false;");
            assertThat(recovery.repairInterruptedSwaps()).isTrue();
            assertThat(pg().psql("postgres", "SELECT datallowconn FROM pg_database WHERE datname = 'app'")).isEqualTo("t");
            assertThat(pg().psql("postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_2020%'"))
                    .as("the marked copy is dropped, a copy without a marker is the janitor's").isEqualTo(unmarked);
            assertThat(pg().pgDump("app")).isEqualTo(atStart);

            // closed by its operator (no marker), or a marker naming another database: left alone
            pg().psql("postgres", "COMMENT ON DATABASE " + unmarked + " IS 'lifeboat:swap {\"restore\":\"r\",\"database\":\"stuckdb\","
                    + "\"allowConnections\":true}'; ALTER DATABASE app ALLOW_CONNECTIONS false;");
            assertThat(recovery.repairInterruptedSwaps()).isTrue();
            assertThat(pg().psql("postgres", "SELECT datallowconn FROM pg_database WHERE datname = 'app'")).isEqualTo("f");
            assertThat(pg().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + unmarked + "'")).isEqualTo("1");
        } finally {
            pg().psql("postgres", "ALTER DATABASE app ALLOW_CONNECTIONS true; DROP DATABASE IF EXISTS " + marked
                    + "; DROP DATABASE IF EXISTS " + unmarked + ";");
        }
    }

    @Test
    void latestRestoresTheNewestBackupOfTheTargetsDatabaseButNeverASafetyBackup() {
        backup("main");
        String newest = backup("main");
        Response first = restorer().body(Map.of("backupId", "latest", "target", "primary"))
                .post("/api/v1/restores?wait=true");
        first.then().statusCode(201).body("backupId", equalTo(newest));
        String safetyId = first.jsonPath().getString("safetyBackupId");
        assertThat(safetyId).isNotNull().isNotEqualTo(newest);
        // the safety backup is now the newest backup of main; "latest" still means the newest regular one
        restorer().body(Map.of("backupId", "latest", "target", "primary", "safetyBackup", false))
                .post("/api/v1/restores?wait=true").then().statusCode(201).body("backupId", equalTo(newest));
        restorer().body(Map.of("backupId", safetyId, "target", "primary", "safetyBackup", false))
                .post("/api/v1/restores?wait=true").then().statusCode(201).body("backupId", equalTo(safetyId));
    }

    // ---- all or nothing ----

    @Test
    void aFlippedByteLeavesTheTargetUnchanged() throws Exception {
        BackupMetadata m = catalog.get(backup("main"));
        byte[] data = read(m.key());
        data[data.length / 2] ^= 0x01;
        overwrite(m.key(), data);
        assertRestoreFailsAndChangesNothing(m.id(), "does not decrypt").then().body("failure", equalTo("BACKUP_DAMAGED"));
    }

    @Test
    void aTruncatedObjectIsRefusedAndLeavesTheTargetUnchanged() throws Exception {
        BackupMetadata m = catalog.get(backup("main"));
        byte[] data = read(m.key());
        overwrite(m.key(), java.util.Arrays.copyOf(data, data.length - 100));
        String before = pg().pgDump("app");
        restorer().body(Map.of("backupId", m.id(), "target", "primary")).post("/api/v1/restores?wait=true")
                .then().statusCode(422).contentType("application/problem+json").body("detail", containsString("truncated"));
        assertThat(pg().pgDump("app")).isEqualTo(before);
    }

    @Test
    void aTruncatedObjectWithMatchingSizeInTheMetadataIsCaughtWhileStreaming() throws Exception {
        BackupMetadata m = catalog.get(backup("main"));
        byte[] cut = java.util.Arrays.copyOf(read(m.key()), (int) (m.storedSizeBytes() * 2 / 3));
        String id = forge(m, "main_backup_20200101_000001.sql.zst.age", cut, true);
        assertRestoreFailsAndChangesNothing(id, "Nothing was committed");
    }

    @Test
    void aWrongAgeIdentityLeavesTheTargetUnchanged() throws Exception {
        BackupMetadata m = catalog.get(backup("main"));
        String otherRecipient = AgeKeys.generate()[0];
        byte[] reencrypted = encode(plain(m), List.of(otherRecipient));
        String id = forge(m, "main_backup_20200101_000002.sql.zst.age", reencrypted, true);
        // the configuration is at fault, not the backup: verify-service must not call the backup damaged
        assertRestoreFailsAndChangesNothing(id, "no configured identity matches").then()
                .body("failure", equalTo("OTHER")).body("error", containsString("The stored bytes are intact"));
    }

    @Test
    void aFailingStatementRollsBackEverythingAlreadyLoaded() throws Exception {
        BackupMetadata m = catalog.get(backup("main"));
        String dump = new String(plain(m), StandardCharsets.UTF_8);
        // fail after the schemas were dropped and most of the data was loaded
        int at = dump.lastIndexOf("\\.\n") + 3;
        String broken = dump.substring(0, at) + "SELECT 1/0;\n" + dump.substring(at);
        byte[] stored = encode(broken.getBytes(StandardCharsets.UTF_8), List.of(RestoreStack.recipient()));
        String id = forge(m, "main_backup_20200101_000003.sql.zst.age", stored, true, broken.getBytes(StandardCharsets.UTF_8).length);
        assertRestoreFailsAndChangesNothing(id, "division by zero");
    }

    @Test
    void aChecksumMismatchFoundAtTheEndCommitsNothing() throws Exception {
        // the object decrypts and loads completely; only its SHA-256 differs from the metadata
        BackupMetadata m = catalog.get(backup("main"));
        String id = forge(m, "main_backup_20200101_000004.sql.zst.age", read(m.key()), false);
        assertRestoreFailsAndChangesNothing(id, "SHA-256");
    }

    @Test
    void aFailedSafetyBackupStopsTheRestoreBeforeTheDatabaseIsTouched() {
        String backupId = backup("main");
        changeData();
        RestoreStack.backupService().stop();
        try {
            assertRestoreFailsAndChangesNothing(backupId, "backup-service");
        } finally {
            RestoreStack.backupService().restart();
        }
    }

    /** Restores {@code backupId} into primary, which must fail for {@code reason} and change nothing; returns the job. */
    private Response assertRestoreFailsAndChangesNothing(String backupId, String reason) {
        String before = pg().pgDump("app");
        Response r = restorer().body(Map.of("backupId", backupId, "target", "primary")).post("/api/v1/restores?wait=true");
        r.then().statusCode(500).contentType("application/problem+json").body("detail", containsString(reason));
        assertThat(pg().pgDump("app")).isEqualTo(before);
        String id = r.header("Location").replaceAll(".*/", "");
        Response job = viewer().get("/api/v1/restores/" + id);
        job.then().statusCode(200).body("status", equalTo("FAILED")).body("error", containsString(reason));
        assertThat(job.jsonPath().getList("steps.status", String.class)).contains("FAILED");
        assertThat(job.jsonPath().getList("steps.name", String.class)).endsWith("SCALE_UP");
        assertWorkloadsBack();
        return job;
    }

    // ---- workloads ----

    @Test
    void workloadsLeftScaledDownByAKilledRestoreAreScaledBackOnStartUp() {
        // ShopWorkloads created crashed-app at 0 with the annotation before the application started
        assertThat(replicas("Deployment", "crashed-app")).isEqualTo(2);
        assertThat(annotations("Deployment", "crashed-app")).doesNotContainKey(WorkloadScaler.REPLICAS_ANNOTATION);
    }

    @Test
    void podsThatDoNotGoAwayFailTheRestoreBeforeTheDatabaseIsTouchedAndASecondRestoreIsRefused() {
        String backupId = backup("stuck");
        pg().psql("stuckdb", "UPDATE keep SET v = 'changed after backup'");
        Response first = restorer().body(Map.of("backupId", backupId, "target", "stuck")).post("/api/v1/restores");
        first.then().statusCode(202).body("status", equalTo("RUNNING"));

        restorer().body(Map.of("backupId", backupId, "target", "stuck")).post("/api/v1/restores")
                .then().statusCode(409).contentType("application/problem+json")
                .body("detail", containsString(first.jsonPath().getString("id")));

        // while it waits, the job shows the step it is in
        viewer().get("/api/v1/restores/" + first.jsonPath().getString("id")).then().statusCode(200)
                .body("status", equalTo("RUNNING")).body("phase", equalTo("SCALE_DOWN"))
                .body("progress.totalBytes", org.hamcrest.Matchers.greaterThan(0));

        Response done = awaitDone(first.jsonPath().getString("id"));
        done.then().body("status", equalTo("FAILED")).body("error", containsString("Pods still running"));
        assertThat(pg().psql("stuckdb", "SELECT v FROM keep")).isEqualTo("changed after backup");
        assertThat(replicas("Deployment", "stuck-app")).isEqualTo(1);
        assertThat(annotations("Deployment", "stuck-app")).doesNotContainKey(WorkloadScaler.REPLICAS_ANNOTATION);
    }

    // ---- scratch ----

    @Test
    void scratchRestoreCreatesADatabaseAndTheDropEndpointRemovesIt() {
        String backupId = backup("main");
        String atBackup = pg().pgDump("app");
        Response started = operator().body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores");
        started.then().statusCode(202).body("status", equalTo("RUNNING"));
        // a waiting GET answers once the restore has ended (a caller need not poll)
        Response r = viewer().get("/api/v1/restores/" + started.jsonPath().getString("id") + "?waitSeconds=20");
        r.then().statusCode(200).body("status", equalTo("COMPLETED")).body("database", containsString("lifeboat_scratch_"));
        String database = r.jsonPath().getString("database");
        assertThat(pg().pgDump(database)).isEqualTo(atBackup);
        assertThat(r.jsonPath().getList("steps.name", String.class)).containsExactly("RESOLVE", "CREATE_DATABASE", "LOAD");

        String id = r.jsonPath().getString("id");
        operator().delete("/api/v1/restores/" + id + "/database").then().statusCode(204);
        assertThat(pg().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + database + "'")).isEqualTo("0");
        // a finished restore's time stays what it took, however much later it is read
        viewer().get("/api/v1/restores/" + id).then().body("databaseDropped", equalTo(true))
                .body("progress.elapsedSeconds", equalTo(r.jsonPath().getFloat("progress.elapsedSeconds")));
        operator().delete("/api/v1/restores/" + id + "/database").then().statusCode(404)
                .contentType("application/problem+json");
    }

    @Test
    void aFailedScratchRestoreLeavesNoDatabaseBehind() throws Exception {
        BackupMetadata m = catalog.get(backup("main"));
        String id = forge(m, "main_backup_20200101_000005.sql.zst.age", read(m.key()), false);
        operator().body(Map.of("backupId", id, "target", "scratch")).post("/api/v1/restores?wait=true")
                .then().statusCode(500);
        assertThat(pg().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat_scratch_%'"))
                .isEqualTo("0");
    }

    // ---- large tables: their rows are loaded over several connections at once ----

    @Test
    void theRowsOfLargeTablesAreLoadedOverSeveralConnectionsIntoAScratchDatabase() {
        String backupId = backup("big");
        Response r = operator().body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores?wait=true");
        r.then().statusCode(201).body("status", equalTo("COMPLETED"));
        String database = r.jsonPath().getString("database");
        try {
            assertThat(bigContent(database)).isEqualTo(bigContent("bigdb"));
            // constraints and indexes are the source's: built, and the foreign key checked, after every lane committed
            assertThat(bigSchema(database)).isEqualTo(bigSchema("bigdb")).contains("FOREIGN KEY").contains("line_wide");
            // wide's rows were committed by several transactions (the lanes, each in its own session); tiny's by one
            assertThat(Integer.parseInt(pg().psql(database, "SELECT count(DISTINCT xmin::text) FROM public.wide")))
                    .isGreaterThanOrEqualTo(2);
            assertThat(pg().psql(database, "SELECT count(DISTINCT xmin::text) FROM public.tiny")).isEqualTo("1");
            assertThat(r.jsonPath().getString("steps.find { it.name == 'LOAD' }.detail"))
                    .contains("rows of 2 large table(s)").contains("loaded over 2 connections at once");
        } finally {
            operator().delete("/api/v1/restores/" + r.jsonPath().getString("id") + "/database").then().statusCode(204);
        }
    }

    @Test
    void aLaneWhoseSessionEndsFailsTheRestoreAndLeavesNoDatabaseBehind() {
        String backupId = backup("big");
        Response started = operator().body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores");
        started.then().statusCode(202);
        String id = started.jsonPath().getString("id");
        // the sessions of the lanes loading wide's rows end, as when an operator or a failover ends them
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
        while (pg().psql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name"
                + " LIKE 'lifeboat-restore-lane-%' AND query LIKE 'COPY public.wide %'").equals("0")) {
            assertThat(viewer().get("/api/v1/restores/" + id).jsonPath().getString("status"))
                    .as("the restore ended before a lane was seen loading rows").isEqualTo("RUNNING");
            assertThat(System.nanoTime()).as("no lane loading rows within 60 s").isLessThan(deadline);
        }
        Response r = viewer().get("/api/v1/restores/" + id + "?waitSeconds=20");
        r.then().statusCode(200).body("status", equalTo("FAILED"))
                .body("error", containsString("Loading rows in parallel failed"))
                .body("error", containsString("the database being loaded is dropped"));
        assertThat(pg().psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'lifeboat_scratch_"
                + id.substring("restore_".length()) + "'")).as("the scratch database of the failed restore").isEqualTo("0");
        // every lane's psql was stopped: no session of a lane is left on the server
        dev.lifeboat.common.testing.Poll.until("no session of a lane left", java.time.Duration.ofSeconds(30),
                () -> pg().psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                        + "'lifeboat-restore-lane-%'").equals("0"));
    }

    /** bigdb's tables: row counts and digests of their rows in key order (the lanes change the order in the heap). */
    private static String bigContent(String database) {
        return pg().psql(database, "SELECT (SELECT count(*) || ':' || md5(string_agg(w::text, E'\\n' ORDER BY id)) FROM wide w)"
                + " || ' ' || (SELECT count(*) || ':' || md5(string_agg(l::text, E'\\n' ORDER BY id)) FROM line l)"
                + " || ' ' || (SELECT count(*) || ':' || string_agg(k, ',' ORDER BY k) FROM tiny)");
    }

    private static String bigSchema(String database) {
        return pg().psql(database, "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), '; ' ORDER BY conname)"
                + " FROM pg_constraint WHERE connamespace = 'public'::regnamespace")
                + " | " + pg().psql(database, "SELECT string_agg(indexdef, '; ' ORDER BY indexname) FROM pg_indexes"
                + " WHERE schemaname = 'public'");
    }

    @Test
    void expiredScratchDatabasesAreDroppedAndOthersKept() {
        String fresh = "lifeboat_scratch_" + java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss")
                .withZone(java.time.ZoneOffset.UTC).format(Instant.now()) + "_0000aa";
        for (String db : List.of("lifeboat_scratch_20200101_000000_abcdef", "lifeboat_new_20200101_000000_abcdef", fresh,
                "lifeboat_scratch_not_ours")) {
            pg().createDatabase(db);
        }
        assertThat(janitor.clean(Instant.now())).containsExactlyInAnyOrder("lifeboat_scratch_20200101_000000_abcdef",
                "lifeboat_new_20200101_000000_abcdef");
        assertThat(pg().psql("postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname IN ("
                + "'lifeboat_scratch_20200101_000000_abcdef', 'lifeboat_new_20200101_000000_abcdef', '" + fresh
                + "', 'lifeboat_scratch_not_ours')")).isEqualTo(fresh + ",lifeboat_scratch_not_ours");
        pg().psql("postgres", "DROP DATABASE \"" + fresh + "\"");
        pg().psql("postgres", "DROP DATABASE lifeboat_scratch_not_ours");
    }

    // ---- bad input and authorization ----

    @Test
    void badRequestsGetProblemDetails() {
        String backupId = backup("main");
        expectProblem(restorer().body(Map.of("backupId", backupId, "target", "nope")).post("/api/v1/restores"), 404, "nope");
        expectProblem(restorer().body(Map.of("backupId", "main_backup_19990101_000000.sql.zst.age", "target", "primary"))
                .post("/api/v1/restores"), 404, "No completed backup");
        expectProblem(restorer().body(Map.of("backupId", "../etc/passwd", "target", "primary")).post("/api/v1/restores"), 400, "backup id");
        expectProblem(restorer().body(Map.of("backupId", "a\u0000b", "target", "primary")).post("/api/v1/restores"), 400, "backup id");
        expectProblem(restorer().body(Map.of("backupId", "x".repeat(10_000), "target", "primary")).post("/api/v1/restores"), 400, "at most");
        expectProblem(restorer().body(Map.of("backupId", backupId, "target", "stuck", "mode", "recreate-database"))
                .post("/api/v1/restores"), 400, "not allowed");
        expectProblem(restorer().body(Map.of("backupId", backupId, "target", "scratch", "mode", "clean-schema"))
                .post("/api/v1/restores"), 400, "scratch");
        expectProblem(restorer().body(Map.of("backupId", backupId, "target", "primary", "mode", "yolo"))
                .post("/api/v1/restores"), 400, "Unknown mode");
        expectProblem(restorer().body(Map.of("backupId", backupId, "target", "stuck")).post("/api/v1/restores"), 400,
                "Restore it into a scratch target");
        expectProblem(restorer().body("{").post("/api/v1/restores"), 400, "");
        expectProblem(restorer().body(Map.of("target", "primary")).post("/api/v1/restores"), 400, "backupId");
        expectProblem(viewer().get("/api/v1/restores/restore_20260101_000000_000000"), 404, "No restore");
        expectProblem(viewer().get("/api/v1/restores/restore_20260101_000000_000000?waitSeconds=21"), 400,
                "waitSeconds is between 0 and 20");
        expectProblem(viewer().get("/api/v1/restores/..%2f..%2fetc"), 400, "restore id");
        expectProblem(viewer().get("/api/v1/restores/" + "r".repeat(10_000)), 400, "restore id");
        expectProblem(operator().delete("/api/v1/restores/not-an-id/database"), 400, "restore id");
    }

    @Test
    void onlyRestorersRestoreInPlace() {
        String backupId = backup("main");
        given().contentType("application/json").body(Map.of("backupId", backupId, "target", "primary"))
                .post("/api/v1/restores").then().statusCode(401);
        viewer().body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores").then().statusCode(403);
        operator().body(Map.of("backupId", backupId, "target", "primary")).post("/api/v1/restores").then().statusCode(403)
                .contentType("application/problem+json");
        viewer().get("/api/v1/restores").then().statusCode(200);
    }

    @Test
    void targetsTellInPlaceFromScratchWithoutShowingServersOrCredentials() {
        Response r = viewer().get("/api/v1/targets");
        r.then().statusCode(200).body("name", equalTo(List.of("primary", "scratch", "stuck")))
                .body("scratch", equalTo(List.of(false, true, false)))
                .body("[0].database", equalTo("app")).body("[0].databaseLabel", equalTo("main"))
                .body("[0].modes", equalTo(List.of("clean-schema", "recreate-database")))
                .body("[0].safetyBackup", equalTo(true))
                .body("[2].modes", equalTo(List.of("clean-schema"))).body("[2].safetyBackup", equalTo(false));
        assertThat(r.jsonPath().getMap("[1]")).containsOnlyKeys("name", "scratch");
        assertThat(r.asString()).doesNotContain("127.0.0.1").doesNotContain(PostgresServer.PASSWORD)
                .doesNotContain("postgres");
        given().get("/api/v1/targets").then().statusCode(401);
    }

    @Test
    void metricsCountRestoresByTargetAndResult() {
        String backupId = backup("main");
        operator().body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores?wait=true")
                .then().statusCode(201);
        String body = given().get(metrics).asString();
        assertThat(body).containsPattern("lifeboat_restores_total\\{[^}]*result=\"success\",target=\"scratch\"[^}]*} [1-9]");
        assertThat(body).containsPattern("lifeboat_restore_duration_seconds_count\\{[^}]*target=\"scratch\"[^}]*} [1-9]");
        assertThat(body).contains("lifeboat_restores_total{result=\"failure\",target=\"primary\"}");
    }

    // ---- helpers ----

    static PostgresServer pg() {
        return RestoreStack.postgres();
    }

    private static RequestSpecification restorer() {
        return given().auth().oauth2(TokenResource.RESTORER).contentType("application/json");
    }

    private static RequestSpecification operator() {
        return given().auth().oauth2(TokenResource.OPERATOR).contentType("application/json");
    }

    private static RequestSpecification viewer() {
        return given().auth().oauth2(TokenResource.VIEWER).contentType("application/json");
    }

    private static void expectProblem(Response r, int status, String detail) {
        r.then().statusCode(status).contentType("application/problem+json").body("status", equalTo(status))
                .body("detail", containsString(detail));
        assertThat(r.asString()).doesNotContain("at dev.lifeboat").doesNotContain("Exception:");
    }

    /** A backup taken by backup-service (the real process); returns its id. */
    private static String backup(String database) {
        return given().baseUri(RestoreStack.backupService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("database", database)).post("/api/v1/backups?wait=true")
                .then().log().ifValidationFails().statusCode(201).extract().path("id");
    }

    private static void changeData() {
        pg().psql("app", "UPDATE public.people SET name = name || '+' WHERE id = (SELECT min(id) FROM public.people);"
                + " DELETE FROM billing.\"Invoice Lines\" WHERE true;"
                + " CREATE TABLE IF NOT EXISTS public.added_later(x int); INSERT INTO public.added_later VALUES (1);"
                + " DROP TABLE IF EXISTS public.empty_table;");
    }

    private static Response awaitDone(String id) {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            Response r = viewer().get("/api/v1/restores/" + id);
            if (!"RUNNING".equals(r.jsonPath().getString("status"))) {
                return r;
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("restore " + id + " did not finish");
    }

    private void assertWorkloadsBack() {
        assertThat(replicas("Deployment", "web")).isEqualTo(3);
        assertThat(replicas("Deployment", "worker")).isEqualTo(2);
        assertThat(annotations("Deployment", "web")).doesNotContainKeys(WorkloadScaler.REPLICAS_ANNOTATION,
                WorkloadScaler.RESTORE_ANNOTATION);
        assertThat(annotations("StatefulSet", "queue")).doesNotContainKey(WorkloadScaler.REPLICAS_ANNOTATION);
    }

    private HasMetadata workload(String kind, String name) {
        KubernetesClient client = kubernetes.getClient();
        return kind.equals("Deployment") ? client.apps().deployments().inNamespace(ShopWorkloads.NS).withName(name).get()
                : client.apps().statefulSets().inNamespace(ShopWorkloads.NS).withName(name).get();
    }

    private int replicas(String kind, String name) {
        HasMetadata w = workload(kind, name);
        return w instanceof Deployment d ? d.getSpec().getReplicas()
                : ((io.fabric8.kubernetes.api.model.apps.StatefulSet) w).getSpec().getReplicas();
    }

    private Map<String, String> annotations(String kind, String name) {
        Map<String, String> a = workload(kind, name).getMetadata().getAnnotations();
        return a == null ? Map.of() : a;
    }

    private byte[] read(String key) throws Exception {
        try (InputStream in = store.open(key)) {
            return in.readAllBytes();
        }
    }

    /** Replaces a committed object's bytes (damage, as a disk or a bucket could). */
    private void overwrite(String key, byte[] data) throws Exception {
        store.delete(key);
        try (ObjectStore.PendingObject out = store.create(key)) {
            out.write(data);
            out.commit();
        }
    }

    /** The dump inside a stored backup. */
    private byte[] plain(BackupMetadata m) throws Exception {
        return new ForgedBackups(store, catalog).plain(m, RestoreStack.identityFile());
    }

    private static byte[] encode(byte[] dump, List<String> recipients) throws Exception {
        return ForgedBackups.encode(dump, recipients);
    }

    /**
     * Stores {@code data} as a complete backup named {@code id}, with {@code source}'s metadata; the size and
     * SHA-256 recorded are those of {@code data} when {@code matching}, else the source's (a mismatch).
     */
    private String forge(BackupMetadata source, String id, byte[] data, boolean matching) throws Exception {
        return forge(source, id, data, matching, source.rawSizeBytes());
    }

    /** As above, recording {@code rawSize} bytes of dump. */
    private String forge(BackupMetadata source, String id, byte[] data, boolean matching, long rawSize) throws Exception {
        return new ForgedBackups(store, catalog).forge(source, id, data, matching, rawSize);
    }
}
