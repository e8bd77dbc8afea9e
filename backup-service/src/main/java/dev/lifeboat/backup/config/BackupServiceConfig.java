package dev.lifeboat.backup.config;

import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.DumpFormat;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.Optional;

/**
 * backup-service configuration, {@code lifeboat.*} (DESIGN §10). The store, encryption and PostgreSQL program
 * keys are shared with the other services and mapped in common ({@code StoreConfig}, {@code EncryptionConfig},
 * {@code PgConfig}); the databases are {@code DatabasesConfig}, the same schema in every service.
 */
@ConfigMapping(prefix = "lifeboat")
public interface BackupServiceConfig {

    /** How and when backups are taken. */
    Backup backup();

    /**
     * The default retention policy of every database ({@code lifeboat.retention.*}); each key can be overridden per
     * database under {@code lifeboat.databases.<label>.retention.*} (common's {@code DatabasesConfig}).
     */
    Retention retention();

    /** Point-in-time recovery in backup-service ({@code lifeboat.pitr.*}); per database keys are in DatabasesConfig. */
    Pitr pitr();

    interface Pitr {
        /**
         * Where the WAL receivers' pg_receivewal write, one folder per database ({@code <spool-dir>/<label>/}): local
         * scratch space (an emptyDir). Losing it loses no WAL: the slot keeps the server's WAL from the archive's end.
         */
        @WithDefault("/var/lib/lifeboat/wal-spool")
        java.nio.file.Path spoolDir();
    }

    interface Retention {
        /** Nothing is ever deleted by a policy until the user turns it on. */
        @WithDefault("false")
        boolean enabled();

        /** Every backup younger than this is kept (good ones; failed ones are deleted only past it). */
        Optional<Duration> maxAge();

        /** The N newest good backups are kept. */
        Optional<Integer> keepLast();

        /** Newest good backup of each of the N newest days (in {@code timezone}) that have one. */
        @WithDefault("0")
        int daily();

        /** Newest good backup of each of the N newest ISO weeks that have one. */
        @WithDefault("0")
        int weekly();

        /** Newest good backup of each of the N newest months that have one. */
        @WithDefault("0")
        int monthly();

        /** Newest good backup of each of the N newest years that have one. */
        @WithDefault("0")
        int yearly();

        /** At least this many good backups are kept, whatever the rest of the policy says. */
        @WithDefault("3")
        int minKeep();

        /** Max age of PRE_RESTORE safety backups. */
        @WithDefault("7d")
        Duration safetyMaxAge();

        /** Quartz cron of retention runs (seconds first), read in {@code timezone}; {@code off} disables them. */
        @WithDefault("0 30 3 * * ?")
        String schedule();

        /** Time zone of the calendar buckets (days, weeks, months, years) and of the schedule. */
        @WithDefault("UTC")
        String timezone();
    }

    interface Backup {
        /** Quartz cron of scheduled backups (seconds first); {@code off} disables scheduling. */
        @WithDefault("0 0 2 * * ?")
        String schedule();

        /** Time zone the schedule is read in. */
        @WithDefault("UTC")
        String timezone();

        /**
         * How late a scheduled backup may still start: a run missed because every replica was down at its instant is
         * taken when a replica starts within this time after it (like a CronJob's startingDeadlineSeconds).
         */
        @WithDefault("1h")
        Duration startingDeadline();

        /** Caps the rate at which dumps are read, bytes per second, to spare the database server; unset = no cap. */
        java.util.OptionalLong maxRate();

        /** {@code zstd} (default) or {@code gzip} (for {@code .sql.gz} compatibility) or {@code none}. */
        @WithDefault("zstd")
        Compression compression();

        /** {@code plain} SQL (default, fingerprinted, loads with psql) or {@code custom} (pg_restore). */
        @WithDefault("plain")
        DumpFormat format();

        /**
         * zstd level, 1 (fastest) to 19. 1 by default: measured on database dumps (the bench data, a table of md5
         * strings, pgbench's tables) and on a base backup, level 1 stored 2–8% less than level 3 and ran 15–20%
         * faster (README, benchmarks); text such as documentation compresses 8% better at 3.
         */
        @WithDefault("1")
        int zstdLevel();

        /** zstd worker threads; compression is the slowest stage, so 2 roughly doubles throughput. */
        @WithDefault("2")
        int zstdWorkers();

        /** A backup running longer than this is killed and marked failed. */
        @WithDefault("6h")
        Duration timeout();

        /** How often the janitor removes what interrupted backups left behind. */
        @WithDefault("1h")
        Duration janitorInterval();

        /**
         * Age after which the janitor removes an incomplete backup: a data object without metadata, a pending S3
         * upload or a temporary file. Longer than the longest backup.
         */
        @WithDefault("24h")
        Duration janitorGrace();

        /** How many finished backup jobs (with their errors) are kept in memory for {@code GET /backups/{id}}. */
        @WithDefault("100")
        int jobHistory();

        /** The role definitions stored beside each backup ({@code lifeboat.backup.roles.*}). */
        Roles roles();
    }

    interface Roles {
        /**
         * Whether the stored role definitions include the roles' password hashes ({@code pg_dumpall} without
         * {@code --no-role-passwords}; needs a superuser, as only it can read them). Off: roles a restore creates are
         * {@code NOLOGIN}, to be given a password by hand; on: they log in as before, and the backup holds hashes.
         */
        @WithDefault("false")
        boolean passwords();
    }
}
