package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreMode;
import dev.lifeboat.common.api.RolesOption;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.client.BackupServiceClient;
import dev.lifeboat.common.api.BackupView;
import dev.lifeboat.common.api.RestoreFailure;
import dev.lifeboat.common.api.RestoreStep;
import dev.lifeboat.common.config.EncryptionConfig;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.ChecksumMismatch;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.error.Errors.PeerFailed;
import dev.lifeboat.common.error.Errors.RestoreInProgress;
import dev.lifeboat.common.error.Errors.RestoreNotFound;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.job.JobIds;
import dev.lifeboat.common.job.JobJournal;
import dev.lifeboat.common.job.JobRecord;
import dev.lifeboat.common.job.JobsConfig;
import dev.lifeboat.common.job.JobRegistry;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.coord.ShutdownConfig;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.store.ArchiveState;
import dev.lifeboat.common.store.ArchiveWait;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.restore.config.RestoreServiceConfig;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import dev.lifeboat.restore.service.WorkloadScaler.Workload;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jboss.logging.Logger;

/**
 * Restores backups (DESIGN §3). The steps, in the order they run, are all in {@link #start} (checks, at request
 * time, so a bad request is refused before anything happens: the backup, and the roles it refers to against the
 * target server, see {@link TargetRoles}) and {@link #run}: scale the target's workloads
 * down, take a safety backup, load in one transaction (or into a new database that is then swapped in), scale
 * back up — also after a failure — and record the outcome. One restore per target at a time.
 */
@ApplicationScoped
public class RestoreService {
    private static final Logger LOG = Logger.getLogger(RestoreService.class);
    /** Restore ids: {@code restore_<UTC time>_<6 hex>}; the scratch database is named after it. */
    static final JobIds IDS = new JobIds("restore");
    static final String SCRATCH_PREFIX = "lifeboat_scratch_";

    private final RestoreServiceConfig config;
    private final Targets targets;
    private final BackupCatalog catalog;
    private final ObjectStore store;
    private final PgTools pgTools;
    private final EncryptionConfig encryption;
    private final WorkloadScaler scaler;
    private final BackupServiceClient backups;
    private final RestoreMetrics metrics;
    private final ArchiveWait archive;
    private final WalArchive walArchive;
    /** Point in time: where the private servers' data directories go (lifeboat.restore.pitr.spool-dir). */
    private final java.nio.file.Path spool;
    private final ExecutorService workers = Executors.newCachedThreadPool(Thread.ofPlatform().name("restore-", 1).factory());
    /** Running restores, one per target, and the recently finished ones. */
    private final JobRegistry<RestoreJob> jobs;
    private final ShutdownConfig shutdown;
    private final Coordination coordination;
    /** Durable records of the restores ({@code jobs/restore/} in the store), readable from every replica. */
    private final JobJournal journal;
    /** Set at shutdown: no new restore starts on this replica. */
    private volatile boolean draining;

    /** The load session's {@code SET LOCAL} lines (lifeboat.restore.session.*). */
    private final String sessionTuning;

    public RestoreService(RestoreServiceConfig config, Targets targets, BackupCatalog catalog, ObjectStore store,
                          PgTools pgTools, EncryptionConfig encryption, WorkloadScaler scaler,
                          BackupServiceClient backups, RestoreMetrics metrics, StoreConfig storeConfig,
                          Coordination coordination, ShutdownConfig shutdown, JobsConfig jobsConfig,
                          WalArchive walArchive) {
        this.shutdown = shutdown;
        this.coordination = coordination;
        this.config = config;
        this.targets = targets;
        this.catalog = catalog;
        this.store = store;
        this.pgTools = pgTools;
        this.encryption = encryption;
        this.scaler = scaler;
        this.backups = backups;
        this.metrics = metrics;
        this.archive = ArchiveWait.of(store, storeConfig);
        this.walArchive = walArchive;
        this.spool = RecoveryInstance.spool(config.restore().pitr().spoolDir()); // a bad value stops the start
        this.jobs = new JobRegistry<>(coordination.lock("restore"), config.restore().jobHistory(),
                RestoreInProgress::new);
        this.sessionTuning = SessionTuning.preamble(config.restore().session()); // a bad value stops the start
        if (config.restore().loadLanes() < 1 || config.restore().loadLanes() > 16) {
            throw new dev.lifeboat.common.error.Errors.InvalidConfiguration("lifeboat.restore.load-lanes = "
                    + config.restore().loadLanes() + ": 1 (one connection) to 16");
        }
        this.journal = new JobJournal(store, "restore", coordination.instance(), jobsConfig.reportInterval(),
                jobsConfig.abandonedAfter());
    }

    /**
     * Graceful shutdown (SIGTERM): no new restore starts (503); running ones get {@code lifeboat.shutdown.grace} to
     * finish, then psql is killed before its COMMIT, so the load rolls back and the target is unchanged, and the
     * workloads are scaled back, the job recorded FAILED and its Lease released, before the process exits.
     */
    void onStart(@Observes io.quarkus.runtime.StartupEvent event) {
        RecoveryInstance.cleanSpool(spool, pgTools); // what a crashed point-in-time restore left
    }

