package dev.lifeboat.backup.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.backup.retention.RetentionPlan.Candidate;
import dev.lifeboat.backup.retention.RetentionPlan.Condition;
import dev.lifeboat.backup.retention.RetentionPlan.Decision;
import dev.lifeboat.backup.retention.RetentionPlan.Entry;
import dev.lifeboat.backup.retention.RetentionPlan.Reason;
import dev.lifeboat.common.error.Errors.ClockBehind;
import dev.lifeboat.common.model.Trigger;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Property-based tests of the retention engine over generated backup histories: random start times over about a
 * year and a half, with ties (several backups of the same second), gaps and any input order; random durations,
 * triggers (scheduled, manual, PRE_RESTORE safety backups), failures (empty, damaged, proven bad), verifications,
 * {@code keep=true} labels and untrusted backups; random policies in several time zones.
 */
class RetentionEnginePropertiesTest {
    private static final Instant BASE = Instant.parse("2024-01-01T00:00:00Z");
    private static final List<String> ZONES = List.of("UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
            "Asia/Kathmandu", "Pacific/Apia");

    /** A generated history, the policy and "now" (never before the newest finish). */
    record Case(List<Candidate> backups, RetentionPolicy policy, Instant now) {
        RetentionPlan plan() {
            return RetentionEngine.plan("main", backups, policy, now);
        }
    }

    @Provide
    Arbitrary<Case> cases() {
        Arbitrary<List<Candidate>> histories = candidate().list().ofMinSize(0).ofMaxSize(60).map(RetentionEnginePropertiesTest::uniqueIds);
        Arbitrary<RetentionPolicy> policies = Combinators.combine(
                Arbitraries.integers().between(1, 500).injectNull(0.4),
                Arbitraries.integers().between(1, 10).injectNull(0.5),
                Arbitraries.integers().between(0, 14).list().ofSize(4),
                Arbitraries.integers().between(1, 6),
                Arbitraries.integers().between(1, 30),
                Arbitraries.of(ZONES),
                Arbitraries.of(true, true, true, false)).as((maxDays, keepLast, buckets, minKeep, safetyDays, zone, enabled) -> {
                    int daily = buckets.get(0);
                    if (maxDays == null && keepLast == null && buckets.stream().mapToInt(i -> i).sum() == 0) {
                        daily = 1; // an enabled policy must keep something
                    }
                    return new RetentionPolicy(enabled, maxDays == null ? null : Duration.ofDays(maxDays), keepLast,
                            daily, buckets.get(1), buckets.get(2), buckets.get(3), minKeep, Duration.ofDays(safetyDays),
                            ZoneId.of(zone));
                });
        Arbitrary<Long> slack = Arbitraries.longs().between(0, Duration.ofDays(40).toSeconds());
        return Combinators.combine(histories, policies, slack).as((h, p, s) -> {
            Instant newest = h.stream().filter(c -> c.condition() != Condition.UNTRUSTED).map(Candidate::finishedAt)
                    .max(Comparator.naturalOrder()).orElse(BASE);
            return new Case(h, p, newest.plusSeconds(s));
        });
    }

