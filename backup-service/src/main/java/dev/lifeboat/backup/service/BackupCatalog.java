package dev.lifeboat.backup.service;

import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * The completed backups, as the store knows them: a backup exists when its metadata object does (the commit
 * marker). Data objects without metadata are incomplete and never listed.
 */
@ApplicationScoped
public class BackupCatalog {
    private static final Logger LOG = Logger.getLogger(BackupCatalog.class);
    /** Newest first: by start time, then id (the _N suffix orders backups of the same second). */
    static final Comparator<BackupMetadata> NEWEST_FIRST = Comparator.comparing(BackupMetadata::startedAt)
            .thenComparing(BackupMetadata::id).reversed();

    private final ObjectStore store;
    private final Databases databases;

    public BackupCatalog(ObjectStore store, Databases databases) {
        this.store = store;
        this.databases = databases;
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
        String metadataPrefix = databases.prefix(label) + "/metadata/";
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
        java.util.regex.Matcher m = SEQUENCE.matcher(id);
        long sequence = m.find() ? Long.parseLong(m.group(1)) : 1;
        return BackupIds.startedAt(id).map(Object::toString).orElse("") + String.format("#%06d", sequence);
    }

    private static final java.util.regex.Pattern SEQUENCE = java.util.regex.Pattern.compile("_backup_\\d{8}_\\d{6}_(\\d+)\\.");

    /** A completed backup by id. */
    public Optional<BackupMetadata> find(String id) {
        String label = BackupIds.labelOf(BackupIds.validate(id));
        if (!databases.labels().contains(label)) {
            return Optional.empty();
        }
        return read(databases.metadataKey(label, id));
    }

    public BackupMetadata get(String id) {
        return find(id).orElseThrow(() -> new BackupNotFound("No completed backup with id '" + id + "'."));
    }

    /** True when a backup id is taken in the store, as data or metadata. */
    boolean taken(String label, String id) throws IOException {
        return store.stat(databases.dataKey(label, id)).isPresent() || store.stat(databases.metadataKey(label, id)).isPresent();
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
