package dev.lifeboat.common.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.function.ToDoubleFunction;

/**
 * Registers per-database gauges so they read the state of the running application. A registry keeps the first gauge
 * of a name and tags and ignores later registrations; when the application starts again in the same JVM (tests, dev
 * mode) that first gauge reads the state of the stopped one, held weakly, and shows NaN once it is collected. So an
 * earlier gauge of the same name and database is removed first.
 */
public final class Gauges {
    private Gauges() {
    }

    /** Registers {@code name{database}} reading {@code value} of {@code state}, replacing an earlier one. */
    public static <T> void register(MeterRegistry registry, String name, String database, T state,
                                    ToDoubleFunction<T> value, String description) {
        Gauge earlier = registry.find(name).tag("database", database).gauge();
        if (earlier != null) {
            registry.remove(earlier);
        }
        Gauge.builder(name, state, value).description(description).tag("database", database).register(registry);
    }
}
