package dev.lifeboat.backup.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.store.BucketLifecycle;
import dev.lifeboat.common.store.ObjectStore;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Keeps the bucket lifecycle rules Lifeboat owns ({@code lifeboat-*}) as {@code lifeboat.store.s3.lifecycle.*} says,
 * at start-up: configuration is read once per process, so a changed setting takes effect with the restart that
 * loads it. With {@code manage=true} the rules are written when they differ (idempotent: an unchanged configuration
 * writes nothing); with {@code manage=false} (the default) our rules are removed if an earlier run left them, and a
 * bucket without them is not written to. Other rules of the bucket are never changed. A failure is logged and does
 * not stop the service: backups do not depend on the lifecycle.
 */
@ApplicationScoped
public class StorageLifecycle {
    private static final Logger LOG = Logger.getLogger(StorageLifecycle.class);
    private final ObjectStore store;
    private final StoreConfig config;
    private final DatabaseRegistry databases;
    private final BackupCatalog catalog;

    public StorageLifecycle(ObjectStore store, StoreConfig config, DatabaseRegistry databases, BackupCatalog catalog) {
        this.store = store;
        this.config = config;
        this.databases = databases;
        this.catalog = catalog;
        policy(); // refuse an impossible configuration at start-up
    }

    void onStart(@Observes StartupEvent event) {
        apply();
    }

    /** The policy the settings ask for; empty when not managed. */
    public Optional<BucketLifecycle.Policy> policy() {
        StoreConfig.Lifecycle c = config.s3().lifecycle();
        if (!c.manage()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new BucketLifecycle.Policy(c.standardIaAfterDays(), c.glacierAfterDays(),
                    c.deepArchiveAfterDays(), c.abortIncompleteAfterDays()));
        } catch (IllegalArgumentException e) {
            throw new InvalidConfiguration("lifeboat.store.s3.lifecycle: " + e.getMessage());
        }
    }

    /** The key prefix of each configured database's backups, by label. */
    public Map<String, String> databasePrefixes() {
        Map<String, String> out = new LinkedHashMap<>();
        for (String label : databases.labels()) {
            out.put(label, catalog.prefix(label));
        }
        return out;
    }

    /** Brings the bucket's rules to the settings; empty when the store has no lifecycle (filesystem) or it failed. */
    public Optional<BucketLifecycle.Change> apply() {
        Optional<BucketLifecycle> lifecycle = store.lifecycle();
        if (lifecycle.isEmpty()) {
            return Optional.empty();
        }
        Optional<BucketLifecycle.Policy> policy = policy();
        try {
            BucketLifecycle.Change change = lifecycle.get().apply(databasePrefixes(), policy);
            if (change != BucketLifecycle.Change.UNCHANGED) {
                LOG.infof("Bucket lifecycle rules lifeboat-*: %s (%s)", change.name().toLowerCase(java.util.Locale.ROOT),
                        policy.map(Object::toString).orElse("lifeboat.store.s3.lifecycle.manage=false"));
            }
            return Optional.of(change);
        } catch (IOException | RuntimeException e) {
            if (policy.isPresent()) {
                LOG.errorf("Cannot apply the bucket lifecycle rules (lifeboat.store.s3.lifecycle.manage=true): %s",
                        e.getMessage());
            } else {
                LOG.debugf("Cannot check for lifecycle rules of an earlier run: %s", e.getMessage());
            }
            return Optional.empty();
        }
    }
}
