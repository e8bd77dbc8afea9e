package dev.lifeboat.backup.retention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.backup.retention.RetentionPlan.Candidate;
import dev.lifeboat.backup.retention.RetentionPlan.Condition;
import dev.lifeboat.backup.retention.RetentionPlan.Decision;
import dev.lifeboat.backup.retention.RetentionPlan.Entry;
import dev.lifeboat.backup.retention.RetentionPlan.Reason;
import dev.lifeboat.common.error.Errors.ClockBehind;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.Trigger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The retention engine on calendar edges (month ends, the leap day, DST changes), on the rules that hold whatever
 * the policy says, and on the README's worked example: a year of daily backups under daily 7, weekly 4, monthly 12.
 */
class RetentionCalendarTest {
    private static final ZoneId UTC = ZoneId.of("UTC");
    private static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss").withZone(UTC);

    static Candidate backup(Instant start, Condition condition) {
        return backup(start, condition, Trigger.SCHEDULED, false, false);
    }

    static Candidate backup(Instant start, Condition condition, Trigger trigger, boolean verified, boolean keep) {
        return new Candidate("main_backup_" + STAMP.format(start) + ".sql.zst", trigger, start,
                start.plusSeconds(600), condition, verified, keep);
    }

    static RetentionPolicy gfs(int daily, int weekly, int monthly, int yearly, ZoneId zone) {
        return new RetentionPolicy(true, null, null, daily, weekly, monthly, yearly, 1, Duration.ofDays(7), zone);
    }

    private static List<String> kept(RetentionPlan plan) {
        return plan.backups().stream().filter(e -> e.decision() == Decision.KEEP).map(e -> e.startedAt().toString()).toList();
    }

    /** The README's example: daily backups at 02:00 UTC through 2025, planned at 2025-12-31 03:30. */
    static RetentionPlan workedExample() {
        List<Candidate> year = new ArrayList<>();
        for (LocalDate d = LocalDate.of(2025, 1, 1); !d.isAfter(LocalDate.of(2025, 12, 31)); d = d.plusDays(1)) {
            year.add(backup(d.atTime(2, 0).toInstant(java.time.ZoneOffset.UTC), Condition.GOOD));
        }
        RetentionPolicy policy = new RetentionPolicy(true, null, null, 7, 4, 12, 0, 3, Duration.ofDays(7), UTC);
        return RetentionEngine.plan("main", year, policy, Instant.parse("2025-12-31T03:30:00Z"));
    }

    @Test
    void aYearOfDailyBackupsKeepsSevenDaysFourWeeksTwelveMonths() throws Exception {
        RetentionPlan plan = workedExample();
        Map<String, List<Reason>> kept = plan.backups().stream().filter(e -> e.decision() == Decision.KEEP)
                .collect(Collectors.toMap(e -> e.startedAt().toString().substring(0, 10), Entry::reasons,
                        (a, b) -> a, java.util.TreeMap::new));
        assertThat(kept.keySet()).containsExactly(
                "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30", "2025-07-31",
                "2025-08-31", "2025-09-30", "2025-10-31", "2025-11-30",
                "2025-12-14", "2025-12-21",
                "2025-12-25", "2025-12-26", "2025-12-27", "2025-12-28", "2025-12-29", "2025-12-30", "2025-12-31");
        assertThat(kept.get("2025-12-31")).containsExactly(Reason.NEWEST_GOOD, Reason.DAILY, Reason.WEEKLY, Reason.MONTHLY);
        assertThat(kept.get("2025-12-28")).containsExactly(Reason.DAILY, Reason.WEEKLY);
        assertThat(kept.get("2025-12-14")).containsExactly(Reason.WEEKLY);
        assertThat(kept.get("2025-11-30")).containsExactly(Reason.MONTHLY);
        assertThat(plan.keep()).isEqualTo(20);
        assertThat(plan.delete()).isEqualTo(345);
        assertThat(plan.deletions()).allSatisfy(e -> assertThat(e.reason()).isEqualTo(Reason.NOT_RETAINED));
        // the README shows this output
        Files.createDirectories(Path.of("target"));
        Files.write(Path.of("target/retention-worked-example.json"), Json.write(plan));
    }

    @Test
    void monthEndsFallIntoTheMonthOfTheZone() {
        // 2025-01-31 23:30 UTC is already February 1st in Berlin
        Instant lateJanUtc = Instant.parse("2025-01-31T23:30:00Z");
        Instant midJan = Instant.parse("2025-01-15T12:00:00Z");
        Instant midFeb = Instant.parse("2025-02-15T12:00:00Z");
        List<Candidate> backups = List.of(backup(midJan, Condition.GOOD), backup(lateJanUtc, Condition.GOOD),
                backup(midFeb, Condition.GOOD));
        Instant now = Instant.parse("2025-02-16T00:00:00Z");
        assertThat(kept(RetentionEngine.plan("main", backups, gfs(0, 0, 2, 0, UTC), now)))
                .containsExactly(midFeb.toString(), lateJanUtc.toString());
        assertThat(kept(RetentionEngine.plan("main", backups, gfs(0, 0, 2, 0, BERLIN), now)))
                .containsExactly(midFeb.toString(), midJan.toString());
        // the 31st, the 30th of a 30-day month and the 28th of February are each their month's last day
        List<Candidate> ends = List.of(backup(Instant.parse("2025-01-31T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-02-01T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-02-28T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-03-01T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-04-30T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-05-01T02:00:00Z"), Condition.GOOD));
        assertThat(kept(RetentionEngine.plan("main", ends, gfs(0, 0, 5, 0, UTC), Instant.parse("2025-05-02T00:00:00Z"))))
                .containsExactly("2025-05-01T02:00:00Z", "2025-04-30T02:00:00Z", "2025-03-01T02:00:00Z",
                        "2025-02-28T02:00:00Z", "2025-01-31T02:00:00Z");
    }

