package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The part sizes of S3 uploads: 10,000 parts always reach S3's 5 TiB, within S3's part size limits. */
class PartScheduleTest {
    static final long MiB = 1024 * 1024;
    static final long GiB = 1024 * MiB;
    static final long TiB = 1024 * GiB;

    @ParameterizedTest
    @ValueSource(ints = {5 * 1024 * 1024, 5 * 1024 * 1024 + 1, 8 * 1024 * 1024, 16 * 1024 * 1024, 100 * 1024 * 1024,
            1024 * 1024 * 1024, PartSchedule.MAX_PART_SIZE})
    void tenThousandPartsHoldFiveTebibytesWithinS3sPartLimits(int base) {
        PartSchedule schedule = PartSchedule.s3(base);
        long total = 0;
        int previous = 0;
        for (int n = 1; n <= PartSchedule.S3_MAX_PARTS; n++) {
            int size = schedule.size(n);
            assertThat((long) size).as("part %d", n).isBetween(5 * MiB, 5 * GiB);
            assertThat(size).as("part %d never shrinks", n).isGreaterThanOrEqualTo(previous);
            previous = size;
            total += size;
        }
        assertThat(total).isEqualTo(schedule.capacity()).isGreaterThanOrEqualTo(PartSchedule.S3_MAX_OBJECT_SIZE);
        assertThat(schedule.capacity()).isGreaterThanOrEqualTo(5 * TiB);
    }

    @Test
    void theConfiguredSizeHoldsForTheFirst900PartsThenDoublesEvery900() {
        PartSchedule schedule = PartSchedule.s3(16 * 1024 * 1024);
        assertThat(schedule.size(1)).isEqualTo(16 * MiB);
        assertThat(schedule.size(900)).isEqualTo(16 * MiB);
        assertThat(schedule.size(901)).isEqualTo(32 * MiB);
        assertThat(schedule.size(1800)).isEqualTo(32 * MiB);
        assertThat(schedule.size(1801)).isEqualTo(64 * MiB);
        assertThat(schedule.size(5401)).isEqualTo(1024 * MiB);
        assertThat(schedule.size(6301)).as("capped at the largest array").isEqualTo(PartSchedule.MAX_PART_SIZE);
        assertThat(schedule.size(10_000)).isEqualTo(PartSchedule.MAX_PART_SIZE);
    }

    @Test
    void theJavadocsNumbersHold() {
        // 5 MiB base: 2,299,500 MiB in parts 1-8,100, then 1,900 parts of 2047 MiB
        assertThat(PartSchedule.s3(5 * 1024 * 1024).capacity()).isEqualTo(6_188_800 * MiB);
        // 16 MiB base: the buffer (one part) stays 16 MiB up to 14,400 MiB, 128 MiB up to 216,000 MiB
        PartSchedule schedule = PartSchedule.s3(16 * 1024 * 1024);
        assertThat(sum(schedule, 900)).isEqualTo(14_400 * MiB);
        assertThat(sum(schedule, 3600)).isEqualTo(216_000 * MiB);
        assertThat(schedule.size(3600)).isEqualTo(128 * MiB);
        assertThat(schedule.capacity()).isGreaterThan(8 * TiB + 900 * GiB);
        // memory bound: a stream of S bytes needs a part of at most base + S / 900
        for (int n = 1; n <= PartSchedule.S3_MAX_PARTS; n += 37) {
            long before = sum(schedule, n - 1);
            assertThat((long) schedule.size(n)).isLessThanOrEqualTo(16 * MiB + before / 900 + 1);
        }
    }

    @Test
    void aLoweredLimitStillDoublesSoManyBytesFitInFewParts() {
        PartSchedule schedule = new PartSchedule(5 * 1024 * 1024, 8, 2);
        assertThat(new int[] {schedule.size(1), schedule.size(2), schedule.size(3), schedule.size(4), schedule.size(8)})
                .containsExactly((int) (5 * MiB), (int) (5 * MiB), (int) (10 * MiB), (int) (10 * MiB), (int) (40 * MiB));
        assertThat(schedule.capacity()).isEqualTo(150 * MiB);
        assertThatThrownBy(() -> schedule.size(9)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> schedule.size(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void partSizesOutsideTheLimitsAreRefused() {
        assertThatThrownBy(() -> PartSchedule.s3(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PartSchedule.s3(PartSchedule.MAX_PART_SIZE + 1)).isInstanceOf(IllegalArgumentException.class);
    }

    private static long sum(PartSchedule schedule, int parts) {
        long total = 0;
        for (int n = 1; n <= parts; n++) {
            total += schedule.size(n);
        }
        return total;
    }
}
