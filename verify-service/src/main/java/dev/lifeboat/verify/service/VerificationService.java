package dev.lifeboat.verify.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.job.JobIds;
import dev.lifeboat.common.job.JobJournal;
import dev.lifeboat.common.job.JobRecord;
import dev.lifeboat.common.job.JobRegistry;
import dev.lifeboat.common.job.JobsConfig;
import dev.lifeboat.common.job.KeyLock;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import dev.lifeboat.common.model.VerificationRecord.Trigger;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.verify.config.VerifyServiceConfig;
import dev.lifeboat.common.client.RestoreServiceClient;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Runs verifications one at a time, in the order they were asked for (a full one restores into the one scratch
 * target, and restore-service takes one restore per target), and stores each finished one as a record beside the
 * backup (DESIGN §2), where it survives restarts. A second request for a backup and level already queued or
 * running gets that job. Also decides what the schedules verify: the sweep, every recent backup without a verdict
 * (retrying errors with a growing delay) and, for a database with point-in-time recovery, every recent base backup
 * without one (its drill, {@link Verifier#verifyBase}); and the checksum pass, every retained logical backup. While a
 * job runs, its job record ({@link JobJournal}, {@code jobs/verification/<id>/}) says so to every replica and survives
 * this one: a verification whose replica died shows ABANDONED, and the sweep verifies its backup again.
 */
@ApplicationScoped
public class VerificationService {
    private static final Logger LOG = Logger.getLogger(VerificationService.class);
    private static final JobIds IDS = new JobIds("verify");
    private static final Duration MAX_RETRY_DELAY = Duration.ofHours(6);

    private final VerifyServiceConfig config;
    private final BackupCatalog catalog;
    private final Databases databases;
    private final Verifier verifier;
    private final VerifyMetrics metrics;
    private final StatusService status;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("verify-worker").factory());
    /** Queued, running and recently finished jobs; verifications hold no key (one worker runs them in turn). */
    private final JobRegistry<VerificationJob> jobs;
    /** The durable records of verification jobs, readable from every replica. */
    private final JobJournal journal;
    private final Coordination coordination;

    public VerificationService(VerifyServiceConfig config, BackupCatalog catalog, Databases databases,
                               Verifier verifier, VerifyMetrics metrics, StatusService status, ObjectStore store,
                               Coordination coordination, JobsConfig jobsConfig) {
        this.config = config;
        this.catalog = catalog;
        this.databases = databases;
        this.verifier = verifier;
        this.metrics = metrics;
        this.status = status;
        this.jobs = new JobRegistry<>(KeyLock.inProcess(), config.verify().jobHistory(), (key, holder, instance) ->
                new IllegalStateException("verifications hold no key"));
        this.coordination = coordination;
        this.journal = new JobJournal(store, "verification", coordination.instance(), jobsConfig.reportInterval(),
                jobsConfig.abandonedAfter());
    }

    void onStart(@Observes StartupEvent event, RestoreServiceClient restores) {
        if (!restores.configured()) {
            LOG.warn("lifeboat.peers.restore-url is not set: full verifications will end in ERROR; only checksum "
                    + "verifications can pass");
        }
        LOG.infof("Verifications restore into restore-service target '%s' and read back from %s:%d; sweep '%s', "
                + "checksum pass '%s'", config.verify().target(), config.verify().scratch().host(),
                config.verify().scratch().port(), config.verify().sweepSchedule(), config.verify().checksumSchedule());
    }

    void onStop(@Observes ShutdownEvent event) {
        worker.shutdownNow();
        journal.close();
    }

    /** Validates a verification id; throws {@link InvalidRequest}. */
    public static String validateId(String id) {
        return IDS.validate(id);
    }

    /**
     * Queues a verification of {@code backup} at {@code level}; when one of the same backup and level is queued or
     * running already, returns that one instead.
     */
    public synchronized VerificationJob submit(BackupMetadata backup, Level level, Trigger trigger) {
        if (level == Level.FULL && backup.format() != DumpFormat.PLAIN) {
            throw new InvalidRequest("Backup " + backup.id() + " is in the custom format, which restore-service cannot "
                    + "restore yet; verify it at level checksum.");
        }
        Optional<VerificationJob> same = jobs.findActive(j -> j.backupId().equals(backup.id()) && j.level() == level);
        if (same.isPresent()) {
            return same.get();
        }
        VerificationJob job = jobs.register(null, new VerificationJob(IDS.next(), backup.id(), backup.database(),
                level, trigger));
        LOG.infof("Verification %s (%s) of %s queued (%s)", job.id(), level, backup.id(), trigger);
        worker.execute(() -> run(job));
        return job;
    }

    /**
     * Queues the full verification of base backup {@code base} (a point-in-time drill, {@link Verifier#verifyBase});
     * when one is queued or running already, returns that one instead.
     */
    public synchronized VerificationJob submitBase(BaseBackupMetadata base, Trigger trigger) {
        Optional<VerificationJob> same = jobs.findActive(j -> j.backupId().equals(base.id()));
        if (same.isPresent()) {
            return same.get();
        }
        VerificationJob job = jobs.register(null, new VerificationJob(IDS.next(), base.id(), base.database(),
                Level.FULL, trigger));
        LOG.infof("Verification %s (point-in-time drill) of base backup %s queued (%s)", job.id(), base.id(), trigger);
        worker.execute(() -> run(job));
        return job;
    }

    /** Runs one verification on the worker thread; records the outcome, stores it, never throws. */
    void run(VerificationJob job) {
        // recorded from when it runs: a queued job's record would be rewritten every interval while it only waits
        // (the checksum pass queues every retained backup at once)
        journal.track(job.id(), () -> record(job));
        job.onStep(() -> journal.report(job.id()));
        try {
            boolean base = BackupIds.isBase(job.backupId());
            Optional<BaseBackupMetadata> baseBackup = base ? catalog.findBase(job.backupId()) : Optional.empty();
            // read afresh: what is stored now
            Optional<BackupMetadata> backup = base ? Optional.empty() : catalog.find(job.backupId());
            if (baseBackup.isPresent()) {
                job.started(baseBackup.get().storedSizeBytes());
                LOG.infof("Verification %s (point-in-time drill) of %s started", job.id(), job.backupId());
                verifier.verifyBase(job, baseBackup.get());
                job.finish(Result.PASSED, null, null, null, null);
            } else if (backup.isEmpty()) {
                job.started(0);
                job.finish(Result.ERROR, StepName.METADATA, null, "Backup " + job.backupId()
                        + " has no metadata any more (deleted since the verification was asked for).", null);
            } else {
                job.started(backup.get().storedSizeBytes());
                LOG.infof("Verification %s (%s) of %s started", job.id(), job.level(), job.backupId());
                verifier.verify(job, backup.get());
                job.finish(Result.PASSED, null, null, null, null);
            }
        } catch (Verifier.Defect d) {
            job.finish(Result.FAILED, d.step(), d.table(), d.getMessage(), d.mismatches());
        } catch (Verifier.Archived a) {
            job.finish(Result.ARCHIVED, StepName.CHECKSUM, null, a.getMessage(), null);
        } catch (Verifier.StepError e) {
            job.finish(Result.ERROR, e.step(), null, e.getMessage(), null);
        } catch (RuntimeException | Error e) {
            String reason = Errors.describe(e);
            job.finish(Result.ERROR, job.log().failRunning(reason), null, reason, null);
        }
        VerificationRecord record = job.record();
        try {
            catalog.recordVerification(record, config.verify().historyPerBackup());
        } catch (IOException | RuntimeException e) {
            LOG.errorf("Verification %s: the record could not be stored (%s); its result is only in memory and the log",
                    job.id(), e.getMessage());
        }
        if (record.result() == Result.PASSED || record.result() == Result.ARCHIVED) {
            LOG.infof("Verification %s (%s) of %s %s in %.1f s", job.id(), job.level(), job.backupId(),
                    record.result(), record.durationSeconds());
        } else {
            LOG.errorf("Verification %s (%s) of %s %s at %s: %s", job.id(), job.level(), job.backupId(), record.result(),
                    record.failedStep(), record.error());
        }
        metrics.finished(record);
        status.refresh(job.database()); // the metrics behind its database's status
        // only now is the job FINISHED: its record is in the store, the counters and the status metrics count it
        job.ended();
        journal.end(job.id());
        jobs.finish(job);
        job.released();
    }

    /** The job record of a verification of this replica, as it stands now. */
    private JobRecord record(VerificationJob job) {
        Map<String, String> detail = new java.util.TreeMap<>();
        detail.put("backupId", job.backupId());
        detail.put("database", job.database());
        detail.put("level", job.level().name());
        detail.put("trigger", job.trigger().name());
        if (job.result() != null && job.state().done()) {
            detail.put("result", job.result().name());
        }
        if (job.restoreId() != null) {
            detail.put("restoreId", job.restoreId());
        }
        return JobRecord.of(job, "verification", job.backupId(), coordination.instance(), Map.of(
                "bytesChecked", (double) job.bytesChecked(), "storedBytes", (double) job.storedBytes(),
                "restorePercent", job.restorePercent(), "tablesCompared", (double) job.tablesCompared(),
                "tables", (double) job.tables()), detail);
    }

    /**
     * The sweep: every backup of the last {@code lifeboat.verify.sweep-window} without a verdict gets a full
     * verification, newest first. A verdict is a passed full verification or any failed one (a backup proven bad is
     * not tried again); after an ERROR the backup is tried again once {@code retry-delay} has passed, doubling with
     * each further error. Returns the jobs queued (or already queued).
     */
    public List<VerificationJob> sweep(Instant now) {
        return sweep(now, databases.labels());
    }

    /** The sweep over some databases only (an operator's or a test's narrower pass); see {@link #sweep(Instant)}. */
    public List<VerificationJob> sweep(Instant now, java.util.Collection<String> labels) {
        List<VerificationJob> out = new ArrayList<>();
        Map<String, String> elsewhere = null; // backup -> replica verifying it now; read once, when first needed
        for (String label : labels) {
            Map<String, List<VerificationRecord>> records = catalog.verifications(label);
            for (BackupMetadata backup : catalog.list(label)) {
                if (backup.startedAt().isBefore(now.minus(config.verify().sweepWindow()))) {
                    break; // newest first: the rest is older still
                }
                if (backup.format() == DumpFormat.PLAIN
                        && needsFull(records.getOrDefault(backup.id(), List.of()), now, config.verify().retryDelay())) {
                    if (elsewhere == null) {
                        elsewhere = verifiedElsewhere();
                    }
                    if (elsewhere.containsKey(backup.id())) { // its verdict is on its way from another replica
                        LOG.infof("Sweep: %s is being verified by replica %s", backup.id(), elsewhere.get(backup.id()));
                        continue;
                    }
                    out.add(submit(backup, Level.FULL, Trigger.SWEEP));
                }
            }
            for (BaseBackupMetadata base : databases.pitrEnabled(label) ? catalog.listBase(label)
                    : List.<BaseBackupMetadata>of()) {
                if (base.startedAt().isBefore(now.minus(config.verify().sweepWindow()))) {
                    break; // newest first
                }
                if (needsFull(records.getOrDefault(base.id(), List.of()), now, config.verify().retryDelay())) {
                    if (elsewhere == null) {
                        elsewhere = verifiedElsewhere();
                    }
                    if (!elsewhere.containsKey(base.id())) {
                        out.add(submitBase(base, Trigger.SWEEP));
                    }
                }
            }
        }
        return out;
    }

    /**
     * The backups a full verification of another replica is running for, with that replica, by their job records (one whose
     * replica went silent is ABANDONED and not among them: its backup is verified again).
     */
    private Map<String, String> verifiedElsewhere() {
        return activeElsewhere().stream()
                .filter(r -> r.key() != null && r.detail() != null && Level.FULL.name().equals(r.detail().get("level")))
                .collect(Collectors.toMap(JobRecord::key, r -> String.valueOf(r.holder()), (a, b) -> a));
    }

    /**
     * Removes the job records of verifications that ended (or were abandoned) before {@code before}; the leader's
     * pass, after the sweep. A finished verification's result stays in its verification record.
     */
    public List<String> pruneRecords(Instant before) throws IOException {
        return journal.prune(before);
    }

    static boolean needsFull(List<VerificationRecord> records, Instant now, Duration retryDelay) {
        if (records.stream().anyMatch(r -> r.result() == Result.FAILED || r.provesRestorable())) {
            return false;
        }
        List<VerificationRecord> errors = records.stream()
                .filter(r -> r.level() == Level.FULL && r.result() == Result.ERROR).toList();
        if (errors.isEmpty()) {
            return true;
        }
        Duration wait = retryDelay;
        for (int i = 1; i < errors.size() && wait.compareTo(MAX_RETRY_DELAY) < 0; i++) {
            wait = wait.multipliedBy(2);
        }
        wait = wait.compareTo(MAX_RETRY_DELAY) > 0 ? MAX_RETRY_DELAY : wait;
        Instant lastError = errors.stream().map(VerificationRecord::finishedAt).max(Comparator.naturalOrder()).orElseThrow();
        return !now.isBefore(lastError.plus(wait));
    }

    /** The checksum pass: every retained backup of every database. Returns the jobs queued. */
    public List<VerificationJob> checksumAll() {
        List<VerificationJob> out = new ArrayList<>();
        for (String label : databases.labels()) {
            for (BackupMetadata backup : catalog.list(label)) {
                out.add(submit(backup, Level.CHECKSUM, Trigger.SCHEDULED));
            }
        }
        return out;
    }

    /** This replica, as named in job records. */
    public String instance() {
        return coordination.instance();
    }

    /** A queued, running or recently finished job of this replica. */
    public Optional<VerificationJob> job(String id) {
        return jobs.find(id);
    }

    /**
     * The verifications running on other replicas, as their job records have it (one listing; one whose
     * replica went silent is ABANDONED and not among them).
     */
    public List<JobRecord> activeElsewhere() {
        try {
            return journal.active("").stream().filter(r -> jobs.find(r.id()).isEmpty()).toList();
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot list the verifications of other replicas: %s", e.getMessage());
            return List.of();
        }
    }

    /** The job record of a verification, from whichever replica ran it (ABANDONED when its replica went silent). */
    public Optional<JobRecord> jobRecord(String id) {
        return journal.read(id);
    }

    /** Queued and running jobs, oldest first. */
    public List<VerificationJob> activeJobs() {
        return jobs.active();
    }

    /** A stored record by verification id, searched in every database's records. */
    public Optional<VerificationRecord> record(String id) {
        for (String label : databases.labels()) {
            for (List<VerificationRecord> records : catalog.verifications(label).values()) {
                for (VerificationRecord r : records) {
                    if (r.id().equals(id)) {
                        return Optional.of(r);
                    }
                }
            }
        }
        return Optional.empty();
    }

    /** Stored records, newest first: of one backup, or of one database, or of every database. */
    public List<VerificationRecord> records(String backupId, String label) {
        List<VerificationRecord> out;
        if (backupId != null) {
            out = new ArrayList<>(catalog.verificationsOf(label, backupId));
        } else {
            List<String> labels = label != null ? List.of(label) : List.copyOf(databases.labels());
            out = labels.stream().flatMap(l -> catalog.verifications(l).values().stream()).flatMap(List::stream)
                    .collect(Collectors.toCollection(ArrayList::new));
        }
        out.sort(Comparator.comparing(VerificationRecord::finishedAt).reversed());
        return out;
    }

    /** Waits for a job; used by {@code ?wait=true}. */
    public VerificationJob await(VerificationJob job) {
        return jobs.await(job);
    }
}
