package dev.lifeboat.common.catalog;

import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
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
    /** Verification records by key: they are write-once, so each is read from the store once. */
    private final Map<String, VerificationRecord> records = new ConcurrentHashMap<>();
    /** Keys of records that could not be parsed, so each is reported once. */
    private final Set<String> unreadable = ConcurrentHashMap.newKeySet();

    /**
     * @param prefixOf the key prefix of a database label's backups, without trailing slash
     *                 ({@code database/<label>} unless configured otherwise)
     */
    public BackupCatalog(ObjectStore store, Function<String, String> prefixOf) {
        this.store = store;
        this.prefixOf = prefixOf;
    }

    /** The default key prefix of a database's backups. */
    public static String defaultPrefix(String label) {
        return "database/" + label;
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
            VerificationRecord r = records.get(info.key());
            if (r == null) {
                r = readRecord(info.key());
                if (r == null) {
                    continue;
                }
                records.put(info.key(), r);
            }
            if (parts[0].equals(r.backupId()) && r.finishedAt() != null && r.result() != null) {
                out.computeIfAbsent(parts[0], k -> new ArrayList<>()).add(r);
            }
        }
        records.keySet().removeIf(k -> k.startsWith(listPrefix) && !listed.contains(k));
        out.values().forEach(l -> l.sort(Comparator.comparing(VerificationRecord::finishedAt)));
        return out;
    }

    private VerificationRecord readRecord(String key) {
        try (InputStream in = store.open(key)) {
            return Json.read(in.readAllBytes(), VerificationRecord.class);
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

    /** The completed backups of one database, newest first. */
    public List<BackupMetadata> list(String label) {
        List<BackupMetadata> out = new ArrayList<>();
        for (String key : metadataKeys(label)) {
            read(key).ifPresent(out::add);
        }
        out.sort(NEWEST_FIRST);
        return out;
    }

    /**
     * The newest completed backup of a database. Ids carry their start time, so only the newest metadata objects
     * are read, not all of them.
     */
    public Optional<BackupMetadata> latest(String label) {
        List<String> keys = metadataKeys(label);
        keys.sort(Comparator.comparing(BackupCatalog::idOrder).reversed());
        for (String key : keys) {
            Optional<BackupMetadata> m = read(key);
            if (m.isPresent()) {
                return m;
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

    /** A completed backup by id; the id is validated first ({@code InvalidBackupId}). */
    public Optional<BackupMetadata> find(String id) {
        String label = BackupIds.labelOf(BackupIds.validate(id));
        if (!BackupIds.isLabel(label)) {
            return Optional.empty();
        }
        return read(metadataKey(label, id));
    }

    /** A completed backup by id, else {@link BackupNotFound}. */
    public BackupMetadata get(String id) {
        return find(id).orElseThrow(() -> new BackupNotFound("No completed backup with id '" + id + "'."));
    }

    /** True when a backup id is taken in the store, as data or metadata. */
    public boolean taken(String label, String id) throws IOException {
        return store.stat(dataKey(label, id)).isPresent() || store.stat(metadataKey(label, id)).isPresent();
    }

    private Optional<BackupMetadata> read(String key) {
        try (InputStream in = store.open(key)) {
            return Optional.of(Json.read(in.readAllBytes(), BackupMetadata.class));
        } catch (ObjectStore.ObjectNotFoundException e) {
            return Optional.empty();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            LOG.warnf("Ignoring unreadable metadata %s: %s", key, e.getOriginalMessage());
            return Optional.empty();
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read " + key + ": " + e.getMessage(), e);
        }
    }
}
