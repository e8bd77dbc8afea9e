package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The archive state machine (archived → restore requested → in progress → readable → expired), the parsing of S3's
 * {@code x-amz-restore} header, and the polling loop driven by a scripted sequence of HEAD observations.
 */
class ArchiveStateTest {
    private static final Instant NOW = Instant.parse("2026-12-02T06:00:00Z");
    private static final Instant LATER = NOW.plus(Duration.ofDays(3));

    private static ArchiveRetrieval.Observation glacier(Boolean ongoing, Instant expiry) {
        return new ArchiveRetrieval.Observation("GLACIER", true, ongoing, expiry);
    }

    @Test
    void theStatesFollowTheObservationsAndOurRequest() {
        ArchiveState s = ArchiveState.initial(glacier(null, null), NOW);
        assertThat(s).isEqualTo(ArchiveState.ARCHIVED);
        assertThat(s.readable()).isFalse();
        assertThat(s.needsRequest()).isTrue();
        s = s.requested();
        assertThat(s).isEqualTo(ArchiveState.RESTORE_REQUESTED);
        // a HEAD that does not show the restore yet (it lags the request) keeps it requested, not archived
        assertThat(s.observed(glacier(null, null), NOW)).isEqualTo(ArchiveState.RESTORE_REQUESTED);
        s = s.observed(glacier(true, null), NOW);
        assertThat(s).isEqualTo(ArchiveState.IN_PROGRESS);
        assertThat(s.needsRequest()).isFalse();
        s = s.observed(glacier(false, LATER), NOW);
        assertThat(s).isEqualTo(ArchiveState.READABLE);
        assertThat(s.readable()).isTrue();
        // the expiry date passes, or the header goes away: expired, to be requested again
        assertThat(s.observed(glacier(false, LATER), LATER)).isEqualTo(ArchiveState.EXPIRED);
        s = s.observed(glacier(null, null), NOW);
        assertThat(s).isEqualTo(ArchiveState.EXPIRED);
        assertThat(s.needsRequest()).isTrue();
        assertThat(s.requested()).isEqualTo(ArchiveState.RESTORE_REQUESTED);
    }

    @Test
    void objectsOutsideArchiveClassesAreReadableAndHaveNothingToRequest() {
        ArchiveRetrieval.Observation ia = new ArchiveRetrieval.Observation("STANDARD_IA", false, null, null);
        assertThat(ArchiveState.initial(ia, NOW)).isEqualTo(ArchiveState.NOT_ARCHIVED);
        assertThat(ArchiveState.NOT_ARCHIVED.readable()).isTrue();
        assertThatThrownBy(ArchiveState.IN_PROGRESS::requested).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(ArchiveState.READABLE::requested).isInstanceOf(IllegalStateException.class);
        // an object that was restored before we looked is readable at once
        assertThat(ArchiveState.initial(glacier(false, LATER), NOW)).isEqualTo(ArchiveState.READABLE);
        assertThat(ArchiveState.initial(glacier(true, null), NOW)).isEqualTo(ArchiveState.IN_PROGRESS);
    }

    @Test
    void theRestoreHeaderIsParsedAsAwsWritesIt() {
        ArchiveRetrieval.Observation running = S3ArchiveRetrieval.observation("GLACIER", "ongoing-request=\"true\"");
        assertThat(running).isEqualTo(new ArchiveRetrieval.Observation("GLACIER", true, true, null));
        ArchiveRetrieval.Observation done = S3ArchiveRetrieval.observation("DEEP_ARCHIVE",
                "ongoing-request=\"false\", expiry-date=\"Fri, 21 Dec 2012 00:00:00 GMT\"");
        assertThat(done).isEqualTo(new ArchiveRetrieval.Observation("DEEP_ARCHIVE", true, false,
                Instant.parse("2012-12-21T00:00:00Z")));
        assertThat(S3ArchiveRetrieval.observation("STANDARD", null))
                .isEqualTo(new ArchiveRetrieval.Observation("STANDARD", false, null, null));
    }

