package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreMode;
import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Finishes what a restore-service that died mid-restore left (DESIGN §3: a crashed restore can be undone), target by
 * target, and only while holding that target's lock (its Lease {@code lifeboat-restore-<target>}, taken without
 * waiting): a restore running on any replica holds it, so what is repaired is never a running restore's. A target
 * whose lock is held is skipped; its restore's own end, or a later pass, does the work. For each target:
 * <ul>
 *   <li>a recreate-database swap interrupted after the target was closed ({@code ALLOW_CONNECTIONS false}) and
 *       before the renames: found by its {@link SwapMarker} on the loaded database; the target is opened again
 *       (it still holds its own data: the restore did not happen) and the loaded copy is dropped. A target closed
 *       by its operator carries no marker and is left alone;</li>
 *   <li>workloads still held at 0 by a restore that never finished are scaled back;</li>
 *   <li>the records of restores whose replica stopped before they ended are marked ABANDONED with the reason.</li>
 * </ul>
 * The databases first, so the applications come back to a database that accepts them. It runs at start-up on every
 * replica, then every {@code lifeboat.restore.recovery-interval} on the leader (which finds a replica that died
 * mid-restore once its Lease expired), and on every replica while something could not be done (a server or the
 * Kubernetes API unreachable).
 */
@ApplicationScoped
public class StartupRecovery {
    private static final Logger LOG = Logger.getLogger(StartupRecovery.class);
    private final WorkloadScaler scaler;
    private final RestoreService restores;
    private final RestoreMetrics metrics;
    private final Targets targets;
    private final PgTools pgTools;
    private final Coordination coordination;
    private volatile boolean pending = true;

    public StartupRecovery(WorkloadScaler scaler, RestoreService restores, RestoreMetrics metrics, Targets targets,
                           PgTools pgTools, Coordination coordination) {
        this.scaler = scaler;
        this.restores = restores;
        this.metrics = metrics;
        this.targets = targets;
        this.pgTools = pgTools;
        this.coordination = coordination;
    }

    void onStart(@Observes StartupEvent event) {
        targets.names().forEach(metrics::register);
        recover(true);
    }

    @Scheduled(identity = "restore-recovery", every = "${lifeboat.restore.recovery-interval:1m}",
            delayed = "${lifeboat.restore.recovery-interval:1m}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void periodic() {
        if (pending) {
            recover(true);
        } else if (coordination.leader()) {
            recover(false);
        }
    }

    /** Whether something could not be recovered yet (retried every interval). */
    public boolean pending() {
        return pending;
    }

    /**
     * One pass over every target; each is recovered only if its lock is free. {@code always} false (the leader's
     * periodic pass): only targets that show something left by a restore that did not end (a record still running,
     * a workload held at 0 by no running restore), so the Leases are not taken for nothing.
     */
    private synchronized void recover(boolean always) {
        boolean failed = false;
        java.util.Set<String> unfinished; // targets with a restore record that did not end; null: unknown (every one)
        java.util.Set<String> running;
        try {
            // one listing of the records for every target (a listing per target made start-up slow with many)
            unfinished = restores.unfinished(null, null).stream()
                    .map(dev.lifeboat.common.job.JobRecord::key).collect(java.util.stream.Collectors.toSet());
            running = always ? java.util.Set.of() : restores.runningAnywhere();
        } catch (RuntimeException e) {
            if (!always) {
                LOG.warnf("Cannot look for targets left by an unfinished restore (next pass in "
                        + "lifeboat.restore.recovery-interval): %s", e.getMessage());
                return;
            }
            unfinished = null;
            running = java.util.Set.of();
        }
        for (String name : targets.names()) {
            try {
                Target target = targets.require(name);
                boolean records = unfinished == null || unfinished.contains(name);
                if (!always && !records && running.containsAll(scaler.holdingAtZero(target))) {
                    continue;
                }
                restores.whileHolding(name, () -> recover(name, target, records));
            } catch (RuntimeException e) {
                failed = true;
                LOG.errorf("Cannot recover target %s from an unfinished restore (retrying every "
                        + "lifeboat.restore.recovery-interval): %s", name, e.getMessage());
            }
        }
        pending = failed;
    }

