package dev.lifeboat.common.coord;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/**
 * Graceful shutdown ({@code lifeboat.shutdown.*}): on SIGTERM a replica takes no new work and gives running jobs this
 * long to finish before stopping them cleanly. Keep it, plus the time to stop a job (~10 s), below the pod's
 * {@code terminationGracePeriodSeconds}, or Kubernetes kills the process first.
 */
@ConfigMapping(prefix = "lifeboat.shutdown")
public interface ShutdownConfig {
    /** How long running jobs may go on after SIGTERM before they are stopped. */
    @WithDefault("20s")
    Duration grace();
}
