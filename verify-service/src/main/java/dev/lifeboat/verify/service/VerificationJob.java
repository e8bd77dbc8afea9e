package dev.lifeboat.verify.service;

import dev.lifeboat.common.job.Job;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.api.VerificationView;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import dev.lifeboat.common.model.VerificationRecord.TableMismatch;
import dev.lifeboat.common.model.VerificationRecord.Trigger;
import dev.lifeboat.common.pipeline.Measure;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One verification while it is queued, runs and after: its steps with their timings, its progress and its verdict.
 * {@link #record()} is what gets stored once it finished. The job COMPLETES with any verdict (PASSED, FAILED or
 * ERROR are results, not job failures).
 */
public final class VerificationJob extends Job<StepName> {
    private final String backupId;
    private final String database;
    private final Level level;
    private final Trigger trigger;
    /** Size and SHA-256 of the stored bytes read; its count is the checksum step's progress. */
    final Measure stored = new Measure();
    final AtomicInteger tablesCompared = new AtomicInteger();
    private volatile Result result;
    private volatile StepName failedStep;
    private volatile String failedTable;
    private volatile String restoreId;
    private volatile Double restoreSeconds;
    private volatile double restorePercent;
    private volatile long storedBytes;
    private volatile long checkedByRestore;
    private volatile int tables;
    private volatile List<TableMismatch> mismatches;
    private volatile String reason;
    /** When the verdict was reached; the job shows as finished only once its record is stored ({@link #ended}). */
    private volatile Instant verdictAt;
    /** Told when a step begins, so the job's stored record follows (its job record, see VerificationService). */
    private volatile Runnable onStep = () -> { };

    VerificationJob(String id, String backupId, String database, Level level, Trigger trigger) {
        super(id, true);
        this.backupId = backupId;
        this.database = database;
        this.level = level;
        this.trigger = trigger;
    }

    public String backupId() {
        return backupId;
    }

    public String database() {
        return database;
    }

    public Level level() {
        return level;
    }

    public Trigger trigger() {
        return trigger;
    }

    /** Where the verification is, as the API shows it. */
    public VerificationView.Status status() {
        return switch (state()) {
            case QUEUED -> VerificationView.Status.QUEUED;
            case RUNNING -> VerificationView.Status.RUNNING;
            case COMPLETED, FAILED -> VerificationView.Status.FINISHED;
            case ABANDONED -> VerificationView.Status.ABANDONED;
        };
    }

    public Result result() {
        return result;
    }

    /** Stored bytes checked so far, of the backup's stored size (in a full verification, by the restore's read). */
    public long bytesChecked() {
        return Math.max(stored.bytes(), checkedByRestore);
    }

    public long storedBytes() {
        return storedBytes;
    }

    public double restorePercent() {
        return restorePercent;
    }

    public int tablesCompared() {
        return tablesCompared.get();
    }

    public int tables() {
        return tables;
    }

    public String restoreId() {
        return restoreId;
    }

    void onStep(Runnable listener) {
        onStep = listener;
    }

    /** A step began (or the job started). */
    void stepBegan() {
        onStep.run();
    }

    void started(long size) {
        storedBytes = size;
        markRunning();
        stepBegan();
    }

    void restore(String id, double percent) {
        restoreId = id;
        restorePercent = percent;
    }

    /** The stored bytes the restore of a full verification has read and checked so far. */
    void checkedByRestore(long bytes) {
        checkedByRestore = bytes;
    }

    void restoreSeconds(double seconds) {
        restoreSeconds = seconds;
    }

    void tables(int count) {
        tables = count;
    }

    void finish(Result verdict, StepName step, String table, String reason, List<TableMismatch> differences) {
        result = verdict;
        failedStep = step;
        failedTable = table;
        mismatches = differences == null || differences.isEmpty() ? null : List.copyOf(differences);
        this.reason = reason;
        if (startedAt() == null) {
            markRunning();
        }
        verdictAt = Instant.now();
    }

    /**
     * The job ends: the API shows it FINISHED, with its verdict. Called once its record is stored (or storing it
     * failed), so nobody sees a verdict the store (and the status, computed from the store) does not have yet.
     */
    void ended() {
        end(JobState.COMPLETED, reason);
    }

    /** Releases whoever waits for the job ({@code ?wait=true}); after the metrics and the status are refreshed. */
    void released() {
        release();
    }

    /** The job as a record: complete once finished; while running, without verdict. */
    public VerificationRecord record() {
        Instant startedAt = startedAt();
        Instant finishedAt = verdictAt;
        double seconds = startedAt == null ? 0
                : Math.round(Duration.between(startedAt, finishedAt != null ? finishedAt : Instant.now()).toMillis() / 100.0) / 10.0;
        return new VerificationRecord(VerificationRecord.SCHEMA_VERSION, id(), backupId, database, level, trigger, result,
                startedAt, finishedAt, seconds, failedStep, failedTable, reason, restoreId, restoreSeconds,
                level == Level.FULL && log().reached(StepName.FINGERPRINT) ? tablesCompared.get() : null,
                mismatches, steps());
    }
}
