package dev.lifeboat.backup.service;

import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Removes what a backup interrupted by a crash or kill left behind (DESIGN §2), once it is older than
 * {@code lifeboat.backup.janitor-grace}: pending S3 uploads and temporary files, and data objects that never got
 * their metadata; and the verification records, label sidecars and roles objects an interrupted delete left
 * without metadata and data. A failing backup cleans up after itself; this is for the service dying mid-backup. Only names
 * of Lifeboat backups are touched, never other files under the prefix, and never a running backup's object.
 */
@ApplicationScoped
public class Janitor {
    private static final Logger LOG = Logger.getLogger(Janitor.class);
    private final ObjectStore store;
    private final DatabaseRegistry databases;
    private final BackupCatalog catalog;
    private final BackupService service;
    private final BackupServiceConfig config;
    private final Coordination coordination;

    public Janitor(ObjectStore store, DatabaseRegistry databases, BackupCatalog catalog, BackupService service,
                   BackupServiceConfig config, Coordination coordination) {
        this.coordination = coordination;
        this.store = store;
        this.databases = databases;
        this.catalog = catalog;
        this.service = service;
        this.config = config;
    }

    @Scheduled(identity = "janitor", every = "${lifeboat.backup.janitor-interval:1h}", delayed = "1m",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void scheduled() {
        if (coordination.leader()) { // one replica cleans; the others' running backups are younger than the grace
            clean();
        }
    }

    /** One pass over every database; returns the keys removed. */
    public List<String> clean() {
        Instant cutoff = Instant.now().minus(config.backup().janitorGrace());
        Set<String> running = service.runningJobs().stream().map(BackupJob::id).collect(Collectors.toSet());
        List<String> removed = new ArrayList<>();
        for (String db : databases.labels()) {
            String prefix = catalog.prefix(db) + "/";
            try {
                // a running backup may be older than the grace (a long backup): its upload is never aborted
                for (String key : new java.util.TreeSet<>(store.pending(prefix))) {
                    if (!running.contains(key.substring(key.lastIndexOf('/') + 1))) {
                        removed.addAll(store.abortPending(key, cutoff));
                    }
                }
                Set<String> committed = store.list(prefix + "metadata/").stream().map(ObjectInfo::key)
                        .collect(Collectors.toSet());
                Set<String> present = new java.util.HashSet<>();
                for (ObjectInfo o : store.list(prefix)) {
                    present.add(o.key());
                    String name = o.key().substring(prefix.length());
                    boolean incomplete = name.startsWith(db + "_backup_") && name.indexOf('/') < 0
                            && !running.contains(name)
                            && !committed.contains(catalog.metadataKey(db, name))
                            && BackupIds.startedAt(name).map(t -> t.isBefore(cutoff)).orElse(false);
                    if (incomplete) {
                        store.delete(o.key());
                        removed.add(o.key());
                        present.remove(o.key());
                    }
                }
                removed.addAll(orphans(db, prefix, committed, present, running, cutoff));
            } catch (IOException | RuntimeException e) {
                LOG.warnf("Janitor pass over %s failed: %s", db, e.getMessage());
            }
        }
        if (!removed.isEmpty()) {
            LOG.infof("Janitor removed incomplete backups: %s", removed);
        }
        // a claim must outlive the starting deadline, or a late replica would take its run again
        java.time.Duration keep = config.backup().janitorGrace().compareTo(config.backup().startingDeadline()) >= 0
                ? config.backup().janitorGrace() : config.backup().startingDeadline();
        pruneJobs(Instant.now().minus(keep).minus(java.time.Duration.ofHours(1)));
        return removed;
    }

    /**
     * Job records (jobs/backup/) of backups that ended before {@code cutoff}, and claims of scheduled runs
     * (jobs/claims/backup/, jobs/claims/base/) older than that: both only matter around the time the job ran.
     */
    private void pruneJobs(Instant cutoff) {
        try {
            List<String> records = service.pruneRecords(cutoff);
            int claims = 0;
            List<ObjectInfo> claimed = new ArrayList<>(store.list(dev.lifeboat.common.job.JobJournal.PREFIX + "claims/backup/"));
            claimed.addAll(store.list(dev.lifeboat.common.job.JobJournal.PREFIX + "claims/base/"));
            for (ObjectInfo o : claimed) {
                String stamp = o.key().substring(o.key().lastIndexOf('/') + 1);
                Instant at;
                try {
                    at = Instant.from(dev.lifeboat.common.job.JobIds.STAMP.parse(stamp));
                } catch (java.time.DateTimeException e) {
                    continue;
                }
                if (at.isBefore(cutoff)) {
                    store.delete(o.key());
                    claims++;
                }
            }
            if (!records.isEmpty() || claims > 0) {
                LOG.infof("Janitor removed %d job record(s) and %d schedule claim(s) older than %s", records.size(),
                        claims, cutoff);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Janitor pass over job records failed: %s", e.getMessage());
        }
    }

    /**
     * What an interrupted delete left behind: verification records, label sidecars and roles objects of a backup that
     * has neither metadata nor data (a delete removes metadata, then data, then these). Past the grace, like the rest.
     */
    private List<String> orphans(String db, String prefix, Set<String> committed, Set<String> present,
                                 Set<String> running, Instant cutoff) throws IOException {
        List<String> removed = new ArrayList<>();
        for (String folder : List.of("verifications/", "labels/", "roles/")) {
            for (ObjectInfo o : store.list(prefix + folder)) {
                String rest = o.key().substring(prefix.length() + folder.length());
                String id = rest.contains("/") ? rest.substring(0, rest.indexOf('/')) : rest;
                boolean orphan = id.startsWith(db + "_backup_") && !running.contains(id)
                        && !committed.contains(catalog.metadataKey(db, id))
                        && !present.contains(catalog.dataKey(db, id))
                        && BackupIds.startedAt(id).map(t -> t.isBefore(cutoff)).orElse(false);
                if (orphan) {
                    store.delete(o.key());
                    removed.add(o.key());
                }
            }
        }
        return removed;
    }
}