    @Test
    void theLeapDayIsItsOwnDayAndFebruarysLast() {
        List<Candidate> backups = List.of(backup(Instant.parse("2024-02-28T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2024-02-29T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2024-03-01T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-02-28T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-03-01T02:00:00Z"), Condition.GOOD));
        Instant now = Instant.parse("2025-03-02T00:00:00Z");
        assertThat(kept(RetentionEngine.plan("main", backups.subList(0, 3), gfs(3, 0, 0, 0, UTC), now)))
                .containsExactly("2024-03-01T02:00:00Z", "2024-02-29T02:00:00Z", "2024-02-28T02:00:00Z");
        assertThat(kept(RetentionEngine.plan("main", backups, gfs(0, 0, 4, 0, UTC), now)))
                .containsExactly("2025-03-01T02:00:00Z", "2025-02-28T02:00:00Z", "2024-03-01T02:00:00Z",
                        "2024-02-29T02:00:00Z");
        assertThat(kept(RetentionEngine.plan("main", backups, gfs(0, 0, 0, 2, UTC), now)))
                .containsExactly("2025-03-01T02:00:00Z", "2024-03-01T02:00:00Z");
    }

    @Test
    void daysFollowTheZoneAcrossDaylightSavingChanges() {
        // spring forward in Berlin on 2025-03-30 (02:00 CET -> 03:00 CEST): both backups fall on local March 30th
        Instant mar30EarlyCet = Instant.parse("2025-03-29T23:30:00Z"); // 00:30 CET, March 30
        Instant mar30LateCest = Instant.parse("2025-03-30T21:59:00Z"); // 23:59 CEST, March 30
        Instant mar31 = Instant.parse("2025-03-30T22:30:00Z");         // 00:30 CEST, March 31
        List<Candidate> spring = List.of(backup(mar30EarlyCet, Condition.GOOD), backup(mar30LateCest, Condition.GOOD),
                backup(mar31, Condition.GOOD));
        Instant now = Instant.parse("2025-04-01T00:00:00Z");
        assertThat(kept(RetentionEngine.plan("main", spring, gfs(2, 0, 0, 0, BERLIN), now)))
                .containsExactly(mar31.toString(), mar30LateCest.toString());
        // in UTC the days split differently: March 29th (the early one), March 30th (the two others)
        assertThat(kept(RetentionEngine.plan("main", spring, gfs(2, 0, 0, 0, UTC), now)))
                .containsExactly(mar31.toString(), mar30EarlyCet.toString());
        // fall back on 2025-10-26 (03:00 CEST -> 02:00 CET): a 25-hour day is still one day
        Instant oct26Cest = Instant.parse("2025-10-25T22:30:00Z"); // 00:30 CEST, October 26
        Instant oct26Repeated = Instant.parse("2025-10-26T00:30:00Z"); // 02:30 CEST, the first 02:30
        Instant oct26Cet = Instant.parse("2025-10-26T22:30:00Z"); // 23:30 CET, October 26
        List<Candidate> fall = List.of(backup(oct26Cest, Condition.GOOD), backup(oct26Repeated, Condition.GOOD),
                backup(oct26Cet, Condition.GOOD));
        assertThat(kept(RetentionEngine.plan("main", fall, gfs(5, 0, 0, 0, BERLIN), Instant.parse("2025-10-28T00:00:00Z"))))
                .containsExactly(oct26Cet.toString());
    }

