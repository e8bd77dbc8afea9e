package dev.lifeboat.backup.schedule;

import jakarta.enterprise.context.ApplicationScoped;

/** Lets tests run the scheduled job now instead of waiting for the cron. */
@ApplicationScoped
public class BackupSchedulerAccess {
    private final BackupScheduler scheduler;

    public BackupSchedulerAccess(BackupScheduler scheduler) {
        this.scheduler = scheduler;
    }

    public void runNow() {
        scheduler.backupAll();
    }
}
