package dev.lifeboat.backup;

import static dev.lifeboat.backup.BackupTestSupport.identities;
import static dev.lifeboat.backup.BackupTestSupport.postgres;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.backup.service.BackupJob;
import dev.lifeboat.backup.service.BackupService;
import dev.lifeboat.backup.service.WalReceiver;
import dev.lifeboat.backup.service.WalReceivers;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.model.BackupKind;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.WalArchiveState;
import dev.lifeboat.common.model.WalArchiveState.ProblemKind;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.testing.AgeKeyResource;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Resource;
import dev.lifeboat.common.testing.TokenResource;
import dev.lifeboat.common.wal.WalNames;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The WAL archive against a real PostgreSQL 15 ({@link WalServerResource}: {@code wal_level=replica}, snapshots every
 * 2 s) and a real S3-protocol server: pg_receivewal's complete segments are archived byte for byte and the slot
 * follows only the archive's end; a committed row is in a partial snapshot within the partial interval; a receiver
 * killed with its spool deleted resumes after the archive's last segment without a gap; a dropped slot is a
 * continuity problem that starts a new base backup.
 */
@QuarkusTest
@WithTestResource(WalServerResource.class)
@WithTestResource(S3Resource.class)
@WithTestResource(AgeKeyResource.class)
@WithTestResource(TokenResource.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WalReceiverTest {
    private static final Duration LONG = Duration.ofSeconds(90);
    private static final long SEGMENT = WalNames.DEFAULT_SEGMENT_SIZE;
    private static final String SLOT = "lifeboat_main";

    @Inject
    WalArchive archive;

    @Inject
    BackupCatalog catalog;

    @Inject
    WalReceivers receivers;

    @Inject
    ObjectStore store;

    @Inject
    MeterRegistry registry;

    @Inject
    BackupService backups;

    private WalReceiver receiver() {
        return receivers.receiver("main").orElseThrow();
    }

    private static String sql(String sql) {
        return postgres().psql("app", sql).strip();
    }

    /** The slot's restart_lsn, then (read after it) the end of the archive's unbroken run of segments. */
    private void assertSlotNotPastArchive() {
        String restart = sql("SELECT coalesce(restart_lsn::text, '') FROM pg_replication_slots WHERE slot_name = '"
                + SLOT + "'");
        if (restart.isEmpty()) {
            return;
        }
        TreeSet<Long> archived = segments();
        long end = archived.isEmpty() ? 0 : (archived.last() + 1) * SEGMENT;
        assertThat(WalNames.lsn(restart)).as("slot restart_lsn %s vs archive end %s", restart, WalNames.lsn(end))
                .isLessThanOrEqualTo(end);
    }

    private TreeSet<Long> segments() {
        return archive.list("main").stream().filter(o -> o.kind() == Kind.SEGMENT)
                .map(o -> WalNames.segmentNumber(o.name(), SEGMENT)).collect(Collectors.toCollection(TreeSet::new));
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    private byte[] readBack(WalObject o) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ReadChain.Result r = ReadChain.read(store, WalArchive.stored(o), identities(), new Measure(),
                (b, off, len) -> out.write(b, off, len));
        assertThat(r.ok()).as(r.detail()).isTrue();
        return out.toByteArray();
    }

    /** Switches to a new segment after writing a row; returns the name of the segment it completed. */
    private static String insertAndSwitch(int id) {
        String seg = sql("INSERT INTO t VALUES (" + id + ", repeat('w', 200)); "
                + "SELECT pg_walfile_name(pg_current_wal_lsn())");
        sql("SELECT pg_switch_wal()");
        return seg.lines().reduce((a, b) -> b).orElseThrow().strip();
    }

    private double gauge(String name) {
        return registry.find(name).tag("database", "main").gauge().value();
    }

    @Test
    @Order(1)
    void completeSegmentsAreArchivedByteForByteAndTheSlotFollowsTheArchive() throws Exception {
        Poll.until("pg_receivewal of main streams", LONG, () -> receiver().receiverPid().isPresent()
                && !sql("SELECT 1 FROM pg_stat_replication WHERE application_name = 'lifeboat_main'").isEmpty());
        assertThat(gauge("lifeboat.wal.receiver.up")).isEqualTo(1.0);
        sql("CREATE TABLE t(id int PRIMARY KEY, v text); INSERT INTO t SELECT g, repeat('x', 200) "
                + "FROM generate_series(1, 5000) g");
        String seg = insertAndSwitch(100_000);
        // the slot keeps it on the server until it is archived: its bytes as the server wrote them
        String serverSha = postgres().psql("postgres", "SELECT encode(sha256(pg_read_binary_file('pg_wal/" + seg
                + "')), 'hex')").strip();
        long t0 = System.nanoTime();
        WalObject stored = Poll.value("segment " + seg + " archived", LONG,
                () -> archive.find("main", seg, Kind.SEGMENT).orElse(null));
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("WAL ARCHIVE TIMING: segment %s archived %.2f s after pg_switch_wal%n", seg, seconds);
        assertThat(stored.rawSizeBytes()).isEqualTo(SEGMENT);
        assertThat(stored.encrypted()).isTrue();
        assertThat(stored.key()).startsWith("database/main/wal/00000001/" + seg).endsWith(".zst.age");
        assertThat(stored.systemIdentifier()).isEqualTo(postgres().psql("postgres",
                "SELECT system_identifier FROM pg_control_system()").strip());
        assertThat(sha256(readBack(stored))).isEqualTo(serverSha);

        long end = (WalNames.segmentNumber(seg, SEGMENT) + 1) * SEGMENT;
        Poll.until("slot advanced to the end of " + seg, LONG, () -> WalNames.lsn(sql(
                "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'")) >= end);
        assertSlotNotPastArchive();
        assertThat(registry.find("lifeboat.wal.archived.segments").tag("database", "main").counter().count())
                .isGreaterThanOrEqualTo(1);
        Poll.until("the slot's retained bytes measured", LONG,
                () -> !Double.isNaN(gauge("lifeboat.replication.slot.retained.bytes")));
        assertThat(gauge("lifeboat.wal.archive.gap")).isZero();
        // the spool holds no complete segment once stored
        Path spool = Path.of(ConfigProvider.getConfig().getValue("lifeboat.pitr.spool-dir", String.class), "main");
        Poll.until("no complete segment left in the spool", LONG, () -> {
            try (Stream<Path> s = Files.list(spool)) {
                return s.noneMatch(p -> p.getFileName().toString().matches("[0-9A-F]{24}"));
            } catch (java.io.IOException e) {
                return false;
            }
        });
    }

    @Test
    @Order(2)
    void aCommittedRowIsInAPartialSnapshotWithinThePartialInterval() throws Exception {
        String[] after = sql("INSERT INTO t VALUES (200000, 'rpo'); SELECT pg_current_wal_insert_lsn(), "
                + "extract(epoch FROM clock_timestamp())").lines().reduce((a, b) -> b).orElseThrow().split("\\|");
        long commitLsn = WalNames.lsn(after[0]);
        Instant committed = Instant.ofEpochSecond(0, new BigDecimal(after[1]).movePointRight(9).longValueExact());
        String seg = WalNames.segmentName(1, WalNames.segmentOf(commitLsn - 1, SEGMENT), SEGMENT);
        long t0 = System.nanoTime();
        WalObject snapshot = Poll.value("a snapshot of " + seg + " holding " + after[0], Duration.ofSeconds(2 + 15),
                () -> archive.find("main", seg, Kind.PARTIAL).filter(o -> WalNames.lsn(o.endLsn()) >= commitLsn
                        && o.reachableUntil() != null && !o.reachableUntil().isBefore(committed)).orElse(null));
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("WAL ARCHIVE RPO: the commit at %s was in a snapshot %.2f s later (partial-interval %s); "
                + "reachableUntil %s, endLsn %s%n", after[0], seconds, WalServerResource.PARTIAL_INTERVAL,
                snapshot.reachableUntil(), snapshot.endLsn());
        assertThat(seconds).isLessThan(2 + 10);
        assertThat(readBack(snapshot)).hasSize((int) SEGMENT);
        // superseded snapshots are removed: at most the newest and one being replaced
        Poll.until("one snapshot of " + seg, LONG, () -> archive.snapshots("main", seg).size() == 1);
        WalArchiveState state = Poll.value("the state record with the chain's start", LONG,
                () -> catalog.walState("main").filter(r -> r.chainStartLsn() != null).orElse(null));
        assertThat(state.receiverUp()).isTrue();
        assertThat(state.slot()).isEqualTo(SLOT);
        assertThat(state.chainStartLsn()).isNotNull();
        assertThat(state.problems()).isEmpty();
        Poll.until("the state record shows a reachableUntil at or after the commit", LONG, () -> {
            Instant r = catalog.walState("main").map(WalArchiveState::reachableUntil).orElse(null);
            return r != null && !r.isBefore(committed);
        });
    }

    @Test
    @Order(3)
    void aReceiverKilledWithItsSpoolLostResumesAfterTheArchivesLastSegment() throws Exception {
        String last = insertAndSwitch(300_000);
        WalObject before = Poll.value(last + " archived", LONG, () -> archive.find("main", last, Kind.SEGMENT)
                .orElse(null));
        long pid = receiver().receiverPid().orElseThrow();
        ProcessHandle.of(pid).orElseThrow().destroyForcibly(); // SIGKILL
        Path spool = Path.of(ConfigProvider.getConfig().getValue("lifeboat.pitr.spool-dir", String.class), "main");
        try (Stream<Path> s = Files.list(spool)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        }
        List<String> switched = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            switched.add(insertAndSwitch(300_001 + i));
        }
        assertSlotNotPastArchive();
        Poll.until("pg_receivewal restarted", LONG, () -> receiver().receiverPid().filter(p -> p != pid).isPresent());
        for (String seg : switched) {
            Poll.value(seg + " archived after the restart", LONG, () -> archive.find("main", seg, Kind.SEGMENT)
                    .orElse(null));
            assertSlotNotPastArchive();
        }
        TreeSet<Long> archived = segments();
        long first = WalNames.segmentNumber(before.name(), SEGMENT);
        for (long n = first; n <= archived.last(); n++) {
            assertThat(archived).as("segment %s archived", WalNames.segmentName(1, n, SEGMENT)).contains(n);
        }
        // the placeholder was never uploaded: the archived segment is the one stored before
        assertThat(archive.find("main", last, Kind.SEGMENT).orElseThrow()).isEqualTo(before);
        Set<Long> sizes = archive.list("main").stream().filter(o -> o.kind() == Kind.SEGMENT)
                .map(WalObject::rawSizeBytes).collect(Collectors.toSet());
        assertThat(sizes).containsExactly(SEGMENT);
        assertThat(catalog.walState("main").orElseThrow().problems()).isEmpty();
    }

    @Test
    @Order(4)
    void aDroppedSlotIsAContinuityProblemThatStartsANewBaseBackup() throws Exception {
        Instant dropped = Instant.now();
        PostgresServer pg = postgres();
        pg.psql("postgres", "SELECT pg_drop_replication_slot('" + SLOT + "')");
        for (int i = 0; i < 3; i++) {
            insertAndSwitch(400_000 + i);
            pg.psql("postgres", "CHECKPOINT");
        }
        Poll.until("the gap alert", LONG, () -> gauge("lifeboat.wal.archive.gap") == 1.0);
        // recorded before the alert is raised
        WalArchiveState state = catalog.walState("main").orElseThrow();
        assertThat(state.problems()).anySatisfy(p -> {
            assertThat(p.kind()).isEqualTo(ProblemKind.SLOT_LOST);
            assertThat(p.reason()).contains("'" + SLOT + "' is gone");
        });
        BaseBackupMetadata base = Poll.value("a base backup after the drop", LONG, () -> catalog.listBase("main")
                .stream().filter(b -> b.startedAt().isAfter(dropped)).findFirst().orElse(null));
        assertThat(base.labels()).containsEntry("lifeboat.dev/started-by", "wal-archive");
        assertThat(sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'"))
                .as("the slot is created again").isEqualTo("1");
        // the base backup's WAL archived: the problem is resolved, the alert cleared
        Poll.until("the alert cleared by the new chain", LONG, () -> gauge("lifeboat.wal.archive.gap") == 0.0);
        Poll.until("the state record shows the problem resolved", LONG, () -> catalog.walState("main").orElseThrow()
                .problems().stream().allMatch(p -> p.resolvedAt() != null && p.resolvedAt().isAfter(base.startedAt())));
    }

    /**
     * The race CI met: a base backup that began before the server removed WAL the archive lacked is still running
     * when pg_receivewal fails and the gap is found, so the base backup asked for then is refused; the running one
     * ends before the new chain's start and answers nothing. Another one is started after it, and that one clears
     * the alert. pg_basebackup is held with SIGSTOP so the race is certain, not a matter of load.
     */
    @Test
    @Order(5)
    void aBaseBackupRunningWhenAGapIsFoundDoesNotAnswerItAnotherOneDoes() throws Exception {
        PostgresServer pg = postgres();
        Poll.until("the alert of the test before cleared", LONG, () -> gauge("lifeboat.wal.archive.gap") == 0.0);
        BackupJob early = backups.start("main", BackupKind.BASE, Trigger.MANUAL, java.util.Map.of());
        ProcessHandle basebackup = Poll.value("pg_basebackup of " + early.id() + " runs", LONG, () -> ProcessHandle
                .current().descendants().filter(h -> h.info().command().orElse("").endsWith("pg_basebackup"))
                .findFirst().orElse(null));
        // held once connected (held before, its connect_timeout would expire): the server shows its progress
        Poll.until("pg_basebackup of " + early.id() + " connected", LONG, () -> !sql(
                "SELECT 1 FROM pg_stat_progress_basebackup").isEmpty());
        signal("-STOP", basebackup.pid());
        Instant gapBefore = Instant.now();
        WalArchiveState gapFound;
        try {
            // pg_receivewal held too, then the slot dropped: the server removes WAL the archive does not have
            long receivewal = receiver().receiverPid().orElseThrow();
            signal("-STOP", receivewal);
            long archiveEnd = segments().last();
            String next = WalNames.segmentName(1, archiveEnd + 1, SEGMENT);
            // one statement string: the receiver's own check must not create the slot again before the checkpoint
            pg.psql("app", "SELECT pg_drop_replication_slot('" + SLOT + "'); INSERT INTO t VALUES (450000, 'gap'); "
                    + "SELECT pg_switch_wal(); CHECKPOINT");
            for (int i = 1; i < 4; i++) {
                insertAndSwitch(450_000 + i);
                pg.psql("postgres", "CHECKPOINT");
            }
            Poll.until(next + " removed by the server", LONG, () -> {
                pg.psql("postgres", "CHECKPOINT");
                return sql("SELECT count(*) FROM pg_ls_waldir() WHERE name = '" + next + "'").equals("0");
            });
            signal("-KILL", receivewal);
            gapFound = Poll.value("the gap found, a new chain begun", LONG, () -> catalog.walState("main")
                    .filter(st -> st.chainStartLsn() != null // the new chain's start, after the removed WAL
                            && WalNames.lsn(st.chainStartLsn()) > (archiveEnd + 1) * SEGMENT
                            && st.problems().stream().anyMatch(p -> p.open() && p.kind() == ProblemKind.GAP
                                    && p.detectedAt().isAfter(gapBefore))).orElse(null));
            assertThat(early.state().done()).as("the base backup begun before the gap still runs").isFalse();
        } finally {
            signal("-CONT", basebackup.pid());
        }
        early.done().get(LONG.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        assertThat(early.state()).isEqualTo(JobState.COMPLETED);
        String chainStart = gapFound.chainStartLsn();
        assertThat(WalNames.lsn(early.baseMetadata().startLsn())).as("the early base backup is before the new chain")
                .isLessThan(WalNames.lsn(chainStart));
        BaseBackupMetadata answer = Poll.value("another base backup, after " + early.id(), LONG, () -> catalog
                .listBase("main").stream().filter(b -> b.startedAt().isAfter(early.baseMetadata().startedAt())
                        && WalNames.lsn(b.startLsn()) >= WalNames.lsn(chainStart)).findFirst().orElse(null));
        assertThat(answer.labels()).containsEntry("lifeboat.dev/started-by", "wal-archive");
        Poll.until("the alert cleared by " + answer.id(), LONG, () -> gauge("lifeboat.wal.archive.gap") == 0.0);
        // the state record is written after the gauge is set: read once it was rewritten
        Poll.until("the state record shows every problem resolved", LONG, () -> catalog.walState("main").orElseThrow()
                .problems().stream().allMatch(p -> p.resolvedAt() != null));
    }

    private static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", signal, Long.toString(pid)).redirectErrorStream(true).start();
        assertThat(kill.waitFor()).as("kill %s %d", signal, pid).isZero();
    }

    @Test
    @Order(6)
    void aTimelineSwitchIsFollowedAndItsHistoryFileArchived() throws Exception {
        // continuity across the switch, from the archive's end before it (the tests before left real gaps); once the
        // chain begun after the last gap has a base backup with its WAL archived
        Poll.until("the alert of the test before cleared", LONG, () -> gauge("lifeboat.wal.archive.gap") == 0.0);
        long first = segments().last();
        String data = postgres().psql("postgres", "SELECT current_setting('data_directory')").strip();
        int port = ConfigProvider.getConfig().getValue("lifeboat.databases.main.port", Integer.class);
        Instant switched = Instant.now();
        PostgresServer.failOverInPlace(Path.of(data), port, java.util.Map.of());
        WalObject history = Poll.value("00000002.history archived", LONG, () -> archive.find("main",
                "00000002.history", Kind.HISTORY).orElse(null));
        assertThat(new String(readBack(history), java.nio.charset.StandardCharsets.UTF_8)).startsWith("1\t");
        String seg = insertAndSwitch(500_000);
        assertThat(seg).startsWith("00000002");
        Poll.value(seg + " archived on timeline 2", LONG, () -> archive.find("main", seg, Kind.SEGMENT).orElse(null));
        TreeSet<Long> archived = segments();
        for (long n = first; n <= archived.last(); n++) {
            assertThat(archived).as("segment number %d archived on some timeline", n).contains(n);
        }
        Poll.until("the state record shows timeline 2", LONG, () -> catalog.walState("main").orElseThrow()
                .timeline() == 2);
        // a promoted standby has none of its primary's slots: reported, and created again on the new primary
        assertThat(catalog.walState("main").orElseThrow().problems()).anySatisfy(p -> {
            assertThat(p.kind()).isEqualTo(ProblemKind.SLOT_LOST);
            assertThat(p.detectedAt()).isAfter(switched);
        });
        assertThat(sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + SLOT + "'")).isEqualTo("1");
        assertSlotNotPastArchive();
    }
}
