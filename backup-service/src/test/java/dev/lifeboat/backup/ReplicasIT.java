package dev.lifeboat.backup;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.backup.schedule.BackupScheduler;
import dev.lifeboat.common.job.JobIds;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.S3ObjectStore;
import dev.lifeboat.common.store.StoreProducer;
import dev.lifeboat.common.testing.KubernetesApi;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TokenResource;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Three replicas of backup-service as real processes, sharing one PostgreSQL, one S3 bucket and the fabric8 mock
 * Kubernetes API (CRUD mode) that holds their Leases, as a Deployment with three pods would: the schedule fires on
 * every replica and still yields one backup per database and instant; a replica killed mid-backup loses its Lease
 * to another, its job is seen ABANDONED and its partial upload aborted; a missed instant is caught up; a job is
 * readable from every replica and after a restart; SIGTERM stops a backup cleanly; the list of every replica shows
 * the backups running on the others. Backups of {@code big} are slowed
 * to 640 KiB/s ({@code lifeboat.backup.max-rate}, ~20 s each) so there is time to act in the middle of one.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicasIT {
    private static final String NS = "lifeboat";
    private static final String CRON = "*/5 * * * * ?";
    private static final Duration WAIT = Duration.ofSeconds(90);
    private static final String SCHEDULED_FOR = BackupScheduler.SCHEDULED_FOR;
    private static KubernetesApi kubernetes;
    private static S3Server s3;
    private static S3Client s3Client;
    private static ObjectStore store;
    private static PostgresServer postgres;
    private static Map<String, String> config;
    private static final Map<String, ServiceProcess> replicas = new LinkedHashMap<>();

    @BeforeAll
    static void start() {
        kubernetes = new KubernetesApi();
        s3 = S3Server.start();
        s3Client = StoreProducer.s3Client(URI.create(s3.endpoint()), Region.US_EAST_1, true,
                StaticCredentialsProvider.create(AwsBasicCredentials.create(S3Server.ACCESS_KEY, S3Server.SECRET_KEY)));
        store = new S3ObjectStore(s3Client, S3Server.BUCKET, "backups", S3ObjectStore.MIN_PART_SIZE);
        postgres = PostgresServer.start();
        postgres.createDatabase("alpha");
        postgres.psql("alpha", "CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g");
        postgres.createDatabase("big");
        // ~13 MB of dump: past the first 5 MiB multipart part after ~8 s at 640 KiB/s, done after ~20 s
        postgres.psql("big", "CREATE TABLE t AS SELECT g, md5(g::text) || md5((g + 1)::text) AS v "
                + "FROM generate_series(1, 180000) g");

        config = new HashMap<>(new TokenResource().start());
        config.putAll(S3Server.storeProperties(s3.endpoint()));
        config.put("lifeboat.store.s3.region", "us-east-1");
        config.put("lifeboat.store.s3.part-size", Integer.toString(S3ObjectStore.MIN_PART_SIZE)); // uploads pending early
        config.putAll(kubernetes.serviceProperties(NS));
        for (String db : List.of("alpha", "big")) {
            config.put("lifeboat.databases." + db + ".host", postgres.host());
            config.put("lifeboat.databases." + db + ".port", Integer.toString(postgres.port()));
            config.put("lifeboat.databases." + db + ".database", db);
            config.put("lifeboat.databases." + db + ".password", PostgresServer.PASSWORD);
        }
        config.putAll(Map.of(
                "lifeboat.backup.schedule", CRON,
                "lifeboat.backup.compression", "none",
                "lifeboat.backup.max-rate", Integer.toString(640 * 1024),
                "lifeboat.coordination.lease-duration", "6s",
                "lifeboat.coordination.renew-interval", "1s",
                "lifeboat.jobs.report-interval", "1s",
                "lifeboat.jobs.abandoned-after", "5s",
                "lifeboat.shutdown.grace", "1s"));
        // one after the other: three JVMs starting at once on a busy 2-core machine miss the readiness deadline
        for (String name : List.of("replica-a", "replica-b", "replica-c")) {
            replicas.put(name, startReplica(name, Map.of()));
        }
    }

    private static ServiceProcess startReplica(String name, Map<String, String> overrides) {
        Map<String, String> own = new HashMap<>(config);
        own.put("lifeboat.instance-id", name);
        own.putAll(overrides);
        return ServiceProcess.start("backup-service", own);
    }

    @AfterAll
    static void stop() {
        replicas.values().forEach(ServiceProcess::close);
        for (AutoCloseable c : new AutoCloseable[] {postgres, s3Client, s3, kubernetes}) {
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
    void aScheduleFiringOnEveryReplicaTakesOneBackupPerDatabaseAndInstant() {
        // big's backups are slower (its dump is rate-capped): wait for the condition asserted, not for alpha alone
        Poll.until("scheduled backups of alpha for four instants and of big for one", WAIT,
                () -> scheduled("alpha").size() >= 4 && !scheduled("big").isEmpty());
        Map<String, Integer> alpha = scheduled("alpha");
        Map<String, Integer> big = scheduled("big");
        int duplicates = duplicates(alpha) + duplicates(big);
        System.out.printf("[ReplicasIT] scheduled instants: alpha %d, big %d; duplicate backups: %d%n", alpha.size(),
                big.size(), duplicates);
        assertThat(duplicates).as("backups beyond one per database and instant: alpha %s, big %s", alpha, big)
                .isZero();
        assertThat(big).as("big is backed up by schedule too").isNotEmpty();
        // every instant was claimed once, by one replica
        List<String> claimants = claimsOf("alpha").values().stream().distinct().toList();
        assertThat(claimants).as("replicas claiming scheduled runs").isNotEmpty()
                .allMatch(replicas::containsKey);
    }

    @Test
    @Order(2)
    void killingTheHolderMidBackupHandsTheLeaseOverAndAbandonsItsJob() throws IOException {
        Lease held = Poll.value("a backup of big past its first uploaded part", WAIT, () -> {
            Lease l = lease("lifeboat-backup-big");
            if (l == null || l.getSpec().getHolderIdentity() == null) {
                return null;
            }
            String job = l.getMetadata().getAnnotations().get("lifeboat.dev/job-id");
            return store.pending("database/big/").stream().anyMatch(k -> k.endsWith(job)) ? l : null;
        });
        String victim = held.getSpec().getHolderIdentity();
        String jobId = held.getMetadata().getAnnotations().get("lifeboat.dev/job-id");
        ServiceProcess other = replicas.entrySet().stream().filter(e -> !e.getKey().equals(victim)).findFirst()
                .orElseThrow().getValue();

        replicas.get(victim).kill();
        Instant killedAt = Instant.now();
        Lease taken = Poll.value("the Lease of big held by another replica", WAIT, () -> {
            Lease l = lease("lifeboat-backup-big");
            String h = l.getSpec().getHolderIdentity();
            return h != null && !h.equals(victim) ? l : null;
        });
        Duration takeover = Duration.between(killedAt, Instant.now());
        System.out.printf("[ReplicasIT] Lease lifeboat-backup-big: %s killed (SIGKILL), taken over by %s after %d ms "
                + "(lease duration 6 s, schedule every 5 s)%n", victim, taken.getSpec().getHolderIdentity(),
                takeover.toMillis());
        assertThat(takeover).as("lease duration + one schedule period + slack").isLessThan(Duration.ofSeconds(6 + 5 + 5));

        JsonPath abandoned = Poll.value("the killed job ABANDONED, read from another replica", WAIT, () -> {
            Response r = viewer(other).get("/api/v1/backups/" + jobId);
            return r.statusCode() == 200 && "ABANDONED".equals(r.path("status")) ? r.jsonPath() : null;
        });
        assertThat(abandoned.getString("holder")).isEqualTo(victim);
        assertThat(abandoned.getString("error")).contains(victim);
        Poll.until("no partial upload of the killed backup left", WAIT,
                () -> pendingOf(jobId).isEmpty());
        Poll.until("a backup of big completed after the kill", WAIT, () -> viewer(other)
                .get("/api/v1/backups?database=big").jsonPath().getList("findAll { it.status == 'COMPLETED' }.startedAt",
                        String.class).stream().anyMatch(t -> Instant.parse(t).isAfter(killedAt)));
        assertThat(Poll.value("the record after recovery", WAIT, () -> {
            String error = viewer(other).get("/api/v1/backups/" + jobId).path("error");
            return error != null && error.contains("partial upload was aborted") ? error : null;
        })).contains(victim);

        replicas.get(victim).restart();
    }

    @Test
    @Order(3)
    void aScheduledInstantMissedByEveryReplicaIsCaughtUpWithinTheStartingDeadline() {
        // an instant 20 s ago of a database only a late replica backs up (on its own schedule, so the others'
        // backups of alpha and big do not compete for its Lease): nobody was up to run it, and the replica starting
        // now catches it up
        Instant missed = Instant.now().truncatedTo(ChronoUnit.SECONDS).minusSeconds(20);
        var t = missed.atZone(ZoneOffset.UTC);
        String cron = t.getSecond() + " " + t.getMinute() + " " + t.getHour() + " * * ?";
        Map<String, String> late = new HashMap<>(config);
        late.keySet().removeIf(k -> k.startsWith("lifeboat.databases."));
        for (String key : List.of("host", "port", "database", "password")) {
            late.put("lifeboat.databases.gamma." + key, config.get("lifeboat.databases.alpha." + key));
        }
        late.putAll(Map.of("lifeboat.instance-id", "replica-late", "lifeboat.backup.schedule", cron,
                "lifeboat.backup.starting-deadline", "10m"));
        try (ServiceProcess replica = ServiceProcess.start("backup-service", late)) {
            String instant = missed.toString();
            Poll.until("gamma backed up for the missed instant " + instant, WAIT,
                    () -> scheduled(replica, "gamma").containsKey(instant));
            assertThat(scheduled(replica, "gamma")).containsEntry(instant, 1);
            assertThat(claimsOf("gamma")).containsEntry(JobIds.STAMP.format(missed), "replica-late");
            assertThat(replica.log()).contains("Catching up the scheduled backups of " + instant);
        }
    }

    @Test
    @Order(4)
    void aJobIsReadableFromEveryReplicaAndAfterARestartAndSigtermStopsItCleanly() throws IOException {
        ServiceProcess a = replicas.get("replica-a");
        ServiceProcess b = replicas.get("replica-b");
        String id = Poll.value("a manual backup of big started on replica-a", WAIT, () -> {
            Response r = given().baseUri(a.apiUrl()).auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                    .body("{\"database\": \"big\"}").post("/api/v1/backups");
            return r.statusCode() == 202 ? r.<String>path("id") : null; // 409 while a scheduled one runs
        });
        JsonPath running = Poll.value("the job's progress seen from replica-b", WAIT, () -> {
            JsonPath j = viewer(b).get("/api/v1/backups/" + id).jsonPath();
            return "RUNNING".equals(j.getString("status")) && j.getLong("progress.bytesRead") > 1_000_000 ? j : null;
        });
        assertThat(running.getString("holder")).isEqualTo("replica-a");
        assertThat(running.getString("database")).isEqualTo("big");
        Poll.until("the job's upload under way", WAIT, () -> !pendingOf(id).isEmpty());

        long before = System.nanoTime();
        a.stop(); // SIGTERM
        Duration exit = Duration.ofNanos(System.nanoTime() - before);
        System.out.printf("[ReplicasIT] SIGTERM mid-backup: replica-a exited after %d ms (grace 1 s)%n", exit.toMillis());
        assertThat(exit).as("exit within the grace plus the time to stop the job").isLessThan(Duration.ofSeconds(15));
        assertThat(a.log()).contains("interrupted by shutdown");
        assertThat(pendingOf(id)).as("no pending upload of the interrupted backup").isEmpty();
        JsonPath failed = viewer(b).get("/api/v1/backups/" + id).jsonPath();
        assertThat(failed.getString("status")).isEqualTo("FAILED");
        assertThat(failed.getString("error")).isEqualTo("interrupted by shutdown");
        Lease lease = lease("lifeboat-backup-big");
        assertThat(lease.getMetadata().getAnnotations()).doesNotContainEntry("lifeboat.dev/job-id", id);

        a.restart();
        JsonPath afterRestart = viewer(a).get("/api/v1/backups/" + id).jsonPath();
        assertThat(afterRestart.getString("status")).isEqualTo("FAILED");
        assertThat(afterRestart.getString("error")).isEqualTo("interrupted by shutdown");
        assertThat(afterRestart.getLong("progress.bytesRead")).isGreaterThan(1_000_000);
    }

    @Test
    @Order(5)
    void theListOfEveryReplicaShowsBackupsRunningOnAnotherWithTheirHolder() {
        // big's scheduled backups take ~20 s each, one at a time across the replicas: catch one early from a replica
        // that does not run it
        Map<String, Object> running = Poll.value("a backup of big listed as running by a replica that does not run it",
                WAIT, () -> {
                    for (Map.Entry<String, ServiceProcess> r : replicas.entrySet()) {
                        List<Map<String, Object>> others = viewer(r.getValue()).get("/api/v1/backups?database=big")
                                .jsonPath().getList("findAll { it.status == 'RUNNING' && it.holder != '" + r.getKey()
                                        + "' && it.progress.bytesRead < 6000000 }"); // well before its end
                        if (!others.isEmpty()) {
                            Map<String, Object> found = new HashMap<>(others.get(0));
                            found.put("seenBy", r.getKey());
                            return found;
                        }
                    }
                    return null;
                });
        String id = (String) running.get("id");
        String holder = (String) running.get("holder");
        ServiceProcess seenBy = replicas.get((String) running.get("seenBy"));
        assertThat(replicas).containsKey(holder);
        assertThat(running.get("database")).isEqualTo("big");
        assertThat(running.get("trigger")).isEqualTo("SCHEDULED");
        // once, on the holder's list too, where it is its own job
        for (ServiceProcess p : List.of(seenBy, replicas.get(holder))) {
            assertThat(viewer(p).get("/api/v1/backups?database=big").jsonPath()
                    .getList("findAll { it.id == '" + id + "' }.status", String.class)).containsExactly("RUNNING");
        }
        // once it ended: listed once, as the backup it made, not as running
        List<String> after = Poll.value("the backup " + id + " listed as completed by " + running.get("seenBy"), WAIT,
                () -> {
                    List<String> statuses = viewer(seenBy).get("/api/v1/backups?database=big").jsonPath()
                            .getList("findAll { it.id == '" + id + "' }.status", String.class);
                    return statuses.contains("RUNNING") ? null : statuses;
                });
        assertThat(after).containsExactly("COMPLETED");
    }

    private static io.restassured.specification.RequestSpecification viewer(ServiceProcess p) {
        return given().baseUri(p.apiUrl()).auth().oauth2(TokenResource.VIEWER);
    }

    private static Lease lease(String name) {
        return kubernetes.client().leases().inNamespace(NS).withName(name).get();
    }

    /** Keys of pending uploads of backup {@code id}. */
    private static List<String> pendingOf(String id) {
        try {
            return store.pending("database/").stream().filter(k -> k.endsWith("/" + id)).toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Completed scheduled backups of {@code db} per instant they were scheduled for, read from one live replica. */
    private static Map<String, Integer> scheduled(String db) {
        return scheduled(replicas.values().stream().filter(ReplicasIT::alive).findFirst().orElseThrow(), db);
    }

    private static Map<String, Integer> scheduled(ServiceProcess replica, String db) {
        List<Map<String, Object>> all = viewer(replica).get("/api/v1/backups?database=" + db).jsonPath()
                .getList("findAll { it.status == 'COMPLETED' && it.trigger == 'SCHEDULED' }");
        Map<String, Integer> out = new java.util.TreeMap<>();
        for (Map<String, Object> b : all) {
            @SuppressWarnings("unchecked")
            Map<String, Object> metadata = (Map<String, Object>) b.get("metadata");
            @SuppressWarnings("unchecked")
            Map<String, String> labels = (Map<String, String>) metadata.get("labels");
            out.merge(labels.get(SCHEDULED_FOR), 1, Integer::sum);
        }
        return out;
    }

    private static boolean alive(ServiceProcess p) {
        try {
            return given().get(p.managementUrl() + "/q/health/live").statusCode() == 200;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static int duplicates(Map<String, Integer> perInstant) {
        return perInstant.values().stream().mapToInt(n -> n - 1).sum();
    }

    /** The claims of scheduled runs of {@code db}: instant stamp → replica that claimed it. */
    private static Map<String, String> claimsOf(String db) {
        try {
            String prefix = "jobs/claims/backup/" + db + "/";
            Map<String, String> out = new java.util.TreeMap<>();
            for (ObjectStore.ObjectInfo o : store.list(prefix)) {
                try (var in = store.open(o.key())) {
                    out.put(o.key().substring(prefix.length()),
                            new JsonPath(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8))
                                    .getString("claimedBy"));
                }
            }
            return out;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
