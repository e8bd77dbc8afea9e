package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreFailure;
import dev.lifeboat.common.api.RestoreStep;
import dev.lifeboat.common.job.Job;
import dev.lifeboat.common.pipeline.Measure;

/** One restore while it runs and after: its steps with their timings, its progress and its outcome. */
public final class RestoreJob extends Job<RestoreStep> {
    private final String target;
    private final RestoreRequestSpec spec;
    private final String holder;
    /** Size and SHA-256 of the stored bytes read so far; its count is the progress. */
    final Measure stored = new Measure();
    private volatile String backupId;
    private volatile long totalBytes;
    private volatile String database;
    private volatile String safetyBackupId;
    private volatile RestoreFailure failure;
    private volatile boolean databaseDropped;
    /** psql while it loads: killed (before its COMMIT) to stop the restore early. */
    volatile dev.lifeboat.common.pg.PgProcess loader;
    /** Point in time: what it recovers from (null for a restore of a backup). */
    volatile PitrPlan plan;
    /** Point in time: the private server while it exists; the load dumps it. */
    volatile RecoveryInstance recovery;
    /** The database of the recovered cluster that is dumped into the target (point in time). */
    volatile String recoveredDatabase;
    /** Why the restore is being stopped early (shutdown); null while it may run on. */
    private volatile String interruption;

    /** Stops the restore early: psql is killed before COMMIT, so the load rolls back and the workloads come back. */
    void interrupt(String reason) {
        interruption = reason;
        dev.lifeboat.common.pg.PgProcess p = loader;
        if (p != null) {
            p.kill();
        }
    }

    /** Why it is being stopped early, or null. */
    String interruption() {
        return interruption;
    }

    RestoreJob(String id, String target, RestoreRequestSpec spec, String holder) {
        super(id, false);
        this.target = target;
        this.spec = spec;
        this.holder = holder;
    }

    /** The replica (pod) running it. */
    public String holder() {
        return holder;
    }

    public String target() {
        return target;
    }

    public RestoreRequestSpec spec() {
        return spec;
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

    /** Why it failed, as a closed set; null unless failed. */
    public RestoreFailure failure() {
        return failure;
    }

    public boolean databaseDropped() {
        return databaseDropped;
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

    /** Waiters are released by {@code JobRegistry.finish}, once the target is free again. */
    void succeeded() {
        end(null);
    }

    void failed(String reason, RestoreFailure kind) {
        failure = kind;
        end(reason);
    }
}
