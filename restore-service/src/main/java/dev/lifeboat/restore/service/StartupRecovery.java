package dev.lifeboat.restore.service;

import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * At start-up, finishes what a killed restore-service left: workloads still held at 0 by a restore that never
 * finished are scaled back (DESIGN §3: a crashed restore can be undone). If the Kubernetes API cannot be reached
 * then, it is retried every minute until it succeeds, while no restore runs.
 */
@ApplicationScoped
public class StartupRecovery {
    private static final Logger LOG = Logger.getLogger(StartupRecovery.class);
    private final WorkloadScaler scaler;
    private final RestoreService restores;
    private final RestoreMetrics metrics;
    private final Targets targets;
    private volatile boolean pending = true;

    public StartupRecovery(WorkloadScaler scaler, RestoreService restores, RestoreMetrics metrics, Targets targets) {
        this.scaler = scaler;
        this.restores = restores;
        this.metrics = metrics;
        this.targets = targets;
    }

    void onStart(@Observes StartupEvent event) {
        targets.names().forEach(metrics::register);
        recover();
    }

    @Scheduled(identity = "workload-recovery", every = "1m", delayed = "1m",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void retry() {
        if (pending && restores.idle()) {
            recover();
        }
    }

    /** Whether the start-up recovery has not succeeded yet. */
    public boolean pending() {
        return pending;
    }

    private synchronized void recover() {
        try {
            // a restore running on another replica holds its workloads at 0 on purpose: never scale those back
            List<WorkloadScaler.Workload> recovered = scaler.recover(restores.runningAnywhere());
            if (!recovered.isEmpty()) {
                LOG.warnf("Scaled back workloads left at 0 by an unfinished restore: %s", recovered);
            }
            pending = false;
        } catch (RuntimeException e) {
            LOG.errorf("Cannot check for workloads left scaled down by an unfinished restore (retrying every minute): %s",
                    e.getMessage());
        }
    }
}
