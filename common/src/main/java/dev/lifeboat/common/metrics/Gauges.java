package dev.lifeboat.common.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.util.function.ToDoubleFunction;

/**
 * Registers gauges (per database, per target) so they read the state of the running application. A registry keeps
 * the first gauge of a name and tags and ignores later registrations; when the application starts again in the same
 * JVM (tests, dev mode) that first gauge reads the state of the stopped one, held weakly, and shows NaN once it is
 * collected. So an earlier gauge of the same name and tags is removed first.
 */
public final class Gauges {
    private Gauges() {
    }

    /** Registers {@code name{database}} reading {@code value} of {@code state}, replacing an earlier one. */
    public static <T> void register(MeterRegistry registry, String name, String database, T state,
                                    ToDoubleFunction<T> value, String description) {
        register(registry, name, Tags.of("database", database), state, value, description);
    }

    /** Registers {@code name{tags}} reading {@code value} of {@code state}, replacing an earlier one of the same tags. */
    public static <T> void register(MeterRegistry registry, String name, Tags tags, T state, ToDoubleFunction<T> value,
                                    String description) {
        Gauge earlier = registry.find(name).tags(tags).gauge();
        if (earlier != null) {
            registry.remove(earlier);
        }
        Gauge.builder(name, state, value).description(description).tags(tags).register(registry);
    }
}
