package dev.lifeboat.restore.service;

import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.job.StepLog;
import dev.lifeboat.common.pipeline.Measure;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** One restore while it runs and after: its steps with their timings, its progress and its outcome. */
public final class RestoreJob {
    /** Outcome of a restore job. */
    public enum Status {
        RUNNING, COMPLETED, FAILED
    }

    /** The steps of DESIGN §3, in the order they run. */
    public enum StepName {
        /** Metadata present, object present with the recorded size, a key that can decrypt it. */
        RESOLVE,
        /** Workloads scaled to 0 (replica counts saved in an annotation), their pods gone. */
        SCALE_DOWN,
        /** A PRE_RESTORE backup of the target through backup-service, taken once the applications stopped writing. */
        SAFETY_BACKUP,
        /** A fresh database for the load (scratch targets, recreate-database). */
        CREATE_DATABASE,
        /** The drop and the load in one transaction, committed only when the whole object checked out. */
        LOAD,
        /** recreate-database: the loaded database renamed into the target's place, the old one dropped. */
        SWAP,
        /** Workloads scaled back to their saved replica counts, also after a failure. */
        SCALE_UP
    }

    private final String id;
    private final String target;
    private final RestoreRequestSpec spec;
    private final Instant startedAt = Instant.now();
    private final long startNanos = System.nanoTime();
    /** Size and SHA-256 of the stored bytes read so far; its count is the progress. */
    final Measure stored = new Measure();
    private final StepLog<StepName> steps = new StepLog<>();
    private final CompletableFuture<RestoreJob> done = new CompletableFuture<>();
    private volatile Status status = Status.RUNNING;
    private volatile String backupId;
    private volatile long totalBytes;
    private volatile String database;
    private volatile String safetyBackupId;
    private volatile String error;
    private volatile Instant finishedAt;
    /** Nanoseconds from start to end once the job ended (-1 while it runs), so a finished job's time stays put. */
    private volatile long elapsedNanos = -1;
    private volatile boolean databaseDropped;

    RestoreJob(String id, String target, RestoreRequestSpec spec) {
        this.id = id;
        this.target = target;
        this.spec = spec;
    }

    public String id() {
        return id;
    }

    public String target() {
        return target;
    }

    public RestoreRequestSpec spec() {
        return spec;
    }

    public Status status() {
        return status;
    }

    /** The backup being restored, once resolved ({@code latest} becomes an id). */
    public String backupId() {
        return backupId;
    }

    public long totalBytes() {
        return totalBytes;
    }

    public long bytesRestored() {
        return stored.bytes();
    }

    /** The database restored into: the target's, or the scratch database created for this restore. */
    public String database() {
        return database;
    }

    public String safetyBackupId() {
        return safetyBackupId;
    }

    public String error() {
        return error;
    }

    public Instant startedAt() {
        return startedAt;
    }

    public Instant finishedAt() {
        return finishedAt;
    }

    public boolean databaseDropped() {
        return databaseDropped;
    }

    public double elapsedSeconds() {
        long elapsed = elapsedNanos;
        return (elapsed >= 0 ? elapsed : System.nanoTime() - startNanos) / 1e9;
    }

    /** The step running now, if any. */
    public StepName phase() {
        return steps.running();
    }

    public List<Step<StepName>> steps() {
        return steps.list();
    }

    public CompletableFuture<RestoreJob> done() {
        return done;
    }

    void resolved(String id, long size) {
        backupId = id;
        totalBytes = size;
    }

    void database(String name) {
        database = name;
    }

    void safetyBackup(String id) {
        safetyBackupId = id;
    }

    void markDatabaseDropped() {
        databaseDropped = true;
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

    /** Ends the running step, if any, as failed. */
    void failRunningStep(String reason) {
        steps.failRunning(reason);
    }

    void succeeded() {
        elapsedNanos = System.nanoTime() - startNanos;
        finishedAt = Instant.now();
        status = Status.COMPLETED;
        done.complete(this);
    }

    void failed(String reason) {
        error = reason;
        elapsedNanos = System.nanoTime() - startNanos;
        finishedAt = Instant.now();
        status = Status.FAILED;
        done.complete(this);
    }
}
