package dev.lifeboat.restore.service;

import dev.lifeboat.common.coord.Coordination;
import dev.lifeboat.common.job.JobIds;
import dev.lifeboat.common.api.RestoreMode;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.restore.config.RestoreServiceConfig;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * Drops databases restore-service created and nobody needs any more: scratch databases older than
 * {@code lifeboat.restore.scratch-ttl}, and what an interrupted {@code recreate-database} left
 * ({@code lifeboat_new_*}, {@code lifeboat_old_*}); on the leader, also the job records of restores that ended
 * more than {@code scratch-ttl} ago. Their names carry their creation time, so this works across
 * restarts without any state; databases of running restores are never touched.
 */
@ApplicationScoped
public class ScratchJanitor {
    private static final Logger LOG = Logger.getLogger(ScratchJanitor.class);
    private static final Pattern OURS = Pattern.compile("lifeboat_(scratch|new|old)_(\\d{8}_\\d{6})_[0-9a-f]{6}");

    private final RestoreServiceConfig config;
    private final Targets targets;
    private final PgTools pgTools;
    private final RestoreService restores;

    private final Coordination coordination;

    public ScratchJanitor(RestoreServiceConfig config, Targets targets, PgTools pgTools, RestoreService restores,
                          Coordination coordination) {
        this.coordination = coordination;
        this.config = config;
        this.targets = targets;
        this.pgTools = pgTools;
        this.restores = restores;
    }

    @Scheduled(identity = "scratch-janitor", every = "${lifeboat.restore.scratch-janitor-interval:15m}", delayed = "1m",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void scheduled() {
        if (coordination.leader()) { // one replica drops expired databases and restore records
            Instant now = Instant.now();
            clean(now);
            pruneRecords(now);
        }
    }

    /** Removes the job records (jobs/restore/) of restores that ended more than {@code scratch-ttl} ago. */
    void pruneRecords(Instant now) {
        try {
            List<String> removed = restores.pruneRecords(now.minus(config.restore().scratchTtl()));
            if (!removed.isEmpty()) {
                LOG.infof("Removed %d restore record(s) older than lifeboat.restore.scratch-ttl", removed.size());
            }
        } catch (java.io.IOException | RuntimeException e) {
            LOG.warnf("Pass over the restore records failed: %s", e.getMessage());
        }
    }

    /** One pass over every target that can hold such databases; returns the databases dropped. */
    public List<String> clean(Instant now) {
        List<String> dropped = new ArrayList<>();
        Instant cutoff = now.minus(config.restore().scratchTtl());
        for (Map.Entry<String, Target> entry : config.targets().entrySet()) {
            Target target = entry.getValue();
            if (!target.scratch() && !target.modes().contains(RestoreMode.RECREATE_DATABASE)) {
                continue;
            }
            try {
                PgConnection maintenance = targets.connection(entry.getKey(), target.maintenanceDatabase());
                // a copy still marked by an interrupted swap belongs to start-up recovery, which must reopen the
                // target before the copy goes: dropping it here would leave the target closed for good
                String names = pgTools.psqlQuery(pgTools.newest("psql"), maintenance,
                        "SELECT datname FROM pg_database d WHERE datname LIKE 'lifeboat\\_%' AND coalesce("
                                + "shobj_description(d.oid, 'pg_database'), '') NOT LIKE " + Sql.literal(SwapMarker.PREFIX + "%")
                                + " ORDER BY 1");
                List<String> inUse = restores.databasesInUse();
                for (String name : names.lines().map(String::strip).filter(n -> !n.isEmpty()).toList()) {
                    Matcher m = OURS.matcher(name);
                    if (!m.matches() || inUse.contains(name) || (m.group(1).equals("scratch") != target.scratch())) {
                        continue;
                    }
                    Instant created;
                    try {
                        created = Instant.from(JobIds.STAMP.parse(m.group(2)));
                    } catch (DateTimeParseException e) {
                        continue;
                    }
                    if (created.isBefore(cutoff)) {
                        pgTools.psqlQuery(pgTools.newest("psql"), maintenance,
                                "DROP DATABASE IF EXISTS " + Sql.identifier(name) + " WITH (FORCE)");
                        dropped.add(name);
                    }
                }
            } catch (RuntimeException e) {
                LOG.warnf("Scratch janitor pass over target %s failed: %s", entry.getKey(), e.getMessage());
            }
        }
        if (!dropped.isEmpty()) {
            LOG.infof("Dropped expired databases: %s", dropped);
        }
        return dropped;
    }

    /** Whether {@code database} exists on the server. */
    static boolean exists(PgTools pgTools, PgConnection maintenance, String database) {
        return !pgTools.psqlQuery(pgTools.newest("psql"), maintenance,
                "SELECT 1 FROM pg_database WHERE datname = " + Sql.literal(database)).isBlank();
    }
}
