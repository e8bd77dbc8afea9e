package dev.lifeboat.common.api;

/**
 * Why a restore failed, as a closed set, so a caller (verify-service) can tell proof about the backup from a failure
 * of something else: only {@link #BACKUP_DAMAGED} and {@link #DUMP_REJECTED} say the backup does not restore.
 */
public enum RestoreFailure {
    /** The stored object is missing, truncated, changed or does not decode (read chain outcome). */
    BACKUP_DAMAGED,
    /** The target server rejected a statement of the dump (a SQL error, not a resource or connection problem). */
    DUMP_REJECTED,
    /** The store could not be read (transient, denied, archived): nothing is known about the backup. */
    STORE_ERROR,
    /** A step did not finish within its timeout. */
    TIMEOUT,
    /**
     * The target server could not be reached, ran out of a resource, or ended the session; or it cannot host the
     * backup: an extension the dump creates is not installed on it, or the restore's role may not create it.
     */
    TARGET_ERROR,
    /** A peer (backup-service for the safety backup) or the Kubernetes API failed. */
    PEER_ERROR,
    /** Anything else, e.g. the configuration. */
    OTHER
}
