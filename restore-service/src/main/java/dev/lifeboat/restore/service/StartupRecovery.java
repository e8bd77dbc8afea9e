package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreMode;
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
 * At start-up, finishes what a killed restore-service left (DESIGN §3: a crashed restore can be undone):
 * <ul>
 *   <li>a recreate-database swap interrupted after the target was closed ({@code ALLOW_CONNECTIONS false}) and
 *       before the renames: found by its {@link SwapMarker} on the loaded database; the target is opened again
 *       (it still holds its own data: the restore did not happen) and the loaded copy is dropped. A target closed
 *       by its operator carries no marker and is left alone;</li>
 *   <li>workloads still held at 0 by a restore that never finished are scaled back.</li>
 * </ul>
 * The databases first, so the applications come back to a database that accepts them. What cannot be done at
 * start (a server or the Kubernetes API unreachable) is retried every minute until it succeeds, while no restore runs.
 */
@ApplicationScoped
public class StartupRecovery {
    private static final Logger LOG = Logger.getLogger(StartupRecovery.class);
    private final WorkloadScaler scaler;
    private final RestoreService restores;
    private final RestoreMetrics metrics;
    private final Targets targets;
    private final PgTools pgTools;
    private volatile boolean workloadsPending = true;
    private volatile boolean swapsPending = true;

    public StartupRecovery(WorkloadScaler scaler, RestoreService restores, RestoreMetrics metrics, Targets targets,
                           PgTools pgTools) {
        this.scaler = scaler;
        this.restores = restores;
        this.metrics = metrics;
        this.targets = targets;
        this.pgTools = pgTools;
    }

    void onStart(@Observes StartupEvent event) {
        targets.names().forEach(metrics::register);
        recover();
    }

    @Scheduled(identity = "workload-recovery", every = "1m", delayed = "1m",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void retry() {
        if (pending() && restores.idle()) {
            recover();
        }
    }

    /** Whether the start-up recovery has not succeeded yet. */
    public boolean pending() {
        return workloadsPending || swapsPending;
    }

    private synchronized void recover() {
        if (swapsPending) {
            swapsPending = !repairInterruptedSwaps();
        }
        if (workloadsPending) {
            try {
                // a restore running on another replica holds its workloads at 0 on purpose: never scale those back
                List<WorkloadScaler.Workload> recovered = scaler.recover(restores.runningAnywhere());
                if (!recovered.isEmpty()) {
                    LOG.warnf("Scaled back workloads left at 0 by an unfinished restore: %s", recovered);
                }
                workloadsPending = false;
            } catch (RuntimeException e) {
                LOG.errorf("Cannot check for workloads left scaled down by an unfinished restore (retrying every minute): %s",
                        e.getMessage());
            }
        }
    }

    /** A loaded database and its comment, as the server describes them. */
    @io.quarkus.runtime.annotations.RegisterForReflection
    record Described(String name, String comment) {
    }

    /**
     * Repairs every interrupted swap on the recreate-database targets' servers; returns whether every target could
     * be checked. Called at start (and by the tests); never while a restore runs.
     */
    public boolean repairInterruptedSwaps() {
        boolean all = true;
        for (String name : targets.names()) {
            Target target = targets.require(name);
            if (target.scratch() || !target.modes().contains(RestoreMode.RECREATE_DATABASE)) {
                continue;
            }
            if (restores.busyAnywhere(name)) {
                continue; // a restore on another replica may be mid-swap: its target is closed on purpose
            }
            try {
                repair(name, target);
            } catch (RuntimeException e) {
                all = false;
                LOG.errorf("Cannot check target %s for a recreate-database swap left unfinished (retrying every minute): %s",
                        name, e.getMessage());
            }
        }
        return all;
    }

    private void repair(String name, Target target) {
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
        }
    }
}
