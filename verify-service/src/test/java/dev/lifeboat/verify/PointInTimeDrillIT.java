package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.Integrity;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.common.wal.RecoveryWindow;
import io.restassured.path.json.JsonPath;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The point-in-time drill, the three services as processes on a real PostgreSQL 15 streaming its WAL: a new base
 * backup is announced to verify-service, whose full verification recovers it with the archived WAL in restore-service's
 * private instance to its end point, loads it into a scratch database on a second server (creating the roles it
 * refers to, NOLOGIN), reads every table, runs amcheck and the SQL check, and PASSES; the status shows the drill and its RTO. Then one byte of a WAL segment the base backup needs is
 * flipped in the store: the next drill FAILS at CHECKSUM naming that segment, and the status stops counting on the
 * base backup.
 */
class PointInTimeDrillIT {
    private static final Duration WAIT = Duration.ofSeconds(240);
    private static PostgresServer postgres;
    /** A second server, the scratch one: none of the source's roles (as after a rebuild). */
    private static PostgresServer fresh;
    private static S3Server s3;
    private static ObjectStore store;
    private static WalArchive wal;
    private static BackupCatalog catalog;
    private static Path keys;
    private static Path spool;
    private static Path walSpool;
    private static ServiceProcess backup;
    private static ServiceProcess restore;
    private static ServiceProcess verify;
    private static boolean succeeded;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3Server.start();
        store = s3.store();
        catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix, Integrity.none());
        wal = new WalArchive(store, catalog);
        String[] age = AgeKeys.generate();
        keys = Files.createTempDirectory("lifeboat-drill-keys-");
        Path identity = keys.resolve("key.txt");
        Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(identity, age[1] + "\n");
        Path token = keys.resolve("operator-token"); // how the services call each other
        Files.createFile(token, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(token, TokenResource.OPERATOR);
        spool = Files.createTempDirectory("lifeboat-drill-pitr-");
        walSpool = Files.createTempDirectory("lifeboat-drill-wal-");
        UserPrincipal pgUser = keys.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
        for (Path p : List.of(keys, identity, token, spool)) {
            Files.setOwner(p, pgUser);
        }
        postgres = PostgresServer.start(Map.of("max_slot_wal_keep_size", "1GB"));
        postgres.createDatabase("app");
        postgres.psql("app", "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw'; CREATE ROLE app_reader; "
                + "CREATE TABLE t (k int PRIMARY KEY, v text NOT NULL); "
                + "INSERT INTO t SELECT g, repeat('x', g % 50) FROM generate_series(1, 1000) g; "
                + "ALTER TABLE t OWNER TO app_owner; GRANT SELECT ON t TO app_reader");
        String port = Integer.toString(postgres.port());
        fresh = PostgresServer.start();
        String freshPort = Integer.toString(fresh.port());

        Map<String, String> common = new HashMap<>(S3Server.storeProperties(s3.endpoint()));
        common.put("lifeboat.store.s3.region", "us-east-1");
        common.putAll(new TokenResource().start());
        common.put("lifeboat.peers.token-file", token.toString());
        String db = "lifeboat.databases.main.";
        Map<String, String> database = Map.of(db + "host", postgres.host(), db + "port", port, db + "database", "app",
                db + "password", PostgresServer.PASSWORD, db + "pitr.enabled", "true");

        Map<String, String> restoreConfig = new HashMap<>(common);
        restoreConfig.putAll(Map.of("lifeboat.encryption.identity-files", identity.toString(),
                "lifeboat.targets.scratch.host", fresh.host(),
                "lifeboat.targets.scratch.port", freshPort,
                "lifeboat.targets.scratch.database", "postgres",
                "lifeboat.targets.scratch.password", PostgresServer.PASSWORD,
                "lifeboat.targets.scratch.scratch", "true",
                "lifeboat.restore.pitr.spool-dir", spool.toString()));
        restore = ServiceProcess.startAs("postgres", "restore-service", restoreConfig);

        Map<String, String> verifyConfig = new HashMap<>(common);
        verifyConfig.putAll(database);
        verifyConfig.putAll(Map.of("lifeboat.encryption.identity-files", identity.toString(),
                "lifeboat.peers.restore-url", restore.apiUrl(),
                "lifeboat.verify.scratch.host", fresh.host(),
                "lifeboat.verify.scratch.port", freshPort,
                "lifeboat.verify.scratch.password", PostgresServer.PASSWORD,
                "lifeboat.verify.sweep-schedule", "off",
                "lifeboat.verify.checks.rows.sql", "SELECT count(*) = 1000 FROM t"));
        verify = ServiceProcess.start("verify-service", verifyConfig);

        Map<String, String> backupConfig = new HashMap<>(common);
        backupConfig.putAll(database);
        backupConfig.putAll(Map.of(db + "pitr.partial-interval", "2s", db + "pitr.base-schedule", "off",
                "lifeboat.backup.schedule", "off", "lifeboat.encryption.recipients", age[0],
                "lifeboat.pitr.spool-dir", walSpool.toString(), "lifeboat.peers.verify-url", verify.apiUrl()));
        backup = ServiceProcess.start("backup-service", backupConfig);
    }

    @AfterAll
    static void stop() {
        if (!succeeded) { // what the services said, before close() removes their logs
            for (ServiceProcess p : new ServiceProcess[] {backup, verify, restore}) {
                if (p != null) {
                    List<String> lines = p.log().lines().toList();
                    System.out.println(String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size())));
                }
            }
        }
        for (AutoCloseable c : new AutoCloseable[] {backup, verify, restore, postgres, fresh, s3}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // teardown
            }
        }
        TempDirs.delete(keys);
        TempDirs.delete(spool);
        TempDirs.delete(walSpool);
    }

    @Test
    void aNewBaseBackupsDrillPassesAndAFlippedByteInItsWalFailsTheNext() throws Exception {
        Poll.until("the WAL receiver archives a first file", WAIT, () -> !wal.list("main").isEmpty());
        String id = given().baseUri(backup.apiUrl()).auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                .body("{\"database\": \"main\", \"kind\": \"base\"}").post("/api/v1/backups?wait=true")
                .then().statusCode(201).extract().path("id");

        // backup-service announced it: its drill runs without being asked
        JsonPath passed = Poll.value("the drill of " + id + " ends", WAIT, () -> finished(id, 1));
        assertThat(passed.getString("trigger")).isEqualTo("NEW_BACKUP");
        assertThat(passed.getString("result")).as("%s", passed.prettify()).isEqualTo("PASSED");
        assertThat(step(passed, "METADATA")).contains("WAL file(s) it needs are archived");
        assertThat(step(passed, "RESTORE")).startsWith("restore restore_");
        assertThat(step(passed, "CHECKSUM")).contains("WAL file(s) read by restore");
        assertThat(step(passed, "FINGERPRINT")).contains("1 tables, 1000 rows");
        assertThat(passed.getString("steps.find { it.name == 'AMCHECK' }.status")).isEqualTo("DONE");
        assertThat(passed.getString("steps.find { it.name == 'SQL_CHECKS' }.status")).isEqualTo("DONE");
        assertThat(passed.getString("steps.find { it.name == 'DROP_SCRATCH' }.status")).isEqualTo("DONE");
        double rto = passed.getDouble("restoreSeconds");
        assertThat(rto).isPositive();
        assertThat(fresh.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_scratch%'"))
                .isEqualTo("0");
        // the roles the recovered database refers to were created on the scratch server, without their logins
        assertThat(fresh.psql("postgres", "SELECT string_agg(rolname || ':' || rolcanlogin, ',' ORDER BY rolname) "
                + "FROM pg_roles WHERE rolname LIKE 'app\\_%'")).isEqualTo("app_owner:false,app_reader:false");

        JsonPath status = status();
        assertThat(status.getString("pitr.lastDrill.backupId")).isEqualTo(id);
        assertThat(status.getString("pitr.lastDrill.result")).isEqualTo("PASSED");
        assertThat(status.getDouble("pitr.lastDrill.rtoSeconds")).isEqualTo(rto);
        // counted as a verification, but not as a logical backup's (their freshness alert must not be fed by drills)
        String metrics = given().baseUri(verify.managementUrl()).get("/q/metrics").then().statusCode(200).extract()
                .asString();
        assertThat(metrics).containsPattern("lifeboat_verifications_total\\{database=\"main\",level=\"full\","
                + "result=\"passed\",?} 1\\.0");
        assertThat(metrics).containsPattern("lifeboat_verification_last_success_timestamp_seconds\\{database="
                + "\"main\",level=\"full\",?} NaN");
        System.out.printf("[PointInTimeDrillIT] drill of %s passed: RTO %.1f s, verification %.1f s%n", id, rto,
                passed.getDouble("durationSeconds"));

        // one byte of the first WAL segment the base backup needs, flipped in the store
        BaseBackupMetadata base = catalog.findBase(id).orElseThrow();
        WalObject first = RecoveryWindow.of(List.of(base), wal.list("main")).chains().get(0).files().get(0);
        byte[] bytes;
        try (InputStream in = store.open(first.key())) {
            bytes = in.readAllBytes();
        }
        bytes[bytes.length / 2] ^= 0x01;
        store.delete(first.key());
        store.putIfAbsent(first.key(), bytes);

        JsonPath failed = given().baseUri(verify.apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("backupId", id, "level", "full"))
                .post("/api/v1/verifications?wait=true").then().statusCode(201).extract().jsonPath();
        assertThat(failed.getString("result")).as("%s", failed.prettify()).isEqualTo("FAILED");
        assertThat(failed.getString("failedStep")).isEqualTo("CHECKSUM");
        assertThat(failed.getString("error")).contains(first.name());
        System.out.printf("[PointInTimeDrillIT] drill after the flip: %s at %s: %s%n", failed.getString("result"),
                failed.getString("failedStep"), failed.getString("error"));
        System.out.println("[PointInTimeDrillIT] steps of the passed drill: " + passed.getList("steps").stream()
                .map(Object::toString).collect(java.util.stream.Collectors.joining("\n  ")));

        JsonPath after = status();
        assertThat(after.getString("pitr.lastDrill.result")).isEqualTo("FAILED");
        assertThat(after.getString("pitr.lastDrill.failedStep")).isEqualTo("CHECKSUM");
        assertThat(after.getInt("pitr.recoverableBaseBackups")).isZero();
        assertThat(after.getList("findings.message", String.class))
                .anyMatch(f -> f.contains("failed their point-in-time drill") && f.contains(id));
        // a restore to a point in time no longer starts from it
        given().baseUri(restore.apiUrl()).auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                .body(Map.of("database", "main", "pointInTime", "latest", "target", "scratch"))
                .post("/api/v1/restores").then().statusCode(422);
        succeeded = true;
    }

    /** The stored verifications of {@code id} once there are {@code count}, newest first; null before. */
    private static JsonPath finished(String id, int count) {
        JsonPath list = given().baseUri(verify.apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/verifications?backupId=" + id).then().statusCode(200).extract().jsonPath();
        List<String> done = list.getList("findAll { it.result != null && it.status == 'FINISHED' }.id");
        if (done.size() < count) {
            return null;
        }
        return given().baseUri(verify.apiUrl()).auth().oauth2(TokenResource.VIEWER)
                .get("/api/v1/verifications/" + done.get(0)).then().statusCode(200).extract().jsonPath();
    }

    private static String step(JsonPath verification, String name) {
        return verification.getString("steps.find { it.name == '" + name + "' }.detail");
    }

    /** The status of database main, read after a refresh (GET /api/v1/status computes it afresh). */
    private static JsonPath status() {
        JsonPath all = given().baseUri(verify.apiUrl()).auth().oauth2(TokenResource.VIEWER).get("/api/v1/status")
                .then().statusCode(200).extract().jsonPath();
        return new JsonPath(all.prettify()).setRootPath("databases.find { it.database == 'main' }");
    }
}
