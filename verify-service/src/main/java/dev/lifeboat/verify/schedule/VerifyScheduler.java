package dev.lifeboat.verify.schedule;

import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.verify.service.StatusService;
import dev.lifeboat.verify.service.VerificationService;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import dev.lifeboat.verify.config.VerifyServiceConfig;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import org.jboss.logging.Logger;

/**
 * verify-service's own schedules (DESIGN §4): the sweep that finds backups without a verdict, so none is missed
 * when backup-service's announcement got lost ({@code lifeboat.verify.sweep-schedule}); the checksum pass over every
 * retained backup ({@code lifeboat.verify.checksum-schedule}); and the status refresh behind the metrics. After
 * each sweep the leader removes verification job records that ended more than {@code lifeboat.verify.sweep-window}
 * ago.
 */
@ApplicationScoped
public class VerifyScheduler {
    private static final Logger LOG = Logger.getLogger(VerifyScheduler.class);
    private final VerificationService verifications;
    private final StatusService status;

    private final Coordination coordination;
    private final VerifyServiceConfig config;

    public VerifyScheduler(VerificationService verifications, StatusService status, Coordination coordination,
                           VerifyServiceConfig config) {
        this.coordination = coordination;
        this.config = config;
        this.verifications = verifications;
        this.status = status;
    }

    @Scheduled(identity = "verification-sweep", cron = "${lifeboat.verify.sweep-schedule:0 */15 * * * ?}",
            timeZone = "${lifeboat.verify.timezone:UTC}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void sweep() {
        if (!coordination.leader()) { // one replica sweeps: the others would queue the same verifications
            return;
        }
        try {
            int n = verifications.sweep(Instant.now()).size();
            if (n > 0) {
                LOG.infof("Sweep: %d backup(s) without a verdict queued for full verification", n);
            }
        } catch (RuntimeException e) {
            LOG.warnf("Sweep failed: %s", e.getMessage());
        }
        // the sweep no longer looks at verifications that old; a finished one's result is in its verification record
        Instant cutoff = Instant.now().minus(config.verify().sweepWindow());
        try {
            List<String> removed = verifications.pruneRecords(cutoff);
            if (!removed.isEmpty()) {
                LOG.infof("Removed %d verification job record(s) that ended before %s", removed.size(), cutoff);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot remove old verification job records: %s", e.getMessage());
        }
    }

    @Scheduled(identity = "checksum-pass", cron = "${lifeboat.verify.checksum-schedule:0 0 4 * * ?}",
            timeZone = "${lifeboat.verify.timezone:UTC}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void checksumPass() {
        if (!coordination.leader()) { // one replica runs the daily pass
            return;
        }
        try {
            LOG.infof("Checksum pass: %d backup(s) queued", verifications.checksumAll().size());
        } catch (RuntimeException e) {
            LOG.warnf("Checksum pass failed: %s", e.getMessage());
        }
    }

    @Scheduled(identity = "status-refresh", every = "${lifeboat.verify.status-interval:1m}", delayed = "10s",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void refreshStatus() {
        status.refresh();
    }
}