    void onStop(@Observes ShutdownEvent event) {
        draining = true;
        if (!jobs.idle()) {
            LOG.infof("Shutting down: waiting up to %s for %d running restore(s)", shutdown.grace(), jobs.active().size());
            jobs.awaitIdle(shutdown.grace());
            for (RestoreJob job : jobs.active()) {
                LOG.warnf("Restore %s did not finish within lifeboat.shutdown.grace: rolling it back", job.id());
                job.interrupt("interrupted by shutdown");
            }
            // rolled back and its workloads scaled back before the process goes
            jobs.awaitIdle(java.time.Duration.ofSeconds(20));
        }
        workers.shutdownNow();
        journal.close();
    }


    /** Validates a restore id (it names a scratch database); throws {@link InvalidRequest}. */
    public static String validateId(String id) {
        return IDS.validate(id);
    }

    /** The scratch database a restore created. */
    static String scratchDatabase(String restoreId) {
        return SCRATCH_PREFIX + restoreId.substring("restore_".length());
    }

    /**
     * Checks the request and the backup, reserves the target and starts the restore in the background.
     *
     * @throws RestoreInProgress when a restore into the target is already running
     */
    public RestoreJob start(String targetName, RestoreRequestSpec request) {
        if (draining) {
            throw new Errors.ShuttingDown("This replica is shutting down and starts no restore; retry (another "
                    + "replica, or this one restarted, takes it).");
        }
        Target target = targets.require(targetName);
        RestoreMode mode = checkMode(targetName, target, request.mode());
        boolean inPlace = !target.scratch();
        boolean safety = inPlace && request.safetyBackup();
        if (safety && (!backups.configured() || target.databaseLabel().isEmpty())) {
            throw new InvalidRequest("A safety backup of target '" + targetName + "' needs lifeboat.peers.backup-url and "
                    + "lifeboat.targets." + targetName + ".database-label; configure them or send \"safetyBackup\": false.");
        }
        RolesOption roles = request.roles() != null ? request.roles()
                : target.scratch() ? RolesOption.CREATE_MISSING : RolesOption.REQUIRE;
        RestoreRequestSpec spec = new RestoreRequestSpec(request.backup(), request.database(), mode, safety,
                inPlace && request.scaleDown(), roles, request.pointInTime());
        RestoreJob job = jobs.register(targetName, new RestoreJob(IDS.next(), targetName, spec, coordination.instance()));
        // the target is ours now on every replica: what a replica that died left of its restores is ended first
        endAbandoned(targetName, job.id(), "ended by " + coordination.instance() + " when restore " + job.id()
                + " took the target");
        BackupMetadata backup;
        TargetRoles.Plan rolesPlan;
        if (spec.pointInTime() != null) {
            try {
                PitrPlan plan = plan(job, targetName, target, spec);
                LOG.infof("Restore %s of %s to %s into target %s started (%s)", job.id(), spec.database(),
                        spec.pointInTime(), targetName, target.scratch() ? "scratch" : mode.value());
                metrics.started(targetName);
                journal.track(job.id(), () -> record(job));
                workers.execute(() -> run(job, target, null, TargetRoles.Plan.NONE));
                return job;
            } catch (RuntimeException e) {
                jobs.finish(job);
                throw e;
            }
        }
        try {
            job.log().begin(RestoreStep.RESOLVE, "backup " + request.backup());
            backup = resolve(targetName, target, spec);
            job.resolved(backup.id(), backup.storedSizeBytes());
            // before anything is touched: a target lacking roles is refused now (require), or they are planned
            rolesPlan = TargetRoles.plan(store, backup, identities(), pgTools,
                    targets.connection(targetName, target.scratch() ? target.maintenanceDatabase() : target.database()),
                    roles, targetName);
            job.log().end(RestoreStep.RESOLVE, Step.Status.DONE, backup.id() + ", " + backup.storedSizeBytes()
                    + " bytes stored; " + rolesPlan.describe());
        } catch (RuntimeException e) {
            jobs.finish(job);
            throw e;
        }
        LOG.infof("Restore %s of %s into target %s started (%s)", job.id(), backup.id(), targetName,
                target.scratch() ? "scratch" : mode.value());
        metrics.started(targetName);
        journal.track(job.id(), () -> record(job));
        workers.execute(() -> run(job, target, backup, rolesPlan));
        return job;
    }

    private static RestoreMode checkMode(String name, Target target, RestoreMode requested) {
        if (target.scratch()) {
            if (requested != null) {
                throw new InvalidRequest("Target '" + name + "' is a scratch target: every restore goes into a fresh "
                        + "database, so it takes no mode.");
            }
            return null;
        }
        RestoreMode mode = requested != null ? requested : target.modes().get(0);
        if (!target.modes().contains(mode)) {
            throw new InvalidRequest("Mode " + mode.value() + " is not allowed for target '" + name + "'; allowed: "
                    + target.modes().stream().map(RestoreMode::value).toList() + " (lifeboat.targets." + name + ".modes).");
        }
        return mode;
    }

    /**
     * Step 1 of a point-in-time restore, before anything is touched: the base backup and WAL to recover from
     * ({@link PitrPlan}), refused with the instants named when the target cannot be reached.
     */
    private PitrPlan plan(RestoreJob job, String targetName, Target target, RestoreRequestSpec spec) {
        String label = spec.database();
        job.log().begin(RestoreStep.RESOLVE, spec.pointInTime().endOfBackup() ? "base backup " + spec.backup()
                : "database " + label + " at " + spec.pointInTime());
        if (!target.scratch() && target.databaseLabel().isPresent() && !target.databaseLabel().get().equals(label)) {
            throw new InvalidRequest("Target '" + targetName + "' holds database '" + target.databaseLabel().get()
                    + "', not '" + label + "'. Restore it into a scratch target.");
        }
        PitrPlan plan = spec.pointInTime().endOfBackup() ? PitrPlan.forBase(catalog, walArchive, spec.backup())
                : PitrPlan.choose(catalog, walArchive, label, spec.pointInTime());
        BaseBackupMetadata base = plan.base();
        if (base.encryptionRecipients() != null && !base.encryptionRecipients().isEmpty() && identities().isEmpty()) {
            throw new InvalidRequest("Base backup " + base.id() + " is encrypted but no age identity is configured "
                    + "(lifeboat.encryption.identity-files).");
        }
        job.plan = plan;
        job.resolved(base.id(), base.storedSizeBytes());
        job.log().end(RestoreStep.RESOLVE, Step.Status.DONE, plan.describe());
        return plan;
    }

