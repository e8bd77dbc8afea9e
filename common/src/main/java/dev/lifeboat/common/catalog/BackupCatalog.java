package dev.lifeboat.common.catalog;

import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The completed backups, as the store knows them, and where their objects live (DESIGN §2): a backup exists
 * when its metadata object does (the commit marker); data objects without metadata are incomplete and never
 * listed. Shared by every service that reads backups, so the object layout is written down once.
 */
public class BackupCatalog {
    private static final Logger LOG = Logger.getLogger(BackupCatalog.class);
    /** Newest first: by start time, then id (the _N suffix orders backups of the same second). */
    public static final Comparator<BackupMetadata> NEWEST_FIRST = Comparator.comparing(BackupMetadata::startedAt)
            .thenComparing(BackupMetadata::id).reversed();
    private static final Pattern SEQUENCE = Pattern.compile("_backup_\\d{8}_\\d{6}_(\\d+)\\.");

    private final ObjectStore store;
    private final Function<String, String> prefixOf;

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
