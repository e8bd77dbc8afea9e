package dev.lifeboat.common.error;

/** The domain errors of Lifeboat, each with the HTTP status it maps to; and how a failure is put in one line. */
public final class Errors {
    private Errors() {
    }

    /** A failure in one line for a job's error and the log: its message, and its cause's when that adds something. */
    public static String describe(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        Throwable cause = e.getCause();
        if (cause != null && cause.getMessage() != null && !message.contains(cause.getMessage())) {
            message += " (" + cause.getMessage() + ")";
        }
        return message;
    }

    /** " on replica <pod>" when the holder's replica is known, else nothing. */
    static String onInstance(String instance) {
        return instance == null || instance.isBlank() ? "" : " on replica " + instance;
    }

    /** The replica is shutting down: it takes no new work; another replica (or this one, restarted) will. */
    public static final class ShuttingDown extends LifeboatException {
        public ShuttingDown(String detail) {
            super(503, "shutting-down", "Shutting down", detail);
        }
    }

    /** The request is malformed or names something that cannot be valid. */
    public static final class InvalidRequest extends LifeboatException {
        public InvalidRequest(String detail) {
            super(400, "invalid-request", "Invalid request", detail);
        }
    }

    /** A backup id that fails validation (DESIGN §2). */
    public static final class InvalidBackupId extends LifeboatException {
        public InvalidBackupId(String detail) {
            super(400, "invalid-backup-id", "Invalid backup id", detail);
        }
    }

    /** No backup with that id exists (or it never completed). */
    public static final class BackupNotFound extends LifeboatException {
        public BackupNotFound(String detail) {
            super(404, "backup-not-found", "Backup not found", detail);
        }
    }

    /** The request names a database label that is not configured. */
    public static final class UnknownDatabase extends LifeboatException {
        public UnknownDatabase(String detail) {
            super(404, "unknown-database", "Unknown database", detail);
        }
    }

    /** A backup of the same database is already running. */
    public static final class BackupInProgress extends LifeboatException {
        private final String runningId;

        public BackupInProgress(String database, String runningId) {
            this(database, runningId, null);
        }

        /** @param instance the replica (pod) running it, when another one may */
        public BackupInProgress(String database, String runningId, String instance) {
            super(409, "backup-in-progress", "Backup already running",
                    "A backup of database '" + database + "' is already running: " + runningId + onInstance(instance)
                            + ". Wait for it to finish (GET /api/v1/backups/" + runningId + ").");
            this.runningId = runningId;
        }

        public String runningId() {
            return runningId;
        }
    }

    /** The stored bytes do not match the checksum or size recorded in the metadata. */
    public static final class ChecksumMismatch extends LifeboatException {
        public ChecksumMismatch(String detail) {
            super(422, "checksum-mismatch", "Checksum mismatch", detail);
        }
    }

    /** The object store failed or is unreachable. */
    public static final class StoreUnavailable extends LifeboatException {
        public StoreUnavailable(String detail, Throwable cause) {
            super(503, "store-unavailable", "Object store unavailable", detail, cause);
        }
    }

    /** A PostgreSQL client program failed, or none suitable was found. */
    public static class PgToolFailed extends LifeboatException {
        public PgToolFailed(String detail) {
            super(502, "pg-tool-failed", "PostgreSQL program failed", detail);
        }

        public PgToolFailed(String detail, Throwable cause) {
            super(502, "pg-tool-failed", "PostgreSQL program failed", detail, cause);
        }

        protected PgToolFailed(int status, String type, String title, String detail) {
            super(status, type, title, detail);
        }
    }

    /**
     * The server is newer than every pg_dump here, which refuses such a server: nothing is tried, the detail names
     * both versions and what to install. A {@link PgToolFailed}, so whoever handles those handles this too.
     */
    public static final class PgVersionUnsupported extends PgToolFailed {
        public PgVersionUnsupported(String detail) {
            super(409, "pg-version-unsupported", "PostgreSQL version not supported by the client programs", detail);
        }
    }

    /**
     * A PostgreSQL client program reached its time limit and was killed; the detail names the program, what it
     * ran and the setting that limits it. A {@link PgToolFailed}, so whoever handles those handles this too.
     */
    public static final class PgTimeout extends PgToolFailed {
        public PgTimeout(String detail) {
            super(504, "pg-timeout", "PostgreSQL program timed out", detail);
        }
    }

    /** Another Lifeboat service failed or could not be reached. */
    public static final class PeerFailed extends LifeboatException {
        private final int peerStatus;

        public PeerFailed(String detail) {
            this(detail, 0);
        }

        /** @param peerStatus the HTTP status the peer answered, 0 when it could not be reached */
        public PeerFailed(String detail, int peerStatus) {
            super(502, "peer-failed", "Peer service failed", detail);
            this.peerStatus = peerStatus;
        }

        /** The HTTP status the peer answered; 0 when it could not be reached or did not answer in time. */
        public int peerStatus() {
            return peerStatus;
        }
    }

