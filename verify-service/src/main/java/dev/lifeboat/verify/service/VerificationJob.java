package dev.lifeboat.verify.service;

import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.job.StepLog;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One verification while it is queued, runs and after: its steps with their timings, its progress and its verdict.
 * {@link #record()} is what gets stored once it finished.
 */
public final class VerificationJob {
    /** Where a verification is. */
    public enum Status {
        QUEUED, RUNNING, FINISHED
    }

    private final String id;
    private final String backupId;
    private final String database;
    private final Level level;
    private final Trigger trigger;
    private final Instant queuedAt = Instant.now();
    /** Size and SHA-256 of the stored bytes read; its count is the checksum step's progress. */
    final Measure stored = new Measure();
    final AtomicInteger tablesCompared = new AtomicInteger();
    private final StepLog<StepName> steps = new StepLog<>();
    private final CompletableFuture<VerificationJob> done = new CompletableFuture<>();
    private volatile Status status = Status.QUEUED;
    private volatile Instant startedAt;
    private volatile Instant finishedAt;
    private volatile Result result;
    private volatile StepName failedStep;
    private volatile String failedTable;
    private volatile String error;
    private volatile String restoreId;
    private volatile Double restoreSeconds;
    private volatile double restorePercent;
    private volatile long storedBytes;
    private volatile int tables;
    private volatile List<TableMismatch> mismatches;

    VerificationJob(String id, String backupId, String database, Level level, Trigger trigger) {
        this.id = id;
        this.backupId = backupId;
        this.database = database;
        this.level = level;
        this.trigger = trigger;
    }

    public String id() {
        return id;
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

    public Status status() {
        return status;
    }

    public Instant queuedAt() {
        return queuedAt;
    }

    public Result result() {
        return result;
    }

    public CompletableFuture<VerificationJob> done() {
        return done;
    }

    /** Stored bytes checked so far, of the backup's stored size. */
    public long bytesChecked() {
        return stored.bytes();
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

    /** The step running now, if any. */
    public StepName phase() {
        return steps.running();
    }

    void started(long size) {
        storedBytes = size;
        startedAt = Instant.now();
        status = Status.RUNNING;
    }

    void restore(String id, double percent) {
        restoreId = id;
        restorePercent = percent;
    }

    void restoreSeconds(double seconds) {
        restoreSeconds = seconds;
    }

    void tables(int count) {
        tables = count;
    }

    void begin(StepName name, String detail) {
        steps.begin(name, detail);
    }

    void end(StepName name, Step.Status outcome, String detail) {
        steps.end(name, outcome, detail);
    }

    void skip(StepName name, String why) {
        steps.skip(name, why);
    }

    /** Ends the running step, if any, as failed with {@code reason}; returns it. */
    StepName failRunningStep(String reason) {
        return steps.failRunning(reason);
    }

    /** Records the verdict; the job shows as FINISHED only once {@link #released()}, after its record is stored. */
    void finish(Result verdict, StepName step, String table, String reason, List<TableMismatch> differences) {
        result = verdict;
        failedStep = step;
        failedTable = table;
        error = reason;
        mismatches = differences == null || differences.isEmpty() ? null : List.copyOf(differences);
        finishedAt = Instant.now();
        if (startedAt == null) {
            startedAt = finishedAt;
        }
    }

    /**
     * Marks the job FINISHED and completes waiters; called once the record is stored (or storing it failed), so a
     * client that sees FINISHED finds the record in the store too (backup-service's ?verified=true, the status).
     */
    void released() {
        status = Status.FINISHED;
        done.complete(this);
    }

    /** The job as a record: complete once finished; while running, without verdict. */
    public VerificationRecord record() {
        double seconds = startedAt == null ? 0
                : Math.round(Duration.between(startedAt, finishedAt != null ? finishedAt : Instant.now()).toMillis() / 100.0) / 10.0;
        return new VerificationRecord(VerificationRecord.SCHEMA_VERSION, id, backupId, database, level, trigger, result,
                startedAt, finishedAt, seconds, failedStep, failedTable, error, restoreId, restoreSeconds,
                level == Level.FULL && steps.reached(StepName.FINGERPRINT) ? tablesCompared.get() : null,
                mismatches, steps.list());
    }
}
