package dev.lifeboat.common.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.credential.TokenCredential;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BearerTokensTest {
    private static final String OPS = "ops-token-0123456789abcdef0123456789abcdef";

    private static AuthConfig config(Map<String, AuthConfig.Client> clients) {
        return new AuthConfig() {
            @Override
            public boolean enabled() {
                return true;
            }

            @Override
            public boolean allowDisabled() {
                return false;
            }

            @Override
            public Map<String, Client> tokens() {
                return clients;
            }
        };
    }

    private static AuthConfig.Client client(Optional<String> token, Optional<Path> file, AuthConfig.Role... roles) {
        return new AuthConfig.Client() {
            @Override
            public Optional<String> token() {
                return token;
            }

            @Override
            public Optional<Path> tokenFile() {
                return file;
            }

            @Override
            public List<AuthConfig.Role> roles() {
                return List.of(roles);
            }
        };
    }

    private static SecurityIdentity login(BearerTokens tokens, String token) {
        return tokens.authenticate(new TokenAuthenticationRequest(new TokenCredential(token, "bearer")), null)
                .await().indefinitely();
    }

    @Test
    void configuredTokenGivesItsClientsRoles(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("viewer-token");
        Files.writeString(file, "viewer-token-from-file-0123456789abcdef\n");
        BearerTokens tokens = new BearerTokens(config(Map.of(
                "ops", client(Optional.of(OPS), Optional.empty(), AuthConfig.Role.OPERATOR, AuthConfig.Role.VIEWER),
                "dash", client(Optional.empty(), Optional.of(file), AuthConfig.Role.VIEWER))));
        SecurityIdentity ops = login(tokens, OPS);
        assertThat(ops.getPrincipal().getName()).isEqualTo("ops");
        assertThat(ops.getRoles()).containsExactlyInAnyOrder("operator", "viewer");
        SecurityIdentity dash = login(tokens, "viewer-token-from-file-0123456789abcdef");
        assertThat(dash.getRoles()).containsExactly("viewer");
    }

    @Test
    void unknownOrAlmostRightTokensAreRefused() {
        BearerTokens tokens = new BearerTokens(config(Map.of("ops", client(Optional.of(OPS), Optional.empty(), AuthConfig.Role.OPERATOR))));
        assertThatThrownBy(() -> login(tokens, OPS.substring(1))).isInstanceOf(AuthenticationFailedException.class);
        assertThatThrownBy(() -> login(tokens, OPS + "x")).isInstanceOf(AuthenticationFailedException.class);
        assertThatThrownBy(() -> login(tokens, "")).isInstanceOf(AuthenticationFailedException.class);
    }

    @Test
    void shortOrMissingTokensAreRefusedAtStartUp() {
        assertThatThrownBy(() -> new BearerTokens(config(Map.of("weak", client(Optional.of("short"), Optional.empty(), AuthConfig.Role.VIEWER)))))
                .isInstanceOf(InvalidConfiguration.class).hasMessageContaining("at least 32");
        assertThatThrownBy(() -> new BearerTokens(config(Map.of("none", client(Optional.empty(), Optional.empty(), AuthConfig.Role.VIEWER)))))
                .isInstanceOf(InvalidConfiguration.class).hasMessageContaining("token-file");
    }
}
