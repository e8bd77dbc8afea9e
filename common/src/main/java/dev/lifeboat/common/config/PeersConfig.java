package dev.lifeboat.common.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * How the services reach each other ({@code lifeboat.peers.*}, DESIGN §1, §10): base URLs and this service's own
 * bearer token for calling them (DESIGN §7: services call each other with their own tokens).
 */
@ConfigMapping(prefix = "lifeboat.peers")
public interface PeersConfig {
    /** backup-service base URL, e.g. {@code http://lifeboat-backup:8080}; unset = safety backups unavailable. */
    Optional<String> backupUrl();

    /** restore-service base URL. */
    Optional<String> restoreUrl();

    /** verify-service base URL. */
    Optional<String> verifyUrl();

    /** The token this service presents to its peers; prefer {@code token-file}. Never logged. */
    Optional<String> token();

    /** File holding that token (a mounted Secret); read at each call, so rotation needs no restart. */
    Optional<Path> tokenFile();

    /** Time allowed to connect to a peer. */
    @WithDefault("5s")
    Duration connectTimeout();

    /** Time allowed for a peer's answer. */
    @WithDefault("30s")
    Duration readTimeout();
}
