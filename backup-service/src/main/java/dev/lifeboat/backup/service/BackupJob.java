package dev.lifeboat.backup.service;

import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.pipeline.Measure;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/** One backup while it runs and shortly after: its progress counters, its outcome and, once done, its metadata. */
public final class BackupJob {
    /** Phase of a backup job. */
    public enum Status {
        RUNNING, COMPLETED, FAILED
    }

    private final String id;
    private final String database;
    private final Trigger trigger;
    private final Map<String, String> labels;
    private final Instant startedAt = Instant.now();
    private final long startNanos = System.nanoTime();
    final AtomicLong bytesRead = new AtomicLong();
    /** Size and SHA-256 of the stored bytes, measured as they are written; its count is the stored progress. */
    final Measure stored = new Measure();
    private final CompletableFuture<BackupJob> done = new CompletableFuture<>();
    private volatile Status status = Status.RUNNING;
    private volatile String error;
    private volatile BackupMetadata metadata;
    private volatile Instant finishedAt;
    /** Nanoseconds from start to end once the job ended (-1 while it runs), so a finished job's time stays put. */
    private volatile long elapsedNanos = -1;

    BackupJob(String id, String database, Trigger trigger, Map<String, String> labels) {
        this.id = id;
        this.database = database;
        this.trigger = trigger;
        this.labels = Map.copyOf(labels);
    }

    public String id() {
        return id;
    }

    public String database() {
        return database;
    }

    public Trigger trigger() {
        return trigger;
    }

    public Map<String, String> labels() {
        return labels;
    }

    public Instant startedAt() {
        return startedAt;
    }

    public Instant finishedAt() {
        return finishedAt;
    }

    public Status status() {
        return status;
    }

    public String error() {
        return error;
    }

    public BackupMetadata metadata() {
        return metadata;
    }

    public long bytesRead() {
        return bytesRead.get();
    }

    public long bytesStored() {
        return stored.bytes();
    }

    public double elapsedSeconds() {
        long elapsed = elapsedNanos;
        return (elapsed >= 0 ? elapsed : System.nanoTime() - startNanos) / 1e9;
    }

    /** Completes when the backup has succeeded or failed. */
    public CompletableFuture<BackupJob> done() {
        return done;
    }

    void succeeded(BackupMetadata result) {
        metadata = result;
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