    /**
     * FETCH_BASE and REPLAY_WAL: the private server of the base backup's major gets the base backup unpacked, replays
     * the WAL served from the archive up to the instant and is promoted; then the roles plan against the target. Runs before the workloads are scaled down:
     * the target is untouched until its dump is loaded.
     */
    private TargetRoles.Plan recover(RestoreJob job, PitrPlan plan, Target target) {
        BaseBackupMetadata base = plan.base();
        RestoreServiceConfig.Pitr pitr = config.restore().pitr();
        int major = Integer.parseInt(base.serverVersion().split("\\.")[0]);
        job.log().begin(RestoreStep.FETCH_BASE, base.id());
        journal.report(job.id());
        RecoveryInstance instance = RecoveryInstance.create(spool, job.id(), major, pgTools, pitr.superuser());
        job.recovery = instance;
        TimeLimit limit = new TimeLimit(pitr.replayTimeout(), "lifeboat.restore.pitr.replay-timeout");
        instance.fetchBase(store, base, identities(), job.stored, pgTools.connectTimeout(), limit);
        job.log().end(RestoreStep.FETCH_BASE, Step.Status.DONE, base.rawSizeBytes() + " bytes of tar from "
                + job.bytesRestored() + " stored bytes checked and unpacked");
        PointInTime at = job.spec().pointInTime();
        String to = at.endOfBackup() ? "the end of base backup " + base.id() + " (" + base.endLsn() + ")"
                : at.latest() ? "the end of the archive (" + plan.archiveEnd() + ")"
                : "recovery_target_time " + at.recoveryTargetTime();
        job.log().begin(RestoreStep.REPLAY_WAL, "PostgreSQL " + instance.program().release() + " recovering to " + to);
        journal.report(job.id());
        instance.serveWal(walArchive, store, base.database(), base.systemIdentifier(), identities(), pitr.prefetch());
        instance.start(at);
        String stopped = instance.awaitPromoted(at, limit, job::interruption,
                progress -> job.log().detail(RestoreStep.REPLAY_WAL, progress));
        TargetRoles.Plan roles = recoveredRoles(job, target);
        job.log().end(RestoreStep.REPLAY_WAL, Step.Status.DONE, "recovered to " + to + " and promoted; " + stopped
                + "; database " + job.recoveredDatabase + ", " + roles.describe());
        return roles;
    }

    /**
     * After recovery, before anything is touched: which database of the recovered cluster is restored, and the roles
     * it refers to against the target ({@link TargetRoles#fromRecovered}; {@code require} refuses here).
     */
    private TargetRoles.Plan recoveredRoles(RestoreJob job, Target target) {
        RecoveryInstance instance = job.recovery;
        job.recoveredDatabase = sourceDatabase(job, instance, target);
        TargetRoles.Plan plan = TargetRoles.fromRecovered(pgTools, instance.program().major(),
                instance.connection(job.recoveredDatabase), targets.connection(job.target(), target.scratch()
                        ? target.maintenanceDatabase() : target.database()), job.spec().roles(), !target.scratch(),
                job.target(), config.restore().timeout());
        return plan;
    }

    /**
     * The database of the recovered cluster to dump: the one the database's logical backups name, else the one named
     * like the target's database (an in-place restore of the database itself), else the only database besides
     * {@code postgres}.
     */
    private String sourceDatabase(RestoreJob job, RecoveryInstance instance, Target target) {
        String label = job.plan.base().database();
        List<String> names = List.of(pgTools.psqlQuery(pgTools.forServer("psql", instance.program().major()),
                instance.connection("postgres"), "SELECT datname FROM pg_database WHERE NOT datistemplate "
                        + "AND datname <> 'postgres' ORDER BY 1").strip().split("\n"));
        Optional<String> logical;
        try {
            logical = catalog.latest(label).map(BackupMetadata::databaseName).filter(names::contains);
        } catch (RuntimeException e) {
            logical = Optional.empty();
        }
        if (logical.isPresent()) {
            return logical.get();
        }
        if (names.contains(target.database())) {
            return target.database();
        }
        if (names.size() == 1 && !names.get(0).isBlank()) {
            return names.get(0);
        }
        throw new RestoreFault(RestoreFailure.OTHER, "The recovered cluster of '" + label + "' holds databases " + names
                + " and none is known to be '" + label + "' (no logical backup names it, and none is called '"
                + target.database() + "'). Nothing was loaded; the target is unchanged.");
    }

