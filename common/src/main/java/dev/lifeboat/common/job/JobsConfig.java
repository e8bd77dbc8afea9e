package dev.lifeboat.common.job;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/** The durable job records ({@code lifeboat.jobs.*}, {@link JobJournal}), the same in every service. */
@ConfigMapping(prefix = "lifeboat.jobs")
public interface JobsConfig {
    /** How often a running job's record is written (its heartbeat); state changes are written at most this often too. */
    @WithDefault("2s")
    Duration reportInterval();

    /**
     * How long a replica may be silent before its unfinished jobs are shown ABANDONED. Longer than a few report
     * intervals, so a slow store write is not mistaken for a dead replica.
     */
    @WithDefault("30s")
    Duration abandonedAfter();
}
