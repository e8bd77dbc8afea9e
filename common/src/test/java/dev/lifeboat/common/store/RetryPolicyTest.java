package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The retry policy with a recorded clock and sleeper: which failures it retries, how long it waits, when it gives up,
 * and what it counts.
 */
class RetryPolicyTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final List<Long> waits = new ArrayList<>();
    private final AtomicLong now = new AtomicLong();

    private RetryPolicy policy(int attempts, Duration initial, Duration max, Duration total, double random) {
        return new RetryPolicy(new RetryPolicy.Settings(attempts, initial, max, total), new StoreMetrics(registry),
                millis -> {
                    waits.add(millis);
                    now.addAndGet(millis * 1_000_000);
                }, now::get, () -> random);
    }

    private static StoreException.Transient busy() {
        return new StoreException.Transient(StoreOperation.UPLOAD_PART, "db/x", "S3 UploadPart of s3://b/db/x failed "
                + "with a temporary error (503 SlowDown)", null);
    }

    private double requests(StoreOperation operation, String outcome) {
        var counter = registry.find("lifeboat.store.requests").tag("operation", operation.tag()).tag("outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    private double retries(StoreOperation operation) {
        return registry.get("lifeboat.store.retries").tag("operation", operation.tag()).counter().count();
    }

    @Test
    void transientFailuresAreRetriedUntilTheySucceedAndEveryAttemptIsCounted() throws IOException {
        RetryPolicy policy = policy(5, Duration.ofMillis(200), Duration.ofSeconds(10), Duration.ofMinutes(2), 0.999);
        AtomicInteger calls = new AtomicInteger();
        String result = policy.call(StoreOperation.UPLOAD_PART, () -> {
            if (calls.incrementAndGet() < 3) {
                throw busy();
            }
            return "etag";
        });
        assertThat(result).isEqualTo("etag");
        assertThat(calls).hasValue(3);
        assertThat(requests(StoreOperation.UPLOAD_PART, "transient")).isEqualTo(2);
        assertThat(requests(StoreOperation.UPLOAD_PART, "ok")).isEqualTo(1);
        assertThat(retries(StoreOperation.UPLOAD_PART)).isEqualTo(2);
        assertThat(retries(StoreOperation.OPEN)).as("registered from the start").isZero();
        // full jitter under a doubling bound: random 0.999 waits just under 200 ms, then 400 ms
        assertThat(waits).containsExactly(200L, 400L);
    }

    @Test
    void theBoundDoublesUpToMaxBackoffAndTheWaitIsRandomBelowIt() {
        RetryPolicy top = policy(10, Duration.ofMillis(100), Duration.ofMillis(1000), Duration.ofHours(1), 0.9999);
        assertThat(List.of(top.backoffMillis(1), top.backoffMillis(2), top.backoffMillis(3), top.backoffMillis(4),
                top.backoffMillis(5), top.backoffMillis(9))).containsExactly(100L, 200L, 400L, 800L, 1000L, 1000L);
        RetryPolicy bottom = policy(10, Duration.ofMillis(100), Duration.ofMillis(1000), Duration.ofHours(1), 0.0);
        assertThat(bottom.backoffMillis(4)).isZero();
        RetryPolicy middle = policy(10, Duration.ofMillis(100), Duration.ofMillis(1000), Duration.ofHours(1), 0.5);
        assertThat(middle.backoffMillis(3)).isEqualTo(200L);
    }

    @Test
    void aFailureOnEveryAttemptSurfacesAsTransientAfterMaxAttempts() {
        RetryPolicy policy = policy(4, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofMinutes(2), 0.5);
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> policy.call(StoreOperation.UPLOAD_PART, () -> {
            calls.incrementAndGet();
            throw busy();
        })).isInstanceOfSatisfying(StoreException.Transient.class, e -> {
            assertThat(e.operation()).isEqualTo(StoreOperation.UPLOAD_PART);
            assertThat(e.key()).isEqualTo("db/x");
            assertThat(e.getMessage()).contains("503 SlowDown").contains("gave up after 4 attempts")
                    .contains("lifeboat.store.retry");
        });
        assertThat(calls).hasValue(4);
        assertThat(waits).hasSize(3);
        assertThat(requests(StoreOperation.UPLOAD_PART, "transient")).isEqualTo(4);
        assertThat(retries(StoreOperation.UPLOAD_PART)).isEqualTo(3);
    }

    @Test
    void noRetryStartsThatWouldEndPastMaxTotal() {
        // each attempt takes 20 s of the clock; 49 s in all allows the first retry (20 + 5 s) but not a second (45 + 5 s)
        RetryPolicy policy = policy(100, Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(49), 0.9999);
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> policy.call(StoreOperation.OPEN, () -> {
            calls.incrementAndGet();
            now.addAndGet(Duration.ofSeconds(20).toNanos());
            throw busy();
        })).isInstanceOf(StoreException.Transient.class).hasMessageContaining("gave up after 2 attempts in 45.0 s");
        assertThat(calls).hasValue(2);
    }

    @Test
    void permanentFailuresAreNeverRetried() {
        RetryPolicy policy = policy(5, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofMinutes(2), 0.5);
        List<StoreException> permanent = List.of(
                new StoreException.AccessDenied(StoreOperation.UPLOAD_PART, "k", "denied", null),
                new ObjectStore.ObjectNotFoundException("k"),
                new StoreException.Archived(StoreOperation.OPEN, "k", "archived", null),
                new ObjectStore.ObjectExistsException("k"),
                new StoreException.Failed(StoreOperation.LIST, "k", "bad request", null));
        for (StoreException failure : permanent) {
            AtomicInteger calls = new AtomicInteger();
            assertThatThrownBy(() -> policy.call(failure.operation(), () -> {
                calls.incrementAndGet();
                throw failure;
            })).isSameAs(failure);
            assertThat(calls).as(failure.outcome().tag()).hasValue(1);
        }
        assertThatThrownBy(() -> policy.call(StoreOperation.STAT, () -> {
            throw new IOException("unclassified");
        })).hasMessage("unclassified");
        assertThat(waits).isEmpty();
        assertThat(requests(StoreOperation.UPLOAD_PART, "access_denied")).isEqualTo(1);
        assertThat(requests(StoreOperation.OPEN, "not_found")).isEqualTo(1);
        assertThat(requests(StoreOperation.OPEN, "archived")).isEqualTo(1);
        assertThat(requests(StoreOperation.COMMIT, "conflict")).isEqualTo(1);
        assertThat(requests(StoreOperation.LIST, "failed")).isEqualTo(1);
        assertThat(requests(StoreOperation.STAT, "failed")).isEqualTo(1);
    }

    @Test
    void onceNeverRetries() {
        RetryPolicy policy = policy(5, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofMinutes(2), 0.5);
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> policy.once(StoreOperation.CHECK_REACHABLE, () -> {
            calls.incrementAndGet();
            throw busy();
        })).isInstanceOf(StoreException.Transient.class);
        assertThat(calls).hasValue(1);
        assertThat(requests(StoreOperation.CHECK_REACHABLE, "transient")).isEqualTo(1);
    }

    @Test
    void anInterruptedWaitStopsRetrying() {
        RetryPolicy policy = new RetryPolicy(new RetryPolicy.Settings(5, Duration.ofMillis(10), Duration.ofMillis(50),
                Duration.ofMinutes(2)), RetryPolicy.Listener.NONE, millis -> {
            throw new InterruptedException();
        }, System::nanoTime, () -> 0.5);
        try {
            assertThatThrownBy(() -> policy.call(StoreOperation.OPEN, () -> {
                throw busy();
            })).isInstanceOf(InterruptedIOException.class).hasCauseInstanceOf(StoreException.Transient.class);
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void settingsOutsideTheirLimitsAreRefused() {
        assertThatThrownBy(() -> new RetryPolicy.Settings(0, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofSeconds(1)))
                .hasMessageContaining("max-attempts");
        assertThatThrownBy(() -> new RetryPolicy.Settings(3, Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofSeconds(1)))
                .hasMessageContaining("initial-backoff");
        assertThatThrownBy(() -> new RetryPolicy.Settings(3, Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ZERO))
                .hasMessageContaining("max-total");
    }
}
