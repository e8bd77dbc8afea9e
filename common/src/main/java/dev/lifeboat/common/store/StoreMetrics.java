package dev.lifeboat.common.store;

import dev.lifeboat.common.store.StoreException.Outcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The store's request and retry counters, fed by {@link RetryPolicy}: {@code lifeboat_store_requests_total
 * {operation,outcome}} counts every request made (each attempt), {@code lifeboat_store_retries_total{operation}}
 * every retry. A rising {@code outcome="transient"} with few failures means the retries are doing their job; any
 * {@code access_denied} or {@code archived} needs a person.
 */
public final class StoreMetrics implements RetryPolicy.Listener {
    private final MeterRegistry registry;
    private final Counter[] retries = new Counter[StoreOperation.values().length];

    /** Registers the retry counters at once (0 until a retry), so alerts on them have a series from the start. */
    public StoreMetrics(MeterRegistry registry) {
        this.registry = registry;
        for (StoreOperation operation : StoreOperation.values()) {
            retries[operation.ordinal()] = Counter.builder("lifeboat.store.retries")
                    .description("Object store requests retried after a transient failure, by operation")
                    .tag("operation", operation.tag()).register(registry);
        }
    }

    /** Request counters appear with their first request: 13 operations times 7 outcomes would be mostly zeros. */
    @Override
    public void attempted(StoreOperation operation, Outcome outcome) {
        Counter.builder("lifeboat.store.requests")
                .description("Object store requests (every attempt), by operation and outcome")
                .tag("operation", operation.tag()).tag("outcome", outcome.tag()).register(registry).increment();
    }

    @Override
    public void retrying(StoreOperation operation) {
        retries[operation.ordinal()].increment();
    }
}