    @Test
    void aRunOfBadBackupsNeverPushesOutTheGoodOnes() {
        // ten good nights, then three weeks of "successful" empty dumps and failed verifications
        List<Candidate> history = new ArrayList<>();
        Instant start = Instant.parse("2025-06-01T02:00:00Z");
        for (int day = 0; day < 31; day++) {
            Condition c = day < 10 ? Condition.GOOD : day % 2 == 0 ? Condition.EMPTY : Condition.PROVEN_BAD;
            history.add(backup(start.plus(Duration.ofDays(day)), c, Trigger.SCHEDULED, day == 3, false));
        }
        RetentionPolicy policy = new RetentionPolicy(true, Duration.ofDays(14), 3, 7, 0, 0, 0, 5, Duration.ofDays(7), UTC);
        RetentionPlan plan = RetentionEngine.plan("main", history, policy, Instant.parse("2025-07-02T03:00:00Z"));
        Map<String, Entry> byDay = plan.backups().stream().collect(Collectors.toMap(e -> e.startedAt().toString()
                .substring(0, 10), e -> e));
        assertThat(byDay.get("2025-06-10").reasons()).contains(Reason.NEWEST_GOOD, Reason.KEEP_LAST, Reason.DAILY);
        assertThat(byDay.get("2025-06-04").reasons()).containsExactly(Reason.NEWEST_VERIFIED, Reason.DAILY);
        // keep-last 3 and daily 7 count good backups only: June 4-10; min-keep 5 is met by them
        assertThat(plan.backups().stream().filter(e -> e.condition() == Condition.GOOD && e.decision() == Decision.KEEP)
                .map(e -> e.startedAt().toString().substring(0, 10)).toList())
                .containsExactly("2025-06-10", "2025-06-09", "2025-06-08", "2025-06-07", "2025-06-06", "2025-06-05",
                        "2025-06-04");
        // bad ones: kept only while younger than max-age (14 days), deleted after
        assertThat(byDay.get("2025-06-30").decision()).isEqualTo(Decision.KEEP);
        assertThat(byDay.get("2025-06-30").reason()).isEqualTo(Reason.WITHIN_MAX_AGE);
        assertThat(byDay.get("2025-06-12").decision()).isEqualTo(Decision.DELETE);
        assertThat(byDay.get("2025-06-12").reason()).isEqualTo(Reason.EXPIRED);
        assertThat(byDay.get("2025-06-01").reason()).isEqualTo(Reason.EXPIRED);
    }

    @Test
    void minKeepTopsUpWithTheNewestGoodBackups() {
        List<Candidate> history = new ArrayList<>();
        for (int day = 0; day < 6; day++) {
            history.add(backup(Instant.parse("2025-01-01T02:00:00Z").plus(Duration.ofDays(day)), Condition.GOOD));
        }
        RetentionPolicy policy = new RetentionPolicy(true, Duration.ofDays(1), null, 0, 0, 0, 0, 4, Duration.ofDays(7), UTC);
        RetentionPlan plan = RetentionEngine.plan("main", history, policy, Instant.parse("2025-03-01T00:00:00Z"));
        assertThat(plan.backups().stream().map(Entry::reason).toList()).containsExactly(Reason.NEWEST_GOOD,
                Reason.MIN_KEEP, Reason.MIN_KEEP, Reason.MIN_KEEP, Reason.EXPIRED, Reason.EXPIRED);
    }

    @Test
    void safetyBackupsLiveBySafetyMaxAgeAndLabelsProtect() {
        Instant now = Instant.parse("2025-03-01T00:00:00Z");
        List<Candidate> history = List.of(
                backup(Instant.parse("2025-02-28T02:00:00Z"), Condition.GOOD),
                backup(Instant.parse("2025-02-27T12:00:00Z"), Condition.GOOD, Trigger.PRE_RESTORE, false, false),
                backup(Instant.parse("2025-02-10T12:00:00Z"), Condition.GOOD, Trigger.PRE_RESTORE, false, false),
                backup(Instant.parse("2025-02-09T12:00:00Z"), Condition.GOOD, Trigger.PRE_RESTORE, false, true),
                backup(Instant.parse("2025-01-01T02:00:00Z"), Condition.GOOD, Trigger.SCHEDULED, false, true),
                backup(Instant.parse("2024-12-01T02:00:00Z"), Condition.UNTRUSTED));
        RetentionPolicy policy = new RetentionPolicy(true, Duration.ofDays(30), null, 0, 0, 0, 0, 1, Duration.ofDays(7), UTC);
        assertThat(RetentionEngine.plan("main", history, policy, now).backups().stream()
                .map(e -> e.decision() + " " + e.reason()).toList()).containsExactly(
                "KEEP NEWEST_GOOD", "KEEP SAFETY_WITHIN_MAX_AGE", "DELETE SAFETY_EXPIRED", "KEEP KEEP_LABEL",
                "KEEP KEEP_LABEL", "KEEP UNTRUSTED");
        RetentionPolicy off = new RetentionPolicy(false, null, null, 0, 0, 0, 0, 3, Duration.ofDays(7), UTC);
        assertThat(RetentionEngine.plan("main", history, off, now).delete()).isZero();
    }

    @Test
    void aClockBehindTheNewestBackupIsRefusedAndAnEmptyPolicyIsInvalid() {
        List<Candidate> history = List.of(backup(Instant.parse("2025-02-28T02:00:00Z"), Condition.GOOD));
        assertThatThrownBy(() -> RetentionEngine.plan("main", history, gfs(1, 0, 0, 0, UTC),
                Instant.parse("2025-02-28T02:09:59Z"))).isInstanceOf(ClockBehind.class)
                .hasMessageContaining("2025-02-28T02:10:00Z").hasMessageContaining("Nothing was deleted");
        assertThatThrownBy(() -> gfs(0, 0, 0, 0, UTC)).isInstanceOf(InvalidConfiguration.class)
                .hasMessageContaining("keeps nothing");
    }
}
