package dev.lifeboat.common.client;

import dev.lifeboat.common.config.PeersConfig;
import dev.lifeboat.common.config.Secrets;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.PeerFailed;
import io.quarkus.rest.client.reactive.QuarkusRestClientBuilder;
import jakarta.ws.rs.ProcessingException;
import jakarta.ws.rs.WebApplicationException;
import java.net.URI;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

/**
 * What every client of a Lifeboat peer shares (DESIGN §1, §7): the REST client for the peer's base URL with the
 * configured timeouts, this service's own token (read at each call, so a rotated Secret needs no restart), and one
 * translation of every failed call into {@link PeerFailed} naming the peer, its HTTP status and its answer.
 *
 * @param <A> the peer's package-private REST client interface
 */
public abstract class PeerClient<A> {
    private final PeersConfig peers;
    private final String peer;
    private final String urlKey;
    private final Optional<String> url;
    private final Class<A> apiType;
    private volatile A api;

    protected PeerClient(PeersConfig peers, String peer, String urlKey, Optional<String> url, Class<A> apiType) {
        this.peers = peers;
        this.peer = peer;
        this.urlKey = urlKey;
        this.url = url.filter(u -> !u.isBlank());
        this.apiType = apiType;
    }

    /** Whether the peer's URL is configured. */
    public boolean configured() {
        return url.isPresent();
    }

    /** Calls the peer with {@code (api, authorization header)}; every failure becomes {@link PeerFailed}. */
    protected <T> T call(BiFunction<A, String, T> request) {
        try {
            return request.apply(api(), authorization());
        } catch (WebApplicationException e) {
            String body = "";
            try {
                body = e.getResponse().readEntity(String.class);
            } catch (RuntimeException ignored) {
                // no readable body
            }
            int status = e.getResponse().getStatus();
            throw new PeerFailed(peer + " answered " + status + (body.isBlank() ? "" : ": " + body.strip()), status);
        } catch (ProcessingException e) {
            throw new PeerFailed(peer + " at " + url.orElse("?") + " cannot be reached: "
                    + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()));
        }
    }

    private A api() {
        A a = api;
        if (a == null) {
            String base = url.orElseThrow(() -> new InvalidConfiguration(urlKey + " is not set; " + peer
                    + " cannot be called"));
            a = QuarkusRestClientBuilder.newBuilder().baseUri(URI.create(base))
                    .connectTimeout(peers.connectTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    .readTimeout(peers.readTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    .build(apiType);
            api = a;
        }
        return a;
    }

    private String authorization() {
        String token = Secrets.read(peers.token(), peers.tokenFile(), "lifeboat.peers.token-file").orElse(null);
        return token == null || token.isBlank() ? null : "Bearer " + token;
    }
}
