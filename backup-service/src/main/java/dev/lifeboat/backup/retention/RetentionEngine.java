package dev.lifeboat.backup.retention;

import dev.lifeboat.backup.retention.RetentionPlan.Candidate;
import dev.lifeboat.backup.retention.RetentionPlan.Condition;
import dev.lifeboat.backup.retention.RetentionPlan.Decision;
import dev.lifeboat.backup.retention.RetentionPlan.Entry;
import dev.lifeboat.backup.retention.RetentionPlan.Reason;
import dev.lifeboat.common.error.Errors.ClockBehind;
import dev.lifeboat.common.model.Trigger;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The retention policy engine (DESIGN §5): pure, no I/O, no clock of its own. Given a database's backups, a policy
 * and "now", it decides KEEP or DELETE for each backup, with the reasons, the same way for the same input whatever
 * its order. A backup is kept when any rule keeps it; the rules that hold whatever the policy says:
 * <ul>
 *   <li>the newest good and the newest verified backup are kept; so is one labelled {@code keep=true};</li>
 *   <li>at least {@code min-keep} good backups are kept;</li>
 *   <li>empty, damaged and proven-bad backups never count toward keep-last, a bucket or min-keep, and are deleted
 *       only past max-age;</li>
 *   <li>PRE_RESTORE safety backups live by {@code safety-max-age}, outside keep-last and the buckets;</li>
 *   <li>untrusted backups are never deleted by a policy;</li>
 *   <li>a clock earlier than the newest backup's recorded finish time refuses the plan ({@link ClockBehind}).</li>
 * </ul>
 * Ages are {@code now - finishedAt}; backups fall into calendar buckets by their start time in the policy's zone,
 * and are ordered by start time, then id (as the catalog lists them).
 */
public final class RetentionEngine {
    /** Newest first: start time, then id; the order every rule reads backups in. */
    static final Comparator<Candidate> NEWEST_FIRST = Comparator.comparing(Candidate::startedAt)
            .thenComparing(Candidate::id).reversed();

    private RetentionEngine() {
    }

    /** The plan for {@code database}'s backups under {@code policy} at {@code now}. */
    public static RetentionPlan plan(String database, List<Candidate> backups, RetentionPolicy policy, Instant now) {
        List<Candidate> all = new ArrayList<>(backups);
        all.sort(NEWEST_FIRST);
        checkClock(database, all, now);
        Map<String, EnumSet<Reason>> keep = new HashMap<>();
        for (Candidate c : all) {
            keep.put(c.id(), EnumSet.noneOf(Reason.class));
        }
        List<Candidate> trusted = all.stream().filter(c -> c.condition() != Condition.UNTRUSTED).toList();
        List<Candidate> good = trusted.stream().filter(c -> c.condition() == Condition.GOOD).toList();
        List<Candidate> regular = good.stream().filter(c -> c.trigger() != Trigger.PRE_RESTORE).toList();

        all.stream().filter(c -> c.condition() == Condition.UNTRUSTED).forEach(c -> keep.get(c.id()).add(Reason.UNTRUSTED));
        if (!policy.enabled()) {
            trusted.forEach(c -> keep.get(c.id()).add(Reason.POLICY_DISABLED));
        }
        trusted.stream().filter(Candidate::keepLabel).forEach(c -> keep.get(c.id()).add(Reason.KEEP_LABEL));
        good.stream().findFirst().ifPresent(c -> keep.get(c.id()).add(Reason.NEWEST_GOOD));
        trusted.stream().filter(Candidate::verified).findFirst().ifPresent(c -> keep.get(c.id()).add(Reason.NEWEST_VERIFIED));
        if (policy.keepLast() != null) {
            regular.stream().limit(policy.keepLast()).forEach(c -> keep.get(c.id()).add(Reason.KEEP_LAST));
        }
        bucket(regular, policy.daily(), Reason.DAILY, t -> t.atZone(policy.timezone()).toLocalDate(), keep);
        bucket(regular, policy.weekly(), Reason.WEEKLY, t -> {
            ZonedDateTime z = t.atZone(policy.timezone());
            return z.get(IsoFields.WEEK_BASED_YEAR) * 100 + z.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR);
        }, keep);
        bucket(regular, policy.monthly(), Reason.MONTHLY, t -> java.time.YearMonth.from(t.atZone(policy.timezone())), keep);
        bucket(regular, policy.yearly(), Reason.YEARLY, t -> t.atZone(policy.timezone()).getYear(), keep);
        for (Candidate c : trusted) {
            Duration age = Duration.between(c.finishedAt(), now);
            if (c.trigger() == Trigger.PRE_RESTORE) {
                if (age.compareTo(policy.safetyMaxAge()) < 0) {
                    keep.get(c.id()).add(Reason.SAFETY_WITHIN_MAX_AGE);
                }
            } else if (policy.maxAge() != null && age.compareTo(policy.maxAge()) < 0) {
                keep.get(c.id()).add(Reason.WITHIN_MAX_AGE);
            } else if (policy.maxAge() == null && c.condition() != Condition.GOOD) {
                keep.get(c.id()).add(Reason.BAD_WITHOUT_MAX_AGE);
            }
        }
        long kept = good.stream().filter(c -> !keep.get(c.id()).isEmpty()).count();
        for (Candidate c : good) {
            if (kept >= policy.minKeep()) {
                break;
            }
            if (keep.get(c.id()).isEmpty()) {
                keep.get(c.id()).add(Reason.MIN_KEEP);
                kept++;
            }
        }

