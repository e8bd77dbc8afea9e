package dev.lifeboat.backup.service;

import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.config.EncryptionConfig;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.BackupInProgress;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.PgVersionUnsupported;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.error.Errors.ShuttingDown;
import dev.lifeboat.common.job.JobJournal;
import dev.lifeboat.common.job.JobRecord;
import dev.lifeboat.common.job.JobRegistry;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.coord.ShutdownConfig;
import dev.lifeboat.common.job.JobsConfig;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.backup.service.BackupJob.StepName;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupKind;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.pg.CopyText;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.RoleScript;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.ContentFingerprint;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.WriteChain;
import dev.lifeboat.common.store.BucketLifecycle;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.PendingObject;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jboss.logging.Logger;

/**
 * Takes backups. The whole pipeline of DESIGN §2 is {@link #run}: pg_dump's stdout → content fingerprint →
 * compression → age encryption → size and SHA-256 of the stored bytes → the store's streaming upload, in one
 * pass through a fixed pool of buffers, the stages overlapping on threads of their own ({@link WriteChain}), no
 * temporary file. The data object is committed only after pg_dump exited 0 and every stage finished; then the roles
 * object (the definitions of the roles the database refers to, which a dump does not hold) through the same chain;
 * the metadata, written last, is the commit marker. Any failure aborts the upload and
 * leaves no object, no metadata and no pending upload; earlier backups are never touched.
 */
@ApplicationScoped
public class BackupService {
    private static final Logger LOG = Logger.getLogger(BackupService.class);

    /** Read buffer of pg_dumpall's output (role definitions: small). */
    private static final int ROLES_BUFFER = 1 << 16;

    private final BackupServiceConfig config;
    private final DatabaseRegistry databases;
    private final BackupCatalog catalog;
    private final ObjectStore store;
    private final PgTools pgTools;
    private final BackupMetrics metrics;
    private final VerifyNotifier verifyNotifier;
    private final List<String> recipients;
    private final ExecutorService workers = Executors.newCachedThreadPool(Thread.ofPlatform().name("backup-", 1).factory());
    /** Running backups, one per database (a Lease per database across replicas), and the recently finished ones. */
    private final JobRegistry<BackupJob> jobs;
    /** The durable records of backup jobs, readable from every replica. */
    private final JobJournal journal;
    private final Coordination coordination;
    private final ShutdownConfig shutdown;
    private final BaseBackups baseBackups;
    /** Set at shutdown: no new backup starts on this replica. */
    private volatile boolean draining;

    public BackupService(BackupServiceConfig config, EncryptionConfig encryption, DatabaseRegistry databases,
                         BackupCatalog catalog, ObjectStore store, PgTools pgTools, BackupMetrics metrics,
                         VerifyNotifier verifyNotifier, Coordination coordination, JobsConfig jobsConfig,
                         ShutdownConfig shutdown, BaseBackups baseBackups) {
        this.baseBackups = baseBackups;
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
        if (config.backup().timeout().compareTo(config.backup().janitorGrace()) >= 0) {
            throw new InvalidConfiguration("lifeboat.backup.timeout (" + config.backup().timeout() + ") must be shorter "
                    + "than lifeboat.backup.janitor-grace (" + config.backup().janitorGrace() + "): the janitor would "
                    + "remove the upload of a backup that is still allowed to run");
        }
        this.jobs = new JobRegistry<>(coordination.lock("backup"), config.backup().jobHistory(),
                BackupInProgress::new);
        this.coordination = coordination;
        this.shutdown = shutdown;
        this.journal = new JobJournal(store, "backup", coordination.instance(), jobsConfig.reportInterval(),
                jobsConfig.abandonedAfter());
    }

