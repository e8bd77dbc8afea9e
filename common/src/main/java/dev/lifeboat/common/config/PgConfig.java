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

    /**
     * How long a quick query (the server's version, listing or dropping databases, the checks around a restore)
     * may take from the program's start to its end, connecting and reading the answer included; past it psql is
     * killed and the server stops the statement too ({@code statement_timeout}). Work that has its own limit
     * ({@code lifeboat.backup.timeout}, {@code lifeboat.restore.timeout}, {@code lifeboat.verify.query-timeout})
     * is not bound by this one.
     */
    @WithDefault("30s")
    Duration queryTimeout();
}
