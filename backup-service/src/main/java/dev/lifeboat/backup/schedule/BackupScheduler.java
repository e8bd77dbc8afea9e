package dev.lifeboat.backup.schedule;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.backup.service.BackupService;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.error.Errors.BackupInProgress;
import dev.lifeboat.common.job.JobIds;
import dev.lifeboat.common.job.JobJournal;
import dev.lifeboat.common.model.BackupKind;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectExistsException;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.quarkus.scheduler.ScheduledExecution;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Scheduled backups ({@code lifeboat.backup.schedule}, in {@code lifeboat.backup.timezone}): every configured
 * database, one after the other so the servers are not dumped all at once; exactly once per database and scheduled
 * instant however many replicas run. The schedule fires on every replica; each run has a deterministic id, the
 * database and the scheduled instant, claimed with a conditional create in the store
 * ({@code jobs/claims/backup/<db>/<instant>}, If-None-Match: *): the replica whose claim lands takes the backup, the
 * others skip it. A replica starting up catches up the newest instant if nobody claimed it and it is less than
 * {@code lifeboat.backup.starting-deadline} ago (every replica was down then). The backup carries the label
 * {@value #SCHEDULED_FOR} = the instant. Base backups (point-in-time recovery) run on their own schedule per
 * database with {@code pitr.enabled} ({@code lifeboat.databases.<label>.pitr.base-schedule}, same cron syntax and
 * time zone), claimed the same way under {@code jobs/claims/base/}; a missed one is not caught up at start-up.
 */
@ApplicationScoped
public class BackupScheduler {
    /** The label of a scheduled backup naming the instant it was scheduled for (ISO-8601, UTC). */
    public static final String SCHEDULED_FOR = "lifeboat.dev/scheduled-for";
    private static final Logger LOG = Logger.getLogger(BackupScheduler.class);
    private final BackupService service;
    private final DatabaseRegistry databases;
    private final ObjectStore store;
    private final Coordination coordination;
    private final BackupServiceConfig config;
    private final io.quarkus.scheduler.Scheduler scheduler;

    public BackupScheduler(BackupService service, DatabaseRegistry databases, ObjectStore store,
                           Coordination coordination, BackupServiceConfig config, io.quarkus.scheduler.Scheduler scheduler) {
        this.scheduler = scheduler;
        this.service = service;
        this.databases = databases;
        this.store = store;
        this.coordination = coordination;
        this.config = config;
    }

    @Scheduled(identity = "scheduled-backups", cron = "${lifeboat.backup.schedule:0 0 2 * * ?}",
            timeZone = "${lifeboat.backup.timezone:UTC}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void backupAll(ScheduledExecution execution) {
        runFor(execution.getScheduledFireTime().truncatedTo(ChronoUnit.SECONDS));
    }

    /** At start-up, in the background: the newest scheduled instant, if missed and still within the deadline. */
    void onStart(@Observes StartupEvent event) {
        scheduleBaseBackups();
        lastInstant(Instant.now()).filter(t -> t.plus(config.backup().startingDeadline()).isAfter(Instant.now()))
                .ifPresent(t -> Thread.ofPlatform().daemon().name("backup-catch-up").start(() -> {
                    LOG.infof("Catching up the scheduled backups of %s if no replica took them", t);
                    runFor(t);
                }));
    }

    /** The scheduler job name of a database's base backups. */
    public static String baseJobName(String database) {
        return "base-backups-" + database;
    }

    /** One scheduler job per database with PITR enabled and a base schedule that is not off. */
    private void scheduleBaseBackups() {
        for (String database : databases.labels()) {
            String cron = databases.pitr(database).baseSchedule().strip();
            if (!databases.pitrEnabled(database) || off(cron)) {
                continue;
            }
            try {
                new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.QUARTZ)).parse(cron);
            } catch (IllegalArgumentException e) {
                throw new dev.lifeboat.common.error.Errors.InvalidConfiguration("lifeboat.databases." + database
                        + ".pitr.base-schedule: not a Quartz cron (seconds first) or 'off': " + e.getMessage());
            }
            scheduler.newJob(baseJobName(database)).setCron(cron).setTimeZone(config.backup().timezone())
                    .setConcurrentExecution(Scheduled.ConcurrentExecution.SKIP)
                    .setTask(execution -> runBaseFor(database,
                            execution.getScheduledFireTime().truncatedTo(ChronoUnit.SECONDS)))
                    .schedule();
        }
    }

    /** The base backup of {@code database} for {@code scheduledFor}, on this replica if its claim lands. */
    void runBaseFor(String database, Instant scheduledFor) {
        if (service.draining() || !claim(JobJournal.PREFIX + "claims/base/" + database + "/"
                + JobIds.STAMP.format(scheduledFor), database, scheduledFor)) {
            return;
        }
        try {
            service.await(service.start(database, BackupKind.BASE, Trigger.SCHEDULED,
                    Map.of(SCHEDULED_FOR, scheduledFor.toString())));
        } catch (RuntimeException e) {
            LOG.errorf("Scheduled base backup of %s for %s could not start: %s", database, scheduledFor, e.getMessage());
        }
    }

    private static boolean off(String cron) {
        return cron.equalsIgnoreCase("off") || cron.equalsIgnoreCase("disabled");
    }

    /** The newest instant of the schedule at or before {@code now}; empty when scheduling is off. */
    Optional<Instant> lastInstant(Instant now) {
        String cron = config.backup().schedule().strip();
        if (off(cron)) {
            return Optional.empty();
        }
        ExecutionTime schedule = ExecutionTime.forCron(new CronParser(CronDefinitionBuilder.instanceDefinitionFor(
                CronType.QUARTZ)).parse(cron));
        ZonedDateTime at = now.atZone(ZoneId.of(config.backup().timezone())).plusNanos(1);
        return schedule.lastExecution(at).map(z -> z.toInstant().truncatedTo(ChronoUnit.SECONDS));
    }

    /** Every database's backup of the instant {@code scheduledFor}, on this replica for each claim that lands. */
    void runFor(Instant scheduledFor) {
        for (String database : databases.labels()) {
            if (service.draining()) {
                return;
            }
            if (!claim(claimKey(database, scheduledFor), database, scheduledFor)) {
                continue;
            }
            try {
                service.await(service.start(database, Trigger.SCHEDULED, Map.of(SCHEDULED_FOR, scheduledFor.toString())));
            } catch (BackupInProgress e) {
                LOG.infof("Scheduled backup of %s for %s skipped: %s", database, scheduledFor, e.getMessage());
            } catch (RuntimeException e) {
                LOG.errorf("Scheduled backup of %s for %s could not start: %s", database, scheduledFor, e.getMessage());
            }
        }
    }

    /** The store key of the claim of one scheduled run. */
    public static String claimKey(String database, Instant scheduledFor) {
        return JobJournal.PREFIX + "claims/backup/" + database + "/" + JobIds.STAMP.format(scheduledFor);
    }

    /** Claims the run of {@code database} at {@code scheduledFor}; false when another replica (or run) has it. */
    private boolean claim(String key, String database, Instant scheduledFor) {
        try {
            store.putIfAbsent(key, Json.write(Map.of("database", database, "scheduledFor", scheduledFor.toString(),
                    "claimedBy", coordination.instance(), "claimedAt", Instant.now().toString())));
            return true;
        } catch (ObjectExistsException e) {
            LOG.debugf("Scheduled backup of %s for %s is taken by another replica", database, scheduledFor);
            return false;
        } catch (IOException | RuntimeException e) {
            LOG.errorf("Cannot claim the scheduled backup of %s for %s (skipped): %s", database, scheduledFor,
                    e.getMessage());
            return false;
        }
    }
}
