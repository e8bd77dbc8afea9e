package dev.lifeboat.common.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

/** Quotes leave descriptions (they would break the 0.0.4 text format's HELP); everything else stays. */
class HelpTextFilterTest {

    @Test
    void quotesInADescriptionBecomeApostrophesAndTheRestOfTheMeterIsKept() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        registry.config().meterFilter(new HelpTextFilter());
        Gauge.builder("process.cpu.usage", () -> 0.5).description("The \"recent cpu usage\" for the process")
                .tag("kind", "jvm").baseUnit("ratio").register(registry);
        Gauge.builder("lifeboat.backup.running", () -> 1).description("1 while a backup runs").register(registry);

        Meter.Id cpu = registry.get("process.cpu.usage").gauge().getId();
        assertThat(cpu.getDescription()).isEqualTo("The 'recent cpu usage' for the process");
        assertThat(cpu.getTag("kind")).isEqualTo("jvm");
        assertThat(cpu.getBaseUnit()).isEqualTo("ratio");
        assertThat(cpu.getType()).isEqualTo(Meter.Type.GAUGE);
        assertThat(registry.get("lifeboat.backup.running").gauge().getId().getDescription()).isEqualTo("1 while a backup runs");
    }
}
