package dev.lifeboat.common.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Where the PostgreSQL client programs are ({@code lifeboat.pg.*}). */
@ConfigMapping(prefix = "lifeboat.pg")
public interface PgConfig {
    /**
     * Folders holding {@code pg_dump}/{@code psql}/{@code pg_restore}, one per major version; unset = every
     * {@code /usr/lib/postgresql/<major>/bin} and then {@code PATH}.
     */
    Optional<List<Path>> binDirs();

    /** How long to wait for a connection to a server ({@code PGCONNECT_TIMEOUT}). */
    @WithDefault("10s")
    Duration connectTimeout();
}
