package dev.lifeboat.restore.config;

import dev.lifeboat.common.api.RestoreMode;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * restore-service configuration, {@code lifeboat.*} (DESIGN §10). The store, encryption (identity files), peers
 * and PostgreSQL program keys are shared with the other services and mapped in common.
 */
@ConfigMapping(prefix = "lifeboat")
public interface RestoreServiceConfig {

    /** The places a backup can be restored into, by name ({@code primary}, {@code scratch}, ...). */
    Map<String, Target> targets();

    /** How restores run. */
    Restore restore();

    interface Target {
        /** Server host name. */
        @WithDefault("localhost")
        String host();

        /** Server port. */
        @WithDefault("5432")
        int port();

        /**
         * The database restored into. For a {@code scratch} target, the database connected to while creating and
         * dropping the scratch databases (e.g. {@code postgres}).
         */
        String database();

        /** User the restore runs as; needs to own (or be superuser over) everything it drops and creates. */
        @WithDefault("postgres")
        String user();

        /** Password; prefer {@code password-file} in Kubernetes. Never logged. */
        Optional<String> password();

        /** File holding the password (a mounted Secret); read at each restore. */
        Optional<Path> passwordFile();

        /** {@code true}: every restore goes into a fresh database on this server, dropped when done or expired. */
        @WithDefault("false")
        boolean scratch();

        /**
         * Label (in backup-service) of the database this target holds: {@code latest} restores its newest backup,
         * the safety backup is taken under it, and an in-place restore of another database's backup is refused.
         */
        Optional<String> databaseLabel();

        /**
         * Modes allowed on this in-place target: {@code clean-schema} (the default) and/or
         * {@code recreate-database}. Ignored for scratch targets.
         */
        @WithDefault("clean-schema")
        List<RestoreMode> modes();

        /**
         * Database to connect to for {@code CREATE}/{@code DROP DATABASE} and renames ({@code recreate-database},
         * scratch databases); never the database being replaced.
         */
        @WithDefault("postgres")
        String maintenanceDatabase();

        /** Whether an in-place restore takes a safety backup first unless the request says otherwise. */
        @WithDefault("true")
        boolean safetyBackup();

        /** The applications using this database, scaled to 0 during an in-place restore. */
        Workloads workloads();
    }

    interface Workloads {
        /** Namespace of the workloads; unset = the namespace restore-service runs in (from the service account). */
        Optional<String> namespace();

        /** Deployment names. */
        Optional<List<String>> deployments();

        /** StatefulSet names. */
        Optional<List<String>> statefulsets();

        /** Label selector (e.g. {@code app.kubernetes.io/part-of=shop}): its Deployments and StatefulSets. */
        Optional<String> selector();
    }

    interface Restore {
        /** A restore still loading after this long is stopped and rolled back. */
        @WithDefault("6h")
        Duration timeout();

        /** How long to wait for the workloads' pods to be gone; then the restore fails before touching data. */
        @WithDefault("5m")
        Duration podsGoneTimeout();

        /** How long the safety backup may take. */
        @WithDefault("6h")
        Duration safetyBackupTimeout();

        /** Scratch databases older than this are dropped, whoever forgot them. */
        @WithDefault("24h")
        Duration scratchTtl();

        /** How often expired scratch databases are looked for. */
        @WithDefault("15m")
        Duration scratchJanitorInterval();

        /**
         * How often the leader looks for targets left by a replica that died mid-restore (workloads at 0, a swap
         * half done, records still running) and recovers them under the target's Lease; every replica also does
         * it at start-up.
         */
        @WithDefault("1m")
        Duration recoveryInterval();

        /** How many finished restore jobs are kept in memory for {@code GET /restores}. */
        @WithDefault("100")
        int jobHistory();

        /**
         * TEST ONLY, never set it in production: {@code true} makes the process halt (as a crash would) in a
         * recreate-database restore right after the target was closed ({@code ALLOW_CONNECTIONS false}) and before
         * the renames, so a test can prove that start-up recovery opens the target again. Inert by default.
         */
        @WithDefault("false")
        boolean haltBeforeSwapForTests();

        /**
         * Connections ("lanes") the rows of one large table (over 1 MiB of dump) are loaded over at once, when the
         * restore loads into a database it created (scratch, recreate-database): PostgreSQL loads one COPY on one
         * core. That database is dropped on any failure and swapped in or reported only once the load ended, so the
         * load need not be one transaction there. {@code 1}: one connection, one transaction. clean-schema loads into
         * the existing database and is always one transaction; so is a load that creates missing roles.
         */
        @WithDefault("2")
        int loadLanes();

        /** The load session's settings, {@code lifeboat.restore.session.*}. */
        Session session();

        /** Restores to a point in time, {@code lifeboat.restore.pitr.*}. */
        Pitr pitr();
    }

    /**
     * Restores to a point in time ({@code lifeboat.restore.pitr.*}): where the private PostgreSQL that replays base
     * backup + WAL keeps its data directory, and how it is run.
     */
    interface Pitr {
        /**
         * The spool: one private data directory per running point-in-time restore (0700), deleted when the restore
         * ends whatever happens; what a crash left is removed at start-up. Needs about a base backup's size plus a few
         * WAL segments free. Goes into the server's {@code restore_command}: letters, digits, {@code / . _ -} only.
         */
        @WithDefault("/tmp/lifeboat-pitr")
        String spoolDir();

        /**
         * A superuser role of the source cluster (the one initdb made): the private instance trusts its own socket
         * (0700 directory), and pg_dump and the progress queries connect as this role.
         */
        @WithDefault("postgres")
        String superuser();

        /** WAL segments fetched ahead of the one the private instance asks for, to overlap download and replay. */
        @WithDefault("2")
        int prefetch();

        /** The private instance's start, replay and promotion must end within this. */
        @WithDefault("6h")
        Duration replayTimeout();
    }

    /**
     * Settings of the restore's own session for the bulk load ({@code lifeboat.restore.session.*}), set with
     * {@code SET LOCAL} inside its transaction: they end with it and never change the server's own settings. Empty
     * leaves the server's value.
     */
    interface Session {
        /** Memory for each index build and constraint check of the load (server default 64MB). */
        @WithDefault("256MB")
        Optional<String> maintenanceWorkMem();

        /** Parallel workers one index build may use (capped by the server's max_parallel_workers). */
        @WithDefault("2")
        Optional<String> maxParallelMaintenanceWorkers();

        /** The load's one COMMIT does not wait for its WAL flush (the database is no less consistent). */
        @WithDefault("off")
        Optional<String> synchronousCommit();
    }
}