    private Arbitrary<Candidate> candidate() {
        // a small pool of start times makes ties frequent; the wide range makes gaps
        Arbitrary<Instant> starts = Arbitraries.oneOf(
                Arbitraries.longs().between(0, Duration.ofDays(550).toSeconds()).map(BASE::plusSeconds),
                Arbitraries.of(0L, 3600L, 86_400L, 86_400L * 31).map(BASE::plusSeconds));
        Arbitrary<Condition> conditions = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(12, Arbitraries.just(Condition.GOOD)),
                net.jqwik.api.Tuple.of(2, Arbitraries.just(Condition.EMPTY)),
                net.jqwik.api.Tuple.of(2, Arbitraries.just(Condition.DAMAGED)),
                net.jqwik.api.Tuple.of(3, Arbitraries.just(Condition.PROVEN_BAD)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(Condition.UNTRUSTED)));
        Arbitrary<Trigger> triggers = Arbitraries.frequency(
                net.jqwik.api.Tuple.of(6, Trigger.SCHEDULED), net.jqwik.api.Tuple.of(2, Trigger.MANUAL),
                net.jqwik.api.Tuple.of(2, Trigger.PRE_RESTORE));
        return Combinators.combine(starts, Arbitraries.longs().between(0, 4 * 3600), conditions, triggers,
                Arbitraries.integers().between(0, 99), Arbitraries.integers().between(0, 99)).as((start, secs, condition, trigger, v, k) -> {
                    boolean verified = condition == Condition.GOOD && v < 30;
                    return new Candidate("", trigger, start, start.plusSeconds(secs), condition, verified, k < 8);
                });
    }

    /** Ids as the catalog makes them: the start second, then a same-second sequence. */
    private static List<Candidate> uniqueIds(List<Candidate> raw) {
        Map<Instant, Integer> seq = new java.util.HashMap<>();
        List<Candidate> out = new ArrayList<>();
        for (Candidate c : raw) {
            int n = seq.merge(c.startedAt(), 1, Integer::sum);
            String stamp = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss").withZone(ZoneId.of("UTC"))
                    .format(c.startedAt());
            String id = "main_backup_" + stamp + (n > 1 ? "_" + n : "") + ".sql.zst";
            out.add(new Candidate(id, c.trigger(), c.startedAt(), c.finishedAt(), c.condition(), c.verified(), c.keepLabel()));
        }
        return out;
    }

    private static Map<String, Entry> byId(RetentionPlan plan) {
        return plan.backups().stream().collect(Collectors.toMap(Entry::id, Function.identity()));
    }

    private static List<Candidate> newestFirst(List<Candidate> backups, java.util.function.Predicate<Candidate> filter) {
        return backups.stream().filter(filter).sorted(RetentionEngine.NEWEST_FIRST).toList();
    }

    @Property(tries = 400)
    void theNewestGoodAndTheNewestVerifiedAreAlwaysKept(@ForAll("cases") Case c) {
        Map<String, Entry> plan = byId(c.plan());
        newestFirst(c.backups(), b -> b.condition() == Condition.GOOD).stream().findFirst()
                .ifPresent(b -> assertThat(plan.get(b.id()).decision()).isEqualTo(Decision.KEEP));
        newestFirst(c.backups(), Candidate::verified).stream().findFirst()
                .ifPresent(b -> assertThat(plan.get(b.id()).decision()).isEqualTo(Decision.KEEP));
    }

    @Property(tries = 400)
    void minKeepGoodBackupsRemain(@ForAll("cases") Case c) {
        RetentionPlan plan = c.plan();
        long good = c.backups().stream().filter(b -> b.condition() == Condition.GOOD).count();
        long keptGood = plan.backups().stream().filter(e -> e.condition() == Condition.GOOD && e.decision() == Decision.KEEP).count();
        assertThat(keptGood).isGreaterThanOrEqualTo(Math.min(good, c.policy().minKeep()));
    }

    @Property(tries = 400)
    void failedDamagedAndProvenBadNeverCount(@ForAll("cases") Case c) {
        RetentionPlan plan = c.plan();
        Set<Reason> counting = Set.of(Reason.NEWEST_GOOD, Reason.KEEP_LAST, Reason.DAILY, Reason.WEEKLY, Reason.MONTHLY,
                Reason.YEARLY, Reason.MIN_KEEP);
        plan.backups().stream().filter(e -> e.condition() != Condition.GOOD)
                .forEach(e -> assertThat(e.reasons()).doesNotContainAnyElementsOf(counting));
        // and they do not change what happens to the good ones: plan again without them
        List<Candidate> goodOnly = c.backups().stream().filter(b -> b.condition() == Condition.GOOD).toList();
        Map<String, Entry> without = byId(RetentionEngine.plan("main", goodOnly, c.policy(), c.now()));
        plan.backups().stream().filter(e -> e.condition() == Condition.GOOD)
                .forEach(e -> assertThat(without.get(e.id())).isEqualTo(e));
        // only max-age (or safety-max-age) deletes a bad one
        plan.backups().stream().filter(e -> e.condition() != Condition.GOOD && e.condition() != Condition.UNTRUSTED
                        && e.decision() == Decision.DELETE)
                .forEach(e -> {
                    Duration age = Duration.between(e.finishedAt(), c.now());
                    Duration limit = e.trigger() == Trigger.PRE_RESTORE ? c.policy().safetyMaxAge() : c.policy().maxAge();
                    assertThat(limit).isNotNull();
                    assertThat(age).isGreaterThanOrEqualTo(limit);
                });
    }

    @Property(tries = 400)
    void keepLabelsUntrustedAndDisabledPoliciesDeleteNothing(@ForAll("cases") Case c) {
        RetentionPlan plan = c.plan();
        plan.backups().stream().filter(e -> e.keepLabel() || e.condition() == Condition.UNTRUSTED || !c.policy().enabled())
                .forEach(e -> assertThat(e.decision()).isEqualTo(Decision.KEEP));
        plan.backups().stream().filter(e -> e.condition() == Condition.UNTRUSTED)
                .forEach(e -> assertThat(e.reason()).isEqualTo(Reason.UNTRUSTED));
    }

    @Property(tries = 300)
    void thePlanIsDeterministicWhateverTheInputOrder(@ForAll("cases") Case c, @ForAll long seed) {
        List<Candidate> shuffled = new ArrayList<>(c.backups());
        Collections.shuffle(shuffled, new Random(seed));
        assertThat(RetentionEngine.plan("main", shuffled, c.policy(), c.now())).isEqualTo(c.plan());
        assertThat(c.plan()).isEqualTo(c.plan());
    }

    @Property(tries = 400)
    void applyingThePlanThenPlanningAgainDeletesNothingMore(@ForAll("cases") Case c) {
        RetentionPlan first = c.plan();
        Set<String> kept = first.backups().stream().filter(e -> e.decision() == Decision.KEEP).map(Entry::id)
                .collect(Collectors.toSet());
        List<Candidate> remaining = c.backups().stream().filter(b -> kept.contains(b.id())).toList();
        RetentionPlan second = RetentionEngine.plan("main", remaining, c.policy(), c.now());
        assertThat(second.deletions()).isEmpty();
        assertThat(second.keep()).isEqualTo(first.keep());
    }

    @Property(tries = 200)
    void aClockBeforeTheNewestFinishIsRefused(@ForAll("cases") Case c, @ForAll("behind") long seconds) {
        Instant newest = c.backups().stream().filter(b -> b.condition() != Condition.UNTRUSTED)
                .map(Candidate::finishedAt).max(Comparator.naturalOrder()).orElse(null);
        if (newest == null) {
            return;
        }
        assertThatThrownBy(() -> RetentionEngine.plan("main", c.backups(), c.policy(), newest.minusSeconds(seconds)))
                .isInstanceOf(ClockBehind.class).hasMessageContaining(newest.toString());
    }

    @Provide
    Arbitrary<Long> behind() {
        return Arbitraries.longs().between(1, Duration.ofDays(400).toSeconds());
    }
}
