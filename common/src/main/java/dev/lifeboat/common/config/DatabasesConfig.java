package dev.lifeboat.common.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The databases Lifeboat backs up, verifies and reports on ({@code lifeboat.databases.<label>.*}, DESIGN §10): ONE
 * schema read by every service, so the same block of settings can be given to all three. backup-service uses the
 * connection, every service the key prefix, verify-service the objectives.
 */
@ConfigMapping(prefix = "lifeboat")
public interface DatabasesConfig {

    /** The databases by label (e.g. {@code main}); the label names the backups. */
    Map<String, Database> databases();

    interface Database {
        /** Server host name. */
        @WithDefault("localhost")
        String host();

        /** Server port. */
        @WithDefault("5432")
        int port();

        /** Database name on the server; default: the label. */
        Optional<String> database();

        /** User pg_dump connects as; needs read access to everything dumped. */
        @WithDefault("postgres")
        String user();

        /** Password; prefer {@code password-file} in Kubernetes. Never logged. */
        Optional<String> password();

        /** File holding the password (a mounted Secret); read at each use, so rotation needs no restart. */
        Optional<Path> passwordFile();

        /** Object key prefix of this database's backups; default {@code database/<label>}. */
        Optional<String> prefix();

        /** This database's recovery point objective; default {@code lifeboat.objectives.rpo} (verify-service). */
        Optional<Duration> rpo();

        /** This database's recovery time objective; default {@code lifeboat.objectives.rto} (verify-service). */
        Optional<Duration> rto();

        /**
         * This database's retention policy (backup-service); every key falls back to {@code lifeboat.retention.*}.
         */
        Retention retention();

        /**
         * Point-in-time recovery of this database ({@code lifeboat.databases.<label>.pitr.*}): base backups now; the
         * WAL archive and the restore to an instant build on it.
         */
        Pitr pitr();
    }

    /** A database's point-in-time recovery settings ({@code lifeboat.databases.<label>.pitr.*}). */
    interface Pitr {
        /** Whether PITR is on: prerequisites checked at start-up and before each base backup, base backups taken. */
        @WithDefault("false")
        boolean enabled();

        /** The replication role (LOGIN REPLICATION) pg_basebackup connects as; default: the database's user. */
        Optional<String> user();

        /** The replication role's password; default: the database's password (when the user is not set either). */
        Optional<String> password();

        /** File holding the replication role's password (a mounted Secret); read at each use. */
        Optional<Path> passwordFile();

        /**
         * How often the WAL archive stores a snapshot of the current partial segment, after a heartbeat commit: the
         * RPO of point-in-time recovery.
         */
        @WithDefault("60s")
        Duration partialInterval();

        /** Quartz cron of base backups (seconds first, in {@code lifeboat.backup.timezone}); {@code off} disables. */
        @WithDefault("0 0 3 * * ?")
        String baseSchedule();

        /** The physical replication slot the WAL archive owns; default {@code lifeboat_<label>} (lowercased). */
        Optional<String> slot();
    }

    /** A database's retention overrides ({@code lifeboat.databases.<label>.retention.*}); each key optional. */
    interface Retention {
        /** Whether the policy deletes anything for this database. */
        Optional<Boolean> enabled();

        /** Every backup younger than this is kept (good ones; failed ones are deleted only past it). */
        Optional<Duration> maxAge();

        /** The N newest good backups are kept. */
        Optional<Integer> keepLast();

        /** Newest good backup of each of the N newest days that have one. */
        Optional<Integer> daily();

        /** Newest good backup of each of the N newest ISO weeks that have one. */
        Optional<Integer> weekly();

        /** Newest good backup of each of the N newest months that have one. */
        Optional<Integer> monthly();

        /** Newest good backup of each of the N newest years that have one. */
        Optional<Integer> yearly();

        /** At least this many good backups are kept, whatever the rest of the policy says. */
        Optional<Integer> minKeep();

        /** Max age of PRE_RESTORE safety backups. */
        Optional<Duration> safetyMaxAge();

        /** Quartz cron of this database's retention runs; {@code off} disables them. */
        Optional<String> schedule();
    }
}
