package dev.lifeboat.restore;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.Integrity;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.TarWatch;
import dev.lifeboat.common.pipeline.WriteChain;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.common.wal.WalNames;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Restores to a point in time against a real PostgreSQL 15 ({@code wal_level=replica}), the S3-protocol server and
 * restore-service as a process (running as {@code postgres}: it starts a private PostgreSQL). The WAL receiver is
 * not on this branch: the test fills the store with the common API as it will, a base backup ({@code pg_basebackup
 * -Ft -D - -X none -c fast} into the write chain, metadata committed last) and the segments copied from the
 * server's {@code pg_wal} after {@code pg_switch_wal()}, then a partial snapshot of the current segment. Rows are
 * inserted one per transaction, an instant taken after each commit; a restore to such an instant holds exactly the
 * rows committed before it. The target is database {@code app} itself, in place: the mistake undone where it happened.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PointInTimeRestoreIT {
    private static final String LABEL = "main";
    private static final Duration WAIT = Duration.ofSeconds(180);
    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static PostgresServer postgres;
    private static S3Server s3;
    private static ObjectStore store;
    private static BackupCatalog catalog;
    private static WalArchive wal;
    private static Codec codec;
    private static Path keys;
    private static Path spool;
    private static ServiceProcess service;
    private static String systemId;
    private static BaseBackupMetadata base;
    /** marks[k]: an instant after the commit of row k and before that of row k + 1. */
    private static final List<Instant> marks = new ArrayList<>();
    private static Instant beforeBase;

    @BeforeAll
    static void start() throws Exception {
        s3 = S3Server.start();
        store = s3.store();
        catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix, Integrity.none());
        wal = new WalArchive(store, catalog);
        String[] age = AgeKeys.generate();
        codec = Codec.forWriting(Compression.ZSTD, 3, 0, List.of(age[0]));
        keys = Files.createTempDirectory("lifeboat-pitr-keys-");
        Path identity = keys.resolve("key.txt");
        Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(identity, age[1] + "\n");
        spool = Files.createTempDirectory("lifeboat-pitr-spool-");
        UserPrincipal pgUser = keys.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
        for (Path p : List.of(keys, identity, spool)) {
            Files.setOwner(p, pgUser);
        }

        postgres = PostgresServer.start(Map.of("wal_keep_size", "2GB"));
        systemId = postgres.psql("postgres", "SELECT system_identifier FROM pg_control_system()");
        postgres.createDatabase("app");
        postgres.psql("app", "CREATE TABLE t (k int PRIMARY KEY, at timestamptz NOT NULL)");
        beforeBase = Instant.parse(postgres.psql("postgres", "SELECT to_json(clock_timestamp())#>>'{}'"));
        base = baseBackup();

        // rows 1-4, then the segments up to the switch; rows 5-8, then a snapshot of the current segment; 9-10 unarchived
        marks.add(base.finishedAt());
        String startSegment = WalNames.segmentName(base.timeline(), WalNames.segmentOf(WalNames.lsn(base.startLsn()),
                WalNames.DEFAULT_SEGMENT_SIZE), WalNames.DEFAULT_SEGMENT_SIZE);
        Instant last = insert(1, 4);
        String current = postgres.psql("postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())");
        postgres.psql("postgres", "SELECT pg_switch_wal()");
        Path pgWal = Path.of(postgres.psql("postgres", "SHOW data_directory")).resolve("pg_wal");
        List<String> closed;
        try (Stream<Path> s = Files.list(pgWal)) {
            closed = s.map(p -> p.getFileName().toString()).filter(n -> SEGMENT.matcher(n).matches())
                    .filter(n -> n.compareTo(startSegment) >= 0 && n.compareTo(current) <= 0).sorted().toList();
        }
        assertThat(closed).contains(startSegment, current);
        for (String name : closed) {
            try (InputStream in = Files.newInputStream(pgWal.resolve(name))) {
                wal.put(LABEL, Kind.SEGMENT, name, in, codec, true, null, name.equals(current) ? last : null, systemId);
            }
        }
        last = insert(5, 8);
        String partial = postgres.psql("postgres", "SELECT pg_walfile_name(pg_current_wal_flush_lsn())");
        String flushed = postgres.psql("postgres", "SELECT pg_current_wal_flush_lsn()");
        try (InputStream in = Files.newInputStream(pgWal.resolve(partial))) {
            wal.put(LABEL, Kind.PARTIAL, partial, in, codec, true, flushed, last, systemId);
        }
        insert(9, 10);

        Map<String, String> config = new HashMap<>(S3Server.storeProperties(s3.endpoint()));
        config.put("lifeboat.store.s3.region", "us-east-1");
        config.putAll(new TokenResource().start());
        config.putAll(Map.of(
                "lifeboat.encryption.identity-files", identity.toString(),
                "lifeboat.targets.primary.host", postgres.host(),
                "lifeboat.targets.primary.port", Integer.toString(postgres.port()),
                "lifeboat.targets.primary.database", "app", // in place: the mistake undone where it happened
                "lifeboat.targets.primary.password", PostgresServer.PASSWORD,
                "lifeboat.targets.primary.database-label", LABEL,
                "lifeboat.targets.primary.safety-backup", "false",
                "lifeboat.restore.pitr.spool-dir", spool.toString()));
        service = ServiceProcess.startAs("postgres", "restore-service", config);
    }

    /** pg_basebackup's tar through the write chain into base/, TarWatch reading its label and manifest. */
    private static BaseBackupMetadata baseBackup() throws Exception {
        Instant started = Instant.now();
        String id = dev.lifeboat.common.model.BackupIds.baseFileName(LABEL, started, 1, codec.suffix());
        String key = catalog.baseDataKey(LABEL, id);
        ProcessBuilder pb = new ProcessBuilder(postgres.bin().resolve("pg_basebackup").toString(), "--no-password",
                "--format=tar", "--pgdata=-", "--wal-method=none", "--checkpoint=fast", "--label=lifeboat " + id)
                .redirectError(ProcessBuilder.Redirect.DISCARD);
        pb.environment().putAll(postgres.env());
        Process p = pb.start();
        p.getOutputStream().close();
        Measure stored = new Measure();
        TarWatch tar = new TarWatch(p.getInputStream(), Set.of("backup_label"), Set.of("backup_manifest"));
        WriteChain chain;
        try (ObjectStore.PendingObject pending = store.create(key)) {
            chain = new WriteChain(pending, codec, null, stored);
            chain.transferFrom(tar);
            assertThat(p.waitFor()).isZero();
            chain.finish();
            pending.commit();
        }
        String label = tar.text("backup_label");
        String manifest = tar.tail("backup_manifest");
        String endLsn = null;
        for (Matcher m = Pattern.compile("\"End-LSN\": \"([0-9A-F]+/[0-9A-F]+)\"").matcher(manifest); m.find(); ) {
            endLsn = m.group(1);
        }
        Matcher start = Pattern.compile("START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+)").matcher(label);
        Matcher checkpoint = Pattern.compile("CHECKPOINT LOCATION: ([0-9A-F]+/[0-9A-F]+)").matcher(label);
        assertThat(start.find() && checkpoint.find() && endLsn != null).as(label).isTrue();
        BaseBackupMetadata m = new BaseBackupMetadata(BaseBackupMetadata.SCHEMA_VERSION, id, LABEL, key,
                postgres.version(), "pg_basebackup (PostgreSQL) " + postgres.version(), systemId, 1, start.group(1),
                checkpoint.group(1), endLsn, tar.sha256("backup_manifest"), null, Compression.ZSTD, List.of("age-test"),
                Trigger.MANUAL, Map.of(), started, Instant.now(), 0, chain.rawBytes(), stored.bytes(), stored.sha256Hex(),
                endLsn);
        catalog.commitBase(m);
        return m;
    }

    /** Rows {@code from..to}, one transaction each (flushed: synchronous_commit on), an instant after each commit. */
    private static Instant insert(int from, int to) {
        Instant inserted = null;
        for (int k = from; k <= to; k++) {
            String[] out = postgres.psql("app", "SET synchronous_commit = on; INSERT INTO t VALUES (" + k
                    + ", clock_timestamp()) RETURNING to_json(at)#>>'{}'; SELECT to_json(clock_timestamp())#>>'{}'")
                    .split("\n");
            inserted = Instant.parse(out[0].strip());
            marks.add(Instant.parse(out[out.length - 1].strip()));
        }
        return inserted;
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.close();
        }
        for (AutoCloseable c : new AutoCloseable[] {postgres, s3}) {
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
    }

    @Test
    @Order(1)
    void restoresToInstantsBetweenCommitsGivenWithDifferentOffsets() {
        // mark 2 given at +01:00, mark 6 (inside the partial snapshot) at -05:00, mark 4 (end of a segment) with Z
        JsonPath two = restore(at(marks.get(2), "+01:00"));
        assertThat(rows()).isEqualTo("1,2");
        assertThat(stepDetail(two, "REPLAY_WAL")).contains(utc(marks.get(2))).contains("recovery stopping before commit");
        report("to mark 2 (+01:00)", two);
        JsonPath six = restore(at(marks.get(6), "-05:00"));
        assertThat(rows()).isEqualTo("1,2,3,4,5,6");
        report("to mark 6 (-05:00)", six);
        JsonPath four = restore(marks.get(4).toString());
        assertThat(rows()).isEqualTo("1,2,3,4");
        assertThat(stepDetail(four, "RESOLVE")).contains(base.id());
        report("to mark 4 (Z)", four);
        // one instant written with the three offsets is one target: the refusal names it, in UTC, alike
        Instant future = Instant.now().plusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
        for (String offset : List.of("Z", "+01:00", "-05:00")) {
            Response refused = post("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \""
                    + at(future, offset) + "\"}");
            refused.then().statusCode(422);
            assertThat(refused.<String>path("detail")).as(offset).contains("before the target " + future + ".");
        }
    }

    @Test
    @Order(2)
    void latestRestoresEveryRowUpToThePartialSnapshot() {
        JsonPath latest = restore("latest");
        assertThat(rows()).isEqualTo("1,2,3,4,5,6,7,8");
        report("latest", latest);
    }

    @Test
    @Order(3)
    void aRecoveryThatEndsBeforeTheInstantFailsSayingSoAndLoadsNothing() throws Exception {
        String before = rows();
        WalObject newest = wal.list(LABEL).stream().filter(o -> o.reachableUntil() != null)
                .max(java.util.Comparator.comparing(WalObject::reachableUntil)).orElseThrow();
        // a record claiming its file reaches an hour further than the WAL in it does: the plan accepts an instant
        // PostgreSQL then cannot reach
        WalObject claims = new WalObject(newest.schemaVersion(), newest.database(), newest.kind(), newest.timeline(),
                newest.name(), newest.key(), newest.rawSizeBytes(), newest.storedSizeBytes(), newest.sha256(),
                newest.encrypted(), newest.archivedAt(), newest.endLsn(), newest.reachableUntil().plusSeconds(3600),
                newest.systemIdentifier());
        String record = newest.key() + ".json";
        byte[] original;
        try (InputStream in = store.open(record)) {
            original = in.readAllBytes();
        }
        store.delete(record);
        store.putIfAbsent(record, dev.lifeboat.common.model.Json.write(claims));
        try {
            Instant target = newest.reachableUntil().plusSeconds(1800);
            String id = post("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \"" + target + "\"}")
                    .then().statusCode(202).extract().path("id");
            JsonPath failed = await(id);
            assertThat(failed.getString("status")).isEqualTo("FAILED");
            assertThat(failed.getString("steps.find { it.name == 'REPLAY_WAL' }.status")).isEqualTo("FAILED");
            assertThat(failed.getList("steps.name", String.class)).doesNotContain("DUMP_LOAD");
            assertThat(failed.getString("error")).contains("The WAL archive ends before " + target)
                    .contains("target is unchanged");
            assertThat(rows()).as("the target unchanged").isEqualTo(before);
        } finally {
            store.delete(record);
            store.putIfAbsent(record, original);
        }
    }

    @Test
    @Order(4)
    void targetsBeforeTheOldestBaseBackupOrAfterTheArchiveAreRefusedBeforeAnythingIsTouched() {
        String before = rows();
        Response early = post("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \""
                + at(beforeBase, "+01:00") + "\"}");
        early.then().statusCode(422).contentType(org.hamcrest.Matchers.containsString("problem+json"));
        assertThat(early.<String>path("detail")).contains("oldest base backup").contains(base.finishedAt().toString())
                .contains("after the target " + beforeBase);
        Instant future = Instant.now().plusSeconds(600);
        Response late = post("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \"" + future + "\"}");
        late.then().statusCode(422);
        assertThat(late.<String>path("detail")).contains("reaches").contains("before the target " + future);
        post("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \"2026-12-02T10:15:00\"}")
                .then().statusCode(400).body("detail", org.hamcrest.Matchers.containsString("explicit offset"));
        post("{\"database\": \"main\", \"target\": \"primary\", \"backupId\": \"latest\", \"pointInTime\": \"latest\"}")
                .then().statusCode(400).body("detail", org.hamcrest.Matchers.containsString("exactly one"));
        assertThat(rows()).as("the target unchanged").isEqualTo(before);
    }

    @Test
    @Order(5)
    void aWalSegmentWithAFlippedByteStopsTheRestoreNamingIt() throws Exception {
        String before = rows();
        WalObject first = wal.list(LABEL).stream().filter(o -> o.kind() == Kind.SEGMENT).findFirst().orElseThrow();
        byte[] bytes;
        try (InputStream in = store.open(first.key())) {
            bytes = in.readAllBytes();
        }
        bytes[bytes.length / 2] ^= 0x01;
        store.delete(first.key());
        store.putIfAbsent(first.key(), bytes);

        String id = post("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \"" + marks.get(2) + "\"}")
                .then().statusCode(202).extract().path("id");
        JsonPath failed = await(id);
        assertThat(failed.getString("status")).isEqualTo("FAILED");
        assertThat(failed.getString("error")).contains("WAL segment " + first.name()).contains("target is unchanged");
        assertThat(rows()).as("the target unchanged").isEqualTo(before);
        try (Stream<Path> s = Files.list(spool)) {
            assertThat(s.toList()).as("the private data directory removed").isEmpty();
        }
    }

    private static JsonPath restore(String pointInTime) {
        String id = post("{\"database\": \"main\", \"target\": \"primary\", \"pointInTime\": \"" + pointInTime + "\"}")
                .then().statusCode(202).extract().path("id");
        JsonPath done = await(id);
        assertThat(done.getString("status")).as("%s", done.prettify()).isEqualTo("COMPLETED");
        assertThat(done.getList("steps.name", String.class)).contains("RESOLVE", "FETCH_BASE", "REPLAY_WAL", "DUMP_LOAD");
        return done;
    }

    private static JsonPath await(String id) {
        return Poll.value("restore " + id + " ends", WAIT, () -> {
            JsonPath j = given().baseUri(service.apiUrl()).auth().oauth2(TokenResource.VIEWER)
                    .get("/api/v1/restores/" + id + "?waitSeconds=10").jsonPath();
            String status = j.getString("status");
            return "COMPLETED".equals(status) || "FAILED".equals(status) ? j : null;
        });
    }

    private static Response post(String body) {
        return given().baseUri(service.apiUrl()).auth().oauth2(TokenResource.RESTORER).contentType("application/json")
                .body(body).post("/api/v1/restores");
    }

    private static String rows() {
        return postgres.psql("app", "SELECT string_agg(k::text, ',' ORDER BY k) FROM t");
    }

    private static String at(Instant instant, String offset) {
        return instant.atOffset(ZoneOffset.of(offset)).toString();
    }

    /** As recovery_target_time is written: UTC, microseconds. */
    private static String utc(Instant instant) {
        return java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS").format(
                instant.atOffset(ZoneOffset.UTC));
    }

    private static String stepDetail(JsonPath job, String step) {
        List<Map<String, Object>> steps = job.getList("steps");
        return steps.stream().filter(s -> step.equals(s.get("name"))).map(s -> String.valueOf(s.get("detail")))
                .findFirst().orElse("");
    }

    private static void report(String what, JsonPath job) {
        List<Map<String, Object>> steps = job.getList("steps");
        StringBuilder line = new StringBuilder("[PointInTimeRestoreIT] restore " + what + " (base backup "
                + base.rawSizeBytes() + " bytes of tar, " + base.storedSizeBytes() + " stored): ");
        for (Map<String, Object> s : steps) {
            if (s.get("seconds") != null) {
                line.append(s.get("name")).append(' ').append(s.get("seconds")).append(" s; ");
            }
        }
        line.append("total ").append(job.getString("progress.elapsedSeconds")).append(" s");
        System.out.println(line);
    }
}
