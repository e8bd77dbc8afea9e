package dev.lifeboat.verify.service;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Status computations run side by side (the scheduled refresh, the refresh after a verification, API requests): the
 * gauges show the status of the latest read of the store, whichever computation finishes last. Seen in CI: a
 * scheduled refresh that read the store before a test wrote WAL to it finished after the test's own status request,
 * and set the recovery window back to NaN.
 */
class VerifyMetricsTest {
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final VerifyMetrics metrics = new VerifyMetrics(registry);

    @Test
    void aStatusReadBeforeTheOneShownDoesNotReplaceIt() {
        long older = metrics.beginRead();
        long newer = metrics.beginRead();
        metrics.status("main", newer, status(DrStatus.Health.OK, 300L), null, Map.of());
        metrics.status("main", older, status(DrStatus.Health.BREACHED, null), null, Map.of());
        assertThat(window()).isEqualTo(300.0);
        assertThat(gauge("lifeboat.dr.status")).isEqualTo(DrStatus.Health.OK.ordinal());

        metrics.status("main", metrics.beginRead(), status(DrStatus.Health.AT_RISK, null), null, Map.of());
        assertThat(window()).isNaN();
        assertThat(gauge("lifeboat.dr.status")).isEqualTo(DrStatus.Health.AT_RISK.ordinal());
    }

    @Test
    void eachDatabaseKeepsItsOwnLatestRead() {
        long main = metrics.beginRead();
        long other = metrics.beginRead();
        metrics.status("other", other, status(DrStatus.Health.OK, 60L), null, Map.of());
        metrics.status("main", main, status(DrStatus.Health.OK, 300L), null, Map.of());
        assertThat(window()).isEqualTo(300.0);
        assertThat(registry.get("lifeboat.recovery.window.seconds").tag("database", "other").gauge().value()).isEqualTo(60.0);
    }

    /**
     * The application started again in the same JVM (tests: a class with other resources in between) finds the
     * gauges of the stopped one in the registry; its own must replace them, or the registry shows the stopped
     * application's values (seen in CI: the recovery window stayed NaN after a status computed it).
     */
    @Test
    void anApplicationStartedAgainInTheSameRegistryShowsItsOwnValues() {
        metrics.status("main", metrics.beginRead(), status(DrStatus.Health.BREACHED, null), null, Map.of());
        VerifyMetrics again = new VerifyMetrics(registry);
        again.status("main", again.beginRead(), status(DrStatus.Health.OK, 300L), null,
                Map.of(dev.lifeboat.common.model.VerificationRecord.Level.FULL, java.time.Instant.ofEpochSecond(1_000)));
        assertThat(window()).isEqualTo(300.0);
        assertThat(gauge("lifeboat.dr.status")).isEqualTo(DrStatus.Health.OK.ordinal());
        assertThat(registry.get("lifeboat.verification.last.success.timestamp.seconds").tag("database", "main")
                .tag("level", "full").gauge().value()).isEqualTo(1_000.0);
        assertThat(registry.find("lifeboat.dr.status").tag("database", "main").gauges()).hasSize(1);
    }

    private double window() {
        return gauge("lifeboat.recovery.window.seconds");
    }

    private double gauge(String name) {
        return registry.get(name).tag("database", "main").gauge().value();
    }

    private static DrStatus.DatabaseStatus status(DrStatus.Health health, Long windowSeconds) {
        DrStatus.Pitr pitr = new DrStatus.Pitr(true, null, List.of(), List.of(), null, null, null, windowSeconds, null,
                null, 0, List.of(), null, null, List.of(), null);
        return new DrStatus.DatabaseStatus("main", health, List.of(), null, null, null,
                new DrStatus.Rpo(null, 3600, null, true), new DrStatus.Rto(null, 3600, null, null, null),
                new DrStatus.SizeAnomaly(false, null, null, 0, null), null, null, pitr);
    }
}
