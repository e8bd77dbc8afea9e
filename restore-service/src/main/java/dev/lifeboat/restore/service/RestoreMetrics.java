package dev.lifeboat.restore.service;

import dev.lifeboat.common.metrics.Gauges;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The restore metrics (DESIGN §8), per target: {@code lifeboat_restore_duration_seconds} (a timer: _count, _sum,
 * _max, by result), {@code lifeboat_restores_total{target,result}} and {@code lifeboat_restore_running}.
 */
@ApplicationScoped
public class RestoreMetrics {
    private final MeterRegistry registry;
    private final Map<String, AtomicLong> running = new ConcurrentHashMap<>();

    public RestoreMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Registers a target's series at start-up, so dashboards see zeros rather than nothing. */
    public void register(String target) {
        AtomicLong active = running.computeIfAbsent(target, t -> new AtomicLong());
        Gauges.register(registry, "lifeboat.restore.running",
                Tags.of("target", target), active, AtomicLong::get,
                "1 while a restore into the target runs");
        counter(target, "success");
        counter(target, "failure");
    }

    void started(String target) {
        running.computeIfAbsent(target, t -> new AtomicLong()).set(1);
    }

    void finished(String target, boolean success, double seconds) {
        String result = success ? "success" : "failure";
        running.computeIfAbsent(target, t -> new AtomicLong()).set(0);
        Timer.builder("lifeboat.restore.duration").description("Duration of restores")
                .tag("target", target).tag("result", result).register(registry)
                .record(Duration.ofMillis((long) (seconds * 1000)));
        counter(target, result).increment();
    }

    private Counter counter(String target, String result) {
        return Counter.builder("lifeboat.restores").description("Restores finished, by result")
                .tag("target", target).tag("result", result).register(registry);
    }
}
