package dev.lifeboat.common.security;

import dev.lifeboat.common.config.Secrets;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import io.quarkus.runtime.LaunchMode;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.security.AuthenticationFailedException;
import io.quarkus.security.identity.AuthenticationRequestContext;
import io.quarkus.security.identity.IdentityProvider;
import io.quarkus.security.identity.SecurityIdentity;
import io.quarkus.security.identity.request.TokenAuthenticationRequest;
import io.quarkus.security.runtime.QuarkusPrincipal;
import io.quarkus.security.runtime.QuarkusSecurityIdentity;
import io.smallrye.mutiny.Uni;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.jboss.logging.Logger;

/**
 * Checks bearer tokens against {@code lifeboat.auth.tokens.*} and turns a match into an identity with the
 * client's roles. Tokens are compared in constant time; they are read once at start-up and never logged.
 * A service started for production with authentication on and no token refuses to start.
 */
@ApplicationScoped
public class BearerTokens implements IdentityProvider<TokenAuthenticationRequest> {
    private static final Logger LOG = Logger.getLogger(BearerTokens.class);
    static final int MIN_LENGTH = 32;

    private final boolean enabled;
    private final boolean allowDisabled;
    private final List<Client> clients;

    record Client(String name, byte[] token, Set<String> roles) {
    }

    public BearerTokens(AuthConfig config) {
        this.enabled = config.enabled();
        this.allowDisabled = config.allowDisabled();
        List<Client> list = new ArrayList<>();
        for (Map.Entry<String, AuthConfig.Client> e : config.tokens().entrySet()) {
            String token = read(e.getKey(), e.getValue());
            if (token.length() < MIN_LENGTH) {
                throw new InvalidConfiguration("lifeboat.auth.tokens." + e.getKey() + ": a token needs at least "
                        + MIN_LENGTH + " characters (e.g. openssl rand -hex 32)");
            }
            Set<String> roles = e.getValue().roles().stream().map(AuthConfig.Role::roleName).collect(Collectors.toSet());
            list.add(new Client(e.getKey(), token.getBytes(StandardCharsets.UTF_8), roles));
        }
        this.clients = List.copyOf(list);
    }

    private static String read(String name, AuthConfig.Client c) {
        return Secrets.read(c.token().map(String::strip), c.tokenFile(), "lifeboat.auth.tokens." + name + ".token-file")
                .orElseThrow(() -> new InvalidConfiguration("lifeboat.auth.tokens." + name + " needs token or token-file"));
    }

    void onStart(@Observes StartupEvent event) {
        if (!enabled) {
            if (LaunchMode.current() == LaunchMode.NORMAL && !allowDisabled) {
                throw new InvalidConfiguration("lifeboat.auth.enabled=false would let anyone who reaches the API take, "
                        + "restore and delete backups; outside dev and test mode it also needs "
                        + "lifeboat.auth.allow-disabled=true (a closed test bench only)");
            }
            LOG.warn("lifeboat.auth.enabled=false: the API accepts every request without a token");
        } else if (clients.isEmpty()) {
            if (LaunchMode.current() == LaunchMode.NORMAL) {
                throw new InvalidConfiguration("No API token is configured: set lifeboat.auth.tokens.<client>.token-file "
                        + "and .roles (viewer, operator, restorer), or lifeboat.auth.enabled=false on a closed test bench");
            }
            LOG.warn("No API token is configured: every API call will be refused with 401");
        } else {
            LOG.infof("API clients: %s", clients.stream().map(c -> c.name() + " " + c.roles()).toList());
        }
    }

    public boolean enabled() {
        return enabled;
    }

    @Override
    public Class<TokenAuthenticationRequest> getRequestType() {
        return TokenAuthenticationRequest.class;
    }

    @Override
    public Uni<SecurityIdentity> authenticate(TokenAuthenticationRequest request, AuthenticationRequestContext context) {
        byte[] presented = request.getToken().getToken().getBytes(StandardCharsets.UTF_8);
        Client match = null;
        for (Client c : clients) {
            if (MessageDigest.isEqual(c.token(), presented)) { // constant time; every client is compared
                match = c;
            }
        }
        if (match == null) {
            return Uni.createFrom().failure(new AuthenticationFailedException("Unknown bearer token"));
        }
        return Uni.createFrom().item(QuarkusSecurityIdentity.builder()
                .setPrincipal(new QuarkusPrincipal(match.name()))
                .addRoles(match.roles())
                .addCredential(request.getToken())
                .build());
    }
}
