package dev.lifeboat.common.metrics;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.config.MeterFilter;
import jakarta.inject.Singleton;

/**
 * Keeps every meter's HELP text valid in the Prometheus text format 0.0.4, where only {@code \\} and {@code \n} may
 * be escaped: the Prometheus client escapes a double quote in a description as {@code \"}, which 0.0.4 parsers
 * (promtool, and scrapers that do not negotiate OpenMetrics) reject for the whole scrape. Micrometer's own JVM meters
 * have such descriptions (process_cpu_usage: The "recent cpu usage" ...); their quotes become apostrophes.
 */
@Singleton
public class HelpTextFilter implements MeterFilter {

    @Override
    public Meter.Id map(Meter.Id id) {
        String description = id.getDescription();
        if (description == null || description.indexOf('"') < 0) {
            return id;
        }
        return new Meter.Id(id.getName(), Tags.of(id.getTagsAsIterable()), id.getBaseUnit(),
                description.replace('"', '\''), id.getType());
    }
}
