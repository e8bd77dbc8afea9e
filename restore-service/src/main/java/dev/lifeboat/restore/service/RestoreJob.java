package dev.lifeboat.restore.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.pipeline.Measure;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.ArrayList;
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

    /** State of one step. */
    public enum StepStatus {
        RUNNING, DONE, FAILED, SKIPPED
    }

    /** One step as shown on the job. */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Step(StepName name, StepStatus status, Instant startedAt, Instant finishedAt, Double seconds,
                       String detail) {
    }

    private final String id;
    private final String target;
    private final RestoreRequestSpec spec;
    private final Instant startedAt = Instant.now();
    private final long startNanos = System.nanoTime();
    /** Size and SHA-256 of the stored bytes read so far; its count is the progress. */
    final Measure stored = new Measure();
    private final List<Step> steps = new ArrayList<>();
    private final CompletableFuture<RestoreJob> done = new CompletableFuture<>();
    private volatile Status status = Status.RUNNING;
    private volatile String backupId;
    private volatile long totalBytes;
    private volatile String database;
    private volatile String safetyBackupId;
    private volatile String error;
    private volatile Instant finishedAt;
    private volatile boolean databaseDropped;
    private long stepStartNanos;

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
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /** The step running now, if any. */
    public synchronized StepName phase() {
        return steps.stream().filter(s -> s.status() == StepStatus.RUNNING).map(Step::name).findFirst().orElse(null);
    }

    public synchronized List<Step> steps() {
        return List.copyOf(steps);
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

    synchronized void begin(StepName name, String detail) {
        stepStartNanos = System.nanoTime();
        steps.add(new Step(name, StepStatus.RUNNING, Instant.now(), null, null, detail));
    }

    synchronized void end(StepName name, StepStatus outcome, String detail) {
        for (int i = steps.size() - 1; i >= 0; i--) {
            Step s = steps.get(i);
            if (s.name() == name && s.status() == StepStatus.RUNNING) {
                double seconds = Math.round((System.nanoTime() - stepStartNanos) / 1e8) / 10.0;
                steps.set(i, new Step(name, outcome, s.startedAt(), Instant.now(), seconds,
                        detail == null ? s.detail() : detail));
                return;
            }
        }
    }

    synchronized void skip(StepName name, String why) {
        steps.add(new Step(name, StepStatus.SKIPPED, null, null, null, why));
    }

    void succeeded() {
        finishedAt = Instant.now();
        status = Status.COMPLETED;
        done.complete(this);
    }

    void failed(String reason) {
        error = reason;
        finishedAt = Instant.now();
        status = Status.FAILED;
        done.complete(this);
    }
}
