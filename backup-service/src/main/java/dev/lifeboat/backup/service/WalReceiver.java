package dev.lifeboat.backup.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.BackupInProgress;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.model.BackupKind;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.WalArchiveState;
import dev.lifeboat.common.model.WalArchiveState.Problem;
import dev.lifeboat.common.model.WalArchiveState.ProblemKind;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.wal.WalNames;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * The WAL receiver of one database (point-in-time recovery), run by {@link WalReceivers} on the Lease holder:
 * {@code pg_receivewal} of the server's major streams into a local spool ({@code <spool-dir>/<label>/}); each segment
 * it completes, and each {@code .history} file, goes through the write chain into the WAL archive ({@link WalArchive}),
 * then the slot is advanced, then the spool file is deleted. Every {@code pitr.partial-interval} a heartbeat commit is
 * made and, once pg_receivewal has written it, the current {@code .partial} segment is stored as a snapshot: the RPO.
 *
 * <h2>The slot, and why pg_receivewal does not use it</h2>
 * Lifeboat owns a physical slot ({@code pitr.slot}, created with {@code pg_create_physical_replication_slot(name,
 * true)}) and moves it with {@code pg_replication_slot_advance} only to the end of the newest complete segment such
 * that it and every earlier one of the chain are committed to the store. pg_receivewal is started WITHOUT
 * {@code --slot}: in PostgreSQL 15's walsender ({@code ProcessStandbyReplyMessage} in {@code walsender.c}), a
 * walsender streaming through a physical slot calls {@code PhysicalConfirmReceivedLocation(flushPtr)} on every status
 * reply, which sets the slot's {@code restart_lsn} to the flush position the client reports. pg_receivewal reports what
 * it fsynced into its spool, so through the slot the server would be free to remove WAL that only the spool holds,
 * and a lost spool (an emptyDir) would lose it. Streaming without a slot, the walsender moves nothing; the owned slot,
 * which no walsender uses, keeps the server's WAL from the archive's end onward (bounded by
 * {@code max_slot_wal_keep_size}: past it the slot is {@code lost}, a continuity problem).
 *
 * <h2>Resuming after the archive's last segment</h2>
 * pg_receivewal (no {@code --startpos}) starts after the newest complete segment file it finds in its directory, else
 * at the server's current position. {@code FindStreamingStart} in PostgreSQL 15's {@code pg_receivewal.c} reads only
 * the directory's names and, for an uncompressed complete segment, its size ({@code stat}: it must be the segment
 * size). So when the spool holds no segment at or after the archive's newest complete one, a placeholder is put there:
 * a sparse file named as that segment, of the segment size. Placeholders are never uploaded (the segment is archived
 * already) and are deleted once the next segment is stored. With an empty archive (or after a continuity problem) the
 * spool is cleared and pg_receivewal starts at the server's position: a new chain, whose first base backup is its
 * first restorable point.
 */
public final class WalReceiver {
    private static final Logger LOG = Logger.getLogger(WalReceiver.class);
    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern PARTIAL = Pattern.compile("[0-9A-F]{24}\\.partial");
    private static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");
    private static final Duration POLL = Duration.ofMillis(500);
    /** pg_receivewal runs until it is stopped; its "time limit" only has to be longer than any run. */
    private static final TimeLimit UNTIL_STOPPED = new TimeLimit(Duration.ofDays(3650), "the WAL receiver runs until stopped");
    private static final int PROBLEMS_KEPT = 20;
    private static final String STARTED_BY = "lifeboat.dev/started-by";
    /** After a failed base backup for a continuity problem, the next is tried this much later. */
    private static final Duration BASE_RETRY_AFTER_FAILURE = Duration.ofMinutes(5);

    private final String database;
    private final DatabaseRegistry databases;
    private final WalArchive archive;
    private final BackupCatalog catalog;
    private final PgTools pgTools;
    private final BackupService backups;
    private final Path spool;
    private final String instance;
    private final String runId;
    private final String applicationName;
    private final String slotName;

    // metrics
    private final Counter archivedSegments;
    private final AtomicLong lastArchivedMillis = new AtomicLong(-1);
    private final AtomicLong up = new AtomicLong();
    /** -1: unknown (slot missing or lost). */
    private final AtomicLong retainedBytes = new AtomicLong(-1);
    private final AtomicLong gap = new AtomicLong();

    // what the state record shows; seeded from the last one
    private final List<Problem> problems = new ArrayList<>();
    private volatile String chainStartLsn;
    /** When the current chain began, if it began while this receiver ran (after a problem); null when not known. */
    private volatile Instant chainStartedAt;
    private volatile String lastSegment;
    private volatile Instant lastArchivedAt;
    private volatile Instant reachableUntil;
    private volatile int timeline;

    // control
    private final Object signal = new Object();
    private volatile boolean stopRequested;
    private volatile Instant stopDeadline;
    private volatile boolean leaseLost;
    private volatile PgProcess process;
    /** pg_receivewal said the server had removed WAL it needed: the next session starts a new chain. */
    private volatile String walRemoved;
    /** The base backup this receiver started last for a continuity problem, if any. */
    private volatile BackupJob chainBase;
    /** The history file found missing at the last check, if any. */
    private String historyMissing;