        List<Entry> entries = new ArrayList<>();
        for (Candidate c : all) {
            EnumSet<Reason> reasons = keep.get(c.id());
            Reason deleteReason = c.trigger() == Trigger.PRE_RESTORE ? Reason.SAFETY_EXPIRED
                    : policy.maxAge() != null ? Reason.EXPIRED : Reason.NOT_RETAINED;
            boolean keeps = !reasons.isEmpty();
            entries.add(new Entry(c.id(), c.trigger(), c.startedAt(), c.finishedAt(), c.condition(), c.verified(),
                    c.keepLabel(), keeps ? Decision.KEEP : Decision.DELETE, keeps ? reasons.iterator().next() : deleteReason,
                    keeps ? List.copyOf(reasons) : List.of(deleteReason)));
        }
        int deletes = (int) entries.stream().filter(e -> e.decision() == Decision.DELETE).count();
        return new RetentionPlan(database, now, policy, entries.size() - deletes, deletes, List.copyOf(entries));
    }

    /**
     * Why a backup may not be deleted by hand without {@code force}: the newest good, the newest verified, a
     * {@code keep=true} label. Empty when it may.
     */
    public static List<Reason> protection(String id, List<Candidate> backups) {
        List<Candidate> all = new ArrayList<>(backups);
        all.sort(NEWEST_FIRST);
        List<Reason> out = new ArrayList<>();
        all.stream().filter(c -> c.id().equals(id) && c.keepLabel() && c.condition() != Condition.UNTRUSTED)
                .findFirst().ifPresent(c -> out.add(Reason.KEEP_LABEL));
        all.stream().filter(c -> c.condition() == Condition.GOOD).findFirst()
                .filter(c -> c.id().equals(id)).ifPresent(c -> out.add(Reason.NEWEST_GOOD));
        all.stream().filter(c -> c.condition() != Condition.UNTRUSTED && c.verified()).findFirst()
                .filter(c -> c.id().equals(id)).ifPresent(c -> out.add(Reason.NEWEST_VERIFIED));
        return out;
    }

    /** Refuses a clock that reads earlier than the newest trusted backup's recorded finish time. */
    private static void checkClock(String database, List<Candidate> all, Instant now) {
        // untrusted metadata could carry any time: a planted future date must not stop retention
        all.stream().filter(c -> c.condition() != Condition.UNTRUSTED).map(Candidate::finishedAt)
                .max(Comparator.naturalOrder()).filter(now::isBefore).ifPresent(newest -> {
                    throw new ClockBehind("Retention of '" + database + "' refused: the clock reads " + now
                            + ", earlier than the newest backup's recorded finish time " + newest + ". A clock that "
                            + "jumped back would make every backup look younger or older than it is; fix the clock "
                            + "(NTP) and retention runs again. Nothing was deleted.");
                });
    }

    /** Keeps the newest good backup of each of the {@code count} newest buckets that have one. */
    private static void bucket(List<Candidate> regular, int count, Reason reason, Function<Instant, Object> bucketOf,
                               Map<String, EnumSet<Reason>> keep) {
        Set<Object> seen = new HashSet<>();
        for (Candidate c : regular) {
            if (seen.size() >= count) {
                return;
            }
            if (seen.add(bucketOf.apply(c.startedAt()))) {
                keep.get(c.id()).add(reason);
            }
        }
    }
}
