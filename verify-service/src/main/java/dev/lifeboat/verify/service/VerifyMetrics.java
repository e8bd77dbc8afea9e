package dev.lifeboat.verify.service;

import dev.lifeboat.common.metrics.Gauges;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
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
    private final AtomicLong reads = new AtomicLong();

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
        /** The {@link #beginRead} ticket of the status the gauges show. */
        long shownRead;

        double rpoSeconds() {
            Instant t = newestGood.get();
            return t == null ? Double.NaN : Math.max(0, Duration.between(t, Instant.now()).toMillis() / 1000.0);
        }
    }

    private DatabaseGauges gauges(String db) {
        return gauges.computeIfAbsent(db, d -> {
            DatabaseGauges g = new DatabaseGauges();
            // Gauges.register: a gauge left by an earlier start of the application in this JVM (tests) is replaced
            Gauges.register(registry, "lifeboat.rpo.seconds", d, g, DatabaseGauges::rpoSeconds,
                    "Age of the newest backup not proven bad, from its start (the data a restore now would lose)");
            Gauges.register(registry, "lifeboat.rto.seconds", d, g, x -> x.rto.get() == null ? Double.NaN : x.rto.get(),
                    "Duration of the scratch restore of the last full verification");
            Gauges.register(registry, "lifeboat.backup.size.anomaly", d, g.anomaly, AtomicLong::get,
                    "1 when the newest backup is below half or above double the median of the 7 before it");
            Gauges.register(registry, "lifeboat.verification.failed.backups", d, g.failedBackups, AtomicLong::get,
                    "Retained backups proven bad by a failed verification not answered by a later pass");
            Gauges.register(registry, "lifeboat.backup.metadata.damaged", d, g.damagedMetadata, AtomicLong::get,
                    "Metadata objects of the database's backups that cannot be parsed: their backups are never "
                            + "restored or verified until repaired or deleted");
            Gauges.register(registry, "lifeboat.dr.status", d, g.status, AtomicLong::get,
                    "Disaster-recovery status: 0 OK, 1 AT_RISK, 2 BREACHED");
            Gauges.register(registry, "lifeboat.rpo.objective.seconds", d, g.rpoObjective, AtomicLong::get,
                    "The recovery point objective");
            Gauges.register(registry, "lifeboat.rto.objective.seconds", d, g.rtoObjective, AtomicLong::get,
                    "The recovery time objective");
            Gauges.register(registry, "lifeboat.recovery.window.seconds", d, g,
                    x -> x.recoveryWindow.get() == null ? Double.NaN : x.recoveryWindow.get(),
                    "Point-in-time recovery: span from the oldest to the newest instant the base backups and archived "
                            + "WAL can restore (0: one instant; NaN: none, or PITR not enabled)");
            for (Level level : Level.values()) {
                AtomicLong last = new AtomicLong();
                g.lastSuccess.put(level, last);
                Gauges.register(registry, "lifeboat.verification.last.success.timestamp.seconds",
                        Tags.of("database", d, "level", level.name().toLowerCase(Locale.ROOT)), last,
                        v -> v.get() == 0 ? Double.NaN : v.get(), "Finish time of the newest passed verification (Unix seconds)");
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

    /**
     * A ticket to take before a status computation reads the store, handed back to {@link #status}. Computations run
     * side by side (the scheduled refresh, the refresh after a verification, API requests), and one that read the
     * store earlier can finish later: the gauges keep the values of the latest read, not of the last to finish.
     */
    long beginRead() {
        return reads.incrementAndGet();
    }

    /** Sets {@code db}'s gauges from a status computed from the store as read after {@link #beginRead} gave {@code read}. */
    void status(String db, long read, DrStatus.DatabaseStatus status, Instant newestGoodStart, Map<Level, Instant> lastPassed) {
        DatabaseGauges g = gauges(db);
        synchronized (g) {
            if (read < g.shownRead) {
                return; // an older read than what the gauges show
            }
            g.shownRead = read;
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
        }
        lastPassed.forEach((level, at) -> g.lastSuccess.get(level).accumulateAndGet(at.getEpochSecond(), Math::max));
    }

    private Counter counter(String db, Level level, VerificationRecord.Result result) {
        return Counter.builder("lifeboat.verifications").description("Verifications finished, by level and result")
                .tag("database", db).tag("level", level.name().toLowerCase(Locale.ROOT))
                .tag("result", result.name().toLowerCase(Locale.ROOT)).register(registry);
    }
}