    /** Step 1: the backup exists and is complete, its object has the recorded size, and it can be decrypted. */
    private BackupMetadata resolve(String targetName, Target target, RestoreRequestSpec spec) {
        BackupMetadata backup;
        String what = spec.backup();
        if (RestoreRequestSpec.LATEST.equals(what) || RestoreRequestSpec.LATEST_VERIFIED.equals(what)) {
            String label = Optional.ofNullable(spec.database()).filter(d -> !d.isBlank())
                    .or(target::databaseLabel).orElseThrow(() -> new InvalidRequest("\"" + what + "\" needs a database: "
                            + "send \"database\" or set lifeboat.targets." + targetName + ".database-label."));
            BackupIds.validateLabel(label);
            backup = RestoreRequestSpec.LATEST.equals(what) ? latest(label) : latestVerified(label);
        } else {
            backup = catalog.get(what);
        }
        if (!target.scratch() && target.databaseLabel().isPresent() && !target.databaseLabel().get().equals(backup.database())) {
            throw new InvalidRequest("Backup " + backup.id() + " is of database '" + backup.database() + "', but target '"
                    + targetName + "' holds '" + target.databaseLabel().get() + "'. Restore it into a scratch target.");
        }
        if (backup.format() != DumpFormat.PLAIN) {
            throw new InvalidRequest("Backup " + backup.id() + " is in the custom format, which restore-service does not "
                    + "load yet; restore it with pg_restore (README, emergency restore).");
        }
        if (backup.encrypted() && identities().isEmpty()) {
            throw new InvalidRequest("Backup " + backup.id() + " is encrypted but no age identity is configured "
                    + "(lifeboat.encryption.identity-files).");
        }
        try {
            long size = store.stat(backup.key()).orElseThrow(() -> new ChecksumMismatch("The data object of backup "
                    + backup.id() + " is missing (" + store.locate(backup.key()) + ").")).size();
            if (size != backup.storedSizeBytes()) {
                throw new ChecksumMismatch("The data object of backup " + backup.id() + " has " + size
                        + " bytes; its metadata records " + backup.storedSizeBytes() + ". It is damaged or truncated.");
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot read the store: " + e.getMessage(), e);
        }
        return backup;
    }

    /**
     * The newest backup of {@code label} that is not a safety backup: right after a restore, the newest backup is
     * the PRE_RESTORE one of the state just replaced, and "restore latest again" must not bring that back.
     * Safety backups are restored by id.
     */
    private BackupMetadata latest(String label) {
        Optional<BackupMetadata> newest = catalog.latest(label);
        if (newest.isPresent() && newest.get().trigger() != Trigger.PRE_RESTORE) {
            return newest.get();
        }
        return catalog.list(label).stream().filter(b -> b.trigger() != Trigger.PRE_RESTORE).findFirst()
                .orElseThrow(() -> new BackupNotFound("Database '" + label + "' has no completed backup"
                        + (newest.isPresent() ? " other than safety backups (restore those by id)." : ".")));
    }

    /**
     * The newest backup of {@code label} proven restorable by verify-service (a passed full verification and no
     * failed one since, see {@link BackupCatalog#provenRestorable}) that is not a safety backup, for the same reason
     * as {@link #latest}: a verified PRE_RESTORE backup holds the state a restore just replaced.
     */
    private BackupMetadata latestVerified(String label) {
        List<BackupMetadata> verified = catalog.listVerified(label);
        return verified.stream().filter(b -> b.trigger() != Trigger.PRE_RESTORE).findFirst()
                .orElseThrow(() -> new BackupNotFound("Database '" + label + "' has no backup with a passed full "
                        + "verification (and no failed verification since)" + (verified.isEmpty() ? "."
                        : " other than safety backups (restore those by id).")));
    }

    /** Steps 2-6. Runs on a worker thread; records the outcome on the job, never throws. */
    void run(RestoreJob job, Target target, BackupMetadata backup, TargetRoles.Plan roles) {
        String targetName = job.target();
        RestoreRequestSpec spec = job.spec();
        List<Workload> scaled = List.of();
        List<String> scaleBackProblems = List.of();
        String failure = null;
        RestoreFailure kind = null;
        try {
            if (job.plan != null) {
                roles = recover(job, job.plan, target); // before the workloads go down: the target is untouched
            } else {
                // an archived backup is made readable before anything changes: workloads stay up during the wait
                awaitArchive(job, backup);
            }
            // Workloads first, then the safety backup: it then holds every write the applications made.
            if (spec.scaleDown() && WorkloadScaler.configured(target)) {
                job.log().begin(RestoreStep.SCALE_DOWN, null);
                journal.report(job.id());
                scaled = scaler.scaleDown(targetName, target, job.id());
                scaler.awaitPodsGone(scaled, config.restore().podsGoneTimeout());
                job.log().end(RestoreStep.SCALE_DOWN, Step.Status.DONE, scaled.isEmpty() ? "no workload found"
                        : "scaled to 0: " + scaled);
            } else if (!target.scratch()) {
                job.log().skip(RestoreStep.SCALE_DOWN, WorkloadScaler.configured(target) ? "scaleDown=false in the request"
                        : "no workloads configured for the target");
            }
            if (spec.safetyBackup()) {
                job.log().begin(RestoreStep.SAFETY_BACKUP, null);
                journal.report(job.id());
                String id = safetyBackup(job, target.databaseLabel().orElseThrow());
                job.log().end(RestoreStep.SAFETY_BACKUP, Step.Status.DONE, id);
            } else if (!target.scratch()) {
                job.log().skip(RestoreStep.SAFETY_BACKUP, "safetyBackup=false");
            }
            if (target.scratch()) {
                restoreIntoNewDatabase(job, target, backup, scratchDatabase(job.id()), false, roles);
            } else if (spec.mode() == RestoreMode.RECREATE_DATABASE) {
                restoreIntoNewDatabase(job, target, backup, "lifeboat_new_" + job.id().substring("restore_".length()), true,
                        roles);
            } else {
                job.database(target.database());
                load(job, target, backup, target.database(), true, roles);
            }
        } catch (RuntimeException | Error e) {
            failure = job.interruption() != null
                    ? job.interruption() + "; nothing was committed, the target is unchanged" : Errors.describe(e);
            kind = RestoreFault.classify(e);
            job.log().failRunning(failure);
        } finally {
            RecoveryInstance recovery = job.recovery;
            if (recovery != null) {
                recovery.close(); // stopped and its directory removed, whatever happened
                job.recovery = null;
            }
            if (!scaled.isEmpty()) {
                job.log().begin(RestoreStep.SCALE_UP, null);
                journal.report(job.id());
                scaleBackProblems = scaler.scaleBack(scaled);
                job.log().end(RestoreStep.SCALE_UP, scaleBackProblems.isEmpty() ? Step.Status.DONE : Step.Status.FAILED,
                        scaleBackProblems.isEmpty() ? "scaled back: " + scaled : "NOT scaled back: " + scaleBackProblems);
            }
            if (failure == null && !scaleBackProblems.isEmpty()) {
                failure = "The data was restored, but workloads could not be scaled back: " + scaleBackProblems;
                kind = RestoreFailure.PEER_ERROR;
            }
            if (failure == null) {
                job.succeeded();
                LOG.infof("Restore %s of %s into %s completed: %d bytes in %.1f s", job.id(), what(job), targetName,
                        job.bytesRestored(), job.elapsedSeconds());
            } else {
                job.failed(failure, kind);
                LOG.errorf("Restore %s of %s into %s failed: %s", job.id(), what(job), targetName, failure);
            }
            metrics.finished(targetName, failure == null, job.elapsedSeconds());
            journal.end(job.id()); // the final record before the Lease goes: a record still RUNNING means a dead replica
            jobs.finish(job);
        }
    }

    private static String what(RestoreJob job) {
        return job.plan == null ? job.backupId() : job.backupId() + " + WAL to " + job.spec().pointInTime();
    }

    /**
     * WAITING_FOR_ARCHIVE, only when the backup's data is archived (GLACIER, DEEP_ARCHIVE): requests its restore
     * (S3 RestoreObject, {@code lifeboat.store.s3.archive.tier} and {@code days}) and polls until it is readable,
     * within {@code lifeboat.store.s3.archive.timeout}. The step's detail says the state and the expected time.
     */
    private void awaitArchive(RestoreJob job, BackupMetadata backup) {
        try {
            if (archive.state(backup.key()).readable()) {
                return;
            }
            job.log().begin(RestoreStep.WAITING_FOR_ARCHIVE, "data archived; requesting its restore");
            ArchiveState end = archive.awaitReadable(backup.key(), (state, seen, expected) ->
                    job.log().detail(RestoreStep.WAITING_FOR_ARCHIVE, state + ": " + seen.storageClass() + ", "
                            + archive.archive().tier() + " retrieval, expected within " + expected));
            job.log().end(RestoreStep.WAITING_FOR_ARCHIVE, Step.Status.DONE, "restored copy " + end.name().toLowerCase(
                    java.util.Locale.ROOT) + " (" + store.locate(backup.key()) + ")");
        } catch (ArchiveWait.TimedOut e) {
            throw new RestoreFault(RestoreFailure.TIMEOUT, e.getMessage());
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot restore the archived data of backup " + backup.id() + ": "
                    + e.getMessage(), e);
        }
    }

