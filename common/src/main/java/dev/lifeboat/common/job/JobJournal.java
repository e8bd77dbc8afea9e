package dev.lifeboat.common.job;

import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.jboss.logging.Logger;

/**
 * Durable job records of one kind, in the store under {@code jobs/<kind>/<job id>/<version>.json}, so a job can be
 * read from any replica and after a restart, and one whose replica died is seen as {@link JobState#ABANDONED}.
 * The store never overwrites an object, so each report is a new version (millisecond stamp + sequence, sorting in
 * write order) and the previous one is deleted after it; a reader takes the last. Running jobs are reported at
 * most every {@code interval} (their heartbeat) and at once on a state change ({@link #report}); the final record is
 * written when the job ends. A failing store only costs records: the job itself goes on.
 */
public final class JobJournal implements AutoCloseable {
    /** Where job records live in the store. */
    public static final String PREFIX = "jobs/";
    private static final Logger LOG = Logger.getLogger(JobJournal.class);

    private final ObjectStore store;
    private final String kind;
    private final String instance;
    private final Duration interval;
    private final Duration silence;
    private final Map<String, Tracked> tracked = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();
    private final ScheduledExecutorService heartbeat;

    private static final class Tracked {
        final Supplier<JobRecord> snapshot;
        String lastKey;
        long lastWrite;

        Tracked(Supplier<JobRecord> snapshot) {
            this.snapshot = snapshot;
        }
    }

