package dev.lifeboat.backup.service;

import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.coord.LeaseLock;
import dev.lifeboat.common.coord.LeaseNames;
import dev.lifeboat.common.coord.ShutdownConfig;
import dev.lifeboat.common.job.KeyLock;
import dev.lifeboat.common.model.WalArchiveState;
import dev.lifeboat.common.pg.PgTools;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * The WAL archive of point-in-time recovery in backup-service: one {@link WalReceiver} per database with
 * {@code pitr.enabled} whose PITR check passed, run only by the replica holding the Lease {@code lifeboat-wal-<label>}
 * ({@link LeaseNames#wal}; in-process outside Kubernetes). Each database has a supervising thread: it waits for the
 * check to pass and for the Lease, runs a receiver session, and restarts it with a backoff (2 s doubling to 60 s) when
 * pg_receivewal ends ({@code --no-loop}: Lifeboat supervises restarts). Losing the Lease or shutting down stops the
 * session: SIGTERM to pg_receivewal, then what is complete in the spool is uploaded while the grace allows.
 */
@ApplicationScoped
public class WalReceivers {
    private static final Logger LOG = Logger.getLogger(WalReceivers.class);
    private static final Duration FIRST_BACKOFF = Duration.ofSeconds(2);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(60);
    /** A session that ran this long was healthy: the next restart starts from the first backoff again. */
    private static final Duration HEALTHY = Duration.ofMinutes(1);
    /** How often a database whose PITR check failed is checked again. */
    private static final Duration RECHECK = Duration.ofMinutes(5);

    private final DatabaseRegistry databases;
    private final WalArchive archive;
    private final BackupCatalog catalog;
    private final PgTools pgTools;
    private final BackupService backups;
    private final BaseBackups baseBackups;
    private final Coordination coordination;
    private final BackupServiceConfig config;
    private final ShutdownConfig shutdown;
    private final MeterRegistry registry;
    private final Map<String, WalReceiver> receivers = new ConcurrentHashMap<>();
    private final Map<String, Thread> threads = new ConcurrentHashMap<>();
    private volatile KeyLock lock;
    private volatile boolean stopping;

    public WalReceivers(DatabaseRegistry databases, WalArchive archive, BackupCatalog catalog, PgTools pgTools,
                        BackupService backups, BaseBackups baseBackups, Coordination coordination,
                        BackupServiceConfig config, ShutdownConfig shutdown, MeterRegistry registry) {
        this.databases = databases;
        this.archive = archive;
        this.catalog = catalog;
        this.pgTools = pgTools;
        this.backups = backups;
        this.baseBackups = baseBackups;
        this.coordination = coordination;
        this.config = config;
        this.shutdown = shutdown;
        this.registry = registry;
    }

    void onStart(@Observes StartupEvent event) {
        for (String db : databases.labels()) {
            if (!databases.pitrEnabled(db)) {
                continue;
            }
            if (lock == null) {
                lock = coordination.lock(LeaseNames.WAL);
                if (lock instanceof LeaseLock leases) {
                    leases.onLost((lease, runId) -> receivers.values().stream()
                            .filter(r -> r.runId().equals(runId)).forEach(WalReceiver::leaseLost));
                }
            }
            Optional<WalArchiveState> last = Optional.empty();
            try {
                last = catalog.walState(db);
            } catch (RuntimeException e) {
                LOG.warnf("Cannot read the WAL archive state of %s at start-up: %s", db, e.getMessage());
            }
            WalReceiver receiver = new WalReceiver(db, databases, archive, catalog, pgTools, backups,
                    config.pitr().spoolDir().resolve(db), coordination.instance(), registry, last.orElse(null));
            receivers.put(db, receiver);
            threads.put(db, Thread.ofPlatform().daemon().name("wal-" + db).start(() -> supervise(receiver)));
        }
    }

    /** The receiver of {@code database}, if it has PITR enabled. */
    public Optional<WalReceiver> receiver(String database) {
        return Optional.ofNullable(receivers.get(database));
    }

    private void supervise(WalReceiver receiver) {
        String db = receiver.database();
        Duration backoff = FIRST_BACKOFF;
        boolean held = false;
        while (!stopping) {
            try {
                if (!held) {
                    if (!baseBackups.check(db).check().available()) {
                        LOG.warnf("WAL archive of %s not started: the PITR check fails (checked again in %s)", db,
                                RECHECK);
                        receiver.pause(RECHECK);
                        continue;
                    }
                    Optional<KeyLock.Holder> holder = lock.tryAcquire(db, receiver.runId());
                    if (holder.isPresent()) {
                        LOG.debugf("WAL receiver of %s runs on %s", db, holder.get().instance());
                        receiver.pause(coordination.leaseDuration().dividedBy(2));
                        continue;
                    }
                    held = true;
                    receiver.leaseHeld();
                    LOG.infof("This replica (%s) holds %s: it runs the WAL receiver of %s", coordination.instance(),
                            LeaseNames.wal(db), db);
                }
                Instant started = Instant.now();
                receiver.runSession(() -> stopping);
                if (Duration.between(started, Instant.now()).compareTo(HEALTHY) >= 0) {
                    backoff = FIRST_BACKOFF;
                }
            } catch (RuntimeException e) {
                LOG.errorf("WAL receiver of %s failed: %s (restarting in %s)", db, e.getMessage(), backoff);
            }
            if (held && (receiver.lostLease() || stopping)) {
                lock.release(db, receiver.runId());
                held = false;
                continue;
            }
            if (!stopping) {
                receiver.pause(backoff);
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
        }
        if (held) {
            lock.release(db, receiver.runId());
        }
    }

    /**
     * Shutdown: each session stops pg_receivewal (SIGTERM), uploads what is complete while
     * {@code lifeboat.shutdown.grace} allows, records its state and releases its Lease.
     */
    void onStop(@Observes ShutdownEvent event) {
        stopping = true;
        Instant deadline = Instant.now().plus(shutdown.grace());
        receivers.values().forEach(r -> r.stop(deadline));
        for (Thread t : threads.values()) {
            try {
                t.join(Math.max(1, Duration.between(Instant.now(), deadline).toMillis()) + 5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
