package dev.lifeboat.common.catalog;

import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.error.Errors.UntrustedBackup;
import dev.lifeboat.common.metrics.Gauges;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.WalArchiveState;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The completed backups, as the store knows them, and where their objects live (DESIGN §2): a backup exists
 * when its metadata object does (the commit marker); data objects without metadata are incomplete and never
 * listed. Also the verification records verify-service keeps beside them, and what they prove. Shared by every
 * service that reads backups, so the object layout is written down once.
 */
public class BackupCatalog {
    private static final Logger LOG = Logger.getLogger(BackupCatalog.class);
    /** Newest first: by start time, then id (the _N suffix orders backups of the same second). */
    public static final Comparator<BackupMetadata> NEWEST_FIRST = Comparator.comparing(BackupMetadata::startedAt)
            .thenComparing(BackupMetadata::id).reversed();
    private static final Pattern SEQUENCE = Pattern.compile("_backup_\\d{8}_\\d{6}_(\\d+)\\.");

    private final ObjectStore store;
    private final Function<String, String> prefixOf;
    private final Integrity integrity;
    /** Verification records by key, with their trust: write-once, so each is read from the store once. */
    private final Map<String, Stored<VerificationRecord>> records = new ConcurrentHashMap<>();
    /** Keys of records that could not be parsed, so each is reported once. */
    private final Set<String> unreadable = ConcurrentHashMap.newKeySet();
    /** Metadata objects that cannot be parsed, by database label, then key; as of the last read of each. */
    private final Map<String, Map<String, DamagedMetadata>> damaged = new ConcurrentHashMap<>();
    /** Keys of untrusted metadata and records seen since start-up, by database label. */
    private final Map<String, Set<String>> untrusted = new ConcurrentHashMap<>();
    private final MeterRegistry meters;
    /** Databases whose gauge is registered. */
    private final Set<String> gauged = ConcurrentHashMap.newKeySet();

    /**
     * A metadata object (the commit marker of a backup) that cannot be parsed: its backup is shown as damaged, never
     * restored, verified, chosen as latest or deleted by retention, until someone inspects and repairs or deletes it.
     *
     * @param database the database label it was found under
     * @param key      the metadata object's key
     * @param id       the backup id its name says (null when the name is not a backup id)
     * @param error    why it cannot be parsed
     */
    @io.quarkus.runtime.annotations.RegisterForReflection
    public record DamagedMetadata(String database, String key, String id, String error) {
    }

    /** A document read from the store and what its integrity tag says. */
    private record Stored<T>(T value, Integrity.Trust trust) {
        boolean usable() {
            return trust != Integrity.Trust.UNTRUSTED;
        }
    }

    /**
     * @param prefixOf  the key prefix of a database label's backups, without trailing slash
     *                  ({@code database/<label>} unless configured otherwise)
     * @param integrity signs what this catalog writes and checks what it reads
     */
    public BackupCatalog(ObjectStore store, Function<String, String> prefixOf, Integrity integrity) {
        this(store, prefixOf, integrity, null);
    }

    /**
     * @param meters where {@code lifeboat_untrusted_records{database}} is registered, per database as soon as it is
     *               known (null: no metric)
     */
    public BackupCatalog(ObjectStore store, Function<String, String> prefixOf, Integrity integrity,
                         MeterRegistry meters) {
        this.store = store;
        this.prefixOf = prefixOf;
        this.integrity = integrity;
        this.meters = meters;
    }

    /** A catalog that neither signs nor checks integrity tags. */
    public BackupCatalog(ObjectStore store, Function<String, String> prefixOf) {
        this(store, prefixOf, Integrity.none());
    }

    /** Registers the untrusted-records gauge of a database (once; at start-up for the configured ones). */
    public void trackUntrusted(String label) {
        if (meters != null && gauged.add(label)) {
            Gauges.register(meters, "lifeboat.untrusted.records", label, this,
                    c -> c.untrustedCount(label), "Metadata objects and verification records of the database without "
                            + "a valid integrity tag, seen since start-up; they are ignored (never latest, restored or "
                            + "verified)");
        }
    }

    /** Whether records are signed and checked. */
    public boolean integrityEnabled() {
        return integrity.enabled();
    }

