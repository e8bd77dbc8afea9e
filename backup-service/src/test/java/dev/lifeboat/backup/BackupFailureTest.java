package dev.lifeboat.backup;

import static dev.lifeboat.backup.BackupTestSupport.allFiles;
import static dev.lifeboat.backup.BackupTestSupport.backupAndWait;
import static dev.lifeboat.backup.BackupTestSupport.postgres;
import static dev.lifeboat.backup.BackupTestSupport.storeRoot;
import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;

import dev.lifeboat.common.testing.AgeKeyResource;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.common.testing.FilesystemStoreResource;
import dev.lifeboat.common.testing.PostgresResource;
import dev.lifeboat.common.testing.PostgresServer;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Failed backups leave nothing behind; bad input gets problem+json, never a 500; one backup per database at a time. */
@QuarkusTest
@WithTestResource(PostgresResource.class)
@WithTestResource(FilesystemStoreResource.class)
@WithTestResource(AgeKeyResource.class)
@WithTestResource(TokenResource.class)
@WithTestResource(FailingPgDumpResource.class)
class BackupFailureTest {

    @org.junit.jupiter.api.BeforeEach
    void asOperator() {
        BackupTestSupport.useToken(TokenResource.OPERATOR);
    }


    @BeforeAll
    static void bigTable() {
        PostgresServer pg = postgres();
        if (pg.psql("app", "SELECT to_regclass('public.big') IS NULL").equals("t")) {
            pg.psql("app", "CREATE TABLE big (id int, a text, b text); "
                    + "INSERT INTO big SELECT g, md5(g::text), md5(random()::text) FROM generate_series(1, 400000) g");
        }
    }

    private static Path marker() {
        return Path.of(ConfigProvider.getConfig().getValue("lifeboat-test.fail-marker", String.class));
    }

    @Test
    void pgDumpDyingMidwayFailsTheBackupAndLeavesNothing() throws Exception {
        String earlier = backupAndWait().then().statusCode(201).extract().jsonPath().getString("id");
        List<String> before = allFiles(storeRoot());
        Files.createFile(marker());
        try {
            Response failed = backupAndWait();
            failed.then().statusCode(500).contentType("application/problem+json")
                    .body("detail", containsString("exited with code 1"))
                    .body("detail", containsString("simulated failure midway"));
            String failedId = failed.header("Location").replaceAll(".*/", "");
            given().get("/api/v1/backups/" + failedId).then().statusCode(200)
                    .body("status", equalTo("FAILED")).body("error", containsString("simulated failure"));
        } finally {
            Files.delete(marker());
        }
        assertThat(allFiles(storeRoot())).isEqualTo(before);
        given().get("/api/v1/backups/latest").then().statusCode(200).body("id", equalTo(earlier));
    }

    @TestHTTPResource(value = "metrics", management = true)
    URL metrics;

