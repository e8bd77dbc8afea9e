package dev.lifeboat.backup.schedule;

import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/** Lets tests run the scheduled job now instead of waiting for the cron. */
@ApplicationScoped
public class BackupSchedulerAccess {
    private final BackupScheduler scheduler;

    public BackupSchedulerAccess(BackupScheduler scheduler) {
        this.scheduler = scheduler;
    }

    /** Runs the schedule as if it fired now; returns the instant it ran for. */
    public Instant runNow() {
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        scheduler.runFor(now);
        return now;
    }

    /** Runs the schedule for {@code instant} again, as a second replica firing at the same instant would. */
    public void runFor(Instant instant) {
        scheduler.runFor(instant);
    }
}
