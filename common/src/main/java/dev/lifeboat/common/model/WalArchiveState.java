package dev.lifeboat.common.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/**
 * What backup-service's WAL receiver last recorded about a database's WAL archive (point-in-time recovery), signed,
 * the newest version under {@code <prefix>/wal-state/<label>/}, for the status. Schema version 1; holds no secret.
 *
 * @param receiverUp           whether pg_receivewal was streaming when this was recorded
 * @param holder               the replica (pod) running the receiver
 * @param timeline             the server's timeline
 * @param lastSegment          the newest complete segment archived, on any timeline; null before the first
 * @param lastArchivedAt       when a file (segment or snapshot) was last archived
 * @param reachableUntil       the newest instant a recovery target may name: the newest heartbeat (or commit) in the
 *                             archive, complete segments and the partial snapshot together; null when unknown
 * @param slot                 the replication slot that keeps the server's WAL from the archive's end onward
 * @param slotRetainedBytes    WAL the slot holds on the server ({@code pg_current_wal_lsn() - restart_lsn}); null
 *                             when the slot is missing or lost
 * @param chainStartLsn        where the current unbroken chain of archived WAL starts: a base backup starting at or
 *                             after it can be recovered to any point after its end
 * @param problems             continuity problems, newest last: open ones ({@code resolvedAt} null) put the archive at
 *                             risk; one is resolved once a base backup of the new chain exists and its WAL is archived
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WalArchiveState(
        int schemaVersion,
        String database,
        boolean receiverUp,
        String holder,
        int timeline,
        String lastSegment,
        Instant lastArchivedAt,
        Instant reachableUntil,
        String slot,
        Long slotRetainedBytes,
        String chainStartLsn,
        List<Problem> problems,
        Instant recordedAt) {

    public static final int SCHEMA_VERSION = 1;

    /** The kinds of continuity problem. */
    public enum ProblemKind {
        /** Segments missing from the archive, or removed on the server before they were archived. */
        GAP,
        /** The replication slot is gone, or {@code wal_status = lost}: the server may have dropped unarchived WAL. */
        SLOT_LOST,
        /** The server is on a timeline whose history file the archive does not hold. */
        UNKNOWN_TIMELINE
    }

    /**
     * A continuity problem.
     *
     * @param reason     what happened, for people
     * @param resolvedAt when a new chain became restorable (a base backup after it, its WAL archived); null while open
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Problem(ProblemKind kind, String reason, Instant detectedAt, Instant resolvedAt) {
        public boolean open() {
            return resolvedAt == null;
        }
    }
}