    /** Scratch and recreate-database: load into a new database; on failure it is dropped and nothing else changed. */
    private void restoreIntoNewDatabase(RestoreJob job, Target target, BackupMetadata backup, String database, boolean swap,
                                        TargetRoles.Plan roles) {
        String targetName = job.target();
        PgConnection maintenance = targets.connection(targetName, target.maintenanceDatabase());
        job.log().begin(RestoreStep.CREATE_DATABASE, database);
        String createOptions = "";
        DatabaseSettings replaced = null;
        if (swap) {
            // the replacement looks like the database it replaces: owner, encoding, locale (and, below, the rest)
            replaced = DatabaseSettings.require(pgTools, maintenance, target.database(), targetName);
            createOptions = replaced.createOptions();
        }
        pgTools.psqlQuery(pgTools.newest("psql"), maintenance,
                "CREATE DATABASE " + Sql.identifier(database) + " TEMPLATE template0" + createOptions);
        job.database(swap ? target.database() : database);
        job.log().end(RestoreStep.CREATE_DATABASE, Step.Status.DONE, database);
        boolean keep = false;
        try {
            load(job, target, backup, database, false, roles);
            if (swap) {
                job.log().begin(RestoreStep.SWAP, null);
                journal.report(job.id());
                // read again: the settings as they are right before the swap, not as they were before the load
                replaced = DatabaseSettings.require(pgTools, maintenance, target.database(), targetName);
                swap(job, target, maintenance, database, replaced);
                job.log().end(RestoreStep.SWAP, Step.Status.DONE, "database settings carried over: " + replaced.summary());
            }
            keep = true;
        } finally {
            if (!keep) {
                dropQuietly(maintenance, database);
            }
        }
    }

