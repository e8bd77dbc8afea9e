package dev.lifeboat.common.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.lifeboat.common.config.PeersConfig;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.inject.Singleton;

/** Calls verify-service (DESIGN §6) with this service's own token: asks for a backup to be verified. */
@Singleton
public class VerifyServiceClient extends PeerClient<VerifyApi> {

    public VerifyServiceClient(PeersConfig peers) {
        super(peers, "verify-service", "lifeboat.peers.verify-url", peers.verifyUrl(), VerifyApi.class);
    }

    /** Body of {@code POST /api/v1/verifications}. */
    @RegisterForReflection
    public record Request(String backupId, String level, String trigger) {
    }

    /** The queued verification, as verify-service answers. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Verification(String id, String backupId, String level, String status) {
    }

    /** Queues a verification of {@code backupId} at {@code level} ({@code full}, {@code checksum}). */
    public Verification request(String backupId, String level, String trigger) {
        return call((api, auth) -> api.request(auth, new Request(backupId, level, trigger)));
    }
}
