package dev.lifeboat.backup.config;

import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.DumpFormat;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;

/**
 * backup-service configuration, {@code lifeboat.*} (DESIGN §10). The store, encryption and PostgreSQL program
 * keys are shared with the other services and mapped in common ({@code StoreConfig}, {@code EncryptionConfig},
 * {@code PgConfig}); the databases are {@code DatabasesConfig}, the same schema in every service.
 */
@ConfigMapping(prefix = "lifeboat")
public interface BackupServiceConfig {

    /** How and when backups are taken. */
    Backup backup();

    interface Backup {
        /** Quartz cron of scheduled backups (seconds first); {@code off} disables scheduling. */
        @WithDefault("0 0 2 * * ?")
        String schedule();

        /** Time zone the schedule is read in. */
        @WithDefault("UTC")
        String timezone();

        /** {@code zstd} (default) or {@code gzip} (for {@code .sql.gz} compatibility) or {@code none}. */
        @WithDefault("zstd")
        Compression compression();

        /** {@code plain} SQL (default, fingerprinted, loads with psql) or {@code custom} (pg_restore). */
        @WithDefault("plain")
        DumpFormat format();

        /** zstd level, 1 (fastest) to 19. */
        @WithDefault("3")
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
    }
}