    /**
     * Commits a backup: writes its metadata (signed), the commit marker of DESIGN §2, after the data object. If that
     * fails the data object is removed, so nothing half-done is left.
     */
    public void commit(BackupMetadata metadata) throws IOException {
        commitRecord(metadataKey(metadata.database(), metadata.id()), metadata, metadata.key());
    }

    /** Writes {@code record} (signed) at {@code key} after its data object; if that fails, removes the data object. */
    private void commitRecord(String key, Object record, String dataKey) throws IOException {
        try {
            store.putIfAbsent(key, integrity.sign(Json.write(record)));
        } catch (IOException | RuntimeException e) {
            try {
                store.delete(dataKey);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /**
     * Stores a finished verification's record (signed) beside its backup, then keeps the newest
     * {@code historyPerLevel} records per backup and level, and always the newest passed full one (the proof), so
     * the daily checksum pass does not pile up records without end.
     */
    public void recordVerification(VerificationRecord record, int historyPerLevel) throws IOException {
        String label = record.database();
        store.putIfAbsent(verificationKey(label, record.backupId(), record.id()), integrity.sign(Json.write(record)));
        List<VerificationRecord> all = new ArrayList<>(verificationsOf(label, record.backupId()));
        all.sort(Comparator.comparing(VerificationRecord::finishedAt).reversed());
        VerificationRecord proof = all.stream().filter(VerificationRecord::provesRestorable).findFirst().orElse(null);
        Map<VerificationRecord.Level, Integer> kept = new java.util.EnumMap<>(VerificationRecord.Level.class);
        for (VerificationRecord r : all) {
            int n = kept.merge(r.level(), 1, Integer::sum);
            if (n > historyPerLevel && r != proof) {
                store.delete(verificationKey(label, record.backupId(), r.id()));
            }
        }
    }

    /**
     * Every key of a backup, in the order a delete must remove them: the metadata first (the backup leaves every
     * listing at once), then the data, then its verification records and its roles object. An interrupted delete
     * leaves only objects without metadata, which the janitor removes.
     */
    public List<String> deleteOrder(String label, String id) throws IOException {
        List<String> keys = new ArrayList<>(List.of(metadataKey(label, id), dataKey(label, id)));
        store.list(verificationsPrefix(label) + BackupIds.validate(id) + "/").forEach(o -> keys.add(o.key()));
        store.list(labelsPrefix(label) + id + "/").forEach(o -> keys.add(o.key()));
        keys.add(rolesKey(label, id));
        return keys;
    }

    /** Key of a backup's roles object (the globals pg_dumpall wrote beside it). */
    public String rolesKey(String label, String id) {
        return prefix(label) + "/roles/" + id;
    }

    /** Folder of a database's label sidecars: {@code <prefix>/labels/}. */
    public String labelsPrefix(String label) {
        return prefix(label) + "/labels/";
    }

    /**
     * Replaces a backup's labels. The metadata is write-once (the commit marker, never overwritten), so labels changed
     * after the backup live in a signed sidecar, {@code <prefix>/labels/<id>/<version>.json}, holding the complete
     * label set; each change writes a new version (write-once too, so a crash never leaves a backup without labels),
     * then removes the older ones. The newest trusted version wins over the metadata's labels.
     */
    public void setLabels(String label, String id, Map<String, String> labels) throws IOException {
        BackupIds.validate(id);
        String folder = labelsPrefix(label) + id + "/";
        List<String> older = store.list(folder).stream().map(ObjectInfo::key).sorted().toList();
        long version = Math.max(System.currentTimeMillis(), older.isEmpty() ? 0 : versionOf(older.get(older.size() - 1)) + 1);
        LabelSet doc = new LabelSet(id, label, new java.util.TreeMap<>(labels), Instant.now());
        store.putIfAbsent(folder + String.format("%015d", version) + ".json", integrity.sign(Json.write(doc)));
        for (String key : older) {
            store.delete(key);
        }
    }

    /** What a label sidecar holds: the backup's complete labels, as set at {@code setAt}. */
    @io.quarkus.runtime.annotations.RegisterForReflection
    public record LabelSet(String backupId, String database, Map<String, String> labels, Instant setAt) {
    }

    /**
     * The labels set after the fact (label sidecars) of a database's backups, by backup id: the newest trusted
     * version of each. A sidecar without a valid integrity tag, or naming another backup, is ignored and reported.
     */
    public Map<String, Map<String, String>> labelOverrides(String label) {
        return labelOverrides(label, labelsPrefix(label));
    }

    private Map<String, Map<String, String>> labelOverrides(String label, String listPrefix) {
        String base = labelsPrefix(label);
        Map<String, String> newest = new java.util.TreeMap<>();
        try {
            for (ObjectInfo info : store.list(listPrefix)) {
                String[] parts = info.key().substring(base.length()).split("/");
                if (parts.length == 2 && parts[1].endsWith(".json")) {
                    newest.merge(parts[0], info.key(), (a, b) -> a.compareTo(b) >= 0 ? a : b);
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot list label sidecars under " + base + ": " + e.getMessage(), e);
        }
        Map<String, Map<String, String>> out = new HashMap<>();
        newest.forEach((id, key) -> {
            try (InputStream in = store.open(key)) {
                byte[] bytes = in.readAllBytes();
                LabelSet doc = Json.read(bytes, LabelSet.class);
                if (integrity.check(bytes) == Integrity.Trust.UNTRUSTED || !id.equals(doc.backupId())
                        || doc.labels() == null) {
                    untrustedSeen(label, key);
                } else {
                    out.put(id, Map.copyOf(doc.labels()));
                }
            } catch (ObjectStore.ObjectNotFoundException e) {
                // replaced meanwhile: the next read sees the newer version
            } catch (com.fasterxml.jackson.core.JacksonException e) {
                LOG.warnf("Ignoring unreadable label sidecar %s: %s", key, e.getOriginalMessage());
            } catch (IOException e) {
                throw new StoreUnavailable("Cannot read " + key + ": " + e.getMessage(), e);
            }
        });
        return out;
    }

    /** A backup with its effective labels: the newest label sidecar's, else the metadata's. */
    public BackupMetadata withCurrentLabels(BackupMetadata m) {
        Map<String, String> set = labelOverrides(m.database(), labelsPrefix(m.database()) + m.id() + "/").get(m.id());
        return set == null ? m : m.withLabels(set);
    }

    private static long versionOf(String key) {
        String name = key.substring(key.lastIndexOf('/') + 1).replace(".json", "");
        try {
            return Long.parseLong(name);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** How many untrusted metadata objects and verification records of a database were seen since start-up. */
    public int untrustedCount(String label) {
        return untrusted.getOrDefault(label, Set.of()).size();
    }

    /** The default key prefix of a database's backups. */
    public static String defaultPrefix(String label) {
        return "database/" + label;
    }

    /**
     * Labels of the databases that have backups under the default layout ({@code database/<label>/metadata/}),
     * found by listing the store: databases backed up under a custom prefix are known only from configuration.
     */
    public Set<String> labelsInStore() {
        String base = "database/";
        Set<String> labels = new java.util.TreeSet<>();
        try {
            for (ObjectInfo info : store.list(base)) {
                String[] parts = info.key().substring(base.length()).split("/");
                // database/<label>/metadata/<label>_backup_....json
                if (parts.length == 3 && parts[1].equals("metadata") && parts[2].endsWith(".json")
                        && BackupIds.isLabel(parts[0]) && parts[2].startsWith(parts[0] + "_backup_")) {
                    labels.add(parts[0]);
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot list the store to find databases: " + e.getMessage(), e);
        }
        return labels;
    }

    /** Key prefix of the database's backups, without trailing slash. */
    public String prefix(String label) {
        return prefixOf.apply(label).replaceAll("/+$", "");
    }

    /** Data object key of a backup. */
    public String dataKey(String label, String id) {
        return prefix(label) + "/" + id;
    }

    /** Metadata object key of a backup (the commit marker). */
    public String metadataKey(String label, String id) {
        return prefix(label) + "/metadata/" + id + ".json";
    }

    /** Folder of a database's verification records: {@code <prefix>/verifications/}. */
    public String verificationsPrefix(String label) {
        return prefix(label) + "/verifications/";
    }

    /** Key of one verification record: {@code <prefix>/verifications/<backup id>/<verification id>.json}. */
    public String verificationKey(String label, String backupId, String verificationId) {
        return verificationsPrefix(label) + backupId + "/" + verificationId + ".json";
    }

    /** The verification records of a database, by backup id, each list oldest first. */
    public Map<String, List<VerificationRecord>> verifications(String label) {
        return readRecords(verificationsPrefix(label));
    }

    /** The verification records of one backup, oldest first. */
    public List<VerificationRecord> verificationsOf(String label, String backupId) {
        return readRecords(verificationsPrefix(label) + BackupIds.validate(backupId) + "/")
                .getOrDefault(backupId, List.of());
    }

    /**
     * Whether a backup's records prove it restorable: a passed full verification, and no verification that
     * failed after it (a later checksum failure means the stored object was damaged since).
     */
    public static boolean provenRestorable(List<VerificationRecord> records) {
        Optional<Instant> passed = records.stream().filter(VerificationRecord::provesRestorable)
                .map(VerificationRecord::finishedAt).max(Comparator.naturalOrder());
        return passed.isPresent() && records.stream().noneMatch(r -> r.result() == VerificationRecord.Result.FAILED
                && r.finishedAt().isAfter(passed.get()));
    }

    /**
     * Whether a backup's records prove it bad: a failed verification that no later passed verification of the same
     * or a higher level answers (a passing checksum says nothing against a failed full verification).
     */
    public static boolean provenBad(List<VerificationRecord> records) {
        return records.stream().filter(f -> f.result() == VerificationRecord.Result.FAILED).anyMatch(f ->
                records.stream().noneMatch(p -> p.result() == VerificationRecord.Result.PASSED
                        && p.level().compareTo(f.level()) >= 0 && p.finishedAt().isAfter(f.finishedAt())));
    }

    /** The completed backups of a database that are proven restorable, newest first. */
    public List<BackupMetadata> listVerified(String label) {
        Map<String, List<VerificationRecord>> byBackup = verifications(label);
        return list(label).stream().filter(b -> provenRestorable(byBackup.getOrDefault(b.id(), List.of()))).toList();
    }

    /** The newest backup of a database that is proven restorable. */
    public Optional<BackupMetadata> latestVerified(String label) {
        return listVerified(label).stream().findFirst();
    }

    private Map<String, List<VerificationRecord>> readRecords(String listPrefix) {
        String base = listPrefix.substring(0, listPrefix.indexOf("/verifications/") + "/verifications/".length());
        List<ObjectInfo> infos;
        try {
            infos = store.list(listPrefix);
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot list verification records under " + listPrefix + ": " + e.getMessage(), e);
        }
        Map<String, List<VerificationRecord>> out = new HashMap<>();
        Set<String> listed = new HashSet<>();
        for (ObjectInfo info : infos) {
            String[] parts = info.key().substring(base.length()).split("/");
            if (parts.length != 2 || !parts[1].endsWith(".json")) {
                continue;
            }
            listed.add(info.key());
            Stored<VerificationRecord> r = records.get(info.key());
            if (r == null) {
                r = readRecord(info.key());
                if (r == null) {
                    continue;
                }
                records.put(info.key(), r);
            }
            VerificationRecord v = r.value();
            boolean inPlace = parts[0].equals(v.backupId()) && parts[1].equals(v.id() + ".json");
            if (!r.usable() || !inPlace) {
                untrustedSeen(v.database(), info.key());
                continue;
            }
            if (v.finishedAt() != null && v.result() != null) {
                out.computeIfAbsent(parts[0], k -> new ArrayList<>()).add(v);
            }
        }
        records.keySet().removeIf(k -> k.startsWith(listPrefix) && !listed.contains(k));
        out.values().forEach(l -> l.sort(Comparator.comparing(VerificationRecord::finishedAt)));
        return out;
    }

    private Stored<VerificationRecord> readRecord(String key) {
        try (InputStream in = store.open(key)) {
            byte[] bytes = in.readAllBytes();
            return new Stored<>(Json.read(bytes, VerificationRecord.class), integrity.check(bytes));
        } catch (ObjectStore.ObjectNotFoundException e) {
            return null;
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            if (unreadable.add(key)) {
                LOG.warnf("Ignoring unreadable verification record %s: %s", key, e.getOriginalMessage());
            }
            return null;
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read " + key + ": " + e.getMessage(), e);
        }
    }

    /** The keys that sign and check records (for the other record kinds of this package). */
    Integrity integrity() {
        return integrity;
    }

    void untrustedSeen(String label, String key) {
        if (label != null && untrusted.computeIfAbsent(label, l -> ConcurrentHashMap.newKeySet()).add(key)) {
            trackUntrusted(label);
            LOG.warnf("UNTRUSTED: %s has no valid integrity tag (lifeboat.store.integrity-key-file); it is ignored", key);
        }
    }

    /** The completed, trusted backups of one database, newest first. */
    public List<BackupMetadata> list(String label) {
        return scan(label, true);
    }

    /**
     * Backups of a database whose metadata is UNTRUSTED (no valid integrity tag, or found under another backup's
     * name), newest first: listed so people see them, never restored, verified or chosen as latest.
     */
    public List<BackupMetadata> listUntrusted(String label) {
        return scan(label, false);
    }

    private List<BackupMetadata> scan(String label, boolean usable) {
        List<BackupMetadata> out = new ArrayList<>();
        List<String> keys = metadataKeys(label);
        for (String key : keys) {
            read(label, key).filter(m -> m.usable() == usable).ifPresent(m -> out.add(m.value()));
        }
        forgetDamagedExcept(label, keys);
        out.sort(NEWEST_FIRST);
        return out;
    }

    /**
     * The metadata objects of a database that cannot be parsed, by key: shown as damaged (with the parse error) in
     * the backup list and the status, rather than left out silently.
     */
    public List<DamagedMetadata> listDamaged(String label) {
        List<String> keys = metadataKeys(label);
        for (String key : keys) {
            read(label, key);
        }
        forgetDamagedExcept(label, keys);
        return damagedAsListed(label);
    }

    /**
     * The damaged metadata objects of a database as the last {@link #list}, {@link #listUntrusted} or
     * {@link #listDamaged} found them, without reading the store again (to follow a {@link #list} call).
     */
    public List<DamagedMetadata> damagedAsListed(String label) {
        return damaged.getOrDefault(label, Map.of()).values().stream()
                .sorted(Comparator.comparing(DamagedMetadata::key).reversed()).toList();
    }

    private void forgetDamagedExcept(String label, List<String> listed) {
        Map<String, DamagedMetadata> known = damaged.get(label);
        if (known != null) {
            known.keySet().retainAll(new HashSet<>(listed));
        }
    }

    /**
     * The newest completed, trusted backup of a database. Ids carry their start time, so only the newest metadata
     * objects are read, not all of them.
     */
    public Optional<BackupMetadata> latest(String label) {
        List<String> keys = metadataKeys(label);
        keys.sort(Comparator.comparing(BackupCatalog::idOrder).reversed());
        for (String key : keys) {
            Optional<Stored<BackupMetadata>> m = read(label, key);
            if (m.isPresent() && m.get().usable()) {
                return Optional.of(m.get().value());
            }
        }
        return Optional.empty();
    }

    /** Metadata object keys directly under the database's {@code metadata/} folder. */
    private List<String> metadataKeys(String label) {
        String metadataPrefix = prefix(label) + "/metadata/";
        try {
            List<String> keys = new ArrayList<>();
            for (ObjectInfo info : store.list(metadataPrefix)) {
                if (info.key().endsWith(".json") && info.key().indexOf('/', metadataPrefix.length()) < 0) {
                    keys.add(info.key());
                }
            }
            return keys;
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot list backups of '" + label + "': " + e.getMessage(), e);
        }
    }

    /** Sort key of a metadata key: the backup's start second, then its same-second sequence (_2, _3, ...). */
    private static String idOrder(String metadataKey) {
        String id = metadataKey.substring(metadataKey.lastIndexOf('/') + 1);
        Matcher m = SEQUENCE.matcher(id);
        long sequence = m.find() ? Long.parseLong(m.group(1)) : 1;
        return BackupIds.startedAt(id).map(Object::toString).orElse("") + String.format("#%06d", sequence);
    }

    /** A completed, trusted backup by id; the id is validated first ({@code InvalidBackupId}). */
    public Optional<BackupMetadata> find(String id) {
        return stored(id).filter(Stored::usable).map(Stored::value);
    }

    /**
     * A completed backup by id, else {@link BackupNotFound}; an UNTRUSTED one is refused with
     * {@link UntrustedBackup}, so it is never restored or verified.
     */
    public BackupMetadata get(String id) {
        Optional<Stored<BackupMetadata>> found = stored(id);
        if (found.isEmpty()) {
            String label = BackupIds.labelOf(id);
            DamagedMetadata d = damaged.getOrDefault(label, Map.of()).get(metadataKey(label, id));
            if (d != null) {
                throw new UntrustedBackup("Backup " + id + " is DAMAGED: its metadata object " + d.key() + " cannot be "
                        + "parsed (" + d.error() + "). It is never restored or verified; inspect it, then repair or delete it.");
            }
        }
        Stored<BackupMetadata> m = found.orElseThrow(() -> new BackupNotFound("No completed backup with id '"
                + id + "'."));
        if (!m.usable()) {
            throw new UntrustedBackup("Backup " + id + " is UNTRUSTED: its metadata has no valid integrity tag "
                    + "(lifeboat.store.integrity-key-file), so it was not written by Lifeboat with the configured key. "
                    + "It is never restored or verified; inspect and delete it.");
        }
        return m.value();
    }

    private Optional<Stored<BackupMetadata>> stored(String id) {
        String label = BackupIds.labelOf(BackupIds.validate(id));
        if (!BackupIds.isLabel(label)) {
            return Optional.empty();
        }
        return read(label, metadataKey(label, id));
    }

    /** True when a backup id is taken in the store, as data or metadata. */
    public boolean taken(String label, String id) throws IOException {
        return store.stat(dataKey(label, id)).isPresent() || store.stat(metadataKey(label, id)).isPresent();
    }

    private Optional<Stored<BackupMetadata>> read(String label, String key) {
        try (InputStream in = store.open(key)) {
            byte[] bytes = in.readAllBytes();
            BackupMetadata m;
            try {
                m = Json.read(bytes, BackupMetadata.class);
            } catch (com.fasterxml.jackson.core.JacksonException e) {
                damagedSeen(label, key, e.getOriginalMessage());
                return Optional.empty();
            }
            Map<String, DamagedMetadata> known = damaged.get(label);
            if (known != null) {
                known.remove(key);
            }
            Integrity.Trust trust = integrity.check(bytes);
            // a validly signed document copied under another name (e.g. a future-dated id) is not trusted either
            if (m.id() == null || m.database() == null || !BackupIds.isLabel(m.database())
                    || !key.equals(metadataKey(m.database(), m.id())) || !dataKey(m.database(), m.id()).equals(m.key())) {
                trust = integrity.enabled() ? Integrity.Trust.UNTRUSTED : trust;
            }
            if (trust == Integrity.Trust.UNTRUSTED) {
                untrustedSeen(m.database() != null && BackupIds.isLabel(m.database()) ? m.database()
                        : labelOfKey(key), key);
            }
            return Optional.of(new Stored<>(m, trust));
        } catch (ObjectStore.ObjectNotFoundException e) {
            Map<String, DamagedMetadata> known = damaged.get(label);
            if (known != null) {
                known.remove(key);
            }
            return Optional.empty();
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read " + key + ": " + e.getMessage(), e);
        }
    }

    private void damagedSeen(String label, String key, String error) {
        String name = key.substring(key.lastIndexOf('/') + 1);
        String id = name.endsWith(".json") ? name.substring(0, name.length() - ".json".length()) : name;
        try {
            BackupIds.validate(id);
        } catch (RuntimeException e) {
            id = null;
        }
        DamagedMetadata d = new DamagedMetadata(label, key, id,
                error == null ? "unparseable" : error.strip());
        if (damaged.computeIfAbsent(label, l -> new ConcurrentHashMap<>()).put(key, d) == null) {
            LOG.errorf("DAMAGED: metadata %s cannot be parsed (%s); its backup is listed as damaged and never used",
                    key, d.error());
        }
    }

    /** Folder of a database's server checks: {@code <prefix>/server-check/<label>/} (labels may share a prefix). */
    public String serverChecksPrefix(String label) {
        return prefix(label) + "/server-check/" + label + "/";
    }

    /**
     * What backup-service found when it last asked a database's server for its version: a server newer than every
     * pg_dump here cannot be backed up at all, which verify-service's status must show though no backup records it.
     */
    @io.quarkus.runtime.annotations.RegisterForReflection
    public record ServerCheck(String database, String serverVersion, String pgDumpVersion, boolean supported,
                              String message, Instant checkedAt) {
    }

    /**
     * Records a refusal ({@code supported} false) as a signed {@code <prefix>/server-check/<label>/<version>.json}
     * (write-once, like label sidecars: a new version, then the older ones removed); a supported server removes
     * the refusals, so only a server that cannot be backed up leaves anything in the store.
     */
    public void recordServerCheck(ServerCheck check) throws IOException {
        String folder = serverChecksPrefix(check.database());
        if (!check.supported()) {
            putVersioned(folder, check);
            return;
        }
        for (ObjectInfo older : store.list(folder)) {
            store.delete(older.key());
        }
    }

    /** The newest trusted refusal recorded for a database's server, if its server is known to be unsupported. */
    public Optional<ServerCheck> serverRefusal(String label) {
        return newestVersioned(label, serverChecksPrefix(label), ServerCheck.class, ServerCheck::database,
                "server check").filter(c -> !c.supported());
    }

    /** Folder of a database's base backups (point-in-time recovery): {@code <prefix>/base/}. */
    public String basePrefix(String label) {
        return prefix(label) + "/base/";
    }

    /** Data object key of a base backup: {@code <prefix>/base/<id>}. */
    public String baseDataKey(String label, String id) {
        return basePrefix(label) + BackupIds.validate(id);
    }

    /** Metadata object key of a base backup (its commit marker): {@code <prefix>/base/metadata/<id>.json}. */
    public String baseMetadataKey(String label, String id) {
        return basePrefix(label) + "metadata/" + BackupIds.validate(id) + ".json";
    }

    /**
     * Commits a base backup: writes its metadata (signed) after the data object, as {@link #commit} does for a
     * logical backup; if that fails the data object is removed.
     */
    public void commitBase(BaseBackupMetadata metadata) throws IOException {
        commitRecord(baseMetadataKey(metadata.database(), metadata.id()), metadata, metadata.key());
    }

    /**
     * The completed, trusted base backups of a database, newest first. They live under {@code base/}, apart from the
     * logical backups, which {@link #list} and everything built on it (retention, verification) never mix with them.
     */
    public List<BaseBackupMetadata> listBase(String label) {
        String folder = basePrefix(label) + "metadata/";
        List<BaseBackupMetadata> out = new ArrayList<>();
        try {
            for (ObjectInfo info : store.list(folder)) {
                String id = info.key().substring(folder.length()).replaceFirst("\\.json$", "");
                // labels may share a prefix: only this database's
                if (info.key().endsWith(".json") && BackupIds.isBase(id) && BackupIds.labelOfBase(id).equals(label)) {
                    readBase(label, info.key()).ifPresent(out::add);
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot list base backups of '" + label + "': " + e.getMessage(), e);
        }
        out.sort(Comparator.comparing(BaseBackupMetadata::startedAt).thenComparing(BaseBackupMetadata::id).reversed());
        return out;
    }

    /** A completed, trusted base backup by id. */
    public Optional<BaseBackupMetadata> findBase(String id) {
        String label = BackupIds.labelOfBase(id);
        return readBase(label, baseMetadataKey(label, id));
    }

    private Optional<BaseBackupMetadata> readBase(String label, String key) {
        try (InputStream in = store.open(key)) {
            byte[] bytes = in.readAllBytes();
            BaseBackupMetadata m = Json.read(bytes, BaseBackupMetadata.class);
            boolean inPlace = m.id() != null && label.equals(m.database()) && key.equals(baseMetadataKey(label, m.id()))
                    && baseDataKey(label, m.id()).equals(m.key());
            if (integrity.check(bytes) == Integrity.Trust.UNTRUSTED || (!inPlace && integrity.enabled())) {
                untrustedSeen(label, key);
                return Optional.empty();
            }
            return Optional.of(m);
        } catch (ObjectStore.ObjectNotFoundException e) {
            return Optional.empty();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            LOG.warnf("Ignoring unreadable base backup metadata %s: %s", key, e.getOriginalMessage());
            return Optional.empty();
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read " + key + ": " + e.getMessage(), e);
        }
    }

    /** Folder of a database's PITR prerequisite checks: {@code <prefix>/pitr-check/<label>/}. */
    public String pitrChecksPrefix(String label) {
        return prefix(label) + "/pitr-check/" + label + "/";
    }

    /**
     * What backup-service found when it last checked a database's server for point-in-time recovery: {@code reasons}
     * make PITR unavailable (no base backup is taken), {@code warnings} do not (yet). verify-service's status shows it.
     *
     * @param available whether base backups can be taken (no reasons)
     * @param message   {@code PITR unavailable: <reasons>}, or null when available
     */
    @io.quarkus.runtime.annotations.RegisterForReflection
    public record PitrCheck(String database, boolean available, List<String> reasons, List<String> warnings,
                            String message, Instant checkedAt) {
    }

    /**
     * Records a PITR check as a signed {@code <prefix>/pitr-check/<label>/<version>.json} (write-once: a new version,
     * then the older ones removed), whatever its outcome, so the status shows the latest.
     */
    public void recordPitrCheck(PitrCheck check) throws IOException {
        putVersioned(pitrChecksPrefix(check.database()), check);
    }

    /** The newest trusted PITR check recorded for a database, if any. */
    public Optional<PitrCheck> pitrCheck(String label) {
        return newestVersioned(label, pitrChecksPrefix(label), PitrCheck.class, PitrCheck::database, "PITR check");
    }

    /** Folder of a database's WAL archive state records: {@code <prefix>/wal-state/<label>/}. */
    public String walStatesPrefix(String label) {
        return prefix(label) + "/wal-state/" + label + "/";
    }

    /**
     * Records the WAL archive's state (backup-service's WAL receiver) as a signed
     * {@code <prefix>/wal-state/<label>/<version>.json}, the older versions removed.
     */
    public void recordWalState(WalArchiveState state) throws IOException {
        putVersioned(walStatesPrefix(state.database()), state);
    }

    /** The newest trusted WAL archive state of a database, if its receiver ever recorded one. */
    public Optional<WalArchiveState> walState(String label) {
        return newestVersioned(label, walStatesPrefix(label), WalArchiveState.class, WalArchiveState::database,
                "WAL archive state");
    }

    /**
     * A signed, versioned per-database record: writes {@code doc} as {@code <folder><version>.json} (write-once, the
     * version the time in milliseconds, above every existing one), then removes the older versions, so readers see
     * the newest ({@link #newestVersioned}) and the folder holds one record once the write settled.
     */
    private void putVersioned(String folder, Object doc) throws IOException {
        List<String> older = store.list(folder).stream().map(ObjectInfo::key).sorted().toList();
        long version = Math.max(System.currentTimeMillis(), older.isEmpty() ? 0 : versionOf(older.get(older.size() - 1)) + 1);
        store.putIfAbsent(folder + String.format("%015d", version) + ".json", integrity.sign(Json.write(doc)));
        for (String key : older) {
            store.delete(key);
        }
    }

    /**
     * The newest trusted record written by {@link #putVersioned} under {@code folder}: one without a valid integrity
     * tag, or naming another database, is reported and skipped; an unreadable one is skipped.
     */
    private <T> Optional<T> newestVersioned(String label, String folder, Class<T> type, Function<T, String> databaseOf,
                                            String what) {
        try {
            List<String> keys = store.list(folder).stream().map(ObjectInfo::key).sorted(Comparator.reverseOrder()).toList();
            for (String key : keys) {
                try (InputStream in = store.open(key)) {
                    byte[] bytes = in.readAllBytes();
                    T doc = Json.read(bytes, type);
                    if (integrity.check(bytes) == Integrity.Trust.UNTRUSTED || !label.equals(databaseOf.apply(doc))) {
                        untrustedSeen(label, key);
                    } else {
                        return Optional.of(doc);
                    }
                } catch (ObjectStore.ObjectNotFoundException e) {
                    // replaced meanwhile by a newer version
                } catch (com.fasterxml.jackson.core.JacksonException e) {
                    LOG.warnf("Ignoring unreadable %s %s: %s", what, key, e.getOriginalMessage());
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read the " + what + "s under " + folder + ": " + e.getMessage(), e);
        }
    }

    /** The label a metadata key's file name starts with. */
    private static String labelOfKey(String key) {
        String name = key.substring(key.lastIndexOf('/') + 1);
        int at = name.indexOf("_backup_");
        return at > 0 ? name.substring(0, at) : name;
    }
}