    @Test
    void tierAndExpectedTimesFollowTheAwsDocumentation() {
        assertThat(new S3ArchiveRetrieval.Settings("bulk", 3).tier()).isEqualTo("Bulk");
        assertThatThrownBy(() -> new S3ArchiveRetrieval.Settings("Fast", 3)).hasMessageContaining("Expedited, Standard or Bulk");
        assertThatThrownBy(() -> new S3ArchiveRetrieval.Settings("Standard", 0)).hasMessageContaining("at least 1");
        S3ArchiveRetrieval expedited = new S3ArchiveRetrieval(null, "b", "", new S3ArchiveRetrieval.Settings("Expedited", 1),
                RetryPolicy.none());
        assertThat(expedited.expectedTime("GLACIER")).isEqualTo(Duration.ofMinutes(5));
        S3ArchiveRetrieval standard = new S3ArchiveRetrieval(null, "b", "", S3ArchiveRetrieval.Settings.DEFAULT,
                RetryPolicy.none());
        assertThat(standard.expectedTime("GLACIER")).isEqualTo(Duration.ofHours(5));
        assertThat(standard.expectedTime("DEEP_ARCHIVE")).isEqualTo(Duration.ofHours(12));
    }

    /** An archive whose HEADs answer a scripted sequence; it records the restores asked for. */
    private static final class Scripted implements ArchiveRetrieval {
        final Deque<Observation> heads = new ArrayDeque<>();
        int requests;

        @Override
        public Observation observe(String key) {
            return heads.size() > 1 ? heads.poll() : heads.peek();
        }

        @Override
        public void request(String key) {
            requests++;
        }

        @Override
        public Duration expectedTime(String storageClass) {
            return Duration.ofHours(5);
        }

        @Override
        public String tier() {
            return "Standard";
        }
    }

    @Test
    void theWaitRequestsOnceThenPollsUntilReadableTellingEachState() throws Exception {
        Scripted archive = new Scripted();
        archive.heads.add(glacier(null, null));
        archive.heads.add(glacier(null, null));
        archive.heads.add(glacier(true, null));
        archive.heads.add(glacier(true, null));
        archive.heads.add(glacier(false, Instant.now().plus(Duration.ofDays(1))));
        List<String> told = new ArrayList<>();
        ArchiveWait wait = new ArchiveWait(archive, Duration.ofMillis(1), Duration.ofMinutes(1), Clock.systemUTC());
        ArchiveState end = wait.awaitReadable("db/x", (state, seen, expected) -> told.add(state + " " + expected));
        assertThat(end).isEqualTo(ArchiveState.READABLE);
        assertThat(archive.requests).isEqualTo(1);
        assertThat(told).containsExactly("RESTORE_REQUESTED PT5H", "IN_PROGRESS PT5H", "READABLE PT5H");
    }

    @Test
    void theWaitEndsAtItsTimeoutAndANonArchivedObjectIsNotWaitedFor() throws Exception {
        Scripted archive = new Scripted();
        archive.heads.add(glacier(true, null));
        Clock stopped = Clock.fixed(NOW, ZoneOffset.UTC);
        ArchiveWait wait = new ArchiveWait(archive, Duration.ofMillis(1), Duration.ZERO, stopped);
        assertThatThrownBy(() -> wait.awaitReadable("db/x", (s, o, e) -> { }))
                .isInstanceOf(ArchiveWait.TimedOut.class).hasMessageContaining("IN_PROGRESS")
                .hasMessageContaining("lifeboat.store.s3.archive.timeout");
        assertThat(new ArchiveWait(ArchiveRetrieval.NONE, Duration.ofMillis(1), Duration.ZERO, stopped)
                .awaitReadable("db/x", (s, o, e) -> { })).isEqualTo(ArchiveState.NOT_ARCHIVED);
    }
}