    /**
     * recreate-database: the loaded database gets what the replaced one carries outside its dump (settings, ACL,
     * connection limit; {@link DatabaseSettings}), then takes the target's name in one transaction (renames are
     * transactional); the old one is then dropped. Sessions still on the old database are ended first, as a rename
     * needs it idle; the applications are scaled down already. While the target refuses connections, a
     * {@link SwapMarker} on the loaded database says so, for {@link StartupRecovery} should the process die.
     */
    private void swap(RestoreJob job, Target target, PgConnection maintenance, String loaded, DatabaseSettings replaced) {
        String old = "lifeboat_old_" + job.id().substring("restore_".length());
        String db = target.database();
        PgTools.Program psql = pgTools.newest("psql");
        List<String> copy = replaced.copyStatements(loaded);
        if (!copy.isEmpty()) {
            try {
                pgTools.psqlQuery(psql, maintenance, String.join(";\n", copy) + ";");
            } catch (RuntimeException e) {
                throw new RestoreFault(RestoreFailure.TARGET_ERROR, "The settings, privileges or connection limit of "
                        + "database '" + db + "' could not be given to the restored database, so it was not swapped in "
                        + "(the target is unchanged): " + Errors.describe(e));
            }
        }
        SwapMarker marker = new SwapMarker(job.id(), db, replaced.allowConnections());
        pgTools.psqlQuery(psql, maintenance, "BEGIN; COMMENT ON DATABASE " + Sql.identifier(loaded) + " IS "
                + Sql.literal(marker.comment()) + "; ALTER DATABASE " + Sql.identifier(db) + " ALLOW_CONNECTIONS false; COMMIT;");
        try {
            pgTools.psqlQuery(psql, maintenance, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = "
                    + Sql.literal(db) + " AND pid <> pg_backend_pid()");
            if (config.restore().haltBeforeSwapForTests()) {
                LOG.errorf("Restore %s: lifeboat.restore.halt-before-swap-for-tests is set: halting before the swap", job.id());
                Runtime.getRuntime().halt(86);
            }
            pgTools.psqlQuery(psql, maintenance, "BEGIN; ALTER DATABASE " + Sql.identifier(db) + " RENAME TO " + Sql.identifier(old)
                    + "; ALTER DATABASE " + Sql.identifier(loaded) + " RENAME TO " + Sql.identifier(db) + "; "
                    + String.join("; ", replaced.swapStatements(db, old)) + "; COMMIT;");
        } catch (RuntimeException e) {
            try {
                pgTools.psqlQuery(psql, maintenance, "ALTER DATABASE " + Sql.identifier(db) + " ALLOW_CONNECTIONS "
                        + replaced.allowConnections());
            } catch (RuntimeException again) {
                LOG.errorf("Restore %s: database %s could not be opened again after a failed swap (%s); start-up "
                        + "recovery does it at the next start, or run ALTER DATABASE ... ALLOW_CONNECTIONS true",
                        job.id(), db, again.getMessage());
                e.addSuppressed(again);
            }
            throw e;
        }
        try {
            pgTools.psqlQuery(psql, maintenance, "DROP DATABASE " + Sql.identifier(old) + " WITH (FORCE)");
        } catch (RuntimeException e) {
            LOG.warnf("Restore %s: the replaced database %s could not be dropped (%s); the janitor retries", job.id(), old,
                    e.getMessage());
        }
    }

    /**
     * Step 4: the load, in one transaction. {@code clean}: reset the schemas and remove the large objects first
     * (clean-schema mode). The missing roles of {@code roles} are created first, in the same transaction, so a failure
     * removes them too.
     */
    private void load(RestoreJob job, Target target, BackupMetadata backup, String database, boolean clean,
                      TargetRoles.Plan roles) {
        PgConnection connection = targets.connection(job.target(), database);
        int serverVersion = pgTools.serverVersionNum(connection);
        PgTools.Program psql = pgTools.forServer("psql", serverVersion / 10000);
        RecoveryInstance recovery = job.recovery;
        RestoreStep step = recovery == null ? RestoreStep.LOAD : RestoreStep.DUMP_LOAD;
        PgProcess pgDump = null;
        DumpLoader.Source source;
        java.util.concurrent.atomic.AtomicLong dumped = new java.util.concurrent.atomic.AtomicLong();
        if (recovery == null) {
            job.log().begin(step, (clean ? "clean-schema" : "fresh database") + " " + database + " with " + psql.version());
            source = DumpLoader.fromBackup(store, backup, identities(), job.stored);
        } else {
            String from = job.recoveredDatabase;
            PgTools.Program dumper = pgTools.forServer("pg_dump", recovery.program().major());
            job.log().begin(step, "pg_dump " + dumper.release() + " of " + from + " on the recovered instance into "
                    + (clean ? "clean-schema" : "fresh database") + " " + database + " with " + psql.version());
            pgDump = PgProcess.start(dumper.path(), List.of("--no-password", "--format=plain"),
                    recovery.connection(from), pgTools.connectTimeout(),
                    new dev.lifeboat.common.pg.TimeLimit(config.restore().timeout(), "lifeboat.restore.timeout"));
            source = DumpLoader.fromPgDump(pgDump, dumped::addAndGet);
        }
        journal.report(job.id());
        // lanes only into a database created for this restore (dropped on failure), and only when no role is created:
        // the lanes need the main connection to commit early, and roles are the cluster's, not the database's
        int lanes = config.restore().loadLanes();
        DumpLoader.Parallel parallel = !clean && roles.missing().isEmpty() && lanes >= 2
                ? new DumpLoader.Parallel(lanes, sessionTuning) : DumpLoader.Parallel.NONE;
        DumpLoader.Loaded loaded;
        try {
            loaded = DumpLoader.load(source, psql, connection, pgTools.connectTimeout(),
                    sessionTuning + roles.createSql() + (clean ? Sql.resetPublicSchema(serverVersion) + Sql.UNLINK_LARGE_OBJECTS : ""),
                    parallel, clean, config.restore().timeout(),
                    p -> {
                        job.loader = p;
                        if (job.interruption() != null) {
                            p.kill();
                        }
                    }, job::interruption);
        } finally {
            if (pgDump != null) {
                pgDump.kill();
                pgDump.close();
            }
        }
        job.loader = null;
        job.log().end(step, Step.Status.DONE, (recovery == null ? job.bytesRestored() + " stored bytes checked"
                : dumped.get() + " bytes of SQL from pg_dump") + " and loaded into "
                + database + (roles.missing().isEmpty() ? "" : "; roles created: " + roles.missing())
                + (loaded.parallelTables() == 0 ? "" : "; rows of " + loaded.parallelTables() + " large table(s), "
                + loaded.parallelBytes() + " bytes, loaded over " + parallel.lanes() + " connections at once"));
    }

