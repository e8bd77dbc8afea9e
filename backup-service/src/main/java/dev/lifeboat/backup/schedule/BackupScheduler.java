package dev.lifeboat.backup.schedule;

import dev.lifeboat.backup.service.BackupService;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.error.Errors.BackupInProgress;
import dev.lifeboat.common.model.Trigger;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import org.jboss.logging.Logger;

/**
 * Scheduled backups ({@code lifeboat.backup.schedule}, in {@code lifeboat.backup.timezone}): every configured
 * database, one after the other so the servers are not dumped all at once.
 */
@ApplicationScoped
public class BackupScheduler {
    private static final Logger LOG = Logger.getLogger(BackupScheduler.class);
    private final BackupService service;
    private final DatabaseRegistry databases;

    public BackupScheduler(BackupService service, DatabaseRegistry databases) {
        this.service = service;
        this.databases = databases;
    }

    @Scheduled(identity = "scheduled-backups", cron = "${lifeboat.backup.schedule:0 0 2 * * ?}",
            timeZone = "${lifeboat.backup.timezone:UTC}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void backupAll() {
        for (String database : databases.labels()) {
            try {
                service.await(service.start(database, Trigger.SCHEDULED, Map.of()));
            } catch (BackupInProgress e) {
                LOG.infof("Scheduled backup of %s skipped: %s", database, e.getMessage());
            } catch (RuntimeException e) {
                LOG.errorf("Scheduled backup of %s could not start: %s", database, e.getMessage());
            }
        }
    }
}
