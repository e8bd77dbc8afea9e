package dev.lifeboat.verify;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Servers of other PostgreSQL majors than the machine's client programs (15): 13 and 14 (older) are backed up with
 * pg_dump 15, fully verified in a scratch database on a 15 server (the data is compared, not catalog text) and
 * restored in place; a 13 backup restores as a scratch restore into a 17 server (an upgrade rehearsal, psql 15
 * talking to 17); 16 and 17 (newer than every pg_dump here) are refused up front, shown in the status and in the
 * metric an alert watches. The servers of other majors come from Maven Central ({@code PostgresServer.start(major)});
 * the three services run as processes from their built applications.
 */
class PgMajorsIT {
    private static final int[] MAJORS = {13, 14, 16, 17};
    private static final ExecutorService STARTER = Executors.newVirtualThreadPerTaskExecutor();
    private static final Map<Integer, PostgresServer> SERVERS = new LinkedHashMap<>();
    private static PostgresServer local;
    private static S3Server s3;
    private static Path dir;
    private static ServiceProcess backup;
    private static ServiceProcess restore;
    private static ServiceProcess verify;

    @BeforeAll
    static void start() throws Exception {
        // five servers, then three services, each group started side by side: the class's start-up is most of its time
        CompletableFuture<PostgresServer> scratch = CompletableFuture.supplyAsync(PostgresServer::start, STARTER);
        Map<Integer, CompletableFuture<PostgresServer>> starting = new LinkedHashMap<>();
        for (int major : MAJORS) {
            starting.put(major, CompletableFuture.supplyAsync(() -> withFixture(PostgresServer.start(major)), STARTER));
        }
        // what started is kept for stop() even when another start failed
        List<RuntimeException> failures = new ArrayList<>();
        local = started(scratch, failures);
        starting.forEach((major, server) -> {
            PostgresServer s = started(server, failures);
            if (s != null) {
                SERVERS.put(major, s);
            }
        });
        if (!failures.isEmpty()) {
            throw failures.get(0);
        }
        s3 = S3Server.start();
        dir = Files.createTempDirectory("lifeboat-majors-");
        String[] pair = AgeKeys.generate();
        Path identity = dir.resolve("key.txt");
        Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(identity, "# public key: " + pair[0] + "\n" + pair[1] + "\n");
        Path integrity = dir.resolve("integrity.txt");
        Files.createFile(integrity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(integrity, "test-1=" + java.util.HexFormat.of().formatHex(java.security.SecureRandom.getSeed(32)) + "\n");
        Path operatorToken = dir.resolve("operator-token");
        Files.writeString(operatorToken, TokenResource.OPERATOR);

        Map<String, String> common = new HashMap<>(new TokenResource().start());
        common.putAll(Map.of(
                "lifeboat.store.type", "s3",
                "lifeboat.store.s3.bucket", S3Server.BUCKET,
                "lifeboat.store.s3.endpoint", s3.endpoint(),
                "lifeboat.store.s3.path-style", "true",
                "lifeboat.store.s3.access-key-id", S3Server.ACCESS_KEY,
                "lifeboat.store.s3.secret-access-key", S3Server.SECRET_KEY,
                "lifeboat.store.integrity-key-file", integrity.toString(),
                "lifeboat.encryption.identity-files", identity.toString(),
                "lifeboat.peers.token-file", operatorToken.toString()));

        Map<String, String> restoreConfig = new HashMap<>(common);
        target(restoreConfig, "scratch", local, "postgres", true);
        target(restoreConfig, "scratch17", SERVERS.get(17), "postgres", true);
        target(restoreConfig, "pg13", SERVERS.get(13), "app", false);
        target(restoreConfig, "pg14", SERVERS.get(14), "app", false);
        int restoreApi = PostgresServer.freePort();
        int restoreManagement = PostgresServer.freePort();
        CompletableFuture<ServiceProcess> restoring = CompletableFuture.supplyAsync(
                () -> ServiceProcess.start("restore-service", restoreConfig, restoreApi, restoreManagement), STARTER);

        Map<String, String> verifyConfig = new HashMap<>(common);
        verifyConfig.putAll(Map.of(
                "lifeboat.peers.restore-url", "http://127.0.0.1:" + restoreApi,
                "lifeboat.verify.scratch.host", local.host(),
                "lifeboat.verify.scratch.port", Integer.toString(local.port()),
                "lifeboat.verify.scratch.password", PostgresServer.PASSWORD,
                "lifeboat.verify.sweep-schedule", "off"));
        for (int major : MAJORS) {
            verifyConfig.put("lifeboat.databases.pg" + major + ".rpo", "24h"); // known before its first backup
        }
        CompletableFuture<ServiceProcess> verifying = CompletableFuture.supplyAsync(
                () -> ServiceProcess.start("verify-service", verifyConfig), STARTER);

        Map<String, String> backupConfig = new HashMap<>(common);
        backupConfig.put("lifeboat.encryption.recipients", pair[0]);
        backupConfig.put("lifeboat.backup.schedule", "off");
        for (int major : MAJORS) {
            String p = "lifeboat.databases.pg" + major + ".";
            backupConfig.put(p + "host", SERVERS.get(major).host());
            backupConfig.put(p + "port", Integer.toString(SERVERS.get(major).port()));
            backupConfig.put(p + "database", "app");
            backupConfig.put(p + "password", PostgresServer.PASSWORD);
        }
        CompletableFuture<ServiceProcess> backingUp = CompletableFuture.supplyAsync(
                () -> ServiceProcess.start("backup-service", backupConfig), STARTER);
        restore = started(restoring, failures);
        verify = started(verifying, failures);
        backup = started(backingUp, failures);
        if (!failures.isEmpty()) {
            throw failures.get(0);
        }
    }

    /** What a start returned, or null with its failure added to {@code failures}. */
    private static <T> T started(CompletableFuture<T> start, List<RuntimeException> failures) {
        try {
            return start.join();
        } catch (RuntimeException e) {
            failures.add(e);
            return null;
        }
    }

    private static PostgresServer withFixture(PostgresServer server) {
        server.createDatabase("app");
        try (InputStream sql = PgMajorsIT.class.getResourceAsStream("/fixtures/hard-content.sql")) {
            server.load("app", sql);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return server;
    }

    private static void target(Map<String, String> config, String name, PostgresServer server, String database,
                               boolean scratch) {
        String p = "lifeboat.targets." + name + ".";
        config.put(p + "host", server.host());
        config.put(p + "port", Integer.toString(server.port()));
        config.put(p + "database", database);
        config.put(p + "password", PostgresServer.PASSWORD);
        config.put(p + "scratch", Boolean.toString(scratch));
        if (!scratch) {
            config.put(p + "safety-backup", "false");
        }
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
        SERVERS.values().forEach(PostgresServer::close);
        if (local != null) {
            local.close();
        }
        TempDirs.delete(dir);
    }

    @Test
    void olderMajorsAreBackedUpVerifiedAndRestoredInPlace() {
        for (int major : new int[] {13, 14}) {
            PostgresServer server = SERVERS.get(major);
            assertThat(server.version()).startsWith(major + ".");
            JsonPath taken = takeBackup("pg" + major).then().statusCode(201).extract().jsonPath();
            String dumped = server.pgDump("app"); // with the local pg_dump 15, as the backup was
            assertThat(taken.getString("metadata.serverVersion")).isEqualTo(server.version());
            assertThat(taken.getString("metadata.pgDumpVersion")).contains("(PostgreSQL) 15.");
            String id = taken.getString("id");

            Response verified = as(verify, TokenResource.OPERATOR).body(Map.of("backupId", id, "level", "full"))
                    .post("/api/v1/verifications?wait=true");
            verified.then().statusCode(201);
            assertThat(verified.jsonPath().getString("result")).as(verified.asString() + verify.log()).isEqualTo("PASSED");
            assertThat(verified.jsonPath().getInt("tablesCompared")).isGreaterThan(3);

            server.psql("app", "UPDATE public.people SET name = 'changed' WHERE id % 3 = 0; DELETE FROM billing.\"Invoice Lines\";"
                    + "CREATE TABLE public.after_backup (id int)");
            assertThat(server.pgDump("app")).isNotEqualTo(dumped);

            Response restored = as(restore, TokenResource.RESTORER).body(Map.of("backupId", id, "target", "pg" + major,
                    "safetyBackup", false, "scaleDown", false)).post("/api/v1/restores?wait=true");
            restored.then().statusCode(201);
            assertThat(restored.jsonPath().getString("status")).as(restored.asString() + restore.log()).isEqualTo("COMPLETED");
            assertThat(server.pgDump("app")).isEqualTo(dumped);
        }
    }

    @Test
    void aBackupOfAnOlderMajorRestoresIntoANewerMajorAsAScratchRestore() {
        PostgresServer pg13 = SERVERS.get(13);
        PostgresServer pg17 = SERVERS.get(17);
        String id = takeBackup("pg13").then().statusCode(201).extract().path("id");

        Response r = as(restore, TokenResource.OPERATOR).body(Map.of("backupId", id, "target", "scratch17"))
                .post("/api/v1/restores?wait=true");
        r.then().statusCode(201);
        assertThat(r.jsonPath().getString("status")).as(r.asString() + restore.log()).isEqualTo("COMPLETED");
        String database = r.jsonPath().getString("database");
        assertThat(pg17.psql(database, "SHOW server_version")).startsWith("17.");

        // pg_dump 15 cannot dump a 17 server: every table's rows, in a fixed order, read with psql 15 from both
        List<String> tables = pg13.psql("app", "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                + "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1").lines().toList();
        assertThat(tables).hasSizeGreaterThan(3);
        for (String table : tables) {
            String rows = "SELECT t::text FROM " + table + " t ORDER BY 1";
            assertThat(pg17.psql(database, rows)).as(table).isEqualTo(pg13.psql("app", rows));
        }
        assertThat(pg17.psql(database, "SELECT last_value FROM public.invoice_seq"))
                .isEqualTo(pg13.psql("app", "SELECT last_value FROM public.invoice_seq"));
        assertThat(pg17.psql(database, "SELECT count(*) FROM public.adults"))
                .isEqualTo(pg13.psql("app", "SELECT count(*) FROM public.adults"));

        as(restore, TokenResource.OPERATOR).delete("/api/v1/restores/" + r.jsonPath().getString("id") + "/database")
                .then().statusCode(204);
        assertThat(pg17.psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + database + "'")).isEqualTo("0");
    }

    @Test
    void newerMajorsAreRefusedUpFrontShownInTheStatusAndInTheMetric() {
        for (int major : new int[] {16, 17}) {
            String label = "pg" + major;
            String version = SERVERS.get(major).version();
            String localVersion = local.version();
            takeBackup(label).then().statusCode(409).contentType("application/problem+json")
                    .body("type", containsString("pg-version-unsupported"))
                    .body("detail", containsString("The server is PostgreSQL " + version + " but the newest pg_dump here is "
                            + localVersion))
                    .body("detail", containsString("Install postgresql-client-" + major + " in the image"));
            as(backup, TokenResource.VIEWER).get("/api/v1/backups?database=" + label).then().statusCode(200)
                    .body("size()", equalTo(0));

            JsonPath status = as(verify, TokenResource.VIEWER).get("/api/v1/status?database=" + label).then()
                    .statusCode(200).extract().jsonPath();
            List<Map<String, String>> findings = status.getList("databases[0].findings");
            assertThat(findings).as(status.prettify()).anySatisfy(f -> {
                assertThat(f.get("severity")).isEqualTo("AT_RISK");
                assertThat(f.get("message")).contains("backups are refused")
                        .contains("PostgreSQL " + version + " but the newest pg_dump here is " + localVersion)
                        .contains("postgresql-client-" + major);
            });
            assertThat(status.getString("databases[0].status")).isNotEqualTo("OK");
        }
        // an older server is not reported
        assertThat(as(verify, TokenResource.VIEWER).get("/api/v1/status?database=pg13").asString())
                .doesNotContain("refused");

        String metrics = given().get(backup.managementUrl() + "/q/metrics").then().statusCode(200).extract().asString();
        assertThat(metrics).contains("lifeboat_backup_tool_compatible{database=\"pg16\"} 0.0")
                .contains("lifeboat_backup_tool_compatible{database=\"pg17\"} 0.0")
                .contains("lifeboat_backup_tool_compatible{database=\"pg13\"} 1.0")
                .contains("lifeboat_backup_tool_compatible{database=\"pg14\"} 1.0")
                .containsPattern("lifeboat_backups_total\\{database=\"pg17\",result=\"failure\"} [1-9]");
    }

    private static Response takeBackup(String label) {
        return as(backup, TokenResource.OPERATOR).body(Map.of("database", label)).post("/api/v1/backups?wait=true");
    }

    private static RequestSpecification as(ServiceProcess service, String token) {
        return given().baseUri(service.apiUrl()).auth().oauth2(token).contentType("application/json");
    }
}
