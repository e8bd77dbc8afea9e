package dev.lifeboat.backup.service;

import dev.lifeboat.common.job.Job;
import dev.lifeboat.common.model.BackupKind;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.WriteChain;
import java.util.Map;

/** One backup while it runs and shortly after: its progress counters, its outcome and, once done, its metadata. */
public final class BackupJob extends Job<BackupJob.StepName> {
    /** The steps of a backup (DESIGN §2); a base backup has BASE_BACKUP and COMMIT. */
    public enum StepName {
        /** pg_dump → fingerprint → compression → encryption → SHA-256 → the store; the data object committed. */
        DUMP,
        /**
         * The definitions of the roles the database refers to ({@code pg_dumpall --roles-only}, filtered) through the
         * same chain into the backup's roles object.
         */
        ROLES,
        /**
         * A base backup: pg_basebackup's tar (watched for backup_label and backup_manifest as it passes) through the
         * same chain into {@code <prefix>/base/<id>}; the data object committed.
         */
        BASE_BACKUP,
        /** The metadata written: the commit marker. */
        COMMIT
    }

    private final String database;
    private final BackupKind kind;
    private final Trigger trigger;
    private final Map<String, String> labels;
    /**
     * The write chain while the dump runs; its counters are the progress. Dropped when the job ends: it holds the
     * stages and the upload's part buffer, which finished jobs kept in the history must not.
     */
    volatile WriteChain chain;
    private volatile long rawBytes;
    /** Size and SHA-256 of the stored bytes, measured as they are written; its count is the stored progress. */
    final Measure stored = new Measure();
    private volatile BackupMetadata metadata;
    private volatile BaseBackupMetadata baseMetadata;
    /** The replica running it. */
    private final String holder;
    /** pg_dump while it runs: killed to stop the backup early. */
    volatile PgProcess dump;
    /** Why the backup is being stopped early (shutdown); null while it may run on. */
    private volatile String interruption;

    BackupJob(String id, String database, BackupKind kind, Trigger trigger, Map<String, String> labels, String holder) {
        super(id, false);
        this.database = database;
        this.kind = kind;
        this.trigger = trigger;
        this.labels = Map.copyOf(labels);
        this.holder = holder;
    }

    /** The replica (pod) running it. */
    public String holder() {
        return holder;
    }

    /** Stops the backup early: pg_dump is killed, so the upload is aborted and the job fails with {@code reason}. */
    void interrupt(String reason) {
        interruption = reason;
        PgProcess p = dump;
        if (p != null) {
            p.kill();
        }
    }

    /** Why it is being stopped early, or null. */
    String interruption() {
        return interruption;
    }

    public String database() {
        return database;
    }

    /** LOGICAL (pg_dump) or BASE (pg_basebackup). */
    public BackupKind kind() {
        return kind;
    }

    /** A completed base backup's metadata; null otherwise. */
    public BaseBackupMetadata baseMetadata() {
        return baseMetadata;
    }

    public Trigger trigger() {
        return trigger;
    }

    public Map<String, String> labels() {
        return labels;
    }

    public BackupMetadata metadata() {
        return metadata;
    }

    public long bytesRead() {
        WriteChain c = chain;
        return c == null ? rawBytes : c.rawBytes();
    }

    public long bytesStored() {
        return stored.bytes();
    }

    /** Keeps the final counts and lets go of the chain. */
    private void detach() {
        WriteChain c = chain;
        if (c != null) {
            rawBytes = c.rawBytes();
            chain = null;
        }
    }

    void succeeded(BackupMetadata result) {
        detach();
        metadata = result;
        end(null); // waiters are released by JobRegistry.finish, once the record is written and the Lease free
    }

    void succeeded(BaseBackupMetadata result) {
        detach();
        baseMetadata = result;
        end(null);
    }

    void failed(String reason) {
        detach();
        end(reason);
    }
}
