package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import io.restassured.path.json.JsonPath;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The three services as real processes from their built applications, against a real PostgreSQL and the S3
 * server, wired as in production: backup-service announces each new backup to verify-service, which restores it
 * through restore-service into a scratch database and compares the data with the backup's fingerprint. Also a
 * restore-service killed in the middle of a recreate-database swap, started again; two verify-service replicas, one
 * killed in the middle of a verification the other reads, sees ABANDONED and verifies again. The verification counts
 * of the first test are exact, so it runs first: later backups are not verified (its verify-service is stopped by
 * then).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class VerifyEndToEndIT {
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static PostgresServer postgres;
    private static S3Server s3;
    private static Path dir;
    private static ServiceProcess restore;
    private static ServiceProcess verify;
    private static ServiceProcess backup;
    private static Map<String, String> verifyConfig;
    private static Map<String, String> restoreConfig;

    @BeforeAll
    static void start() throws Exception {
        postgres = PostgresServer.start();
        postgres.createDatabase("app");
        try (InputStream sql = VerifyEndToEndIT.class.getResourceAsStream("/fixtures/hard-content.sql")) {
            postgres.load("app", sql);
        }
        s3 = S3Server.start();
        dir = Files.createTempDirectory("lifeboat-e2e-");
        String[] pair = AgeKeys.generate();
        Path identity = dir.resolve("key.txt");
        Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(identity, "# public key: " + pair[0] + "\n" + pair[1] + "\n");
        Path operatorToken = dir.resolve("operator-token");
        Files.writeString(operatorToken, TokenResource.OPERATOR);
        String port = Integer.toString(postgres.port());

        Map<String, String> common = new HashMap<>(new TokenResource().start());
        common.putAll(Map.of(
                "lifeboat.store.type", "s3",
                "lifeboat.store.s3.bucket", S3Server.BUCKET,
                "lifeboat.store.s3.endpoint", s3.endpoint(),
                "lifeboat.store.s3.path-style", "true",
                "lifeboat.store.s3.access-key-id", S3Server.ACCESS_KEY,
                "lifeboat.store.s3.secret-access-key", S3Server.SECRET_KEY,
                "lifeboat.encryption.identity-files", identity.toString(),
                "lifeboat.peers.token-file", operatorToken.toString()));

        restoreConfig = new HashMap<>(common);
        restoreConfig.putAll(Map.of(
                "lifeboat.targets.scratch.host", postgres.host(),
                "lifeboat.targets.scratch.port", port,
                "lifeboat.targets.scratch.database", "postgres",
                "lifeboat.targets.scratch.password", PostgresServer.PASSWORD,
                "lifeboat.targets.scratch.scratch", "true"));
        restore = ServiceProcess.start("restore-service", restoreConfig);

        verifyConfig = new HashMap<>(common);
        verifyConfig.putAll(Map.of(
                "lifeboat.peers.restore-url", restore.apiUrl(),
                "lifeboat.verify.scratch.host", postgres.host(),
                "lifeboat.verify.scratch.port", port,
                "lifeboat.verify.scratch.password", PostgresServer.PASSWORD,
                "lifeboat.verify.sweep-schedule", "off",
                "lifeboat.verify.checks.people.sql", "SELECT count(*) = 506 FROM public.people"));
        verify = ServiceProcess.start("verify-service", verifyConfig);

        Map<String, String> backupConfig = new HashMap<>(common);
        backupConfig.putAll(Map.of(
                "lifeboat.databases.main.host", postgres.host(),
                "lifeboat.databases.main.port", port,
                "lifeboat.databases.main.database", "app",
                "lifeboat.databases.main.password", PostgresServer.PASSWORD,
                "lifeboat.encryption.recipients", pair[0],
                "lifeboat.backup.schedule", "off",
                "lifeboat.peers.verify-url", verify.apiUrl()));
        backup = ServiceProcess.start("backup-service", backupConfig);
    }

    @AfterAll
    static void stop() {
        for (ServiceProcess p : new ServiceProcess[] {backup, verify, restore}) {
            if (p != null) {
                p.close();
            }
        }
        if (s3 != null) {
            s3.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        TempDirs.delete(dir);
    }

    @Test
    @Order(1)
    void aNewBackupIsVerifiedAutomaticallyAndAMissedOneIsFoundByTheSweep() {
        // 1. a backup announces itself; verify-service restores it and proves the data
        String first = takeBackup();
        JsonPath verification = awaitVerification(verify, first);
        assertThat(verification.getString("result")).as(verify.log()).isEqualTo("PASSED");
        assertThat(verification.getString("trigger")).isEqualTo("NEW_BACKUP");
        assertThat(verification.getString("level")).isEqualTo("FULL");
        assertThat(verification.getList("steps.status", String.class)).containsOnly("DONE");
        String verificationId = verification.getString("id");

        given().baseUri(verify.apiUrl()).auth().oauth2(TokenResource.VIEWER).get("/api/v1/status").then()
                .statusCode(200).body("status", equalTo("OK")).body("databases.database", equalTo(List.of("main")))
                .body("databases[0].lastVerifiedBackup.id", equalTo(first));
        given().baseUri(backup.apiUrl()).auth().oauth2(TokenResource.VIEWER).get("/api/v1/backups/latest?verified=true")
                .then().statusCode(200).body("id", equalTo(first));
        String metrics = given().get(verify.managementUrl() + "/q/metrics").then().statusCode(200).extract().asString();
        assertThat(metrics).contains("lifeboat_verifications_total{database=\"main\",level=\"full\",result=\"passed\"} 1.0")
                .contains("lifeboat_dr_status{database=\"main\"} 0.0");
        assertThat(postgres.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_scratch%'"))
                .isEqualTo("0");

        // 2. verify-service is down: the backup still succeeds, the announcement is lost
        verify.stop();
        String second = takeBackup();
        awaitLog(backup, "verify-service was not told about backup " + second);

        // 3. a new verify-service process: the stored record is there, and its sweep finds the unverified backup
        Map<String, String> sweeping = new HashMap<>(verifyConfig);
        sweeping.put("lifeboat.verify.sweep-schedule", "*/2 * * * * ?");
        try (ServiceProcess again = ServiceProcess.start("verify-service", sweeping)) {
            given().baseUri(again.apiUrl()).auth().oauth2(TokenResource.VIEWER).get("/api/v1/verifications/" + verificationId)
                    .then().statusCode(200).body("result", equalTo("PASSED")).body("backupId", equalTo(first));
            JsonPath swept = awaitVerification(again, second);
            assertThat(swept.getString("result")).as(again.log()).isEqualTo("PASSED");
            assertThat(swept.getString("trigger")).isEqualTo("SWEEP");
            given().baseUri(again.apiUrl()).auth().oauth2(TokenResource.VIEWER).get("/api/v1/status").then()
                    .statusCode(200).body("status", equalTo("OK"))
                    .body("databases[0].lastVerifiedBackup.id", equalTo(second));
        }
    }

    @Test
    @Order(3)
    void aRestoreServiceKilledDuringARecreateDatabaseSwapReopensTheTargetWhenItStartsAgain() {
        String id = takeBackup();
        String atStart = postgres.pgDump("app");
        postgres.createDatabase("closeddb");
        postgres.psql("postgres", "ALTER DATABASE closeddb ALLOW_CONNECTIONS false"); // closed by its operator
        String port = Integer.toString(postgres.port());
        Map<String, String> config = new HashMap<>(restoreConfig);
        for (String[] t : new String[][] {{"primary", "app"}, {"closed", "closeddb"}}) {
            config.put("lifeboat.targets." + t[0] + ".host", postgres.host());
            config.put("lifeboat.targets." + t[0] + ".port", port);
            config.put("lifeboat.targets." + t[0] + ".database", t[1]);
            config.put("lifeboat.targets." + t[0] + ".password", PostgresServer.PASSWORD);
            config.put("lifeboat.targets." + t[0] + ".modes", "recreate-database");
            config.put("lifeboat.targets." + t[0] + ".safety-backup", "false");
        }
        config.put("lifeboat.restore.halt-before-swap-for-tests", "true"); // the process dies right before the renames
        try (ServiceProcess inPlace = ServiceProcess.start("restore-service", config)) {
            given().baseUri(inPlace.apiUrl()).auth().oauth2(TokenResource.RESTORER).contentType("application/json")
                    .body(Map.of("backupId", id, "target", "primary", "mode", "recreate-database"))
                    .post("/api/v1/restores").then().statusCode(202);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (inPlace.alive()) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("restore-service did not halt before the swap:\n" + inPlace.log());
                }
                sleep(200);
            }
            assertThat(inPlace.log()).contains("halting before the swap");
            // the state a crash there leaves: the target refuses connections, the loaded copy is still there
            assertThat(postgres.psql("postgres", "SELECT datallowconn FROM pg_database WHERE datname = 'app'")).isEqualTo("f");
            assertThat(postgres.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%'"))
                    .isEqualTo("1");

            inPlace.restart();
            deadline = System.nanoTime() + WAIT.toNanos();
            while (!postgres.psql("postgres", "SELECT datallowconn FROM pg_database WHERE datname = 'app'").equals("t")) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("app was not reopened after the restart:\n" + inPlace.log());
                }
                sleep(200);
            }
            assertThat(postgres.pgDump("app")).as("the target keeps its own data").isEqualTo(atStart);
            assertThat(postgres.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat\\_new\\_%'"))
                    .isEqualTo("0");
            assertThat(postgres.psql("postgres", "SELECT datallowconn FROM pg_database WHERE datname = 'closeddb'"))
                    .as("a database its operator closed stays closed").isEqualTo("f");
            assertThat(inPlace.log()).contains("was interrupted during its recreate-database swap")
                    .contains("database app accepts connections again");
        } finally {
            postgres.psql("postgres", "ALTER DATABASE app ALLOW_CONNECTIONS true; DROP DATABASE IF EXISTS closeddb;");
        }
    }

    @Test
    @Order(2) // before the restore test, whose backup nobody verifies: verify-b's sweep would verify it too
    void aVerificationIsReadFromAnotherReplicaAndOneWhoseReplicaIsKilledIsAbandonedAndVerifiedAgain() {
        // verify-a is held in its SQL checks by a check that sleeps; verify-b sweeps every 2 s; both report every 1 s
        // and take 5 s of silence for a dead replica
        Map<String, String> jobs = Map.of("lifeboat.jobs.report-interval", "1s", "lifeboat.jobs.abandoned-after", "5s");
        Map<String, String> slow = new HashMap<>(verifyConfig);
        slow.putAll(jobs);
        slow.put("lifeboat.instance-id", "verify-a");
        slow.put("lifeboat.verify.checks.slow.sql", "SELECT true FROM pg_sleep(300)");
        Map<String, String> sweeping = new HashMap<>(verifyConfig);
        sweeping.putAll(jobs);
        sweeping.put("lifeboat.instance-id", "verify-b");
        sweeping.put("lifeboat.verify.sweep-schedule", "*/2 * * * * ?");
        try (ServiceProcess a = ServiceProcess.start("verify-service", slow)) {
            String id = takeBackup(); // not announced: the first verify-service is stopped
            String verification = given().baseUri(a.apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                    .contentType("application/json").body(Map.of("backupId", id, "level", "full"))
                    .post("/api/v1/verifications").then().statusCode(202).extract().path("id");
            try (ServiceProcess b = ServiceProcess.start("verify-service", sweeping)) {
                JsonPath running = Poll.value("verify-a's verification in its SQL checks, read from verify-b", WAIT,
                        () -> {
                            JsonPath j = viewer(b).get("/api/v1/verifications/" + verification).then().statusCode(200)
                                    .extract().jsonPath();
                            return "RUNNING".equals(j.getString("status")) && "SQL_CHECKS".equals(j.getString("phase"))
                                    ? j : null;
                        });
                assertThat(running.getString("holder")).isEqualTo("verify-a");
                assertThat(running.getString("backupId")).isEqualTo(id);
                assertThat(running.getString("level")).isEqualTo("FULL");
                assertThat(running.getString("trigger")).isEqualTo("MANUAL");
                assertThat(running.getList("steps.name", String.class)).contains("RESTORE", "FINGERPRINT");
                // verify-b lists it, and its sweep leaves that backup to verify-a meanwhile
                assertThat(viewer(b).get("/api/v1/verifications?backupId=" + id).jsonPath()
                        .getList("findAll { it.status == 'RUNNING' }.holder", String.class)).containsExactly("verify-a");
                Poll.until("verify-b's sweep leaving the backup to verify-a", WAIT,
                        () -> b.log().contains("Sweep: " + id + " is being verified by replica verify-a"));
                assertThat(b.log()).doesNotContain("of " + id + " queued (SWEEP)");

                a.kill(); // SIGKILL in the middle of the verification
                JsonPath abandoned = Poll.value("the killed verification ABANDONED, read from verify-b", WAIT, () -> {
                    JsonPath j = viewer(b).get("/api/v1/verifications/" + verification).jsonPath();
                    return "ABANDONED".equals(j.getString("status")) ? j : null;
                });
                assertThat(abandoned.getString("holder")).isEqualTo("verify-a");
                assertThat(abandoned.getString("error")).contains("verify-a").contains("stopped reporting");
                assertThat(abandoned.getString("result")).isNull();

                // the sweep of verify-b verifies the backup again, to a verdict
                JsonPath again = Poll.value("the backup verified again by verify-b's sweep", WAIT, () -> {
                    List<Map<String, Object>> done = viewer(b).get("/api/v1/verifications?backupId=" + id).jsonPath()
                            .getList("findAll { it.status == 'FINISHED' }");
                    return done.isEmpty() ? null : new JsonPath(viewer(b).get("/api/v1/verifications/"
                            + done.get(0).get("id")).asString());
                });
                assertThat(again.getString("result")).as(b.log()).isEqualTo("PASSED");
                assertThat(again.getString("trigger")).isEqualTo("SWEEP");

                // verify-a started again reads its own verification from the store: still ABANDONED, with the reason
                a.restart();
                JsonPath afterRestart = viewer(a).get("/api/v1/verifications/" + verification).then().statusCode(200)
                        .extract().jsonPath();
                assertThat(afterRestart.getString("status")).isEqualTo("ABANDONED");
                assertThat(afterRestart.getString("error")).isEqualTo(abandoned.getString("error"));
            }
        } finally {
            // the killed verification's check still sleeps in the scratch database restore-service's janitor drops
            // after lifeboat.restore.scratch-ttl; end it here
            postgres.psql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    + "WHERE query LIKE '%pg_sleep(300)%' AND pid <> pg_backend_pid()");
        }
    }

    private static io.restassured.specification.RequestSpecification viewer(ServiceProcess p) {
        return given().baseUri(p.apiUrl()).auth().oauth2(TokenResource.VIEWER);
    }

    private static String takeBackup() {
        return given().baseUri(backup.apiUrl()).auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                .body("{}").post("/api/v1/backups?wait=true").then().statusCode(201).extract().path("id");
    }

    /** Polls verify-service until a finished verification of {@code backupId} is there. */
    private static JsonPath awaitVerification(ServiceProcess service, String backupId) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            JsonPath list = given().baseUri(service.apiUrl()).auth().oauth2(TokenResource.VIEWER)
                    .get("/api/v1/verifications?backupId=" + backupId).then().statusCode(200).extract().jsonPath();
            List<Map<String, Object>> items = list.getList("$");
            Optional<Integer> done = java.util.stream.IntStream.range(0, items.size()).boxed()
                    .filter(i -> "FINISHED".equals(items.get(i).get("status"))).findFirst();
            if (done.isPresent()) {
                return new JsonPath(given().baseUri(service.apiUrl()).auth().oauth2(TokenResource.VIEWER)
                        .get("/api/v1/verifications/" + items.get(done.get()).get("id")).asString());
            }
            sleep(500);
        }
        throw new AssertionError("No finished verification of " + backupId + " within " + WAIT + ":\n" + service.log());
    }

    private static void awaitLog(ServiceProcess service, String text) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!service.log().contains(text)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("'" + text + "' not logged:\n" + service.log());
            }
            sleep(200);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