    /** The request names a restore target that is not configured. */
    public static final class UnknownTarget extends LifeboatException {
        public UnknownTarget(String detail) {
            super(404, "unknown-target", "Unknown target", detail);
        }
    }

    /** No restore with that id is known. */
    public static final class RestoreNotFound extends LifeboatException {
        public RestoreNotFound(String detail) {
            super(404, "restore-not-found", "Restore not found", detail);
        }
    }

    /** No verification with that id is queued, running or stored. */
    public static final class VerificationNotFound extends LifeboatException {
        public VerificationNotFound(String detail) {
            super(404, "verification-not-found", "Verification not found", detail);
        }
    }

    /** A restore into the same target is already running, or its recovery ({@link #RECOVERY} holds the lock). */
    public static final class RestoreInProgress extends LifeboatException {
        /** The job id under which a replica holds a target's lock while it recovers it after a restore died. */
        public static final String RECOVERY = "recovery-by-";

        public RestoreInProgress(String target, String runningId) {
            this(target, runningId, null);
        }

        /** @param instance the replica (pod) running it, when another one may */
        public RestoreInProgress(String target, String runningId, String instance) {
            super(409, "restore-in-progress", "Restore already running", runningId.startsWith(RECOVERY)
                    ? "Target '" + target + "' is being recovered from a restore that did not end (workloads scaled "
                            + "back, records closed)" + (instance != null ? onInstance(instance)
                            : " by " + runningId.substring(RECOVERY.length())) + ". Try again in a few seconds."
                    : "A restore into target '" + target + "' is already running: " + runningId + onInstance(instance)
                            + ". Wait for it to finish (GET /api/v1/restores/" + runningId + ").");
        }
    }

    /** Lifeboat's own configuration is invalid; raised at start-up. */
    public static final class InvalidConfiguration extends LifeboatException {
        public InvalidConfiguration(String detail) {
            super(500, "invalid-configuration", "Invalid configuration", detail);
        }
    }

    /** A job the caller waited for ({@code ?wait=true}) ended in failure. */
    public static final class JobFailed extends LifeboatException {
        private final String location;

        /**
         * @param kind     {@code backup}, {@code restore}, ...: names the problem type ({@code /problems/backup-failed})
         * @param location the job's URL path, e.g. {@code /api/v1/backups/<id>}
         */
        public JobFailed(String kind, String id, String error, String location) {
            super(500, kind + "-failed", Character.toUpperCase(kind.charAt(0)) + kind.substring(1) + " failed",
                    Character.toUpperCase(kind.charAt(0)) + kind.substring(1) + " " + id + " failed: " + error);
            this.location = location;
        }

        /** The job's URL path, for the Location header and the problem's instance. */
        public String location() {
            return location;
        }
    }

    /** A stored record whose integrity tag is missing or wrong: never restored or verified. */
    public static final class UntrustedBackup extends LifeboatException {
        public UntrustedBackup(String detail) {
            super(409, "untrusted-backup", "Untrusted backup", detail);
        }
    }

    /**
     * A delete that would remove a protected backup (the newest good, the newest verified, or one labelled
     * {@code keep=true}) without {@code ?force=true}.
     */
    public static final class BackupProtected extends LifeboatException {
        public BackupProtected(String detail) {
            super(409, "backup-protected", "Backup protected", detail);
        }
    }

    /**
     * The target server lacks roles the backup refers to (owners, grantees) and the restore asked for
     * {@code "roles": "require"}: refused before anything changed. 409 like the other "the state here conflicts with
     * the request" errors; the detail names the roles.
     */
    public static final class RolesMissing extends LifeboatException {
        public RolesMissing(String detail) {
            super(409, "roles-missing", "Roles missing on the target", detail);
        }
    }

    /** The clock reads earlier than the newest backup's recorded finish time: retention refuses to run. */
    public static final class ClockBehind extends LifeboatException {
        public ClockBehind(String detail) {
            super(409, "clock-behind", "Clock behind the newest backup", detail);
        }
    }

    /**
     * A base backup (point-in-time recovery) was asked of a database that cannot have one: PITR is not enabled for
     * it, or its server lacks a prerequisite (named in the detail). 409: the state of the database conflicts with the
     * request; logical backups are unaffected.
     */
    public static final class PitrUnavailable extends LifeboatException {
        public PitrUnavailable(String detail) {
            super(409, "pitr-unavailable", "Point-in-time recovery unavailable", detail);
        }
    }

    /**
     * A point-in-time restore cannot reach the instant asked for: it is before the oldest usable base backup, after the
     * end of the WAL archive, or the archive has a gap on the way. Refused before anything is touched.
     */
    public static final class PointInTimeUnreachable extends LifeboatException {
        public PointInTimeUnreachable(String detail) {
            super(422, "point-in-time-unreachable", "Point in time unreachable", detail);
        }
    }
}
