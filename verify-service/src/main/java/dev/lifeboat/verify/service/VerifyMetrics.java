package dev.lifeboat.verify.service;

import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The verification and DR-status metrics (DESIGN §8), per database:
 * {@code lifeboat_verification_last_success_timestamp_seconds{level}}, {@code lifeboat_verifications_total{level,result}},
 * {@code lifeboat_rpo_seconds} (live: the age of the newest good backup at scrape time), {@code lifeboat_rto_seconds},
 * {@code lifeboat_backup_size_anomaly} (0/1), {@code lifeboat_verification_failed_backups} (retained backups proven bad;
 * the chart's {@code LifeboatVerificationFailed} alert), {@code lifeboat_backup_metadata_damaged} (metadata objects
 * that cannot be parsed; {@code LifeboatBackupMetadataDamaged}), {@code lifeboat_dr_status} (0 OK, 1 AT_RISK, 2 BREACHED) and the
 * objectives {@code lifeboat_rpo_objective_seconds}, {@code lifeboat_rto_objective_seconds}. Gauges are registered
 * for a database the first time its status is computed (at start-up, from the store) and are NaN when unknown.
 */
@ApplicationScoped
public class VerifyMetrics {
    private final MeterRegistry registry;
    private final Map<String, DatabaseGauges> gauges = new ConcurrentHashMap<>();

    public VerifyMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** The values behind one database's gauges. */
    private static final class DatabaseGauges {
        final AtomicReference<Instant> newestGood = new AtomicReference<>();
        final AtomicReference<Double> rto = new AtomicReference<>();
        final AtomicLong anomaly = new AtomicLong();
        final AtomicLong failedBackups = new AtomicLong();
        final AtomicLong damagedMetadata = new AtomicLong();
        final AtomicLong status = new AtomicLong();
        final AtomicLong rpoObjective = new AtomicLong();
        final AtomicLong rtoObjective = new AtomicLong();
        final AtomicReference<Double> recoveryWindow = new AtomicReference<>();
        final Map<Level, AtomicLong> lastSuccess = new ConcurrentHashMap<>();

        double rpoSeconds() {
            Instant t = newestGood.get();
            return t == null ? Double.NaN : Math.max(0, Duration.between(t, Instant.now()).toMillis() / 1000.0);
        }
    }

    private DatabaseGauges gauges(String db) {
        return gauges.computeIfAbsent(db, d -> {
            DatabaseGauges g = new DatabaseGauges();
            Gauge.builder("lifeboat.rpo.seconds", g, DatabaseGauges::rpoSeconds).tag("database", d)
                    .description("Age of the newest backup not proven bad, from its start (the data a restore now would lose)")
                    .register(registry);
            Gauge.builder("lifeboat.rto.seconds", g, x -> x.rto.get() == null ? Double.NaN : x.rto.get()).tag("database", d)
                    .description("Duration of the scratch restore of the last full verification").register(registry);
            Gauge.builder("lifeboat.backup.size.anomaly", g.anomaly, AtomicLong::get).tag("database", d)
                    .description("1 when the newest backup is below half or above double the median of the 7 before it")
                    .register(registry);
            Gauge.builder("lifeboat.verification.failed.backups", g.failedBackups, AtomicLong::get).tag("database", d)
                    .description("Retained backups proven bad by a failed verification not answered by a later pass")
                    .register(registry);
            Gauge.builder("lifeboat.backup.metadata.damaged", g.damagedMetadata, AtomicLong::get).tag("database", d)
                    .description("Metadata objects of the database's backups that cannot be parsed: their backups are "
                            + "never restored or verified until repaired or deleted")
                    .register(registry);
            Gauge.builder("lifeboat.dr.status", g.status, AtomicLong::get).tag("database", d)
                    .description("Disaster-recovery status: 0 OK, 1 AT_RISK, 2 BREACHED").register(registry);
            Gauge.builder("lifeboat.rpo.objective.seconds", g.rpoObjective, AtomicLong::get).tag("database", d)
                    .description("The recovery point objective").register(registry);
            Gauge.builder("lifeboat.rto.objective.seconds", g.rtoObjective, AtomicLong::get).tag("database", d)
                    .description("The recovery time objective").register(registry);
            Gauge.builder("lifeboat.recovery.window.seconds", g,
                            x -> x.recoveryWindow.get() == null ? Double.NaN : x.recoveryWindow.get()).tag("database", d)
                    .description("Point-in-time recovery: span from the oldest to the newest instant the base backups "
                            + "and archived WAL can restore (0: one instant; NaN: none, or PITR not enabled)")
                    .register(registry);
            for (Level level : Level.values()) {
                AtomicLong last = new AtomicLong();
                g.lastSuccess.put(level, last);
                Gauge.builder("lifeboat.verification.last.success.timestamp.seconds", last,
                                v -> v.get() == 0 ? Double.NaN : v.get())
                        .description("Finish time of the newest passed verification (Unix seconds)").tag("database", d)
                        .tag("level", level.name().toLowerCase(Locale.ROOT)).register(registry);
                for (VerificationRecord.Result result : VerificationRecord.Result.values()) {
                    counter(d, level, result);
                }
            }
            return g;
        });
    }

    void finished(VerificationRecord record) {
        DatabaseGauges g = gauges(record.database());
        counter(record.database(), record.level(), record.result()).increment();
        // a base backup's drill is not a logical backup's verification: its gauge stays the logical backups'
        if (record.result() == VerificationRecord.Result.PASSED && !BackupIds.isBase(record.backupId())) {
            g.lastSuccess.get(record.level()).accumulateAndGet(record.finishedAt().getEpochSecond(), Math::max);
        }
    }

    void status(String db, DrStatus.DatabaseStatus status, Instant newestGoodStart, Map<Level, Instant> lastPassed) {
        DatabaseGauges g = gauges(db);
        g.newestGood.set(newestGoodStart);
        g.rto.set(status.rto().measuredSeconds());
        g.anomaly.set(status.sizeAnomaly().flagged() ? 1 : 0);
        g.failedBackups.set(status.failedBackups() == null ? 0 : status.failedBackups().size());
        g.damagedMetadata.set(status.damagedMetadata() == null ? 0 : status.damagedMetadata().size());
        g.status.set(status.status().ordinal());
        g.rpoObjective.set(status.rpo().objectiveSeconds());
        g.rtoObjective.set(status.rto().objectiveSeconds());
        g.recoveryWindow.set(status.pitr() == null || status.pitr().windowSeconds() == null ? null
                : status.pitr().windowSeconds().doubleValue());
        lastPassed.forEach((level, at) -> g.lastSuccess.get(level).accumulateAndGet(at.getEpochSecond(), Math::max));
    }

    private Counter counter(String db, Level level, VerificationRecord.Result result) {
        return Counter.builder("lifeboat.verifications").description("Verifications finished, by level and result")
                .tag("database", db).tag("level", level.name().toLowerCase(Locale.ROOT))
                .tag("result", result.name().toLowerCase(Locale.ROOT)).register(registry);
    }
}