    /**
     * Recovers {@code name}; its lock is held. {@code records}: a restore record of it did not end when last listed
     * (then they are read again, under the lock, and ended as abandoned); a record left after that listing is
     * the next periodic pass's.
     */
    private void recover(String name, Target target, boolean records) {
        List<String> did = new ArrayList<>();
        if (!target.scratch() && target.modes().contains(RestoreMode.RECREATE_DATABASE)) {
            did.addAll(repair(name, target));
        }
        // a workload held by a running restore (of another target sharing the namespace) or by a restore recorded
        // for another target is left to that one: that target's recovery takes its own lock
        java.util.Set<String> running = restores.runningAnywhere();
        List<WorkloadScaler.Workload> back = scaler.recover(target, id -> !running.contains(id)
                && restores.record(id).map(r -> name.equals(r.key())).orElse(true));
        if (!back.isEmpty()) {
            LOG.warnf("Target %s: scaled back workloads left at 0 by an unfinished restore: %s", name, back);
            did.add("workloads scaled back by " + coordination.instance() + ": " + back);
        }
        if (records) {
            restores.endAbandoned(name, null, did.isEmpty() ? "recovered by " + coordination.instance()
                    : String.join("; ", did));
        }
    }

    /**
     * Repairs every interrupted swap on the recreate-database targets' servers whose lock is free; returns whether
     * every target could be checked. Called by the tests.
     */
    public boolean repairInterruptedSwaps() {
        boolean all = true;
        for (String name : targets.names()) {
            Target target = targets.require(name);
            if (target.scratch() || !target.modes().contains(RestoreMode.RECREATE_DATABASE)) {
                continue;
            }
            try {
                restores.whileHolding(name, () -> repair(name, target));
            } catch (RuntimeException e) {
                all = false;
                LOG.errorf("Cannot check target %s for a recreate-database swap left unfinished: %s", name,
                        e.getMessage());
            }
        }
        return all;
    }

    /** A loaded database and its comment, as the server describes them. */
    @io.quarkus.runtime.annotations.RegisterForReflection
    record Described(String name, String comment) {
    }

    /** Repairs the interrupted swaps of target {@code name}; returns what it did. */
    private List<String> repair(String name, Target target) {
        List<String> done = new ArrayList<>();
        PgConnection maintenance = targets.connection(name, target.maintenanceDatabase());
        PgTools.Program psql = pgTools.newest("psql");
        String rows = pgTools.psqlQuery(psql, maintenance, "SELECT json_build_object('name', d.datname, 'comment', "
                + "shobj_description(d.oid, 'pg_database'))::text FROM pg_database d WHERE d.datname LIKE 'lifeboat\\_new\\_%' "
                + "AND shobj_description(d.oid, 'pg_database') LIKE " + Sql.literal(SwapMarker.PREFIX + "%"));
        for (String row : rows.lines().map(String::strip).filter(l -> !l.isEmpty()).toList()) {
            Described loaded;
            try {
                loaded = Json.read(row.getBytes(StandardCharsets.UTF_8), Described.class);
            } catch (IOException e) {
                throw new IllegalStateException("Unexpected answer describing databases: " + row, e);
            }
            Optional<SwapMarker> marker = SwapMarker.parse(loaded.comment());
            if (marker.isEmpty() || !marker.get().database().equals(target.database())) {
                continue;
            }
            String db = target.database();
            String allow = pgTools.psqlQuery(psql, maintenance, "SELECT datallowconn FROM pg_database WHERE datname = "
                    + Sql.literal(db)).strip();
            if (allow.isEmpty()) {
                LOG.errorf("Target %s: restore %s was interrupted during its swap, but database %s no longer exists; "
                        + "the loaded database %s is left for an operator to inspect (the janitor drops it after "
                        + "lifeboat.restore.scratch-ttl)", name, marker.get().restore(), db, loaded.name());
                continue;
            }
            List<String> did = new ArrayList<>();
            if ("f".equals(allow) && marker.get().allowConnections()) {
                pgTools.psqlQuery(psql, maintenance, "ALTER DATABASE " + Sql.identifier(db) + " ALLOW_CONNECTIONS true");
                did.add("database " + db + " accepts connections again");
            }
            pgTools.psqlQuery(psql, maintenance, "DROP DATABASE IF EXISTS " + Sql.identifier(loaded.name()) + " WITH (FORCE)");
            did.add("the loaded copy " + loaded.name() + " was dropped");
            LOG.warnf("Target %s: restore %s was interrupted during its recreate-database swap, before the renames; "
                    + "%s; %s keeps its own data (that restore did not happen: run it again)", name,
                    marker.get().restore(), String.join(", ", did), db);
            done.add("its interrupted swap was undone by " + coordination.instance() + " (" + String.join(", ", did)
                    + ")");
        }
        return done;
    }
}
