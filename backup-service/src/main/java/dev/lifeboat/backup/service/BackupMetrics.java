package dev.lifeboat.backup.service;

import dev.lifeboat.common.metrics.Gauges;
import dev.lifeboat.common.model.BackupMetadata;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The backup metrics (DESIGN §8), per database: {@code lifeboat_backup_last_success_timestamp_seconds},
 * {@code lifeboat_backup_last_size_bytes}, {@code lifeboat_backup_duration_seconds} (a timer: _count, _sum,
 * _max) and {@code lifeboat_backups_total{result}}; plus {@code lifeboat_backup_running},
 * {@code lifeboat_backup_last_run_success} (1/0: how the latest backup run since start-up ended, NaN before the
 * first; the chart's {@code LifeboatBackupFailed} alert) and {@code lifeboat_backup_last_duration_seconds} (the
 * newest successful backup's duration, for the dashboard's duration-over-time panel); and
 * {@code lifeboat_backup_tool_compatible} (1 when a pg_dump here can dump the database's server, 0 when the server is
 * newer than every one and backups are refused, NaN until the server was asked; the chart's
 * {@code LifeboatBackupToolIncompatible} alert).
 */
@ApplicationScoped
public class BackupMetrics {
    private final MeterRegistry registry;
    private final Map<String, AtomicLong> lastSuccess = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> lastSize = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> running = new ConcurrentHashMap<>();
    /** 1 success, 0 failure, -1 no run since start-up (exported as NaN). */
    private final Map<String, AtomicLong> lastRun = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> lastDurationMillis = new ConcurrentHashMap<>();
    /** 1 compatible, 0 the server is newer than every pg_dump, -1 not asked yet (exported as NaN). */
    private final Map<String, AtomicLong> toolCompatible = new ConcurrentHashMap<>();

    public BackupMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Registers the gauges of a database, seeded from its newest backup so a restart does not read as "never". */
    public void register(String database, BackupMetadata latest) {
        AtomicLong success = lastSuccess.computeIfAbsent(database, d -> new AtomicLong());
        AtomicLong size = lastSize.computeIfAbsent(database, d -> new AtomicLong());
        AtomicLong active = running.computeIfAbsent(database, d -> new AtomicLong());
        AtomicLong outcome = lastRun.computeIfAbsent(database, d -> new AtomicLong(-1));
        AtomicLong duration = lastDurationMillis.computeIfAbsent(database, d -> new AtomicLong(-1));
        if (latest != null) {
            success.set(latest.finishedAt().getEpochSecond());
            size.set(latest.storedSizeBytes());
            duration.set((long) (latest.durationSeconds() * 1000));
        }
        Gauges.register(registry, "lifeboat.backup.last.success.timestamp.seconds", database, success, AtomicLong::get,
                "Finish time of the newest successful backup (Unix seconds)");
        Gauges.register(registry, "lifeboat.backup.last.size.bytes", database, size, AtomicLong::get,
                "Stored size of the newest successful backup");
        Gauges.register(registry, "lifeboat.backup.running", database, active, AtomicLong::get,
                "1 while a backup of the database runs");
        Gauges.register(registry, "lifeboat.backup.last.run.success", database, outcome,
                v -> v.get() < 0 ? Double.NaN : v.get(),
                "How the latest backup run since start-up ended: 1 success, 0 failure (NaN before the first)");
        Gauges.register(registry, "lifeboat.backup.last.duration.seconds", database, duration,
                v -> v.get() < 0 ? Double.NaN : v.get() / 1000.0, "Duration of the newest successful backup");
        Gauges.register(registry, "lifeboat.backup.tool.compatible", database,
                toolCompatible.computeIfAbsent(database, d -> new AtomicLong(-1)),
                v -> v.get() < 0 ? Double.NaN : v.get(),
                "1 when a pg_dump here can dump the database's server, 0 when the server is newer than every pg_dump "
                        + "here and backups are refused (NaN until the server was asked)");
        counter(database, "success");
        counter(database, "failure");
    }

    void toolCompatible(String database, boolean compatible) {
        toolCompatible.computeIfAbsent(database, d -> new AtomicLong(-1)).set(compatible ? 1 : 0);
    }

    void started(String database) {
        running.computeIfAbsent(database, d -> new AtomicLong()).set(1);
    }

    void succeeded(BackupMetadata metadata) {
        String db = metadata.database();
        running.computeIfAbsent(db, d -> new AtomicLong()).set(0);
        lastSuccess.computeIfAbsent(db, d -> new AtomicLong()).set(metadata.finishedAt().getEpochSecond());
        lastSize.computeIfAbsent(db, d -> new AtomicLong()).set(metadata.storedSizeBytes());
        lastRun.computeIfAbsent(db, d -> new AtomicLong()).set(1);
        lastDurationMillis.computeIfAbsent(db, d -> new AtomicLong()).set((long) (metadata.durationSeconds() * 1000));
        timer(db, "success").record(Duration.ofMillis((long) (metadata.durationSeconds() * 1000)));
        counter(db, "success").increment();
    }

    void failed(String database, double seconds) {
        running.computeIfAbsent(database, d -> new AtomicLong()).set(0);
        lastRun.computeIfAbsent(database, d -> new AtomicLong()).set(0);
        timer(database, "failure").record(Duration.ofMillis((long) (seconds * 1000)));
        counter(database, "failure").increment();
    }

    private Counter counter(String database, String result) {
        return Counter.builder("lifeboat.backups").description("Backups finished, by result")
                .tag("database", database).tag("result", result).register(registry);
    }

    private Timer timer(String database, String result) {
        return Timer.builder("lifeboat.backup.duration").description("Duration of backups")
                .tag("database", database).tag("result", result).register(registry);
    }
}
