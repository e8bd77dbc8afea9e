package dev.lifeboat.common.client;

import dev.lifeboat.common.config.PeersConfig;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.PeerFailed;
import dev.lifeboat.common.model.Trigger;
import io.quarkus.rest.client.reactive.QuarkusRestClientBuilder;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.ws.rs.ProcessingException;
import jakarta.ws.rs.WebApplicationException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Calls backup-service (DESIGN §6) with this service's own token: starts a backup and follows it. Turns every
 * failure of the call into {@link PeerFailed} naming the peer and what it answered, so callers report one clear
 * reason.
 */
@ApplicationScoped
public class BackupServiceClient {
    private final PeersConfig peers;
    private volatile BackupApi api;

    public BackupServiceClient(PeersConfig peers) {
        this.peers = peers;
    }

    /** Body of {@code POST /api/v1/backups}. */
    @RegisterForReflection
    public record StartRequest(String database, Trigger trigger, Map<String, String> labels) {
    }

    /** Whether {@code lifeboat.peers.backup-url} is set. */
    public boolean configured() {
        return peers.backupUrl().filter(u -> !u.isBlank()).isPresent();
    }

    /** Starts a backup of {@code database}; returns the running backup. */
    public BackupStatus start(String database, Trigger trigger, Map<String, String> labels) {
        return call(() -> api().start(authorization(), new StartRequest(database, trigger, labels)));
    }

    /** A backup by id, running or done. */
    public BackupStatus get(String id) {
        return call(() -> api().get(authorization(), id));
    }

    private BackupStatus call(java.util.function.Supplier<BackupStatus> request) {
        try {
            return request.get();
        } catch (WebApplicationException e) {
            String body = "";
            try {
                body = e.getResponse().readEntity(String.class);
            } catch (RuntimeException ignored) {
                // no readable body
            }
            throw new PeerFailed("backup-service answered " + e.getResponse().getStatus()
                    + (body.isBlank() ? "" : ": " + body.strip()));
        } catch (ProcessingException e) {
            throw new PeerFailed("backup-service at " + peers.backupUrl().orElse("?") + " cannot be reached: "
                    + (e.getCause() != null ? e.getCause().getMessage() : e.getMessage()));
        }
    }

    private BackupApi api() {
        BackupApi a = api;
        if (a == null) {
            String url = peers.backupUrl().filter(u -> !u.isBlank()).orElseThrow(() -> new InvalidConfiguration(
                    "lifeboat.peers.backup-url is not set; it is needed to take safety backups"));
            a = QuarkusRestClientBuilder.newBuilder().baseUri(URI.create(url))
                    .connectTimeout(peers.connectTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    .readTimeout(peers.readTimeout().toMillis(), TimeUnit.MILLISECONDS)
                    .build(BackupApi.class);
            api = a;
        }
        return a;
    }

    private String authorization() {
        String token = peers.token().orElse(null);
        if (peers.tokenFile().isPresent()) {
            try {
                token = Files.readString(peers.tokenFile().get(), StandardCharsets.UTF_8).strip();
            } catch (IOException e) {
                throw new InvalidConfiguration("Cannot read lifeboat.peers.token-file: " + e.getMessage());
            }
        }
        return token == null || token.isBlank() ? null : "Bearer " + token;
    }
}
