package dev.lifeboat.restore;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.equalTo;

import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3FaultProxy;
import dev.lifeboat.common.testing.S3FaultProxy.Call;
import dev.lifeboat.common.testing.S3FaultProxy.Rule;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.kubernetes.client.WithKubernetesTestServer;
import io.restassured.response.Response;
import java.io.InputStream;
import java.net.URL;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * restore-service reading its backups through {@link S3FaultProxy}: a restore whose GETs of the backup meet a 503
 * before the first byte and connections reset midway still completes, with exactly the backup's data, because the
 * store retries the open and resumes the read from the byte it reached; an archived backup (the proxy's simulation of
 * AWS archive behaviour) is restored first, the job waiting in WAITING_FOR_ARCHIVE, then loaded whole.
 */
@QuarkusTest
@QuarkusTestResource(value = RestoreStoreFaultsTest.Stack.class, restrictToAnnotatedClass = true)
@WithKubernetesTestServer(crud = true, setup = ShopWorkloads.class)
class RestoreStoreFaultsTest {
    /** The data objects of backups of {@code main}, not their metadata. */
    static final String DATA = "/database/main/main_backup_[^/]*\\.age$";

    /** {@link RestoreStack} with restore-service (this application) reaching the S3 server through a fault proxy. */
    public static class Stack extends RestoreStack {
        private static S3FaultProxy proxy;

        @Override
        public Map<String, String> start() {
            Map<String, String> config = new java.util.HashMap<>(super.start());
            proxy = S3FaultProxy.start(config.get("lifeboat.store.s3.endpoint"));
            config.put("lifeboat.store.s3.endpoint", proxy.endpoint());
            config.put("lifeboat.store.s3.archive.poll-interval", "50ms");
            return config;
        }

        @Override
        public void stop() {
            if (proxy != null) {
                proxy.close();
            }
            super.stop();
        }
    }

    @TestHTTPResource(value = "metrics", management = true)
    URL metrics;

    @Test
    void aRestoreWhoseReadsMeetTransientFaultsBringsBackExactlyTheBackup() throws Exception {
        PostgresServer pg = RestoreStack.postgres();
        try (InputStream sql = RestoreStoreFaultsTest.class.getResourceAsStream("/fixtures/hard-content.sql")) {
            pg.load("app", sql);
        }
        pg.psql("app", "CREATE TABLE noise (id int, a text); INSERT INTO noise "
                + "SELECT g, md5(random()::text) || md5(random()::text) FROM generate_series(1, 60000) g");
        String backupId = given().baseUri(RestoreStack.backupService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("database", "main")).post("/api/v1/backups?wait=true")
                .then().statusCode(201).extract().path("id");
        String atBackup = pg.pgDump("app");

        Rule busy = Stack.proxy.on(Call.GET_OBJECT).key(DATA).respond(503, "SlowDown");
        Rule broken = Stack.proxy.on(Call.GET_OBJECT).key(DATA).skip(1).times(2).resetMidBody(256 * 1024);
        Response r;
        try {
            r = given().auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                    .body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores?wait=true");
        } finally {
            Stack.proxy.clearRules();
        }
        r.then().statusCode(201).body("status", equalTo("COMPLETED"));
        String database = r.jsonPath().getString("database");
        // noise's rows were loaded over two lanes: the same rows, in another order in the heap
        assertThat(rowsSorted(pg.pgDump(database))).isEqualTo(rowsSorted(atBackup));
        assertThat(busy.fired()).isEqualTo(1);
        assertThat(broken.fired()).isEqualTo(2);

        String body = given().get(metrics).asString();
        assertThat(counter(body, "operation=\"open\"")).isGreaterThanOrEqualTo(1);
        assertThat(counter(body, "operation=\"resume\"")).isGreaterThanOrEqualTo(2);

        given().auth().oauth2(TokenResource.OPERATOR).delete("/api/v1/restores/" + r.jsonPath().getString("id") + "/database")
                .then().statusCode(204);
    }

    @Test
    void aRestoreOfAnArchivedBackupWaitsForItsRetrievalThenBringsBackExactlyTheBackup() {
        PostgresServer pg = RestoreStack.postgres();
        String backupId = given().baseUri(RestoreStack.backupService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("database", "main")).post("/api/v1/backups?wait=true")
                .then().statusCode(201).extract().path("id");
        String atBackup = pg.pgDump("app");
        // the simulated restore runs until the test completes it, so the waiting state can be seen
        S3FaultProxy.ArchiveSimulation glacier = Stack.proxy.archive(DATA, "GLACIER", Integer.MAX_VALUE);
        try {
            Response started = given().auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                    .body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores");
            started.then().statusCode(202);
            String id = started.jsonPath().getString("id");
            Response view = Poll.value("restore " + id + " waiting for the archive retrieval",
                    java.time.Duration.ofSeconds(60), () -> {
                        Response r = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/restores/" + id);
                        return "WAITING_FOR_ARCHIVE".equals(r.jsonPath().getString("phase")) && glacier.requested()
                                && r.jsonPath().getString("steps.find { it.name == 'WAITING_FOR_ARCHIVE' }.detail")
                                        .startsWith("IN_PROGRESS") ? r : null;
                    });
            assertThat(view.jsonPath().getString("phase")).isEqualTo("WAITING_FOR_ARCHIVE");
            assertThat(view.jsonPath().getString("status")).isEqualTo("RUNNING");
            assertThat(view.jsonPath().getString("steps.find { it.name == 'WAITING_FOR_ARCHIVE' }.detail"))
                    .contains("GLACIER").contains("Standard retrieval, expected within PT5H");
            assertThat(glacier.refusedGets()).as("nothing read before the restore finished").isZero();
            glacier.complete();
            Response done = Poll.value("restore " + id + " to end", java.time.Duration.ofSeconds(60), () -> {
                Response r = given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/restores/" + id);
                return "RUNNING".equals(r.jsonPath().getString("status")) ? null : r;
            });
            done.then().body("status", equalTo("COMPLETED"))
                    .body("steps.find { it.name == 'WAITING_FOR_ARCHIVE' }.status", equalTo("DONE"));
            assertThat(glacier.restoreRequests()).isEqualTo(1);
            assertThat(pg.pgDump(done.jsonPath().getString("database"))).isEqualTo(atBackup);
            given().auth().oauth2(TokenResource.OPERATOR).delete("/api/v1/restores/" + id + "/database")
                    .then().statusCode(204);
        } finally {
            Stack.proxy.clearRules();
        }
    }

