package dev.lifeboat.backup.retention;

import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.coord.Coordination;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import io.quarkus.scheduler.Scheduler;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.Map;
import java.util.TreeMap;
import org.jboss.logging.Logger;

/**
 * Scheduled retention runs: one job per database whose policy is on ({@code enabled}) and whose {@code schedule}
 * (its own, else {@code lifeboat.retention.schedule}; default 03:30, after the 02:00 daily backup) is not
 * {@code off}, read in {@code lifeboat.retention.timezone}. Policies are checked at start-up, so an invalid one stops
 * the service instead of failing silently at night. Schedules are per database, hence programmatic jobs.
 */
@ApplicationScoped
public class RetentionScheduler {
    private static final Logger LOG = Logger.getLogger(RetentionScheduler.class);
    /** The actor named in the audit events of scheduled runs. */
    public static final String ACTOR = "schedule";
    private final RetentionService retention;
    private final DatabaseRegistry databases;
    private final Scheduler scheduler;
    private final Map<String, String> scheduled = new TreeMap<>();

    private final Coordination coordination;

    public RetentionScheduler(RetentionService retention, DatabaseRegistry databases, Scheduler scheduler,
                              Coordination coordination) {
        this.coordination = coordination;
        this.retention = retention;
        this.databases = databases;
        this.scheduler = scheduler;
    }

    void onStart(@Observes StartupEvent event) {
        for (String label : databases.labels()) {
            boolean on = retention.policy(label).enabled();
            String cron = retention.schedule(label);
            if (!on || cron.equalsIgnoreCase("off") || cron.equalsIgnoreCase("disabled")) {
                LOG.infof("Retention of %s: %s", label, on ? "no schedule (off); POST /api/v1/retention/apply runs it"
                        : "off (enabled=false): nothing is deleted by policy");
                continue;
            }
            scheduler.newJob("retention-" + label).setCron(cron).setTimeZone(retention.timezone())
                    .setConcurrentExecution(Scheduled.ConcurrentExecution.SKIP)
                    .setTask(execution -> {
                        if (coordination.leader()) { // one replica applies the policy
                            run(label);
                        }
                    }).schedule();
            scheduled.put(label, cron);
            LOG.infof("Retention of %s scheduled: %s (%s)", label, cron, retention.timezone());
        }
    }

    /** The databases with a scheduled retention job, and their cron. */
    public Map<String, String> scheduled() {
        return Map.copyOf(scheduled);
    }

    /** One scheduled run; a failure (a clock behind, the store down) is logged and retried at the next run. */
    public void run(String label) {
        try {
            retention.apply(label, ACTOR);
        } catch (RuntimeException e) {
            LOG.errorf("Scheduled retention of %s did not run: %s", label, e.getMessage());
        }
    }
}
