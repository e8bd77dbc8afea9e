package dev.lifeboat.restore;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.Integrity;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.WalArchiveState;
import dev.lifeboat.common.wal.RecoveryWindow;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import io.restassured.path.json.JsonPath;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The two halves of point-in-time recovery together, as a user runs them: backup-service as a process streams the
 * WAL of a real PostgreSQL 15 ({@code pg_receivewal}, partial snapshots every 2 s) and takes a base backup through
 * its API; rows are committed one by one; restore-service as a process (as {@code postgres}: it starts a private
 * PostgreSQL) restores the database in place to an instant between two commits and to {@code latest}, from nothing
 * but what the receiver archived. Also measures the RPO (commit to archived) and the restore's phases. Then the
 * server fails over to a standby made with {@code pg_basebackup -R} (timeline 2), and a restore from the base backup
 * of timeline 1 replays across the promotion through the archived history file. Last, with backup-service stopped,
 * the server drops its slot and recycles the WAL after the archive's end: restarted, the receiver records the gap and
 * starts a new chain with a base backup, and the old chain still restores up to the gap.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ArchivedWalRestoreIT {
    private static final Duration WAIT = Duration.ofSeconds(180);
    private static PostgresServer postgres;
    private static S3Server s3;
    private static WalArchive wal;
    private static BackupCatalog catalog;
    private static Path keys;
    private static Path spool;
    private static Path walSpool;
    private static ServiceProcess backup;
    private static ServiceProcess restore;
    private static Map<String, String> backupConfig;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3Server.start();
        ObjectStore store = s3.store();
        catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix, Integrity.none());
        wal = new WalArchive(store, catalog);
        String[] age = AgeKeys.generate();
        keys = Files.createTempDirectory("lifeboat-wal-e2e-keys-");
        Path identity = keys.resolve("key.txt");
        Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(identity, age[1] + "\n");
        spool = Files.createTempDirectory("lifeboat-wal-e2e-pitr-");
        walSpool = Files.createTempDirectory("lifeboat-wal-e2e-spool-");
        UserPrincipal pgUser = keys.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
        for (Path p : List.of(keys, identity, spool)) {
            Files.setOwner(p, pgUser);
        }
        // PostgreSQL 15's defaults are what PITR needs: wal_level=replica, max_wal_senders=10, a host replication line
        postgres = PostgresServer.start(Map.of("max_slot_wal_keep_size", "1GB"));
        postgres.createDatabase("app");
        postgres.psql("app", "CREATE TABLE t (k int PRIMARY KEY, at timestamptz NOT NULL)");

        Map<String, String> common = new HashMap<>(S3Server.storeProperties(s3.endpoint()));
        common.put("lifeboat.store.s3.region", "us-east-1");
        common.putAll(new TokenResource().start());
        backupConfig = new HashMap<>(common);
        String db = "lifeboat.databases.main.";
        backupConfig.putAll(Map.of(db + "host", postgres.host(), db + "port", Integer.toString(postgres.port()),
                db + "database", "app", db + "password", PostgresServer.PASSWORD, db + "pitr.enabled", "true",
                db + "pitr.partial-interval", "2s", db + "pitr.base-schedule", "off",
                "lifeboat.backup.schedule", "off", "lifeboat.encryption.recipients", age[0],
                "lifeboat.pitr.spool-dir", walSpool.toString()));
        backup = ServiceProcess.start("backup-service", backupConfig);
        Map<String, String> restoreConfig = new HashMap<>(common);
        restoreConfig.putAll(Map.of(
                "lifeboat.encryption.identity-files", identity.toString(),
                "lifeboat.targets.primary.host", postgres.host(),
                "lifeboat.targets.primary.port", Integer.toString(postgres.port()),
                "lifeboat.targets.primary.database", "app",
                "lifeboat.targets.primary.password", PostgresServer.PASSWORD,
                "lifeboat.targets.primary.database-label", "main",
                "lifeboat.targets.primary.safety-backup", "false",
                "lifeboat.restore.pitr.spool-dir", spool.toString()));
        restore = ServiceProcess.startAs("postgres", "restore-service", restoreConfig);
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {backup, restore, postgres, s3}) {
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
    @Order(1)
    void whatTheReceiverArchivedRestoresToAnInstantBetweenCommitsAndToLatest() {
        // the receiver streams: a snapshot of the partial segment is archived within its interval
        Poll.until("the WAL receiver archives a first file", WAIT, () -> !wal.list("main").isEmpty());
        given().baseUri(backup.apiUrl()).auth().oauth2(TokenResource.OPERATOR).contentType("application/json")
                .body("{\"database\": \"main\", \"kind\": \"base\"}").post("/api/v1/backups?wait=true")
                .then().statusCode(201);

        List<Instant> marks = new ArrayList<>();
        Instant committed = null;
        for (int k = 1; k <= 6; k++) {
            String[] out = postgres.psql("app", "INSERT INTO t VALUES (" + k + ", clock_timestamp()) RETURNING "
                    + "to_json(at)#>>'{}'; SELECT to_json(clock_timestamp())#>>'{}'").split("\n");
            committed = Instant.parse(out[0].strip());
            marks.add(Instant.parse(out[out.length - 1].strip())); // after the commit of row k
        }
        Instant lastCommit = committed;
        // RPO: how long until the last commit can be restored from the archive (the base backup's WAL archived
        // without a gap, and a heartbeat after the commit in a stored snapshot)
        Instant reached = Poll.value("the archive can restore the last commit", WAIT,
                () -> RecoveryWindow.of(catalog.listBase("main"), wal.list("main")).chainFor(lastCommit).isPresent()
                        ? Instant.now() : null);
        double rpo = Duration.between(lastCommit, reached).toMillis() / 1000.0;
        System.out.printf("[ArchivedWalRestoreIT] last commit restorable %.1f s after it (partial-interval 2 s)%n", rpo);
        // the RPO: what a restore of "latest" loses is younger than partial-interval plus a few seconds
        assertThat(rpo).isLessThan(2 + 10);

        // latest: the database as it is, every row replayed up to the partial snapshot
        JsonPath latest = restore("\"latest\"");
        assertThat(rows()).isEqualTo("1,2,3,4,5,6");
        postgres.psql("app", "DELETE FROM t"); // the mistake, undone to an instant before it
        JsonPath three = restore("\"" + marks.get(2) + "\"");
        assertThat(rows()).isEqualTo("1,2,3");
        report(latest);
        report(three);
    }

    @Test
    @Order(2)
    void aRestoreFromABaseBackupOfTheOldTimelineFollowsTheArchiveAcrossAPromotion() {
        String oldBase = catalog.listBase("main").get(0).id(); // the first test's, on timeline 1
        assertThat(rows()).isEqualTo("1,2,3");
        Instant switched = Instant.now();
        String data = postgres.psql("postgres", "SELECT current_setting('data_directory')").strip();
        // a standby made with pg_basebackup -R takes the server's place and is promoted: timeline 2
        PostgresServer.failOverInPlace(Path.of(data), postgres.port(), Map.of("max_slot_wal_keep_size", "1GB"));
        Poll.until("00000002.history archived", WAIT, () -> wal.find("main", "00000002.history",
                dev.lifeboat.common.model.WalObject.Kind.HISTORY).isPresent());
        insert(10);
        Instant lastCommit = insert(11);
        // the promoted server has none of the old slots: the receiver starts a new chain with a base backup of
        // timeline 2; deleted here, so that the restore has to start from the base backup of timeline 1
        String newBase = Poll.value("the new chain's base backup", WAIT, () -> catalog.listBase("main").stream()
                .filter(b -> b.startedAt().isAfter(switched)).map(BaseBackupMetadata::id).findFirst().orElse(null));
        given().baseUri(backup.apiUrl()).auth().oauth2(TokenResource.OPERATOR)
                .delete("/api/v1/backups/" + newBase + "?force=true").then().statusCode(204);
        Instant reached = lastCommit;
        Poll.until("the archive restores the last commit on timeline 2 from the base backup of timeline 1", WAIT,
                () -> RecoveryWindow.of(catalog.listBase("main"), wal.list("main")).chainFor(reached)
                        .filter(c -> c.base().id().equals(oldBase)).isPresent());

        // to the instant after the last commit: the newest base backup that finished before it is timeline 1's
        JsonPath across = restore("\"" + lastCommit + "\"");
        assertThat(rows()).isEqualTo("1,2,3,10,11");
        assertThat(across.getString("backupId")).isEqualTo(oldBase);
        assertThat(across.getString("steps.find { it.name == 'REPLAY_WAL' }.detail")).contains("promoted");
        report(across);
    }

    @Test
    @Order(3)
    void walTheServerRemovedWhileLifeboatWasDownIsAGapAndTheOldChainStillRestoresUpToIt() {
        Instant beforeGap = insert(20);
        Poll.until("row 20 archived", WAIT, () -> RecoveryWindow.of(catalog.listBase("main"), wal.list("main"))
                .chainFor(beforeGap).isPresent());
        // shutdown (SIGTERM) stops the receiver's pg_receivewal with the service: none is left streaming
        assertThat(receivewal()).as("pg_receivewal runs while the service does").isTrue();
        Instant stopping = Instant.now();
        backup.stop();
        Poll.until("pg_receivewal ends with backup-service", Duration.ofSeconds(30), () -> !receivewal());
        System.out.printf("[ArchivedWalRestoreIT] backup-service and its pg_receivewal stopped %.1f s after SIGTERM%n",
                Duration.between(stopping, Instant.now()).toMillis() / 1000.0);

        // while Lifeboat is down, its slot is dropped and the server recycles the WAL after the archive's end
        postgres.psql("postgres", "SELECT pg_drop_replication_slot('lifeboat_main')");
        Instant inGap = insert(21);
        for (int i = 0; i < 3; i++) {
            postgres.psql("postgres", "SELECT pg_switch_wal(); CHECKPOINT");
        }
        Instant restarted = Instant.now();
        backup.close(); // stopped above; its folder goes
        backup = ServiceProcess.start("backup-service", backupConfig);
        Poll.until("the gap recorded", WAIT, () -> catalog.walState("main").map(st -> st.problems().stream()
                .anyMatch(p -> p.kind() == WalArchiveState.ProblemKind.GAP && p.detectedAt().isAfter(restarted)))
                .orElse(false));
        BaseBackupMetadata next = Poll.value("the new chain's base backup", WAIT, () -> catalog.listBase("main")
                .stream().filter(b -> b.startedAt().isAfter(restarted)).findFirst().orElse(null));

        // inside the old chain: restorable up to the gap
        restore("\"" + beforeGap + "\"");
        assertThat(rows()).isEqualTo("1,2,3,10,11,20");
        // in the gap (before the new chain's base backup, which started after the restart), once the new chain's
        // WAL reaches past it: refused before anything is touched, the missing segment named
        assertThat(inGap).isBefore(next.startedAt());
        Poll.until("the new chain's WAL past the gap", WAIT, () -> wal.list("main").stream()
                .anyMatch(o -> o.reachableUntil() != null && o.reachableUntil().isAfter(inGap)));
        given().baseUri(restore.apiUrl()).auth().oauth2(TokenResource.RESTORER).contentType("application/json")
                .body("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \"" + inGap + "\"}")
                .post("/api/v1/restores").then().statusCode(422)
                .body("detail", org.hamcrest.Matchers.containsString("is missing"));
        assertThat(rows()).isEqualTo("1,2,3,10,11,20");
    }

    private static void report(JsonPath job) {
        List<Map<String, Object>> steps = job.getList("steps");
        StringBuilder line = new StringBuilder("[ArchivedWalRestoreIT] point-in-time restore: ");
        steps.stream().filter(s -> s.get("seconds") != null)
                .forEach(s -> line.append(s.get("name")).append(' ').append(s.get("seconds")).append(" s; "));
        System.out.println(line.append("total ").append(job.getString("progress.elapsedSeconds")).append(" s"));
    }

    /** Inserts row {@code k} in a transaction of its own; returns an instant right after its commit. */
    private static Instant insert(int k) {
        String[] out = postgres.psql("app", "INSERT INTO t VALUES (" + k + ", clock_timestamp()); "
                + "SELECT to_json(clock_timestamp())#>>'{}'").split("\n");
        return Instant.parse(out[out.length - 1].strip());
    }

    private static JsonPath restore(String pointInTime) {
        String id = given().baseUri(restore.apiUrl()).auth().oauth2(TokenResource.RESTORER)
                .contentType("application/json")
                .body("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": " + pointInTime + "}")
                .post("/api/v1/restores").then().log().ifValidationFails().statusCode(202).extract().path("id");
        JsonPath done = Poll.value("restore " + id + " ends", WAIT, () -> {
            JsonPath j = given().baseUri(restore.apiUrl()).auth().oauth2(TokenResource.VIEWER)
                    .get("/api/v1/restores/" + id + "?waitSeconds=10").jsonPath();
            String status = j.getString("status");
            return "COMPLETED".equals(status) || "FAILED".equals(status) ? j : null;
        });
        assertThat(done.getString("status")).as("%s", done.prettify()).isEqualTo("COMPLETED");
        return done;
    }

    /** Whether a pg_receivewal writing into this test's spool runs. */
    private static boolean receivewal() {
        return ProcessHandle.allProcesses().anyMatch(p -> p.info().commandLine()
                .map(c -> c.contains("pg_receivewal") && c.contains(walSpool.toString())).orElse(false));
    }

    private static String rows() {
        return postgres.psql("app", "SELECT coalesce(string_agg(k::text, ',' ORDER BY k), '') FROM t");
    }
}
