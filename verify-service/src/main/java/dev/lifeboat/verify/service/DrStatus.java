package dev.lifeboat.verify.service;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/**
 * The disaster-recovery status (DESIGN §6 {@code GET /api/v1/status}): for each database, how old its newest good
 * backup is against the RPO, how long its last measured restore took against the RTO, what is proven restorable,
 * size anomalies, metadata objects that cannot be parsed ({@code damagedMetadata}), and one overall verdict with the
 * findings behind it.
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DrStatus(Health status, Instant generatedAt, List<Finding> findings, List<DatabaseStatus> databases) {

    /** Overall verdict, worst first: BREACHED (an objective is not met), AT_RISK (not proven, or a warning), OK. */
    public enum Health {
        OK, AT_RISK, BREACHED;

        Health worst(Health other) {
            return other.ordinal() > ordinal() ? other : this;
        }
    }

    /** Why a database is not OK. */
    @RegisterForReflection
    public record Finding(Health severity, String message) {
    }

    /**
     * The status of one database; {@code pitr}: backup-service's last point-in-time recovery check (available, or
     * "PITR unavailable: ..." with the reasons; warnings), for databases with {@code pitr.enabled}.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record DatabaseStatus(String database, Health status, List<Finding> findings, BackupRef lastBackup,
                                 BackupRef lastVerifiedBackup, LastVerification lastVerification, Rpo rpo, Rto rto,
                                 SizeAnomaly sizeAnomaly, List<String> failedBackups,
                                 List<BackupCatalog.DamagedMetadata> damagedMetadata, Pitr pitr) {
    }

    /**
     * Point-in-time recovery of a database with {@code pitr.enabled}: backup-service's last check ({@code available},
     * {@code message} "PITR unavailable: ...", {@code reasons}, {@code warnings}, {@code checkedAt}; all null before the
     * first check), and what the base backups and the WAL archive can restore now: the recovery window
     * ({@code oldestRecoverable} to {@code newestRecoverable}), {@code rpoSeconds} (the age of the newest reachable
     * instant: what a point-in-time restore now would lose), {@code lastArchivedAt} (the newest WAL file stored),
     * {@code recoverableBaseBackups}, the segments missing from the archive ({@code gaps}), and from backup-service's WAL
     * receiver's last state record: {@code receiverUp}, {@code slotRetainedBytes} and the open continuity
     * {@code problems} (a gap, a lost slot, an unknown timeline); {@code lastDrill}, the newest point-in-time drill
     * (a base backup's full verification) with its RTO. A base backup whose drill failed is left out of the window.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Pitr(Boolean available, String message, List<String> reasons, List<String> warnings,
                       Instant checkedAt, Instant oldestRecoverable, Instant newestRecoverable, Long windowSeconds,
                       Long rpoSeconds, Instant lastArchivedAt, int recoverableBaseBackups, List<String> gaps,
                       Boolean receiverUp, Long slotRetainedBytes,
                       List<dev.lifeboat.common.model.WalArchiveState.Problem> problems, Drill lastDrill) {
    }

    /**
     * The newest point-in-time drill: the full verification of a base backup, which recovers it with its WAL and
     * restores it into a scratch database; {@code rtoSeconds} is how long that restore took.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Drill(String verificationId, String backupId, Result result, Instant finishedAt, Double rtoSeconds,
                        StepName failedStep, String error) {
    }

    /** A backup and its age now. */
    @RegisterForReflection
    public record BackupRef(String id, Trigger trigger, Instant startedAt, Instant finishedAt, long ageSeconds,
                            long storedSizeBytes) {
    }

    /** The newest verification of the database. */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LastVerification(String id, String backupId, Level level, Result result, Instant finishedAt,
                                   StepName failedStep, String error) {
    }

    /**
     * Recovery point: {@code currentSeconds} is the age (from its start, when pg_dump took its snapshot) of the
     * newest backup not proven bad; {@code provenSeconds} that of the newest backup proven restorable.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Rpo(Long currentSeconds, long objectiveSeconds, Long provenSeconds, boolean met) {
    }

    /** Recovery time: the scratch restore of the newest full verification that got that far. */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Rto(Double measuredSeconds, long objectiveSeconds, Instant measuredAt, String verificationId,
                      Boolean met) {
    }

    /**
     * The newest backup's stored size against the median of up to 7 before it: flagged below half or above double
     * (with at least 3 to compare with).
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record SizeAnomaly(boolean flagged, Long storedSizeBytes, Long medianBytes, int comparedWith, Double ratio) {
    }
}