    /**
     * @param instance this replica (the holder named in the records)
     * @param interval how often running jobs are reported (their heartbeat)
     * @param silence  how long a holder may be silent before its unfinished job counts as abandoned
     */
    public JobJournal(ObjectStore store, String kind, String instance, Duration interval, Duration silence) {
        this.store = store;
        this.kind = kind;
        this.instance = instance;
        this.interval = interval;
        this.silence = silence;
        this.heartbeat = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon()
                .name("job-heartbeat-" + kind).factory());
        heartbeat.scheduleWithFixedDelay(this::beat, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** This replica, as named in the records. */
    public String instance() {
        return instance;
    }

    /** How long a silent holder's job stays "running" before it is judged abandoned. */
    public Duration silence() {
        return silence;
    }

    /** Starts reporting a job: written now, then every interval until {@link #end}. */
    public void track(String id, Supplier<JobRecord> snapshot) {
        Tracked t = new Tracked(snapshot);
        tracked.put(id, t);
        write(id, t, true);
    }

    /** Reports a change of a tracked job (a step began or ended) unless one was written less than an interval ago. */
    public void report(String id) {
        Tracked t = tracked.get(id);
        if (t != null) {
            write(id, t, false);
        }
    }

    /** Writes the final record of a tracked job and stops reporting it. */
    public void end(String id) {
        Tracked t = tracked.remove(id);
        if (t != null) {
            write(id, t, true);
        }
    }

    /** Writes {@code record} as the newest version of its job (a record this replica did not track: a takeover). */
    public void put(JobRecord record) {
        try {
            String previous = last(record.id()).orElse(null);
            String key = nextKey(record.id());
            store.putIfAbsent(key, Json.write(record));
            if (previous != null) {
                store.delete(previous);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot write the record of %s %s: %s", kind, record.id(), e.getMessage());
        }
    }

    /** The stored record of job {@code id}, judged (a silent holder's unfinished job is ABANDONED). */
    public Optional<JobRecord> read(String id) {
        return read(id, null);
    }

    /**
     * The stored record of job {@code id}, judged; {@code listed} is the key of its newest version as a listing just
     * showed it (read without listing again), or null. A version replaced since is looked up again.
     */
    private Optional<JobRecord> read(String id, String listed) {
        for (int attempt = 0; ; attempt++) {
            try {
                Optional<String> key = attempt == 0 && listed != null ? Optional.of(listed) : last(id);
                if (key.isEmpty()) {
                    return Optional.empty();
                }
                try (InputStream in = store.open(key.get())) {
                    return Optional.of(Json.read(in.readAllBytes(), JobRecord.class).judged(Instant.now(), silence));
                }
            } catch (ObjectStore.ObjectNotFoundException e) {
                if (attempt >= 3) { // replaced by a newer version between the listing and the read, again and again
                    LOG.warnf("Cannot read the record of %s %s: it keeps changing", kind, id);
                    return Optional.empty();
                }
            } catch (IOException e) {
                LOG.warnf("Cannot read the record of %s %s: %s", kind, id, e.getMessage());
                return Optional.empty();
            }
        }
    }

    /**
     * The stored records of jobs whose id starts with {@code idPrefix}, judged, in id order: one listing, then one
     * read per job (its newest version, as listed).
     */
    public List<JobRecord> list(String idPrefix) throws IOException {
        List<JobRecord> out = new ArrayList<>();
        for (Map.Entry<String, String> e : newest(idPrefix).entrySet()) {
            read(e.getKey(), PREFIX + kind + "/" + e.getKey() + "/" + e.getValue()).ifPresent(out::add);
        }
        return out;
    }

    /** Job id -> name of its newest stored version, for the jobs whose id starts with {@code idPrefix}: one listing. */
    private Map<String, String> newest(String idPrefix) throws IOException {
        String base = PREFIX + kind + "/";
        Map<String, String> newest = new java.util.TreeMap<>();
        for (ObjectInfo o : store.list(base + idPrefix)) {
            String rest = o.key().substring(base.length());
            int slash = rest.indexOf('/');
            if (slash > 0) {
                newest.merge(rest.substring(0, slash), rest.substring(slash + 1), (a, b) -> a.compareTo(b) >= 0 ? a : b);
            }
        }
        return newest;
    }

    /**
     * The jobs queued or running now, on any replica, whose id starts with {@code idPrefix}, in id order: one listing,
     * and only the records written within {@code silence} are read (the version key carries when it was written; an
     * older one is of a job that ended or whose holder went silent, which is judged ABANDONED, not running).
     */
    public List<JobRecord> active(String idPrefix) throws IOException {
        long since = System.currentTimeMillis() - silence.toMillis();
        List<JobRecord> out = new ArrayList<>();
        for (Map.Entry<String, String> e : newest(idPrefix).entrySet()) {
            String version = e.getValue();
            long written;
            try {
                written = Long.parseLong(version.substring(0, Math.min(13, version.length())));
            } catch (NumberFormatException ex) {
                continue; // not a version this journal wrote
            }
            if (written >= since) {
                read(e.getKey(), PREFIX + kind + "/" + e.getKey() + "/" + version).filter(r -> !r.state().done())
                        .ifPresent(out::add);
            }
        }
        return out;
    }

    /**
     * Removes the records of jobs that ended (or were abandoned) before {@code before}, and leftover older versions;
     * returns the ids removed. Records of running jobs stay.
     */
    public List<String> prune(Instant before) throws IOException {
        List<String> removed = new ArrayList<>();
        for (JobRecord r : list("")) {
            Instant last = r.finishedAt() != null ? r.finishedAt() : r.heartbeat();
            if (r.state().done() && last != null && last.isBefore(before)) {
                delete(r.id());
                removed.add(r.id());
            }
        }
        return removed;
    }

    /** Removes every stored version of job {@code id}. */
    public void delete(String id) throws IOException {
        for (ObjectInfo o : store.list(PREFIX + kind + "/" + id + "/")) {
            store.delete(o.key());
        }
    }

    private void beat() {
        tracked.forEach((id, t) -> write(id, t, true));
    }

    private void write(String id, Tracked t, boolean force) {
        synchronized (t) {
            long now = System.nanoTime();
            if (!force && t.lastKey != null && now - t.lastWrite < interval.toNanos()) {
                return;
            }
            try {
                String key = nextKey(id);
                store.putIfAbsent(key, Json.write(t.snapshot.get()));
                if (t.lastKey != null) {
                    store.delete(t.lastKey);
                }
                t.lastKey = key;
                t.lastWrite = now;
            } catch (IOException | RuntimeException e) {
                LOG.warnf("Cannot write the record of %s %s (the job goes on): %s", kind, id, e.getMessage());
            }
        }
    }

    private String nextKey(String id) {
        return String.format("%s%s/%s/%013d-%06d-%s.json", PREFIX, kind, id, System.currentTimeMillis(),
                sequence.incrementAndGet() % 1_000_000, instance.replaceAll("[^A-Za-z0-9.-]", "-"));
    }

    private Optional<String> last(String id) throws IOException {
        List<ObjectInfo> versions = store.list(PREFIX + kind + "/" + id + "/");
        return versions.isEmpty() ? Optional.empty() : Optional.of(versions.get(versions.size() - 1).key());
    }

    @Override
    public void close() {
        heartbeat.shutdownNow();
    }
}