    @Test
    void aRestoreOfAnArchivedBackupFailsAtOnceWhenTheStoreRefusesTheReadWithoutSayingSo() {
        String backupId = given().baseUri(RestoreStack.backupService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("database", "main")).post("/api/v1/backups?wait=true")
                .then().statusCode(201).extract().path("id");
        // a GET refused as archived while HEAD names no archive class: nothing to wait for, the read fails
        Rule archived = Stack.proxy.on(Call.GET_OBJECT).key(DATA).always().respond(403, "InvalidObjectState");
        Response r;
        try {
            r = given().auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                    .body(Map.of("backupId", backupId, "target", "scratch")).post("/api/v1/restores?wait=true");
        } finally {
            Stack.proxy.clearRules();
        }
        r.then().statusCode(500).contentType("application/problem+json")
                .body("detail", org.hamcrest.Matchers.containsString("is archived"))
                .body("detail", org.hamcrest.Matchers.containsString("RestoreObject"));
        assertThat(archived.fired()).as("not retried").isEqualTo(1);
        assertThat(RestoreStack.postgres().psql("postgres",
                "SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat_scratch_%'")).isEqualTo("0");
    }

    @Test
    void aRestoreWhoseReadsMeetOnlyFaultsFailsAsAStoreErrorAndLeavesTheTargetUnchanged() {
        PostgresServer pg = RestoreStack.postgres();
        String backupId = given().baseUri(RestoreStack.backupService().apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .contentType("application/json").body(Map.of("database", "main")).post("/api/v1/backups?wait=true")
                .then().statusCode(201).extract().path("id");
        pg.psql("app", "CREATE TABLE IF NOT EXISTS after_backup (x int); INSERT INTO after_backup VALUES (1)");
        String before = pg.pgDump("app");
        Rule down = Stack.proxy.on(Call.GET_OBJECT).key(DATA).always().respond(503, "SlowDown");
        Response r;
        try {
            r = given().auth().oauth2(TokenResource.RESTORER).contentType("application/json")
                    // no scale-down: this class runs without RestoreTest's stand-in controllers, so pods never go
                    .body(Map.of("backupId", backupId, "target", "primary", "safetyBackup", false, "scaleDown", false))
                    .post("/api/v1/restores?wait=true");
        } finally {
            Stack.proxy.clearRules();
        }
        r.then().statusCode(500).contentType("application/problem+json")
                .body("detail", org.hamcrest.Matchers.containsString("Nothing was committed"));
        assertThat(down.fired()).as("retried, then given up").isGreaterThan(1);
        String id = r.header("Location").replaceAll(".*/", "");
        given().auth().oauth2(TokenResource.VIEWER).get("/api/v1/restores/" + id).then().statusCode(200)
                .body("status", equalTo("FAILED")).body("failure", equalTo("STORE_ERROR"));
        assertThat(pg.pgDump("app")).isEqualTo(before);
        pg.psql("app", "DROP TABLE after_backup");
    }

    /** {@code lifeboat_store_retries_total} of the series with {@code label}; 0 when absent. */
    private static double counter(String body, String label) {
        Matcher m = Pattern.compile("(?m)^lifeboat_store_retries_total\\{[^}]*" + Pattern.quote(label) + "[^}]*} ([0-9.eE+]+)$")
                .matcher(body);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    /** A plain dump with the rows of each COPY block sorted: what stays the same when rows load in another order. */
    static String rowsSorted(String dump) {
        StringBuilder out = new StringBuilder();
        java.util.List<String> rows = null;
        for (String line : dump.split("\n", -1)) {
            if (rows != null && !line.equals("\\.")) {
                rows.add(line);
                continue;
            }
            if (rows != null) {
                rows.sort(null);
                rows.forEach(r -> out.append(r).append('\n'));
                rows = null;
            }
            out.append(line).append('\n');
            if (line.startsWith("COPY ") && line.endsWith(" FROM stdin;")) {
                rows = new java.util.ArrayList<>();
            }
        }
        return out.toString();
    }
}