    // the session's view of the chain
    private long segmentSize;
    private String systemIdentifier;
    /** The newest segment number such that it and every earlier one of the chain are archived; -1 until known. */
    private long archivedThrough = -1;
    private final TreeSet<Long> archivedAhead = new TreeSet<>();
    private final Set<String> placeholders = new HashSet<>();
    /** Segment number → the newest heartbeat whose LSN it holds. */
    private final TreeMap<Long, Instant> heartbeats = new TreeMap<>();

    WalReceiver(String database, DatabaseRegistry databases, WalArchive archive, BackupCatalog catalog, PgTools pgTools,
                BackupService backups, Path spool, String instance, MeterRegistry registry, WalArchiveState last) {
        this.database = database;
        this.databases = databases;
        this.archive = archive;
        this.catalog = catalog;
        this.pgTools = pgTools;
        this.backups = backups;
        this.spool = spool;
        this.instance = instance;
        this.runId = "wal-" + database + "-" + instance;
        this.applicationName = "lifeboat_" + database;
        this.slotName = databases.slot(database);
        if (last != null) {
            problems.addAll(last.problems() == null ? List.of() : last.problems());
            chainStartLsn = last.chainStartLsn();
            lastSegment = last.lastSegment();
            lastArchivedAt = last.lastArchivedAt();
            reachableUntil = last.reachableUntil();
            if (lastArchivedAt != null) {
                lastArchivedMillis.set(lastArchivedAt.toEpochMilli());
            }
        }
        gap.set(problems.stream().anyMatch(Problem::open) ? 1 : 0);
        archivedSegments = Counter.builder("lifeboat.wal.archived.segments")
                .description("WAL segments archived by this replica").tag("database", database).register(registry);
        gauge(registry, "lifeboat.wal.last.archived.timestamp.seconds", lastArchivedMillis,
                v -> v.get() < 0 ? Double.NaN : v.get() / 1000.0,
                "When a WAL file (segment or partial snapshot) was last archived (Unix seconds)");
        gauge(registry, "lifeboat.wal.receiver.up", up, AtomicLong::get,
                "1 while this replica's pg_receivewal streams the database's WAL");
        gauge(registry, "lifeboat.replication.slot.retained.bytes", retainedBytes,
                v -> v.get() < 0 ? Double.NaN : v.get(), "WAL the WAL archive's replication slot holds on the server "
                        + "(pg_current_wal_lsn() - restart_lsn); NaN when the slot is missing or lost");
        gauge(registry, "lifeboat.wal.archive.gap", gap, AtomicLong::get, "1 while the WAL archive has an open "
                + "continuity problem (gap, lost slot, unknown timeline): recovery past it needs the new base backup");
    }

    /**
     * Registers a gauge of this database on this receiver's state. One registered earlier under the same name and
     * tags (by an earlier start of the application in the same JVM: tests, dev mode) is removed first, or the
     * registry would keep reading the state of a receiver that no longer runs.
     */
    private void gauge(MeterRegistry registry, String name, AtomicLong state,
                       java.util.function.ToDoubleFunction<AtomicLong> value, String description) {
        dev.lifeboat.common.metrics.Gauges.register(registry, name, database, state, value, description);
    }

    public String database() {
        return database;
    }

    String runId() {
        return runId;
    }

    /** The running pg_receivewal's process id, if one runs. */
    public Optional<Long> receiverPid() {
        PgProcess p = process;
        return p != null && p.isAlive() ? Optional.of(p.pid()) : Optional.empty();
    }

    void leaseHeld() {
        leaseLost = false;
    }

    void leaseLost() {
        LOG.errorf("The Lease of the WAL receiver of %s was lost: stopping it", database);
        leaseLost = true;
        wake();
    }

    boolean lostLease() {
        return leaseLost;
    }

    void stop(Instant deadline) {
        stopDeadline = deadline;
        stopRequested = true;
        wake();
    }

    private void wake() {
        synchronized (signal) {
            signal.notifyAll();
        }
    }

