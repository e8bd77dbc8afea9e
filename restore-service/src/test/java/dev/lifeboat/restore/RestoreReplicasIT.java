package dev.lifeboat.restore;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.testing.KubernetesApi;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.restore.service.WorkloadScaler;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two replicas of restore-service as real processes, sharing one PostgreSQL, one S3 bucket (holding a backup taken by
 * backup-service, run as a process for that) and the fabric8 mock Kubernetes API (CRUD mode) that holds their Leases
 * and the target's Deployment {@code web} (2 replicas), as a Deployment of restore-service with two pods would:
 * two restores into one target at once on both replicas run once, the other gets 409 naming the holder; a restore is
 * readable from the other replica and after a restart; SIGTERM mid-load rolls it back and scales the workloads back
 * before the process exits; a replica killed mid-load is recovered by the other once its Lease expired.
 *
 * <p>The load is slowed deterministically: table {@code a_slow} (dumped before {@code b_big}) has a CHECK calling a
 * function that sleeps 20 ms per row unless the session sets {@code lifeboat_test.fast} (the set-up does, the
 * restore does not), so its COPY takes ~12 s; {@code b_big} (~33 MB plain) keeps restore-service streaming meanwhile,
 * so its COMMIT is not yet written when a replica is stopped.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RestoreReplicasIT {
    private static final String NS = "shop";
    private static final String TARGET = "primary";
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Duration GRACE = Duration.ofSeconds(3);
    private static final String FINGERPRINT = "SELECT (SELECT count(*) FROM a_slow) || ':' || (SELECT md5(string_agg(v, "
            + "',' ORDER BY g)) FROM a_slow) || ':' || (SELECT count(*) || '/' || sum(length(v)) FROM b_big) || ':' "
            + "|| (SELECT count(*) FROM marker)";
    private static KubernetesApi kubernetes;
    private static S3Server s3;
    private static PostgresServer postgres;
    private static String backupId;
    private static String before;
    private static final Map<String, ServiceProcess> replicas = new LinkedHashMap<>();
    /** The replica that won the race of the first test, and the other one. */
    private static String runner;
    private static String other;
    private static String interruptedId;

    @BeforeAll
    static void start() {
        kubernetes = new KubernetesApi();
        kubernetes.client().resource(ShopWorkloads.deployment("web", 2, Map.of())).create(); // no pods: none to wait for
        s3 = S3Server.start();
        postgres = PostgresServer.start();
        postgres.createDatabase("app");
        postgres.psql("app", """
                CREATE FUNCTION slow_check(g int) RETURNS boolean LANGUAGE sql AS $$
                  SELECT CASE WHEN current_setting('lifeboat_test.fast', true) = 'on' THEN true
                              ELSE pg_sleep(0.02) IS NOT NULL END $$;
                CREATE TABLE a_slow (g int PRIMARY KEY CHECK (public.slow_check(g)), v text);
                CREATE TABLE b_big (g int PRIMARY KEY, v text);
                SET lifeboat_test.fast = on;
                INSERT INTO a_slow SELECT g, md5(g::text) FROM generate_series(1, 600) g;
                INSERT INTO b_big SELECT g, repeat(md5(g::text), 10) FROM generate_series(1, 100000) g;
                """);
        Map<String, String> store = new HashMap<>(S3Server.storeProperties(s3.endpoint()));
        store.put("lifeboat.store.s3.region", "us-east-1");

        Map<String, String> backup = new HashMap<>(store);
        backup.putAll(new TokenResource().start());
        backup.putAll(Map.of("lifeboat.databases.main.host", postgres.host(),
                "lifeboat.databases.main.port", Integer.toString(postgres.port()),
                "lifeboat.databases.main.database", "app",
                "lifeboat.databases.main.password", PostgresServer.PASSWORD,
                "lifeboat.backup.schedule", "off"));
        try (ServiceProcess backupService = ServiceProcess.start("backup-service", backup)) {
            backupId = given().baseUri(backupService.apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                    .contentType("application/json").body("{\"database\": \"main\"}").post("/api/v1/backups?wait=true")
                    .then().statusCode(201).extract().path("id");
        }
        // the target now differs from the backup: a restore that committed would show
        postgres.psql("app", "CREATE TABLE marker AS SELECT 1 AS x; DELETE FROM b_big WHERE g <= 10;");
        before = postgres.psql("app", FINGERPRINT);

        Map<String, String> config = new HashMap<>(store);
        config.putAll(new TokenResource().start());
        config.putAll(kubernetes.serviceProperties(NS));
        config.putAll(Map.of(
                "lifeboat.targets.primary.host", postgres.host(),
                "lifeboat.targets.primary.port", Integer.toString(postgres.port()),
                "lifeboat.targets.primary.database", "app",
                "lifeboat.targets.primary.password", PostgresServer.PASSWORD,
                "lifeboat.targets.primary.database-label", "main",
                "lifeboat.targets.primary.safety-backup", "false",
                "lifeboat.targets.primary.workloads.namespace", NS,
                "lifeboat.targets.primary.workloads.deployments", "web"));
        config.putAll(Map.of(
                "lifeboat.coordination.lease-duration", "6s",
                "lifeboat.coordination.renew-interval", "1s",
                "lifeboat.jobs.report-interval", "1s",
                "lifeboat.jobs.abandoned-after", "5s",
                "lifeboat.shutdown.grace", GRACE.toSeconds() + "s",
                "lifeboat.restore.recovery-interval", "2s"));
        // one after the other: two JVMs starting at once on a busy 2-core machine miss the readiness deadline
        for (String name : List.of("replica-a", "replica-b")) {
            Map<String, String> own = new HashMap<>(config);
            own.put("lifeboat.instance-id", name);
            replicas.put(name, ServiceProcess.start("restore-service", own));
        }
    }

    @AfterAll
    static void stop() {
        replicas.values().forEach(ServiceProcess::close);
        for (AutoCloseable c : new AutoCloseable[] {postgres, s3, kubernetes}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // teardown
            }
        }
    }

    @Test
    @Order(1)
    void twoRestoresIntoOneTargetOnTwoReplicasRunOnceAndSigtermRollsTheRunningOneBack() {
        // (a) both replicas asked at once
        CompletableFuture<Response> onA = CompletableFuture.supplyAsync(() -> post(replicas.get("replica-a")));
        CompletableFuture<Response> onB = CompletableFuture.supplyAsync(() -> post(replicas.get("replica-b")));
        Response a = onA.join();
        Response b = onB.join();
        assertThat(List.of(a.statusCode(), b.statusCode())).as("A: %s, B: %s", a.asString(), b.asString())
                .containsExactlyInAnyOrder(202, 409);
        runner = a.statusCode() == 202 ? "replica-a" : "replica-b";
        other = runner.equals("replica-a") ? "replica-b" : "replica-a";
        Response accepted = a.statusCode() == 202 ? a : b;
        Response refused = a.statusCode() == 202 ? b : a;
        String id = accepted.path("id");
        assertThat(refused.path("type").toString()).endsWith("restore-in-progress");
        assertThat(refused.<String>path("detail")).contains(id).contains("replica " + runner);

        JsonPath seen = Poll.value("the restore loading, seen from " + other, WAIT, () -> {
            JsonPath j = viewer(other).get("/api/v1/restores/" + id).jsonPath();
            return "LOAD".equals(j.getString("phase")) ? j : null;
        });
        assertThat(seen.getString("status")).isEqualTo("RUNNING");
        assertThat(seen.getString("holder")).isEqualTo(runner);
        assertThat(seen.getString("target")).isEqualTo(TARGET);
        assertThat(seen.getString("backupId")).isEqualTo(backupId);
        assertThat(replicasOf("web")).as("web scaled down for the restore").isZero();
        assertThat(lease().getSpec().getHolderIdentity()).isEqualTo(runner);
        // the other replica's list shows it too, running, with its holder (from its record)
        List<Map<String, Object>> listed = viewer(other).get("/api/v1/restores?target=" + TARGET).jsonPath().getList("");
        assertThat(listed).filteredOn(r -> id.equals(r.get("id"))).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("status", "RUNNING").containsEntry("holder", runner));

        // (b) SIGTERM the runner mid-load
        long t0 = System.nanoTime();
        replicas.get(runner).stop();
        Duration exit = Duration.ofNanos(System.nanoTime() - t0);
        System.out.printf("[RestoreReplicasIT] SIGTERM mid-LOAD: %s exited after %d ms (grace %d s)%n", runner,
                exit.toMillis(), GRACE.toSeconds());
        assertThat(replicas.get(runner).alive()).isFalse();
        assertThat(exit).as("exit within the grace plus the time to roll back and scale back")
                .isLessThan(GRACE.plusSeconds(12));
        assertThat(replicas.get(runner).log()).contains("interrupted by shutdown");
        JsonPath failed = viewer(other).get("/api/v1/restores/" + id).jsonPath();
        assertThat(failed.getString("status")).isEqualTo("FAILED");
        assertThat(failed.getString("error")).contains("interrupted by shutdown");
        assertThat(failed.getString("holder")).isEqualTo(runner);
        assertThat(replicasOf("web")).as("web back at its count").isEqualTo(2);
        assertThat(annotations("web")).doesNotContainKey(WorkloadScaler.REPLICAS_ANNOTATION);
        assertThat(lease().getSpec().getHolderIdentity()).as("the target's Lease released").isNull();
        assertUnchanged();
        interruptedId = id;
    }

    @Test
    @Order(2)
    void aRestoreIsReadableAfterItsReplicaRestarts() {
        ServiceProcess restarted = replicas.get(runner);
        restarted.restart();
        JsonPath j = viewer(runner).get("/api/v1/restores/" + interruptedId).then().statusCode(200).extract().jsonPath();
        assertThat(j.getString("status")).isEqualTo("FAILED");
        assertThat(j.getString("error")).contains("interrupted by shutdown");
        assertThat(j.getString("holder")).isEqualTo(runner);
        assertThat(j.getLong("progress.totalBytes")).isPositive();
        assertThat(j.getList("steps.name", String.class)).contains("RESOLVE", "SCALE_DOWN", "LOAD", "SCALE_UP");
        viewer(runner).get("/api/v1/restores/restore_20200101_000000_abcdef").then().statusCode(404);
    }

    @Test
    @Order(3)
    void aReplicaKilledMidLoadIsRecoveredByTheOtherOnceItsLeaseExpired() {
        String id = Poll.value("a restore started on " + runner, WAIT, () -> {
            Response r = post(replicas.get(runner));
            return r.statusCode() == 202 ? r.<String>path("id") : null;
        });
        Poll.until("the restore loading, seen from " + other, WAIT,
                () -> "LOAD".equals(viewer(other).get("/api/v1/restores/" + id).path("phase")));
        assertThat(replicasOf("web")).isZero();

        replicas.get(runner).kill(); // SIGKILL: nothing is rolled back or scaled back by the runner
        long killed = System.nanoTime();
        Poll.until("web scaled back to 2 by " + other, WAIT, () -> replicasOf("web") == 2);
        Duration recovery = Duration.ofNanos(System.nanoTime() - killed);
        System.out.printf("[RestoreReplicasIT] SIGKILL mid-LOAD: %s killed; %s scaled web back after %d ms (lease "
                + "duration 6 s, recovery interval 2 s)%n", runner, other, recovery.toMillis());
        assertThat(recovery).as("lease duration + a recovery interval + slack").isLessThan(Duration.ofSeconds(6 + 2 + 10));
        assertThat(annotations("web")).doesNotContainKey(WorkloadScaler.REPLICAS_ANNOTATION);

        JsonPath abandoned = Poll.value("the killed restore recorded ABANDONED", WAIT, () -> {
            JsonPath j = viewer(other).get("/api/v1/restores/" + id).jsonPath();
            String error = j.getString("error");
            return "ABANDONED".equals(j.getString("status")) && error != null && error.contains("scaled back") ? j : null;
        });
        assertThat(abandoned.getString("holder")).isEqualTo(runner);
        assertThat(abandoned.getString("error")).contains("replica " + runner + " stopped before the restore ended")
                .contains("in LOAD").contains("workloads scaled back by " + other);
        Lease lease = lease();
        assertThat(lease.getSpec().getHolderIdentity()).as("no restore holds the target").isNull();
        assertUnchanged();
    }

    /** Waits until no session but ours is on the target (a stopped psql's backend ends its transaction), compares. */
    private static void assertUnchanged() {
        Poll.until("the interrupted load's session gone from the target", WAIT, () -> "0".equals(postgres.psql("app",
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'app' AND pid <> pg_backend_pid()")));
        assertThat(postgres.psql("app", FINGERPRINT)).as("the target as before the restore").isEqualTo(before);
    }

    private static Response post(ServiceProcess replica) {
        return given().baseUri(replica.apiUrl()).auth().oauth2(TokenResource.RESTORER).contentType("application/json")
                .body("{\"backupId\": \"" + backupId + "\", \"target\": \"" + TARGET + "\"}").post("/api/v1/restores");
    }

    private static io.restassured.specification.RequestSpecification viewer(String replica) {
        return given().baseUri(replicas.get(replica).apiUrl()).auth().oauth2(TokenResource.VIEWER);
    }

    private static Lease lease() {
        return kubernetes.client().leases().inNamespace(NS).withName("lifeboat-restore-" + TARGET).get();
    }

    private static int replicasOf(String deployment) {
        Deployment d = kubernetes.client().apps().deployments().inNamespace(NS).withName(deployment).get();
        return d.getSpec().getReplicas();
    }

    private static Map<String, String> annotations(String deployment) {
        Map<String, String> a = kubernetes.client().apps().deployments().inNamespace(NS).withName(deployment).get()
                .getMetadata().getAnnotations();
        return a == null ? Map.of() : a;
    }
}
