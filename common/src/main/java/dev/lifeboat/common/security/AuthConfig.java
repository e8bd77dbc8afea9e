package dev.lifeboat.common.security;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** API authentication (DESIGN §7): static bearer tokens, each with roles ({@code lifeboat.auth.*}). */
@ConfigMapping(prefix = "lifeboat.auth")
public interface AuthConfig {
    /**
     * Off only for a closed test bench; with it on and no token configured, the service refuses to start. Turning it
     * off outside dev and test mode also needs {@code allow-disabled=true}.
     */
    @WithDefault("true")
    boolean enabled();

    /** Confirms {@code enabled=false} in a production run (a deliberate, closed test bench); ignored otherwise. */
    @WithDefault("false")
    boolean allowDisabled();

    /** The API clients, by name (e.g. {@code ops}, {@code restore-service}). */
    Map<String, Client> tokens();

    interface Client {
        /** The bearer token (at least 32 characters); prefer {@code token-file}. Never logged. */
        Optional<String> token();

        /** File holding the token (a mounted Secret). */
        Optional<Path> tokenFile();

        /** Roles: {@code viewer} (read), {@code operator} (take backups, verify), {@code restorer} (restore). */
        List<Role> roles();
    }

    /** What a client may do. */
    enum Role {
        VIEWER, OPERATOR, RESTORER;

        /** The role name as {@code @RolesAllowed} uses it. */
        public String roleName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