    void onStart(@Observes StartupEvent event) {
        // the servers' versions are known (metric, status) before the first scheduled backup, without delaying start-up
        Thread.ofVirtual().name("server-check").start(() -> databases.labels().forEach(db -> {
            try {
                checkServer(db);
            } catch (RuntimeException e) {
                // refused: checkServer recorded and logged it
            }
            if (databases.pitrEnabled(db)) {
                try {
                    baseBackups.check(db); // records and logs what is missing
                } catch (RuntimeException e) {
                    LOG.warnf("The PITR check of %s failed: %s", db, e.getMessage());
                }
            }
        }));
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

    /**
     * Graceful shutdown (SIGTERM): no new backup starts; running ones get {@code lifeboat.shutdown.grace} to finish,
     * then are stopped cleanly (pg_dump killed, the upload aborted, the job recorded FAILED "interrupted by shutdown",
     * the Lease released) before the process exits.
     */
    void onStop(@Observes ShutdownEvent event) {
        draining = true;
        if (!jobs.idle()) {
            LOG.infof("Shutting down: waiting up to %s for %d running backup(s)", shutdown.grace(), jobs.active().size());
            jobs.awaitIdle(shutdown.grace());
            for (BackupJob job : jobs.active()) {
                LOG.warnf("Backup %s did not finish within lifeboat.shutdown.grace: stopping it", job.id());
                job.interrupt("interrupted by shutdown");
            }
            // its upload aborted, its record written and its Lease released before the process goes
            jobs.awaitIdle(java.time.Duration.ofSeconds(10));
        }
        workers.shutdownNow();
        journal.close();
    }


    /** Whether this replica is shutting down (it takes no new work). */
    public boolean draining() {
        return draining;
    }

    /**
     * Starts a backup of {@code database} in the background and returns its job at once.
     *
     * @throws BackupInProgress when a backup of that database is already running
     */
    public BackupJob start(String database, Trigger trigger, Map<String, String> labels) {
        return start(database, BackupKind.LOGICAL, trigger, labels);
    }

    /**
     * Starts a backup of {@code kind} in the background and returns its job at once. A base backup (point-in-time
     * recovery) needs {@code pitr.enabled} and a server that passes the PITR check, run now
     * ({@link Errors.PitrUnavailable} names what is missing); it holds its own key ({@code <db>:base}), so it may run
     * beside a logical backup of the same database, never beside another base backup of it.
     *
     * @throws BackupInProgress when a backup of that kind of that database is already running
     */
    public BackupJob start(String database, BackupKind kind, Trigger trigger, Map<String, String> labels) {
        if (draining) {
            throw new ShuttingDown("This replica is shutting down and starts no backup; retry (another replica, or "
                    + "this one restarted, takes it).");
        }
        if (kind == BackupKind.BASE) {
            return startBase(database, trigger, labels);
        }
        try {
            checkServer(database);
        } catch (PgVersionUnsupported e) {
            metrics.failed(database, 0);
            throw e;
        }
        BackupJob job;
        synchronized (this) { // the id is reserved and registered at once, so two starts never pick the same
            job = jobs.register(database, new BackupJob(reserveId(database), database, BackupKind.LOGICAL, trigger,
                    labels, coordination.instance()));
        }
        try {
            recoverAbandoned(database, job.id());
            journal.track(job.id(), () -> record(job));
        } catch (RuntimeException e) {
            job.failed(Errors.describe(e));
            jobs.finish(job);
            throw e;
        }
        metrics.started(database);
        LOG.infof("Backup %s of %s started (%s)", job.id(), database, trigger);
        workers.execute(() -> run(job));
        return job;
    }

    private BackupJob startBase(String database, Trigger trigger, Map<String, String> labels) {
        if (!databases.pitrEnabled(database)) {
            throw new Errors.PitrUnavailable("Point-in-time recovery is not enabled for '" + database
                    + "' (lifeboat.databases." + database + ".pitr.enabled=false), so it has no base backups.");
        }
        BaseBackups.Checked checked = baseBackups.check(database);
        if (!checked.check().available()) {
            throw new Errors.PitrUnavailable(checked.check().message());
        }
        BackupJob job;
        synchronized (this) {
            job = jobs.register(database + ":base", new BackupJob(reserveBaseId(database), database, BackupKind.BASE,
                    trigger, labels, coordination.instance()));
        }
        try {
            journal.track(job.id(), () -> record(job));
        } catch (RuntimeException e) {
            job.failed(Errors.describe(e));
            jobs.finish(job);
            throw e;
        }
        LOG.infof("Base backup %s of %s started (%s)", job.id(), database, trigger);
        workers.execute(() -> runBase(job, checked));
        return job;
    }

    /**
     * A base backup on a worker thread: the BASE_BACKUP step ({@link BaseBackups#copy}), then its metadata written
     * last. Records the outcome on the job, never throws. Not in the backup metrics (those describe logical
     * backups); announced to verify-service, whose verification of it is a point-in-time drill.
     */
    void runBase(BackupJob job, BaseBackups.Checked checked) {
        String db = job.database();
        try {
            job.log().begin(StepName.BASE_BACKUP, null);
            BaseBackupMetadata metadata = baseBackups.copy(job, checked, codec(), recipients);
            job.log().end(StepName.BASE_BACKUP, Step.Status.DONE, metadata.rawSizeBytes() + " bytes copied, "
                    + metadata.storedSizeBytes() + " stored; WAL " + metadata.startLsn() + " to " + metadata.endLsn()
                    + " on timeline " + metadata.timeline());
            job.log().begin(StepName.COMMIT, null);
            journal.report(job.id());
            if (job.interruption() != null) {
                deleteQuietly(metadata.key(), new IllegalStateException(job.interruption()));
                throw new IllegalStateException(job.interruption());
            }
            catalog.commitBase(metadata); // removes the data object itself when it fails
            job.log().end(StepName.COMMIT, Step.Status.DONE, catalog.baseMetadataKey(db, job.id()));
            job.succeeded(metadata);
            LOG.infof("Base backup %s of %s completed: %d bytes, %d stored, %.1f s, WAL %s to %s on timeline %d", job.id(),
                    db, metadata.rawSizeBytes(), metadata.storedSizeBytes(), metadata.durationSeconds(),
                    metadata.startLsn(), metadata.endLsn(), metadata.timeline());
            verifyNotifier.baseCompleted(metadata);
        } catch (Exception | Error e) {
            String reason = job.interruption() != null ? job.interruption() : Errors.describe(e);
            job.log().failRunning(reason);
            job.failed(reason);
            LOG.errorf("Base backup %s of %s failed: %s", job.id(), db, reason);
        } finally {
            journal.end(job.id());
            jobs.finish(job);
        }
    }

    /** The first free id for a base backup starting now. */
    private String reserveBaseId(String database) {
        Instant now = Instant.now();
        try {
            for (int sequence = 1; ; sequence++) {
                String id = BackupIds.baseFileName(database, now, sequence, codec().suffix());
                if (jobs.find(id).isEmpty() && store.stat(catalog.baseDataKey(database, id)).isEmpty()
                        && store.stat(catalog.baseMetadataKey(database, id)).isEmpty()) {
                    return id;
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot check the store for existing base backups: " + e.getMessage(), e);
        }
    }

    /**
     * Refuses up front a server newer than every pg_dump here ({@link PgVersionUnsupported}, naming both versions and
     * what to install), and records what it found: the metric {@code lifeboat_backup_tool_compatible} and, for
     * verify-service's status, a refusal in the store. A server that cannot be asked (down, wrong password) is left
     * to the backup job, which fails with the reason as before.
     */
    void checkServer(String db) {
        int version;
        try {
            version = pgTools.serverVersionNum(databases.connection(db));
        } catch (RuntimeException e) {
            LOG.debugf("The server of %s could not be asked for its version: %s", db, e.getMessage());
            return;
        }
        String release = PgTools.release(version);
        try {
            PgTools.Program pgDump = pgTools.forServerVersion("pg_dump", version);
            metrics.toolCompatible(db, true);
            recordServerCheck(new BackupCatalog.ServerCheck(db, release, pgDump.release(), true, null, Instant.now()));
        } catch (PgVersionUnsupported e) {
            metrics.toolCompatible(db, false);
            String newest = pgTools.find("pg_dump").stream().max(java.util.Comparator.comparingInt(PgTools.Program::major))
                    .map(PgTools.Program::release).orElse(null);
            recordServerCheck(new BackupCatalog.ServerCheck(db, release, newest, false, e.getMessage(), Instant.now()));
            LOG.errorf("Backups of %s are refused: %s", db, e.getMessage());
            throw e;
        } catch (Errors.PgToolFailed e) {
            LOG.debugf("No pg_dump for %s: %s", db, e.getMessage()); // no pg_dump at all: the job says so
        }
    }

    private void recordServerCheck(BackupCatalog.ServerCheck check) {
        try {
            catalog.recordServerCheck(check);
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot record the server check of %s in the store: %s", check.database(), e.getMessage());
        }
    }

    /** A running or recently finished job of this replica. */
    public Optional<BackupJob> job(String id) {
        return jobs.find(id);
    }

    /** Removes the records of backup jobs that ended before {@code before} (the janitor's pass). */
    public List<String> pruneRecords(Instant before) throws IOException {
        return journal.prune(before);
    }

    /** The stored record of a job, from whichever replica ran it (ABANDONED when its replica went silent). */
    public Optional<JobRecord> record(String id) {
        return journal.read(id);
    }

    /** The record of a job of this replica, as it stands now. */
    private JobRecord record(BackupJob job) {
        Map<String, String> detail = new java.util.TreeMap<>();
        detail.put("trigger", job.trigger().name());
        detail.put("kind", job.kind().name());
        job.labels().forEach((k, v) -> detail.put("label." + k, v));
        return JobRecord.of(job, "backup", job.database(), coordination.instance(),
                Map.of("bytesRead", (double) job.bytesRead(), "bytesStored", (double) job.bytesStored(),
                        "elapsedSeconds", Math.round(job.elapsedSeconds() * 10) / 10.0), detail);
    }

    /**
     * Ends what a replica that died left of this database's backups: its job records still say running (it held the
     * Lease this replica now has, so it is gone), its partial upload is aborted and its record marked ABANDONED.
     */
    private void recoverAbandoned(String database, String ownId) {
        List<JobRecord> records;
        try {
            records = journal.list(database + "_backup_");
        } catch (IOException e) {
            LOG.warnf("Cannot read the job records of %s to recover abandoned backups: %s", database, e.getMessage());
            return;
        }
        for (JobRecord r : records) {
            boolean unfinished = r.state() == JobState.RUNNING || r.state() == JobState.QUEUED
                    || (r.state() == JobState.ABANDONED && r.finishedAt() != null && r.detail() != null
                    && !"true".equals(r.detail().get("recovered")));
            if (!database.equals(r.key()) || r.id().equals(ownId) || !unfinished || jobs.find(r.id()).isPresent()) {
                continue;
            }
            String dataKey = catalog.dataKey(database, r.id());
            try {
                List<String> aborted = store.abortPending(dataKey, Instant.now());
                Map<String, String> detail = new java.util.TreeMap<>(r.detail());
                detail.put("recovered", "true");
                String reason = r.state() == JobState.ABANDONED ? r.error()
                        : "replica " + r.holder() + " stopped before the backup ended";
                journal.put(new JobRecord(r.id(), r.kind(), r.key(), JobState.ABANDONED, null, r.steps(), r.progress(),
                        detail, reason + "; its partial upload was aborted by " + coordination.instance(), r.holder(),
                        r.createdAt(), r.startedAt(), r.heartbeat(), r.heartbeat()));
                LOG.warnf("Backup %s of %s was abandoned by %s; aborted its partial upload %s", r.id(), database,
                        r.holder(), aborted);
            } catch (IOException | RuntimeException e) {
                LOG.warnf("Cannot recover abandoned backup %s: %s", r.id(), e.getMessage());
            }
        }
    }

    /** The running jobs, for listing. */
    public List<BackupJob> runningJobs() {
        return jobs.active();
    }

    /**
     * The backups running on other replicas, as their records have it (one listing of the records; a job whose
     * replica went silent is ABANDONED, not running). Jobs of this replica are left out: {@link #runningJobs} has them.
     */
    public List<JobRecord> runningElsewhere() {
        try {
            return journal.active("").stream().filter(r -> jobs.find(r.id()).isEmpty()).toList();
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot list the backups running on other replicas: %s", e.getMessage());
            return List.of();
        }
    }

    /** The first free id for a backup starting now: the plain name, else with {@code _2}, {@code _3}, ... */
    private String reserveId(String database) {
        Instant now = Instant.now();
        String suffix = config.backup().format().suffix() + codec().suffix();
        try {
            for (int sequence = 1; ; sequence++) {
                String id = BackupIds.fileName(database, now, sequence, suffix);
                if (jobs.find(id).isEmpty() && !catalog.taken(database, id)) {
                    return id;
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot check the store for existing backups: " + e.getMessage(), e);
        }
    }

    /** Whether what {@link #codec()} writes is age-encrypted. */
    boolean encrypts() {
        return !recipients.isEmpty();
    }

    Codec codec() {
        BackupServiceConfig.Backup b = config.backup();
        return Codec.forWriting(b.compression(), b.zstdLevel(), b.zstdWorkers(), recipients);
    }

    /** The pipeline. Runs on a worker thread; records the outcome on the job, never throws. */
    void run(BackupJob job) {
        String db = job.database();
        try {
            job.log().begin(StepName.DUMP, null);
            PgConnection connection = databases.connection(db);
            int serverVersion = pgTools.serverVersionNum(connection);
            PgTools.Program pgDump = pgTools.forServerVersion("pg_dump", serverVersion);
            DumpFormat format = config.backup().format();
            String dataKey = catalog.dataKey(db, job.id());

            List<String> args = new ArrayList<>(List.of("--no-password", "--format=" + format.pgDumpFlag()));
            if (format == DumpFormat.CUSTOM) {
                args.add("--compress=0"); // compression is ours, after the dump
            }
            WriteChain chain;
            BackupMetadata.LargeObjectsFingerprint largeObjects;
            // tagged as data: the only objects the bucket lifecycle rules move to colder storage classes
            try (PendingObject pending = store.create(dataKey, BucketLifecycle.DATA_TAGS);
                 // fixed time zone and bytea format: the COPY text, and so the fingerprint, do not depend on defaults
                 PgProcess dump = PgProcess.start(pgDump.path(), args, connection.withSettings(CopyText.forDump()),
                         pgTools.connectTimeout(), new TimeLimit(config.backup().timeout(), "lifeboat.backup.timeout"))) {
                dump.stdin().close();
                job.dump = dump;
                if (job.interruption() != null) {
                    dump.kill();
                }
                chain = new WriteChain(pending, codec(), format == DumpFormat.PLAIN ? new ContentFingerprint() : null,
                        job.stored);
                job.chain = chain;
                try {
                    chain.transferFrom(config.backup().maxRate().isPresent()
                            ? new ReadRate(dump.stdout(), config.backup().maxRate().getAsLong()) : dump.stdout());
                    dump.waitSuccess();
                    chain.finish();
                    // before the commit: large objects that cannot be fingerprinted fail the backup, leaving nothing
                    largeObjects = chain.largeObjects();
                } finally {
                    chain.discard();
                }
                pending.commit();
            }
            job.log().end(StepName.DUMP, Step.Status.DONE, chain.rawBytes() + " bytes dumped, " + job.bytesStored()
                    + " stored");
            job.log().begin(StepName.ROLES, null);
            BackupMetadata.RolesObject roles;
            try {
                roles = storeRoles(job, connection, serverVersion);
            } catch (Exception | Error e) {
                deleteQuietly(dataKey, e);
                throw e;
            }
            job.log().end(StepName.ROLES, Step.Status.DONE, roles.names().size() + " roles" + (roles.passwords()
                    ? " with password hashes" : ", without passwords") + ": " + roles.names());
            job.log().begin(StepName.COMMIT, null);
            journal.report(job.id());
            if (job.interruption() != null) {
                throw new IllegalStateException(job.interruption());
            }
            Instant finishedAt = Instant.now();
            BackupMetadata metadata = new BackupMetadata(BackupMetadata.SCHEMA_VERSION, job.id(), db,
                    databases.databaseName(db), dataKey, PgTools.release(serverVersion), pgDump.version(),
                    chain.encoding(), format, config.backup().compression(), recipients, job.trigger(),
                    job.labels(), job.startedAt(), finishedAt, job.elapsedSeconds(), chain.rawBytes(),
                    job.bytesStored(), job.stored.sha256Hex(), chain.fingerprint(), chain.fingerprintAlgorithm(),
                    largeObjects, roles);
            try {
                catalog.commit(metadata); // removes the data object itself when it fails
            } catch (IOException | RuntimeException e) {
                deleteQuietly(roles.key(), e);
                throw e;
            }
            job.log().end(StepName.COMMIT, Step.Status.DONE, catalog.metadataKey(db, job.id()));
            job.succeeded(metadata);
            metrics.succeeded(metadata);
            LOG.infof("Backup %s of %s completed: %d bytes dumped, %d stored, %.1f s", job.id(), db,
                    metadata.rawSizeBytes(), metadata.storedSizeBytes(), metadata.durationSeconds());
            verifyNotifier.backupCompleted(metadata);
        } catch (Exception | Error e) {
            String reason = job.interruption() != null ? job.interruption() : Errors.describe(e);
            job.log().failRunning(reason);
            job.failed(reason);
            metrics.failed(db, job.elapsedSeconds());
            LOG.errorf("Backup %s of %s failed: %s", job.id(), db, reason);
        } finally {
            job.dump = null;
            journal.end(job.id());
            jobs.finish(job);
        }
    }

    /**
     * The ROLES step: the definitions of the roles the database refers to, through the same write chain as the data
     * (compression, encryption, size and SHA-256) into {@code <prefix>/roles/<id>}. pg_dumpall writes every role of
     * the cluster; {@link RoleScript#filter} keeps the statements about the referenced ones as the output streams by.
     * The text is never logged: with {@code lifeboat.backup.roles.passwords} it holds password hashes.
     */
    private BackupMetadata.RolesObject storeRoles(BackupJob job, PgConnection connection, int serverVersion)
            throws IOException {
        List<String> referenced = referencedRoles(connection);
        boolean passwords = config.backup().roles().passwords();
        PgTools.Program pgDumpall = pgTools.forServer("pg_dumpall", serverVersion / 10000);
        List<String> args = new ArrayList<>(List.of("--no-password", "--roles-only",
                "--database=" + connection.database()));
        if (!passwords) {
            args.add("--no-role-passwords");
        }
        String key = catalog.rolesKey(job.database(), job.id());
        Measure stored = new Measure();
        List<String> names;
        WriteChain chain;
        try (PendingObject pending = store.create(key);
             // UTF-8 whatever the database's encoding, so the restore reads role names and comments one way
             PgProcess dumpall = PgProcess.start(pgDumpall.path(), args,
                     connection.withSettings(Map.of("client_encoding", "UTF8")), pgTools.connectTimeout(),
                     new TimeLimit(config.backup().timeout(), "lifeboat.backup.timeout"))) {
            dumpall.stdin().close();
            chain = new WriteChain(pending, codec(), null, stored);
            try {
                Writer out = new OutputStreamWriter(new OutputStream() {
                    @Override
                    public void write(int b) throws IOException {
                        chain.write(new byte[] {(byte) b}, 0, 1);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        chain.write(b, off, len);
                    }
                }, StandardCharsets.UTF_8);
                names = RoleScript.filter(new BufferedReader(new InputStreamReader(dumpall.stdout(),
                        StandardCharsets.UTF_8), ROLES_BUFFER), referenced, out);
                out.flush();
                dumpall.waitSuccess();
                chain.finish();
            } finally {
                chain.discard();
            }
            pending.commit();
        }
        return new BackupMetadata.RolesObject(key, chain.rawBytes(), stored.bytes(), stored.sha256Hex(), passwords,
                names);
    }

    /** The roles the database's objects refer to ({@link RoleScript#REFERENCED_ROLES_SQL}). */
    private List<String> referencedRoles(PgConnection connection) throws IOException {
        String json = pgTools.psqlQuery(pgTools.newest("psql"), connection.withSettings(Map.of("client_encoding",
                "UTF8")), RoleScript.REFERENCED_ROLES_SQL).strip();
        return List.of(Json.read(json.getBytes(StandardCharsets.UTF_8), String[].class));
    }

    /** Removes an object a failed backup left (best effort: the janitor removes what remains). */
    private void deleteQuietly(String key, Throwable failure) {
        try {
            store.delete(key);
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /** Waits for a job; used by {@code ?wait=true} and the scheduler. */
    public BackupJob await(BackupJob job) {
        return jobs.await(job);
    }
}
