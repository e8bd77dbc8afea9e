package dev.lifeboat.common.api;

/** The steps of a restore (DESIGN §3), in the order they run. */
public enum RestoreStep {
    /** Metadata present, object present with the recorded size, a key that can decrypt it. */
    RESOLVE,
    /**
     * Only for a backup whose data sits in an archive storage class (S3 GLACIER, DEEP_ARCHIVE): its restore requested
     * (S3 RestoreObject) and awaited, before anything else changes, the expected time in the step's detail.
     */
    WAITING_FOR_ARCHIVE,
    /**
     * Point in time: the chosen base backup read through the read chain (size, SHA-256, age, zstd) into {@code tar -x}
     * in a private data directory of the spool.
     */
    FETCH_BASE,
    /**
     * Point in time: a private PostgreSQL of the base backup's major replays the archived WAL up to the instant (its
     * replay LSN in the detail), then is promoted; where it stopped is in the detail.
     */
    REPLAY_WAL,
    /** Workloads scaled to 0 (replica counts saved in an annotation), their pods gone. */
    SCALE_DOWN,
    /** A PRE_RESTORE backup of the target through backup-service, taken once the applications stopped writing. */
    SAFETY_BACKUP,
    /** A fresh database for the load (scratch targets, recreate-database). */
    CREATE_DATABASE,
    /** The drop and the load in one transaction, committed only when the whole object checked out. */
    LOAD,
    /** Point in time: as {@link #LOAD}, the plain SQL coming from pg_dump of the promoted private instance. */
    DUMP_LOAD,
    /** recreate-database: the loaded database renamed into the target's place, the old one dropped. */
    SWAP,
    /** Workloads scaled back to their saved replica counts, also after a failure. */
    SCALE_UP
}