    private String metricsText() throws java.io.IOException {
        try (java.io.InputStream in = metrics.openStream()) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    void lastRunGaugeFollowsTheLatestRunAndTheDurationGaugeTheLatestSuccess() throws Exception {
        Files.createFile(marker());
        try {
            backupAndWait().then().statusCode(500);
        } finally {
            Files.delete(marker());
        }
        assertThat(metricsText()).contains("lifeboat_backup_last_run_success{database=\"main\"} 0.0")
                .contains("# HELP lifeboat_backup_last_run_success How the latest backup run");
        double seconds = backupAndWait().then().statusCode(201).extract().jsonPath().getDouble("metadata.durationSeconds");
        String text = metricsText();
        assertThat(text).contains("lifeboat_backup_last_run_success{database=\"main\"} 1.0")
                .contains("# HELP lifeboat_backup_last_duration_seconds Duration of the newest successful backup");
        String line = text.lines().filter(l -> l.startsWith("lifeboat_backup_last_duration_seconds{database=\"main\"}"))
                .findFirst().orElseThrow();
        assertThat(Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1))).isCloseTo(seconds,
                org.assertj.core.data.Offset.offset(0.002));
    }

    @Test
    void terminatedBackendMidwayFailsTheBackupAndLeavesNothing() throws Exception {
        PostgresServer pg = postgres();
        List<String> before = allFiles(storeRoot());
        String id = given().contentType("application/json").body("{}").post("/api/v1/backups")
                .then().statusCode(202).extract().jsonPath().getString("id");
        boolean killed = false;
        for (int i = 0; i < 500 && !killed; i++) {
            killed = pg.psql("postgres", "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    + "WHERE application_name = 'lifeboat' AND query ILIKE 'COPY%'").equals("1");
            Thread.sleep(10);
        }
        assertThat(killed).as("pg_dump's backend was found and terminated").isTrue();
        String status;
        do {
            Thread.sleep(50);
            status = given().get("/api/v1/backups/" + id).then().extract().jsonPath().getString("status");
        } while ("RUNNING".equals(status));
        given().get("/api/v1/backups/" + id).then().body("status", equalTo("FAILED"))
                .body("error", containsString("pg_dump"));
        assertThat(allFiles(storeRoot())).isEqualTo(before);
    }

    @jakarta.inject.Inject
    dev.lifeboat.backup.service.Janitor janitor;

    @jakarta.inject.Inject
    dev.lifeboat.common.store.ObjectStore store;

    @Test
    void janitorRemovesOnlyStaleIncompleteBackups() throws Exception {
        backupAndWait().then().statusCode(201);
        List<String> completed = given().get("/api/v1/backups").then().extract().jsonPath().getList("id");
        String staleOrphan = "database/main/main_backup_20000101_000000.sql.zst.age";
        String freshOrphan = "database/main/" + dev.lifeboat.common.model.BackupIds.fileName("main",
                java.time.Instant.now(), 9, ".sql.zst.age");
        String foreign = "database/main/notes.txt";
        store.putIfAbsent(staleOrphan, new byte[] {1});
        store.putIfAbsent(freshOrphan, new byte[] {2});
        store.putIfAbsent(foreign, new byte[] {3});
        dev.lifeboat.common.store.ObjectStore.PendingObject interrupted = store.create("database/main/main_backup_20000101_000001.sql");
        interrupted.write(new byte[] {4});
        try (var files = Files.walk(storeRoot())) {
            for (Path p : files.filter(p -> p.getFileName().toString().startsWith(".lifeboat-tmp-")).toList()) {
                Files.setLastModifiedTime(p, java.nio.file.attribute.FileTime.from(java.time.Instant.now().minusSeconds(3 * 86400)));
            }
        }

        List<String> removed = janitor.clean();

        assertThat(removed).containsExactlyInAnyOrder(staleOrphan, "database/main/main_backup_20000101_000001.sql");
        assertThat(store.stat(staleOrphan)).isEmpty();
        assertThat(store.stat(freshOrphan)).isPresent();
        assertThat(store.stat(foreign)).isPresent();
        assertThat(store.pending("")).isEmpty();
        List<String> after = given().get("/api/v1/backups").then().extract().jsonPath().getList("id");
        assertThat(after).isEqualTo(completed);
        for (String id : completed) {
            assertThat(store.stat("database/main/" + id)).as(id).isPresent();
        }
        interrupted.close();
        store.delete(freshOrphan);
        store.delete(foreign);
    }

    @Test
    void runningBackupShowsProgress() throws Exception {
        String id = given().contentType("application/json").body("{}").post("/api/v1/backups")
                .then().statusCode(202).header("Location", startsWith("http"))
                .body("status", equalTo("RUNNING")).extract().jsonPath().getString("id");
        long seen = 0;
        String status = "RUNNING";
        while ("RUNNING".equals(status)) {
            Response r = given().get("/api/v1/backups/" + id);
            status = r.jsonPath().getString("status");
            if ("RUNNING".equals(status)) {
                seen = Math.max(seen, r.jsonPath().getLong("progress.bytesRead"));
            }
            Thread.sleep(20);
        }
        assertThat(status).isEqualTo("COMPLETED");
        assertThat(seen).as("bytes read observed while running").isPositive();
    }

    @Test
    void twoSimultaneousBackupsOfOneDatabaseRunOnceAndRefuseTheOther() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Response>> calls = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            calls.add(pool.submit((Callable<Response>) () -> {
                go.await();
                return backupAndWait();
            }));
        }
        go.countDown();
        List<Integer> codes = new ArrayList<>();
        String conflictDetail = null;
        for (Future<Response> f : calls) {
            Response r = f.get();
            codes.add(r.statusCode());
            if (r.statusCode() == 409) {
                conflictDetail = r.jsonPath().getString("detail");
                assertThat(r.contentType()).startsWith("application/problem+json");
            }
        }
        pool.shutdown();
        assertThat(codes).containsExactlyInAnyOrder(201, 409);
        assertThat(conflictDetail).contains("already running").contains("main_backup_");
    }

    @ParameterizedTest
    @ValueSource(strings = {"..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f", "a%00b", "main_backup_x%2F..", "bad%20id", ".hidden"})
    void maliciousIdsAreRejectedWithProblemJson(String id) {
        Response r = given().urlEncodingEnabled(false).get("/api/v1/backups/" + id);
        assertThat(r.statusCode()).isIn(400, 404);
        assertThat(r.contentType()).startsWith("application/problem+json");
        assertThat(r.jsonPath().getString("title")).isNotBlank();
        assertThat(r.asString()).doesNotContain("Exception").doesNotContain("at dev.");
    }

    @Test
    void tenKilobyteIdIsRejected() {
        given().get("/api/v1/backups/" + "a".repeat(10_000)).then().statusCode(400)
                .contentType("application/problem+json").body("detail", containsString("at most 200"));
    }

    @Test
    void unknownPathsAndMethodsAreProblemJson() {
        given().get("/api/v1/nothing-here").then().statusCode(404).contentType("application/problem+json");
        given().put("/api/v1/backups/main_backup_20000101_000000.sql").then().statusCode(405)
                .contentType("application/problem+json");
        given().delete("/api/v1/backups/main_backup_20000101_000000.sql").then().statusCode(404)
                .contentType("application/problem+json").body("type", equalTo("/problems/backup-not-found"));
    }

    @Test
    void unknownIdsAndDatabasesAre404() {
        given().get("/api/v1/backups/main_backup_20000101_000000.sql.zst.age").then().statusCode(404)
                .contentType("application/problem+json").body("type", equalTo("/problems/backup-not-found"));
        given().get("/api/v1/backups/other_backup_20000101_000000.sql").then().statusCode(404);
        given().contentType("application/json").body("{\"database\":\"nope\"}").post("/api/v1/backups")
                .then().statusCode(404).contentType("application/problem+json").body("detail", containsString("main"));
        given().get("/api/v1/backups?database=nope").then().statusCode(404);
    }

    @Test
    void callsWithoutAValidTokenAre401AndWrongRolesAre403() {
        io.restassured.RestAssured.requestSpecification = null;
        given().get("/api/v1/backups").then().statusCode(401).contentType("application/problem+json")
                .header("WWW-Authenticate", startsWith("Bearer"));
        given().header("Authorization", "Bearer not-a-configured-token-0123456789abcdef").get("/api/v1/backups")
                .then().statusCode(401).contentType("application/problem+json");
        given().header("Authorization", "Bearer " + TokenResource.VIEWER).get("/api/v1/backups").then().statusCode(200);
        given().header("Authorization", "Bearer " + TokenResource.VIEWER).contentType("application/json").body("{}")
                .post("/api/v1/backups").then().statusCode(403).contentType("application/problem+json");
        given().header("Authorization", "Bearer " + TokenResource.RESTORER).contentType("application/json").body("{}")
                .post("/api/v1/backups").then().statusCode(403).contentType("application/problem+json");
        given().header("Authorization", "Bearer " + TokenResource.RESTORER).contentType("application/json")
                .body("{\"trigger\":\"PRE_RESTORE\"}").post("/api/v1/backups?wait=true").then().statusCode(201)
                .body("trigger", equalTo("PRE_RESTORE"));
    }

    @Test
    void malformedBodiesAre400() {
        given().contentType("application/json").body("{not json").post("/api/v1/backups")
                .then().statusCode(400).contentType("application/problem+json");
        given().contentType("application/json").body("{\"trigger\":\"SCHEDULED\"}").post("/api/v1/backups")
                .then().statusCode(400).contentType("application/problem+json");
        given().contentType("application/json").body("{\"labels\":{\"bad key!\":\"v\"}}").post("/api/v1/backups")
                .then().statusCode(400).contentType("application/problem+json");
        given().contentType("application/json").body("{\"trigger\":\"NOPE\"}").post("/api/v1/backups")
                .then().statusCode(400).contentType("application/problem+json");
    }
}