    /** Takes the safety backup through backup-service and waits for it; its failure stops the restore. */
    private String safetyBackup(RestoreJob job, String label) {
        BackupView started = backups.start(label, Trigger.PRE_RESTORE, Map.of("restore", job.id()));
        job.safetyBackup(started.id());
        long deadline = System.nanoTime() + config.restore().safetyBackupTimeout().toNanos();
        BackupView status = started;
        for (long wait = 100; !status.status().done(); wait = Math.min(2000, wait * 2)) {
            if (System.nanoTime() > deadline) {
                throw new PeerFailed("Safety backup " + started.id() + " did not finish within "
                        + config.restore().safetyBackupTimeout() + " (lifeboat.restore.safety-backup-timeout)");
            }
            sleep(wait);
            status = backups.get(started.id());
        }
        if (status.status() != JobState.COMPLETED) {
            throw new PeerFailed("Safety backup " + started.id() + " failed: " + status.error());
        }
        return started.id();
    }

    /** Drops a scratch database of a finished restore (DELETE /restores/{id}/database). */
    public RestoreJob dropScratch(String id) {
        validateId(id);
        RestoreJob job = job(id).orElse(null);
        if (job != null && job.state() == JobState.RUNNING) {
            throw new RestoreInProgress(job.target(), id);
        }
        String database = scratchDatabase(id);
        List<String> searched = job != null ? List.of(job.target())
                : targets.names().stream().filter(n -> targets.require(n).scratch()).toList();
        for (String name : searched) {
            Target target = targets.require(name);
            if (!target.scratch()) {
                throw new InvalidRequest("Restore " + id + " went into target '" + name + "' in place; only scratch "
                        + "databases are dropped here.");
            }
            PgConnection maintenance = targets.connection(name, target.maintenanceDatabase());
            if (ScratchJanitor.exists(pgTools, maintenance, database)) {
                pgTools.psqlQuery(pgTools.newest("psql"), maintenance, "DROP DATABASE " + Sql.identifier(database) + " WITH (FORCE)");
                LOG.infof("Dropped scratch database %s of restore %s", database, id);
                if (job != null) {
                    job.markDatabaseDropped();
                }
                return job;
            }
        }
        throw new RestoreNotFound("No scratch database of restore " + id + " exists ("
                + database + "); it was dropped already or expired.");
    }

    /** The stored record of restore {@code id}, from whichever replica ran it (ABANDONED when its replica went silent). */
    public Optional<JobRecord> record(String id) {
        return IDS.createdAt(id).isEmpty() ? Optional.empty() : journal.read(id);
    }

    /**
     * The restores running on other replicas, as their records have it (one listing of the records; a job whose
     * replica went silent is ABANDONED, not running). This replica's are left out: {@link #jobs} has them.
     */
    public List<JobRecord> runningElsewhere() {
        try {
            return journal.active("").stream().filter(r -> jobs.find(r.id()).isEmpty()).toList();
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot list the restores running on other replicas: %s", e.getMessage());
            return List.of();
        }
    }

    /** Removes the records of restores that ended before {@code before} (the leader's janitor pass). */
    public List<String> pruneRecords(Instant before) throws IOException {
        return journal.prune(before);
    }

    /** The record of a restore of this replica, as it stands now. */
    private JobRecord record(RestoreJob job) {
        Map<String, String> detail = new java.util.TreeMap<>();
        detail.put("target", job.target());
        putIfSet(detail, "database", job.database());
        putIfSet(detail, "backupId", job.backupId());
        putIfSet(detail, "pointInTime", job.spec().pointInTime() == null ? null : job.spec().pointInTime().toString());
        putIfSet(detail, "mode", job.spec().mode() == null ? null : job.spec().mode().value());
        putIfSet(detail, "safetyBackupId", job.safetyBackupId());
        putIfSet(detail, "failure", job.failure() == null ? null : job.failure().name());
        return JobRecord.of(job, "restore", job.target(), coordination.instance(),
                Map.of("bytesRestored", (double) job.bytesRestored(), "totalBytes", (double) job.totalBytes(),
                        "elapsedSeconds", Math.round(job.elapsedSeconds() * 10) / 10.0), detail);
    }

    private static void putIfSet(Map<String, String> map, String key, String value) {
        if (value != null) {
            map.put(key, value);
        }
    }