    /** Waits {@code d}, or until stopped or the Lease is lost. */
    void pause(Duration d) {
        long until = System.nanoTime() + d.toNanos();
        synchronized (signal) {
            while (!stopRequested && !leaseLost) {
                long left = until - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                try {
                    signal.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * One session: prepares the slot and the spool, runs pg_receivewal and uploads what it writes until it ends, the
     * Lease is lost or the service stops; then stops it (SIGTERM) and uploads what is complete.
     */
    void runSession(BooleanSupplier stopping) {
        PgConnection db = databases.connection(database);
        PgConnection replication = databases.replicationConnection(database);
        int version = pgTools.serverVersionNum(db);
        PgTools.Program receivewal = pgTools.forServerVersion("pg_receivewal", version);
        segmentSize = Long.parseLong(sql(db, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"));
        String[] identity = identify(replication);
        systemIdentifier = identity[0];
        timeline = Integer.parseInt(identity[1]);
        try {
            Files.createDirectories(spool);
        } catch (IOException e) {
            throw new Errors.InvalidConfiguration("Cannot create the WAL spool " + spool + " (lifeboat.pitr.spool-dir): "
                    + e.getMessage());
        }
        prepare(db, replication);
        Duration interval = databases.pitr(database).partialInterval();
        List<String> args = List.of("--directory=" + spool, "--no-loop", "--status-interval=1", "--no-password",
                "--verbose");
        PgProcess p = PgProcess.start(receivewal.path(), args, replication, pgTools.connectTimeout(), UNTIL_STOPPED,
                true, applicationName);
        process = p;
        up.set(1);
        LOG.infof("WAL receiver of %s started: %s (pid %d) into %s, slot %s held at the archive's end", database,
                receivewal.release(), p.pid(), spool, slotName);
        recordState();
        boolean endedByItself = false;
        try {
            long nextTick = System.nanoTime() + interval.toNanos();
            while (!stopRequested && !leaseLost && !stopping.getAsBoolean()) {
                if (!p.isAlive()) {
                    endedByItself = true;
                    break;
                }
                uploadCompleted(null, db);
                if (System.nanoTime() - nextTick >= 0) {
                    nextTick = System.nanoTime() + interval.toNanos();
                    tick(db, replication, interval);
                }
                pause(POLL);
            }
        } finally {
            p.close(); // SIGTERM, SIGKILL after 5 s
            process = null;
            up.set(0);
            String said = p.stderr();
            if (endedByItself) {
                List<String> lines = said.lines().toList();
                LOG.warnf("pg_receivewal of %s ended: %s", database, lines.isEmpty() ? "(nothing on stderr)"
                        : String.join("\n", lines.subList(Math.max(0, lines.size() - 10), lines.size())));
                if (p.stderrContains("has already been removed")) {
                    walRemoved = "pg_receivewal: the server answered that a WAL segment it needed \"has already been "
                            + "removed\"";
                }
            }
            try {
                uploadCompleted(stopRequested ? stopDeadline : null, db);
            } catch (RuntimeException e) {
                LOG.warnf("WAL receiver of %s: cannot upload the last complete segments: %s", database, e.getMessage());
            }
            recordState();
        }
    }

    /**
     * Before pg_receivewal starts: what a previous session left complete in the spool is uploaded; the slot is checked
     * (created when missing, recreated when lost); and either the spool is cleared for a new chain (empty archive, or a
     * continuity problem) or a placeholder makes pg_receivewal resume after the archive's newest complete segment.
     */
    private void prepare(PgConnection db, PgConnection replication) {
        placeholders.clear();
        archivedAhead.clear();
        List<WalObject> archived = archive.list(database);
        List<WalObject> segments = archived.stream().filter(o -> o.kind() == Kind.SEGMENT).toList();
        Optional<WalObject> newest = segments.stream().max(Comparator.comparingLong((WalObject o) -> number(o.name()))
                .thenComparingInt(WalObject::timeline));
        archivedThrough = newest.map(o -> number(o.name())).orElse(-1L);
        newest.ifPresent(o -> lastSegment = o.name());
        if (chainStartLsn == null && newest.isPresent()) {
            chainStartLsn = WalNames.lsn(runStart(segments, archivedThrough) * segmentSize);
        }
        uploadCompleted(null, db);

        // A slot gone or lost is a problem (a base backup starts), but no proof that WAL is missing: the server may
        // still hold the WAL after the archive's end (a promoted standby has none of its primary's slots). So the
        // slot is created again and pg_receivewal resumes after the archive's end; if the server removed that WAL,
        // pg_receivewal fails saying so, and the next session starts a new chain (walRemoved).
        Optional<String[]> slot = slot(db);
        if (slot.isEmpty()) {
            if (archivedThrough >= 0) {
                problem(ProblemKind.SLOT_LOST, "the replication slot '" + slotName + "' is gone: the server may have "
                        + "removed WAL after segment " + lastSegment + " before it was archived; it was created again");
                startBaseBackup();
            }
            createSlot(replication);
        } else if (lost(slot.get())) {
            problem(ProblemKind.SLOT_LOST, "the replication slot '" + slotName + "' is lost (wal_status "
                    + slot.get()[1] + ", max_slot_wal_keep_size exceeded?): the server may have removed WAL after "
                    + "segment " + lastSegment + " before it was archived; it was created again");
            sql(replication, "SELECT pg_drop_replication_slot('" + slotName + "')");
            createSlot(replication);
            startBaseBackup();
        }
        slot(db).ifPresent(this::retained);
        boolean newChain = false;
        if (archivedThrough >= 0 && lastSegment != null && timeline > WalNames.timeline(lastSegment)) {
            newChain = !followTimeline(replication);
        }
        if (walRemoved != null) {
            newChain = true;
            problem(ProblemKind.GAP, "the server removed WAL after segment " + lastSegment + " before it was archived ("
                    + walRemoved + ")");
            walRemoved = null;
        }
        if (!newChain && archivedThrough >= 0) {
            long start = WalNames.segmentOf(WalNames.lsn(chainStartLsn), segmentSize);
            List<Long> missing = new ArrayList<>();
            Set<Long> have = new HashSet<>();
            segments.forEach(o -> have.add(number(o.name())));
            for (long n = start; n < archivedThrough && missing.size() < 1000; n++) {
                if (!have.contains(n)) {
                    missing.add(n);
                }
            }
            if (!missing.isEmpty()) {
                long lastMissing = missing.get(missing.size() - 1);
                problem(ProblemKind.GAP, missing.size() + " segment(s) missing from the archive after the chain start "
                        + chainStartLsn + ", the first " + WalNames.segmentName(timeline, missing.get(0), segmentSize)
                        + ", the last " + WalNames.segmentName(timeline, lastMissing, segmentSize));
                chainStartLsn = WalNames.lsn((lastMissing + 1) * segmentSize);
                chainStartedAt = Instant.now();
                startBaseBackup();
            }
        }
        if (newChain || archivedThrough < 0 || lastSegment == null) {
            clearSpool();
            archivedThrough = -1; // known once pg_receivewal writes its first file: the new chain's start
            chainStartLsn = null;
            if (newChain) {
                startBaseBackup();
            }
            return;
        }
        String last = WalNames.segmentName(WalNames.timeline(lastSegment), archivedThrough, segmentSize);
        boolean covered = spoolFiles().stream().anyMatch(f -> (SEGMENT.matcher(f).matches()
                || PARTIAL.matcher(f).matches()) && number(f.substring(0, 24)) >= archivedThrough);
        if (!covered) {
            Path placeholder = spool.resolve(last);
            try (RandomAccessFile f = new RandomAccessFile(placeholder.toFile(), "rw")) {
                f.setLength(segmentSize); // sparse: pg_receivewal only reads its name and size
            } catch (IOException e) {
                throw new IllegalStateException("Cannot create the placeholder " + placeholder + ": " + e.getMessage(), e);
            }
            placeholders.add(last);
            LOG.infof("WAL receiver of %s resumes after archived segment %s (placeholder in the spool)", database, last);
        }
    }

    /**
     * The server is on a later timeline than the archive's newest segment (a promoted standby): its history
     * ({@code TIMELINE_HISTORY}) says where it left the archive's timeline. When that switch point is before the
     * archive's end, what was archived on the old timeline after it is a dead branch (the old primary wrote it after
     * the failover point; pg_receivewal would ask for a position "not in this server's history"), so streaming
     * resumes at the switch point: the old timeline up to it, then the server's. False when the server's history does
     * not contain the archive's timeline at all (a new chain).
     */
    private boolean followTimeline(PgConnection replication) {
        int archivedTimeline = WalNames.timeline(lastSegment);
        String answer = pgTools.replicationCommand(pgTools.newest("psql"), replication, "TIMELINE_HISTORY " + timeline);
        String content = answer.substring(answer.indexOf('|') + 1).strip();
        if (content.startsWith("\\x")) {
            content = new String(java.util.HexFormat.of().parseHex(content.substring(2)),
                    java.nio.charset.StandardCharsets.UTF_8);
        }
        List<String[]> history = content.lines().map(l -> l.strip().split("\\s+")).filter(f -> f.length >= 2
                && f[0].matches("\\d+")).toList();
        for (int i = 0; i < history.size(); i++) {
            String[] f = history.get(i);
            if (!f[0].equals(Integer.toString(archivedTimeline))) {
                continue;
            }
            long switchPoint = WalNames.lsn(f[1]);
            long switchSegment = WalNames.segmentOf(switchPoint, segmentSize);
            if (switchSegment > archivedThrough + 1) {
                return true; // the archive ends before the switch: pg_receivewal follows it by itself
            }
            int next = i + 1 < history.size() ? Integer.parseInt(history.get(i + 1)[0]) : timeline;
            if (switchSegment <= archivedThrough) {
                LOG.warnf("WAL archive of %s: the server's timeline %d left timeline %d at %s, before the archive's "
                        + "end (%s): what was archived on timeline %d after %s is a dead branch (written by the old "
                        + "primary after the failover point); the archive goes on from there on timeline %d", database,
                        timeline, archivedTimeline, f[1], lastSegment, archivedTimeline, f[1], timeline);
            }
            // what the spool holds past the switch point is the dead branch, or streamed again
            clearSpool();
            archivedThrough = switchSegment - 1;
            // pg_receivewal cannot start on the old timeline exactly at its end (the walsender answers
            // START_REPLICATION with the next timeline instead of streaming): at a segment boundary it starts
            // on the next timeline, after a placeholder named on it
            lastSegment = WalNames.segmentName(switchPoint % segmentSize == 0 ? next : archivedTimeline,
                    archivedThrough, segmentSize);
            return true;
        }
        problem(ProblemKind.GAP, "the server's timeline " + timeline + " does not descend from the archive's timeline "
                + archivedTimeline + ": a new chain starts");
        return false;
    }

    /** The first segment of the unbroken run of archived segments ending at {@code end}. */
    private long runStart(List<WalObject> segments, long end) {
        Set<Long> have = new HashSet<>();
        segments.forEach(o -> have.add(number(o.name())));
        long n = end;
        while (have.contains(n - 1)) {
            n--;
        }
        return n;
    }

    /**
     * Uploads each complete segment and history file in the spool (oldest first), advances the slot over the
     * contiguous archived segments, and deletes what is stored. With a {@code deadline}, stops uploading past it.
     */
    private void uploadCompleted(Instant deadline, PgConnection db) {
        List<String> files = spoolFiles();
        if (archivedThrough < 0) {
            files.stream().filter(f -> SEGMENT.matcher(f).matches() || PARTIAL.matcher(f).matches())
                    .mapToLong(f -> number(f.substring(0, 24))).min().ifPresent(first -> {
                        archivedThrough = first - 1;
                        chainStartLsn = WalNames.lsn(first * segmentSize);
                        chainStartedAt = Instant.now();
                        LOG.infof("WAL archive of %s: a new chain starts at %s", database, chainStartLsn);
                        recordState();
                    });
        }
        for (String f : files) {
            if (HISTORY.matcher(f).matches() && beforeDeadline(deadline)) {
                store(Kind.HISTORY, f, null);
            }
        }
        List<String> complete = files.stream().filter(f -> SEGMENT.matcher(f).matches())
                .sorted(Comparator.comparingLong(this::number).thenComparing(Comparator.naturalOrder())).toList();
        long before = archivedThrough;
        for (String name : complete) {
            long n = number(name);
            if (placeholders.contains(name)) {
                if (n < archivedThrough) { // the next segment is stored: pg_receivewal is past it
                    delete(name);
                    placeholders.remove(name);
                }
                continue;
            }
            if (!beforeDeadline(deadline)) {
                break;
            }
            if (placeholder(name)) { // one a previous process put there: never uploaded
                placeholders.add(name);
                continue;
            }
            Instant reachable = heartbeats.get(n);
            WalObject stored = store(Kind.SEGMENT, name, reachable);
            if (stored == null) {
                continue;
            }
            archivedAhead.add(n);
            heartbeats.headMap(n, true).clear();
            try {
                for (WalObject snapshot : archive.snapshots(database, name)) {
                    archive.delete(snapshot);
                }
            } catch (IOException | RuntimeException e) {
                LOG.warnf("Cannot remove the superseded snapshots of %s: %s", name, e.getMessage());
            }
            if (reachable != null && (reachableUntil == null || reachable.isAfter(reachableUntil))) {
                reachableUntil = reachable;
            }
            lastSegment = name;
        }
        while (!archivedAhead.isEmpty() && archivedAhead.first() <= archivedThrough + 1) {
            archivedThrough = Math.max(archivedThrough, archivedAhead.pollFirst());
        }
        // a .partial at or before the archive's end is stale: the previous timeline's last segment, which
        // pg_receivewal leaves as .partial at a timeline switch (the new timeline's segment of that number holds its
        // WAL up to the switch), or one a killed pg_receivewal left behind
        for (String f : files) {
            if (PARTIAL.matcher(f).matches() && number(f) <= archivedThrough) {
                delete(f);
            }
        }
        if (!archivedAhead.isEmpty() && !spoolHas(archivedThrough + 1)) {
            long next = archivedAhead.first();
            problem(ProblemKind.GAP, "segments " + (next - archivedThrough - 1) + " missing from the archive before "
                    + WalNames.segmentName(timeline, next, segmentSize) + ": pg_receivewal did not write them");
            chainStartLsn = WalNames.lsn(next * segmentSize);
            chainStartedAt = Instant.now();
            archivedThrough = next - 1;
            startBaseBackup();
            while (!archivedAhead.isEmpty() && archivedAhead.first() <= archivedThrough + 1) {
                archivedThrough = Math.max(archivedThrough, archivedAhead.pollFirst());
            }
        }
        if (archivedThrough > before && archivedThrough >= 0) {
            advanceSlot(db);
        }
    }

    /**
     * Whether a complete segment file in the spool is a placeholder: a real segment starts with a page header
     * (its magic number is never zero), a placeholder is a hole of zeros.
     */
    private boolean placeholder(String name) {
        try (InputStream in = Files.newInputStream(spool.resolve(name))) {
            byte[] head = in.readNBytes(8);
            for (byte b : head) {
                if (b != 0) {
                    return false;
                }
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private boolean beforeDeadline(Instant deadline) {
        return deadline == null || Instant.now().isBefore(deadline);
    }

    /** Archives one spool file and deletes it; null when it could not be stored (retried next time). */
    private WalObject store(Kind kind, String name, Instant reachable) {
        Instant before = Instant.now();
        Path file = spool.resolve(name);
        try {
            WalObject stored;
            try (InputStream in = Files.newInputStream(file)) {
                stored = archive.put(database, kind, name, in, backups.codec(), backups.encrypts(), null, reachable,
                        systemIdentifier);
            }
            if (!stored.archivedAt().isBefore(before)) {
                if (kind == Kind.SEGMENT) {
                    archivedSegments.increment();
                }
                archived(stored.archivedAt());
                LOG.debugf("Archived %s of %s", name, database);
            }
            Files.deleteIfExists(file);
            return stored;
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | RuntimeException e) {
            LOG.warnf("WAL archive of %s: cannot store %s (retried): %s", database, name, Errors.describe(e));
            return null;
        }
    }

    private void archived(Instant at) {
        lastArchivedAt = at;
        lastArchivedMillis.set(at.toEpochMilli());
    }

    /** Moves the slot to the end of the newest segment such that it and every earlier one of the chain are stored. */
    private void advanceSlot(PgConnection db) {
        String to = WalNames.lsn((archivedThrough + 1) * segmentSize);
        try {
            // only forward (advancing backwards is an error), and never past the server's flush position (it caps)
            sql(databases.replicationConnection(database), "SELECT pg_replication_slot_advance(slot_name, '" + to
                    + "') FROM pg_replication_slots WHERE slot_name = '" + slotName + "' AND restart_lsn < '" + to + "'");
        } catch (RuntimeException e) {
            LOG.warnf("WAL archive of %s: cannot advance slot %s to %s (retried with the next segment): %s", database,
                    slotName, to, e.getMessage());
        }
    }

    /**
     * The RPO step: a heartbeat commit (H = its {@code now()}), then {@code L = pg_current_wal_insert_lsn()}; once
     * pg_receivewal wrote L (pg_stat_replication's write_lsn), the partial segment holding it is stored as a snapshot
     * (endLsn L, reachableUntil H) and older snapshots of it removed. Then the continuity checks, and the state record.
     */
    private void tick(PgConnection db, PgConnection replication, Duration interval) {
        try {
            snapshot(db, interval);
        } catch (RuntimeException e) {
            LOG.warnf("WAL archive of %s: no partial snapshot this time: %s", database, Errors.describe(e));
        }
        try {
            continuity(db, replication);
        } catch (RuntimeException e) {
            LOG.warnf("WAL archive of %s: continuity check failed: %s", database, Errors.describe(e));
        }
        resolveProblems();
        recordState();
    }

    private void snapshot(PgConnection db, Duration interval) {
        String[] beat = sql(db, "SELECT pg_current_xact_id(), extract(epoch FROM now())").split("\\|");
        Instant h = epoch(beat[1]);
        long l = WalNames.lsn(sql(db, "SELECT pg_current_wal_insert_lsn()"));
        long seg = WalNames.segmentOf(l - 1, segmentSize);
        long deadline = System.nanoTime() + Duration.ofSeconds(Math.max(5, Math.min(30, interval.toSeconds()))).toNanos();
        String written;
        while (true) {
            written = sql(db, "SELECT write_lsn FROM pg_stat_replication WHERE application_name = '" + applicationName
                    + "' ORDER BY backend_start DESC LIMIT 1");
            if (!written.isEmpty() && Long.compareUnsigned(WalNames.lsn(written), l) >= 0) {
                break;
            }
            if (System.nanoTime() - deadline >= 0 || stopRequested || leaseLost) {
                throw new IllegalStateException("pg_receivewal has not written " + WalNames.lsn(l) + " yet (write_lsn "
                        + (written.isEmpty() ? "not visible: is pg_receivewal connected, and may the database's user "
                        + "read pg_stat_replication (pg_read_all_stats)?" : written) + ")");
            }
            pause(Duration.ofMillis(200));
        }
        heartbeats.merge(seg, h, (a, b) -> a.isAfter(b) ? a : b);
        if (seg <= archivedThrough) {
            reachableUntil = h; // its segment is archived complete already
            return;
        }
        Optional<String> partial = spoolFiles().stream().filter(f -> PARTIAL.matcher(f).matches())
                .filter(f -> number(f.substring(0, 24)) == seg).max(Comparator.naturalOrder());
        if (partial.isEmpty()) {
            return; // complete meanwhile: uploaded with this heartbeat
        }
        String name = partial.get().substring(0, 24);
        WalObject stored;
        try (InputStream in = Files.newInputStream(spool.resolve(partial.get()))) {
            stored = archive.put(database, Kind.PARTIAL, name, in, backups.codec(), backups.encrypts(), WalNames.lsn(l),
                    h, systemIdentifier);
        } catch (NoSuchFileException e) {
            return; // complete meanwhile
        } catch (IOException e) {
            throw new IllegalStateException("Cannot store a snapshot of " + name + ": " + e.getMessage(), e);
        }
        archived(stored.archivedAt());
        reachableUntil = h;
        for (WalObject older : archive.snapshots(database, name)) {
            if (!older.key().equals(stored.key())) {
                try {
                    archive.delete(older);
                } catch (IOException e) {
                    LOG.warnf("Cannot remove the superseded snapshot %s: %s", older.key(), e.getMessage());
                }
            }
        }
    }

    /** The slot (gone or lost), and the server's timeline (its history file archived). */
    private void continuity(PgConnection db, PgConnection replication) {
        Optional<String[]> slot = slot(db);
        if (slot.isEmpty()) {
            retainedBytes.set(-1);
            problem(ProblemKind.SLOT_LOST, "the replication slot '" + slotName + "' is gone (dropped?): the server "
                    + "no longer keeps WAL the archive does not hold yet; it was created again");
            createSlot(replication);
            startBaseBackup();
        } else if (lost(slot.get())) {
            retainedBytes.set(-1);
            problem(ProblemKind.SLOT_LOST, "the replication slot '" + slotName + "' is lost (wal_status "
                    + slot.get()[1] + "; max_slot_wal_keep_size exceeded?): it was created again");
            sql(replication, "SELECT pg_drop_replication_slot('" + slotName + "')");
            createSlot(replication);
            startBaseBackup();
        } else {
            retained(slot.get());
        }
        timeline = Integer.parseInt(identify(replication)[1]);
        String history = WalNames.historyName(timeline);
        boolean missing = timeline > 1 && !Files.exists(spool.resolve(history))
                && archive.find(database, history, Kind.HISTORY).isEmpty();
        // pg_receivewal fetches a history file when it reaches the end of the previous timeline, which may be a
        // moment after the server switched: missing at two checks in a row is a problem
        if (missing && history.equals(historyMissing)) {
            boolean known = problems.stream().anyMatch(p -> p.open() && p.kind() == ProblemKind.UNKNOWN_TIMELINE
                    && p.reason().contains(history));
            if (!known) {
                problem(ProblemKind.UNKNOWN_TIMELINE, "the server is on timeline " + timeline + " but the archive has no "
                        + history);
                startBaseBackup();
            }
        }
        historyMissing = missing ? history : null;
    }

    /**
     * Open problems are resolved once a base backup of the current chain (its start at or after the chain's start)
     * has all its WAL archived, and that base backup started after the problem was detected, or the chain itself began
     * after it (a base backup may start a moment before the problem that its new chain answers is detected:
     * pg_receivewal reports removed WAL only when it fails). An open problem that no base backup answers yet, complete
     * or not, gets a new one ({@link #baseBackupForOpenProblems}).
     */
    private void resolveProblems() {
        List<Problem> open = problems.stream().filter(Problem::open).toList();
        if (open.isEmpty() || archivedThrough < 0) {
            return;
        }
        List<BaseBackupMetadata> bases;
        try {
            bases = catalog.listBase(database);
        } catch (RuntimeException e) {
            return;
        }
        for (BaseBackupMetadata b : bases) {
            boolean walArchived = WalNames.segmentOf(WalNames.lsn(b.endLsn()) - 1, segmentSize) <= archivedThrough;
            if (!walArchived) {
                continue;
            }
            synchronized (problems) {
                for (int i = 0; i < problems.size(); i++) {
                    Problem p = problems.get(i);
                    if (p.open() && answers(b, p)) {
                        problems.set(i, new Problem(p.kind(), p.reason(), p.detectedAt(), Instant.now()));
                        LOG.infof("WAL archive of %s: resolved by base backup %s (a new chain): %s", database, b.id(),
                                p.reason());
                    }
                }
                gap.set(problems.stream().anyMatch(Problem::open) ? 1 : 0);
            }
        }
        baseBackupForOpenProblems(bases);
    }

    /**
     * A base backup for the open problems that none of {@code bases} answers: the one started when a problem was
     * detected may have been refused (a base backup that began before the problem was running) or have failed, and
     * without a new one the alert would stay raised until the scheduled base backup. Not while the base backup this
     * receiver started last is running; after it failed, not before {@link #BASE_RETRY_AFTER_FAILURE}.
     */
    private void baseBackupForOpenProblems(List<BaseBackupMetadata> bases) {
        boolean unanswered = problems.stream().filter(Problem::open)
                .anyMatch(p -> bases.stream().noneMatch(b -> answers(b, p)));
        BackupJob last = chainBase;
        if (!unanswered || last != null && !last.state().done()) {
            return;
        }
        if (last != null && last.state() != JobState.COMPLETED && last.finishedAt() != null
                && last.finishedAt().plus(BASE_RETRY_AFTER_FAILURE).isAfter(Instant.now())) {
            return;
        }
        LOG.infof("WAL archive of %s: no base backup of the current chain answers its open problem yet", database);
        startBaseBackup();
    }

    /** Whether base backup {@code b} starts a chain after problem {@code p}; see {@link #resolveProblems}. */
    private boolean answers(BaseBackupMetadata b, Problem p) {
        String start = chainStartLsn;
        if (start == null || WalNames.lsn(b.startLsn()) < WalNames.lsn(start)) {
            return false; // before the current chain: its WAL is not all in the archive
        }
        Instant since = chainStartedAt;
        return b.startedAt().isAfter(p.detectedAt()) || since != null && since.isAfter(p.detectedAt());
    }

    private void problem(ProblemKind kind, String reason) {
        LOG.errorf("WAL archive of %s: %s", database, reason);
        synchronized (problems) {
            problems.add(new Problem(kind, reason, Instant.now(), null));
            while (problems.size() > PROBLEMS_KEPT) {
                problems.remove(0);
            }
        }
        recordState();
        gap.set(1);
    }

    /** A base backup now, so that a new restorable chain begins (one already running does as well). */
    private void startBaseBackup() {
        try {
            BackupJob job = backups.start(database, BackupKind.BASE, Trigger.SCHEDULED, Map.of(STARTED_BY, "wal-archive"));
            chainBase = job;
            LOG.infof("WAL archive of %s: base backup %s started to begin a new chain", database, job.id());
        } catch (BackupInProgress e) {
            LOG.infof("WAL archive of %s: a base backup is running already: %s", database, e.getMessage());
        } catch (RuntimeException e) {
            LOG.errorf("WAL archive of %s: cannot start a base backup for a new chain: %s", database, e.getMessage());
        }
    }

    /** Writes the state record (signed, versioned); a failure is logged. */
    void recordState() {
        List<Problem> copy;
        synchronized (problems) {
            copy = List.copyOf(problems);
        }
        WalArchiveState state = new WalArchiveState(WalArchiveState.SCHEMA_VERSION, database, up.get() == 1, instance,
                timeline, lastSegment, lastArchivedAt, reachableUntil, slotName,
                retainedBytes.get() < 0 ? null : retainedBytes.get(), chainStartLsn, copy, Instant.now());
        try {
            catalog.recordWalState(state);
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot record the WAL archive state of %s: %s", database, e.getMessage());
        }
    }

    private Optional<String[]> slot(PgConnection db) {
        String row = sql(db, "SELECT coalesce(restart_lsn::text, ''), coalesce(wal_status, ''), "
                + "coalesce((pg_current_wal_lsn() - restart_lsn)::bigint::text, '') FROM pg_replication_slots "
                + "WHERE slot_name = '" + slotName + "'");
        return row.isEmpty() ? Optional.empty() : Optional.of(row.split("\\|", -1));
    }

    private void retained(String[] slot) {
        retainedBytes.set(slot[2].isEmpty() ? -1 : Long.parseLong(slot[2]));
    }

    private static boolean lost(String[] slot) {
        return slot[0].isEmpty() || "lost".equals(slot[1]);
    }

    private void createSlot(PgConnection replication) {
        // reserves WAL at once (from the last checkpoint's redo point), so nothing after it is removed meanwhile
        sql(replication, "SELECT pg_create_physical_replication_slot('" + slotName + "', true) WHERE NOT EXISTS "
                + "(SELECT 1 FROM pg_replication_slots WHERE slot_name = '" + slotName + "')");
        LOG.infof("WAL archive of %s: replication slot %s created", database, slotName);
    }

    private String[] identify(PgConnection replication) {
        String[] fields = pgTools.replicationCommand(pgTools.newest("psql"), replication, "IDENTIFY_SYSTEM").strip()
                .split("\\|");
        if (fields.length < 3 || !fields[0].matches("\\d+") || !fields[1].matches("\\d+")) {
            throw new Errors.PgToolFailed("unexpected answer to IDENTIFY_SYSTEM: " + String.join("|", fields));
        }
        return fields;
    }

    private String sql(PgConnection connection, String sql) {
        return pgTools.psqlQuery(pgTools.newest("psql"), connection, sql).strip();
    }

    private static Instant epoch(String seconds) {
        BigDecimal s = new BigDecimal(seconds.strip());
        return Instant.ofEpochSecond(0, s.movePointRight(9).longValueExact());
    }

    private long number(String name) {
        return WalNames.segmentNumber(name.substring(0, 24), segmentSize);
    }

    private List<String> spoolFiles() {
        if (!Files.isDirectory(spool)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(spool)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new IllegalStateException("Cannot list the WAL spool " + spool + ": " + e.getMessage(), e);
        }
    }

    private boolean spoolHas(long number) {
        return spoolFiles().stream().anyMatch(f -> (SEGMENT.matcher(f).matches() || PARTIAL.matcher(f).matches())
                && number(f.substring(0, 24)) == number);
    }

    private void delete(String name) {
        try {
            Files.deleteIfExists(spool.resolve(name));
        } catch (IOException e) {
            LOG.warnf("Cannot delete %s from the WAL spool: %s", name, e.getMessage());
        }
    }

    /** Removes every WAL file from the spool: a new chain starts at the server's position. */
    private void clearSpool() {
        for (String f : spoolFiles()) {
            if (SEGMENT.matcher(f).matches() || PARTIAL.matcher(f).matches()) {
                delete(f);
            }
        }
    }
}
