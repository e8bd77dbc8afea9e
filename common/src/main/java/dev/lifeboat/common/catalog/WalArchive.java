package dev.lifeboat.common.catalog;

import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.pipeline.WriteChain;
import dev.lifeboat.common.store.BucketLifecycle;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import dev.lifeboat.common.store.ObjectStore.PendingObject;
import dev.lifeboat.common.wal.WalNames;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * A database's WAL archive in the store (point-in-time recovery), the layout backup-service writes and
 * restore-service and verify-service read:
 * <pre>
 * &lt;prefix&gt;/wal/&lt;TTTTTTTT&gt;/&lt;name&gt;&lt;suffix&gt;        the WAL file through the write chain (zstd, then age)
 * &lt;prefix&gt;/wal/&lt;TTTTTTTT&gt;/&lt;name&gt;&lt;suffix&gt;.json   its {@link WalObject} record, signed, written last
 * </pre>
 * {@code TTTTTTTT} is the timeline in hex, {@code name} a segment ({@code 000000010000000000000003}), a history file
 * ({@code 00000002.history}) or a partial snapshot ({@code 000000010000000000000003.partial-<epoch ms>}), and
 * {@code suffix} the codec's ({@code .zst.age}), which names how to read it. Data objects are created conditionally:
 * an archived file is never replaced. A file counts as archived once its record exists; a data object without one
 * is what a writer that died midway left, and the next {@link #put} of that name replaces it.
 */
@Singleton
public class WalArchive {
    private static final Logger LOG = Logger.getLogger(WalArchive.class);
    private static final String RECORD = ".json";
    private static final String PARTIAL = ".partial-";
    /** The millisecond stamp of the last snapshot key: each new one is later, even within one millisecond. */
    private static final java.util.concurrent.atomic.AtomicLong SNAPSHOT_STAMP = new java.util.concurrent.atomic.AtomicLong();

    private final ObjectStore store;
    private final BackupCatalog catalog;

    public WalArchive(ObjectStore store, BackupCatalog catalog) {
        this.store = store;
        this.catalog = catalog;
    }

    /** Folder of a database's WAL archive: {@code <prefix>/wal/}. */
    public String prefix(String label) {
        return catalog.prefix(label) + "/wal/";
    }

    /**
     * Archives one WAL file: streams {@code raw} through {@code codec} into its data object (never a temporary file),
     * then commits its record. For {@link Kind#SEGMENT} and {@link Kind#HISTORY}, a name already archived is not
     * written again: its existing record is returned (a receiver restarted after a crash hands over segments it had
     * stored). Each {@link Kind#PARTIAL} snapshot is a new object.
     *
     * @param name           the file's name as PostgreSQL names it (for a snapshot, the segment's)
     * @param endLsn         for a snapshot: the position known to be in it; null otherwise
     * @param reachableUntil see {@link WalObject#reachableUntil()}; may be null
     */
    public WalObject put(String label, Kind kind, String name, InputStream raw, Codec codec, boolean encrypted,
                         String endLsn, Instant reachableUntil, String systemIdentifier) throws IOException {
        boolean segmentName = WalNames.isSegment(name);
        if (kind == Kind.HISTORY ? !WalNames.isHistory(name) : !segmentName) {
            throw new IllegalArgumentException("Not a WAL " + kind.name().toLowerCase(Locale.ROOT) + " name: " + name);
        }
        if (kind == Kind.PARTIAL) {
            WalNames.lsn(endLsn);
        }
        if (kind != Kind.PARTIAL) {
            Optional<WalObject> existing = find(label, name, kind);
            if (existing.isPresent()) {
                return existing.get();
            }
        }
        Instant now = Instant.now();
        String fileName = kind == Kind.PARTIAL ? name + PARTIAL + String.format(Locale.ROOT, "%013d",
                SNAPSHOT_STAMP.updateAndGet(last -> Math.max(last + 1, now.toEpochMilli()))) : name;
        String key = prefix(label) + WalNames.timelineHex(WalNames.timeline(name)) + "/" + fileName + codec.suffix();
        Measure stored = new Measure();
        WriteChain chain = null;
        try (PendingObject pending = create(key)) {
            chain = new WriteChain(pending, codec, null, stored);
            chain.transferFrom(raw);
            chain.finish();
            pending.commit();
        } finally {
            if (chain != null) {
                chain.discard();
            }
        }
        WalObject record = new WalObject(WalObject.SCHEMA_VERSION, label, kind, WalNames.timeline(name), name, key,
                chain.rawBytes(), stored.bytes(), stored.sha256Hex(), encrypted, Instant.now(),
                kind == Kind.PARTIAL ? endLsn : null, reachableUntil, systemIdentifier);
        try {
            store.putIfAbsent(key + RECORD, catalog.integrity().sign(Json.write(record)));
        } catch (IOException | RuntimeException e) {
            try {
                store.delete(key);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        return record;
    }

    /** A conditional create; a data object without a record (a writer died before its record) is replaced. */
    private PendingObject create(String key) throws IOException {
        if (store.stat(key).isPresent() && store.stat(key + RECORD).isEmpty()) {
            LOG.infof("Replacing %s: its writer stopped before its record", store.locate(key));
            store.delete(key);
        }
        return store.create(key, BucketLifecycle.DATA_TAGS);
    }

    /**
     * Every archived WAL file of a database with a trusted record, ordered by timeline, then name, then (snapshots of
     * one segment) oldest first. One listing of {@code <prefix>/wal/}, then one read per record.
     */
    public List<WalObject> list(String label) {
        String folder = prefix(label);
        List<WalObject> out = new ArrayList<>();
        try {
            for (ObjectInfo info : store.list(folder)) {
                if (info.key().endsWith(RECORD)) {
                    read(label, info.key()).ifPresent(out::add);
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot list the WAL archive of '" + label + "': " + e.getMessage(), e);
        }
        out.sort(ORDER);
        return out;
    }

    /** Timeline, name, kind (a history file before segments), then archive time. */
    public static final Comparator<WalObject> ORDER = Comparator.comparingInt(WalObject::timeline)
            .thenComparing(o -> o.kind() == Kind.HISTORY ? 0 : 1)
            .thenComparing(WalObject::name)
            .thenComparing(o -> o.kind() == Kind.PARTIAL ? 0 : 1)
            .thenComparing(WalObject::archivedAt);

    /** The archived file {@code name} of {@code kind} ({@link Kind#PARTIAL}: its newest snapshot), if any. */
    public Optional<WalObject> find(String label, String name, Kind kind) {
        List<WalObject> found = named(label, name, kind, true);
        return found.isEmpty() ? Optional.empty() : Optional.of(found.get(0));
    }

    /** Every snapshot ({@link Kind#PARTIAL}) of segment {@code name}, oldest first (the receiver removes superseded ones). */
    public List<WalObject> snapshots(String label, String name) {
        return named(label, name, Kind.PARTIAL, false).reversed();
    }

    /** The trusted records of {@code name} of {@code kind}, newest first; with {@code first}, only the newest. */
    private List<WalObject> named(String label, String name, Kind kind, boolean first) {
        if (kind == Kind.HISTORY ? !WalNames.isHistory(name) : !WalNames.isSegment(name)) {
            return List.of();
        }
        String folder = prefix(label) + WalNames.timelineHex(WalNames.timeline(name)) + "/" + name;
        try {
            List<String> keys = store.list(folder).stream().map(ObjectInfo::key)
                    .filter(k -> k.endsWith(RECORD))
                    .filter(k -> (kind == Kind.PARTIAL) == k.substring(folder.length()).startsWith(PARTIAL))
                    .sorted(Comparator.reverseOrder()).toList();
            List<WalObject> out = new ArrayList<>();
            for (String key : keys) {
                Optional<WalObject> found = read(label, key).filter(o -> o.kind() == kind && o.name().equals(name));
                if (found.isPresent()) {
                    out.add(found.get());
                    if (first) {
                        break;
                    }
                }
            }
            return out;
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read the WAL archive at " + folder + ": " + e.getMessage(), e);
        }
    }

    private Optional<WalObject> read(String label, String recordKey) {
        try (InputStream in = store.open(recordKey)) {
            byte[] bytes = in.readAllBytes();
            WalObject o = Json.read(bytes, WalObject.class);
            boolean inPlace = label.equals(o.database()) && o.key() != null && recordKey.equals(o.key() + RECORD)
                    && o.key().startsWith(prefix(label) + WalNames.timelineHex(o.timeline()) + "/" + o.name());
            if (catalog.integrity().check(bytes) == Integrity.Trust.UNTRUSTED || !inPlace) {
                catalog.untrustedSeen(label, recordKey);
                return Optional.empty();
            }
            return Optional.of(o);
        } catch (ObjectStore.ObjectNotFoundException e) {
            return Optional.empty(); // removed meanwhile (a superseded snapshot)
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            LOG.warnf("Ignoring unreadable WAL record %s: %s", recordKey, e.getOriginalMessage());
            return Optional.empty();
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read " + recordKey + ": " + e.getMessage(), e);
        }
    }

    /** An archived file as the read chain checks it (size, SHA-256, age, decompression). */
    public static ReadChain.StoredObject stored(WalObject o) {
        String what = switch (o.kind()) {
            case SEGMENT -> "WAL segment " + o.name();
            case PARTIAL -> "partial WAL segment " + o.name() + " (snapshot of " + o.archivedAt() + ")";
            case HISTORY -> "timeline history " + o.name();
        };
        return new ReadChain.StoredObject(o.key().substring(o.key().lastIndexOf('/') + 1), what, o.key(),
                o.storedSizeBytes(), o.sha256(), o.rawSizeBytes(), o.encrypted());
    }

    /** Removes an archived file: its record first (it stops counting), then its data. */
    public void delete(WalObject o) throws IOException {
        store.delete(o.key() + RECORD);
        store.delete(o.key());
    }
}