    /**
     * Runs {@code task} while holding {@code target}'s lock (its Lease {@code lifeboat-restore-<target>}) if no restore
     * holds it on any replica; returns whether it ran. For {@link StartupRecovery}: what it repairs is then no
     * running restore's.
     */
    boolean whileHolding(String target, Runnable task) {
        return jobs.whileHolding(target, RestoreInProgress.RECOVERY + coordination.instance(), task);
    }

    /**
     * The records of restores into {@code target} (null: any target) that did not end (still RUNNING, or judged
     * ABANDONED and not recovered yet), other than {@code ownId} and this replica's own jobs. Empty when the store
     * cannot be read.
     */
    List<JobRecord> unfinished(String target, String ownId) {
        List<JobRecord> records;
        try {
            records = journal.list("restore_");
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot read the restore records of target %s: %s", target, e.getMessage());
            return List.of();
        }
        return records.stream().filter(r -> (target == null || target.equals(r.key())) && !r.id().equals(ownId)
                && jobs.find(r.id()).isEmpty() && (r.state() == JobState.RUNNING || r.state() == JobState.QUEUED
                || (r.state() == JobState.ABANDONED && (r.detail() == null || !"true".equals(r.detail().get("recovered"))))))
                .toList();
    }

    /**
     * Ends what replicas that died left of restores into {@code target}: their records still say running (or were
     * judged ABANDONED and not recovered yet), and as the caller holds the target's lock, which a running restore
     * keeps until its final record is written, their replicas are gone. Each is recorded ABANDONED with the reason
     * and {@code aftermath} (what was done about it). Never throws: a store failure only leaves the records as
     * they were for the next pass.
     */
    void endAbandoned(String target, String ownId, String aftermath) {
        for (JobRecord r : unfinished(target, ownId)) {
            Step.Status load = r.steps() == null ? null : r.steps().stream()
                    .filter(s -> RestoreStep.LOAD.name().equals(s.name()) || RestoreStep.DUMP_LOAD.name().equals(s.name()))
                    .map(JobRecord.StepRecord::status)
                    .reduce((a, b) -> b).orElse(null);
            String phase = r.phase() != null ? r.phase() : r.steps() == null ? null : r.steps().stream()
                    .filter(s -> s.status() == Step.Status.RUNNING).map(JobRecord.StepRecord::name).reduce((a, b) -> b)
                    .orElse(null);
            String reason = "replica " + r.holder() + " stopped before the restore ended"
                    + (phase == null ? "" : " (in " + phase + ")") + "; "
                    + (load == Step.Status.DONE ? "its load had been committed"
                    : load == Step.Status.RUNNING ? "its load had not ended: PostgreSQL rolls it back unless psql had "
                    + "already been handed the COMMIT, which is written only after the whole backup was read and checked"
                    : "the target's data was not touched") + "; " + aftermath;
            Map<String, String> detail = new java.util.TreeMap<>(r.detail() == null ? Map.of() : r.detail());
            detail.put("recovered", "true");
            journal.put(new JobRecord(r.id(), r.kind(), r.key(), JobState.ABANDONED, null, r.steps(), r.progress(),
                    detail, reason, r.holder(), r.createdAt(), r.startedAt(), r.heartbeat(), r.heartbeat()));
            LOG.warnf("Restore %s into %s was abandoned by replica %s: %s", r.id(), target, r.holder(), reason);
        }
    }

    /** A running or recently finished job. */
    public Optional<RestoreJob> job(String id) {
        return jobs.find(id);
    }

    /** Running jobs first, then finished ones, newest first. */
    public List<RestoreJob> jobs() {
        return jobs.all();
    }

    /** Ids of the restores running now on any replica (the holders of the targets' Leases). */
    public java.util.Set<String> runningAnywhere() {
        java.util.Set<String> ids = new java.util.HashSet<>();
        for (String target : targets.names()) {
            jobs.holder(target).map(dev.lifeboat.common.job.KeyLock.Holder::jobId).ifPresent(ids::add);
        }
        return ids;
    }

    /** Whether no restore runs on this replica. */
    public boolean idle() {
        return jobs.idle();
    }

    /** Names of databases in use by running restores, which the janitor must not drop. */
    public List<String> databasesInUse() {
        List<String> out = new ArrayList<>();
        for (RestoreJob j : jobs.active()) {
            String suffix = j.id().substring("restore_".length());
            out.add(SCRATCH_PREFIX + suffix);
            out.add("lifeboat_new_" + suffix);
            out.add("lifeboat_old_" + suffix);
        }
        return out;
    }

    /** Waits for a job; used by {@code ?wait=true}. */
    public RestoreJob await(RestoreJob job) {
        return jobs.await(job);
    }

    /** Waits for a job at most {@code limit}; used by {@code GET ...?waitSeconds=N}. */
    public RestoreJob await(RestoreJob job, java.time.Duration limit) {
        return jobs.await(job, limit);
    }

    private List<String> identities() {
        return AgeKeys.readIdentities(encryption.identityFiles().orElse(List.of()));
    }

    private void dropQuietly(PgConnection maintenance, String database) {
        try {
            pgTools.psqlQuery(pgTools.newest("psql"), maintenance, "DROP DATABASE IF EXISTS " + Sql.identifier(database) + " WITH (FORCE)");
        } catch (RuntimeException e) {
            LOG.warnf("Could not drop %s after a failed restore (%s); the janitor drops it later", database, e.getMessage());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted", e);
        }
    }
}
