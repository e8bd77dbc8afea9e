package dev.lifeboat.backup.service;

import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.config.EncryptionConfig;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.BackupInProgress;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.TableFingerprint;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.pg.CopyText;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.ContentFingerprint;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.PendingObject;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jboss.logging.Logger;

/**
 * Takes backups. The whole pipeline of DESIGN §2 is {@link #run}: pg_dump's stdout → content fingerprint →
 * compression → age encryption → size and SHA-256 of the stored bytes → the store's streaming upload, in one
 * pass with a fixed buffer, no temporary file. The data object is committed only after pg_dump exited 0 and
 * every stage finished; the metadata, written last, is the commit marker. Any failure aborts the upload and
 * leaves no object, no metadata and no pending upload; earlier backups are never touched.
 */
@ApplicationScoped
public class BackupService {
    private static final Logger LOG = Logger.getLogger(BackupService.class);
    private static final int BUFFER = 1 << 16;

    private final BackupServiceConfig config;
    private final Databases databases;
    private final BackupCatalog catalog;
    private final ObjectStore store;
    private final PgTools pgTools;
    private final BackupMetrics metrics;
    private final VerifyNotifier verifyNotifier;
    private final List<String> recipients;
    private final ExecutorService workers = Executors.newCachedThreadPool(Thread.ofPlatform().name("backup-", 1).factory());
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("backup-watchdog").daemon().factory());
    /** The running backup per database; guarded by {@code this}. */
    private final Map<String, BackupJob> running = new HashMap<>();
    /** Recently finished jobs, oldest first, bounded by {@code lifeboat.backup.job-history}. */
    private final Map<String, BackupJob> finished = new LinkedHashMap<>();

    public BackupService(BackupServiceConfig config, EncryptionConfig encryption, Databases databases,
                         BackupCatalog catalog, ObjectStore store, PgTools pgTools, BackupMetrics metrics,
                         VerifyNotifier verifyNotifier) {
        this.config = config;
        this.databases = databases;
        this.catalog = catalog;
        this.store = store;
        this.pgTools = pgTools;
        this.metrics = metrics;
        this.verifyNotifier = verifyNotifier;
        this.recipients = encryption.recipients().orElse(List.of()).stream().map(String::strip)
                .filter(r -> !r.isEmpty()).toList();
        AgeKeys.checkRecipients(recipients);
    }

    void onStart(@Observes StartupEvent event) {
        if (recipients.isEmpty()) {
            LOG.warn("lifeboat.encryption.recipients is empty: backups are stored UNENCRYPTED");
        }
        for (String db : databases.labels()) {
            BackupMetadata latest = null;
            try {
                latest = catalog.latest(db).orElse(null);
            } catch (RuntimeException e) {
                LOG.warnf("Cannot read the newest backup of %s at start-up: %s", db, e.getMessage());
            }
            metrics.register(db, latest);
        }
    }

    void onStop(@Observes ShutdownEvent event) {
        workers.shutdownNow();
        watchdog.shutdownNow();
    }

    /**
     * Starts a backup of {@code database} in the background and returns its job at once.
     *
     * @throws BackupInProgress when a backup of that database is already running
     */
    public BackupJob start(String database, Trigger trigger, Map<String, String> labels) {
        BackupJob job;
        synchronized (this) {
            BackupJob current = running.get(database);
            if (current != null) {
                throw new BackupInProgress(database, current.id());
            }
            job = new BackupJob(reserveId(database), database, trigger, labels);
            running.put(database, job);
        }
        metrics.started(database);
        LOG.infof("Backup %s of %s started (%s)", job.id(), database, trigger);
        workers.execute(() -> run(job));
        return job;
    }

    /** A running or recently finished job. */
    public synchronized Optional<BackupJob> job(String id) {
        for (BackupJob j : running.values()) {
            if (j.id().equals(id)) {
                return Optional.of(j);
            }
        }
        return Optional.ofNullable(finished.get(id));
    }

    /** The running jobs, for listing. */
    public synchronized List<BackupJob> runningJobs() {
        return new ArrayList<>(running.values());
    }

    /** The first free id for a backup starting now: the plain name, else with {@code _2}, {@code _3}, ... */
    private String reserveId(String database) {
        Instant now = Instant.now();
        String suffix = config.backup().format().suffix() + codec().suffix();
        try {
            for (int sequence = 1; ; sequence++) {
                String id = BackupIds.fileName(database, now, sequence, suffix);
                if (!finished.containsKey(id) && !catalog.taken(database, id)) {
                    return id;
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot check the store for existing backups: " + e.getMessage(), e);
        }
    }

    private Codec codec() {
        BackupServiceConfig.Backup b = config.backup();
        return Codec.forWriting(b.compression(), b.zstdLevel(), b.zstdWorkers(), recipients);
    }

    /** The pipeline. Runs on a worker thread; records the outcome on the job, never throws. */
    void run(BackupJob job) {
        String db = job.database();
        ScheduledFuture<?> timeout = null;
        java.util.concurrent.atomic.AtomicBoolean timedOut = new java.util.concurrent.atomic.AtomicBoolean();
        try {
            PgConnection connection = databases.connection(db);
            int serverVersion = pgTools.serverVersionNum(connection);
            PgTools.Program pgDump = pgTools.forServer("pg_dump", serverVersion / 10000);
            DumpFormat format = config.backup().format();
            Codec codec = codec();
            ContentFingerprint fingerprint = format == DumpFormat.PLAIN ? new ContentFingerprint() : null;
            Measure stored = job.stored;
            String dataKey = catalog.dataKey(db, job.id());

            List<String> args = new ArrayList<>(List.of("--no-password", "--format=" + format.pgDumpFlag()));
            if (format == DumpFormat.CUSTOM) {
                args.add("--compress=0"); // compression is ours, after the dump
            }
            try (PendingObject pending = store.create(dataKey);
                 // fixed time zone and bytea format: the COPY text, and so the fingerprint, do not depend on defaults
                 PgProcess dump = PgProcess.start(pgDump.path(), args, connection.withSettings(CopyText.forDump()),
                         pgTools.connectTimeout(), new TimeLimit(config.backup().timeout(), "lifeboat.backup.timeout"))) {
                timeout = watchdog.schedule(() -> {
                    timedOut.set(true);
                    dump.close();
                }, config.backup().timeout().toMillis(), TimeUnit.MILLISECONDS);
                dump.stdin().close();
                OutputStream encoded = codec.encode(stored.outputStream(pending, false));
                try {
                    byte[] buffer = new byte[BUFFER];
                    InputStream in = dump.stdout();
                    for (int n; (n = in.read(buffer)) >= 0; ) {
                        if (fingerprint != null) {
                            fingerprint.write(buffer, 0, n);
                        }
                        encoded.write(buffer, 0, n);
                        job.bytesRead.addAndGet(n);
                    }
                    dump.waitSuccess();
                    encoded.close(); // finishes compression and encryption: the last bytes reach the store here
                } finally {
                    closeQuietly(encoded);
                }
                pending.commit();
            }
            Instant finishedAt = Instant.now();
            BackupMetadata metadata = new BackupMetadata(BackupMetadata.SCHEMA_VERSION, job.id(), db,
                    databases.databaseName(db), dataKey, formatVersion(serverVersion), pgDump.version(),
                    fingerprint == null ? null : fingerprint.encoding(), format,
                    config.backup().compression(), recipients, job.trigger(), job.labels(), job.startedAt(),
                    finishedAt, job.elapsedSeconds(), job.bytesRead(), stored.bytes(), stored.sha256Hex(),
                    fingerprint == null ? List.<TableFingerprint>of() : fingerprint.result());
            writeMetadata(metadata);
            job.succeeded(metadata);
            metrics.succeeded(metadata);
            LOG.infof("Backup %s of %s completed: %d bytes dumped, %d stored, %.1f s", job.id(), db,
                    metadata.rawSizeBytes(), metadata.storedSizeBytes(), metadata.durationSeconds());
            verifyNotifier.backupCompleted(metadata);
        } catch (Exception | Error e) {
            String reason = timedOut.get()
                    ? "Timed out after " + config.backup().timeout() + " (lifeboat.backup.timeout); pg_dump was killed"
                    : Errors.describe(e);
            job.failed(reason);
            metrics.failed(db, job.elapsedSeconds());
            LOG.errorf("Backup %s of %s failed: %s", job.id(), db, reason);
        } finally {
            if (timeout != null) {
                timeout.cancel(false);
            }
            synchronized (this) {
                running.remove(db);
                finished.put(job.id(), job);
                while (finished.size() > config.backup().jobHistory()) {
                    finished.remove(finished.keySet().iterator().next());
                }
            }
        }
    }

    /** Writes the commit marker; if that fails the data object is removed, so nothing half-done is left. */
    private void writeMetadata(BackupMetadata metadata) throws IOException {
        try {
            store.putIfAbsent(catalog.metadataKey(metadata.database(), metadata.id()), Json.write(metadata));
        } catch (IOException | RuntimeException e) {
            try {
                store.delete(metadata.key());
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** Waits for a job; used by {@code ?wait=true} and the scheduler. */
    public BackupJob await(BackupJob job) {
        try {
            return job.done().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for backup " + job.id(), e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    private static String formatVersion(int num) {
        return num >= 100000 ? (num / 10000) + "." + (num % 10000) : (num / 10000) + "." + (num / 100 % 100) + "." + (num % 100);
    }

    private static void closeQuietly(OutputStream out) {
        try {
            out.close();
        } catch (IOException | RuntimeException ignored) {
            // the failure that got us here is what gets reported
        }
    }
}
