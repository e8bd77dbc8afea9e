package dev.lifeboat.backup.retention;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.model.Trigger;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/**
 * What retention decides for one database at one instant ({@code GET /api/v1/retention/plan}): every backup with
 * {@code KEEP} or {@code DELETE} and why, newest first; with point-in-time recovery, the same for its base backups
 * ({@code baseBackups}, null when it has none) and what the WAL archive keeps ({@code wal}). {@code POST /api/v1/retention/apply} deletes exactly the
 * {@code DELETE} entries of a plan computed the same way.
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RetentionPlan(String database, Instant now, RetentionPolicy policy, int keep, int delete,
                            List<Entry> backups, List<Entry> baseBackups, WalRetention wal) {

    public RetentionPlan(String database, Instant now, RetentionPolicy policy, int keep, int delete, List<Entry> backups) {
        this(database, now, policy, keep, delete, backups, null, null);
    }

    /** This plan with the point-in-time recovery part: the base backups' decisions and the WAL to delete. */
    public RetentionPlan withPitr(List<Entry> bases, WalRetention walRetention) {
        return new RetentionPlan(database, now, policy, keep, delete, backups, bases, walRetention);
    }

    /**
     * The WAL archive's part of a plan: WAL is kept from the start segment of the oldest base backup kept
     * ({@code keepFrom}, e.g. {@code 000000010000000000000003}; null while no base backup exists: all is kept, the
     * first one will need it) to the end; the {@code deleteFiles} older ones ({@code deleteBytes} stored) go.
     * Timeline history files are always kept (a few bytes each, and recovery reads them).
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record WalRetention(String keepFrom, int deleteFiles, long deleteBytes) {
    }

    /** The decision for a backup. */
    public enum Decision {
        KEEP, DELETE
    }

    /**
     * Why: a closed set. The keep reasons are listed in the order the primary {@code reason} is chosen from them.
     */
    public enum Reason {
        /** The backup's metadata has no valid integrity tag: only an explicit DELETE removes it. */
        UNTRUSTED,
        /** The policy is off ({@code enabled=false}): nothing is deleted. */
        POLICY_DISABLED,
        /** Labelled {@code keep=true}. */
        KEEP_LABEL,
        /** The newest good backup of the database. */
        NEWEST_GOOD,
        /** The newest backup proven restorable. */
        NEWEST_VERIFIED,
        /** One of the {@code keep-last} newest good backups. */
        KEEP_LAST,
        /** The newest good backup of one of the {@code daily} newest days that have one. */
        DAILY,
        /** ... of one of the {@code weekly} newest ISO weeks. */
        WEEKLY,
        /** ... of one of the {@code monthly} newest months. */
        MONTHLY,
        /** ... of one of the {@code yearly} newest years. */
        YEARLY,
        /** Younger than {@code max-age}. */
        WITHIN_MAX_AGE,
        /** A PRE_RESTORE safety backup younger than {@code safety-max-age}. */
        SAFETY_WITHIN_MAX_AGE,
        /** Kept so that at least {@code min-keep} good backups remain. */
        MIN_KEEP,
        /** A failed, damaged or empty backup: only max-age deletes those, and none is set. */
        BAD_WITHOUT_MAX_AGE,
        /** Delete: older than {@code max-age} and kept by no other rule. */
        EXPIRED,
        /** Delete: a safety backup older than {@code safety-max-age}, kept by no other rule. */
        SAFETY_EXPIRED,
        /** Delete: no rule keeps it (no max-age set, outside keep-last and every bucket). */
        NOT_RETAINED,
        /** Delete: asked for by {@code DELETE /api/v1/backups/{id}}. */
        REQUESTED
    }

    /** What retention knows of a backup's state. */
    public enum Condition {
        /** Completed and not proven bad (verified or not yet). */
        GOOD,
        /** Completed with zero bytes stored or dumped: a "success" that holds nothing. */
        EMPTY,
        /** A failed checksum verification not answered by a later pass: the stored bytes are damaged. */
        DAMAGED,
        /** A failed full verification not answered by a later pass. */
        PROVEN_BAD,
        /** The metadata has no valid integrity tag. */
        UNTRUSTED
    }

    /** A backup as retention sees it. */
    @RegisterForReflection
    public record Candidate(String id, Trigger trigger, Instant startedAt, Instant finishedAt, Condition condition,
                            boolean verified, boolean keepLabel) {
    }

    /** One backup's decision, with every rule that keeps it ({@code reasons}) and the first of them. */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Entry(String id, Trigger trigger, Instant startedAt, Instant finishedAt, Condition condition,
                        boolean verified, boolean keepLabel, Decision decision, Reason reason, List<Reason> reasons) {
    }

    /** The entries to delete, newest first. */
    public List<Entry> deletions() {
        return backups.stream().filter(e -> e.decision() == Decision.DELETE).toList();
    }
}
