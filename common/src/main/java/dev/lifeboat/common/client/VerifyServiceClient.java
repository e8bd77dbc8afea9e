package dev.lifeboat.common.client;

import dev.lifeboat.common.api.VerificationRequest;
import dev.lifeboat.common.api.VerificationView;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.config.PeersConfig;
import jakarta.inject.Singleton;

/** Calls verify-service (DESIGN §6) with this service's own token: asks for a backup to be verified. */
@Singleton
public class VerifyServiceClient extends PeerClient<VerifyApi> {

    public VerifyServiceClient(PeersConfig peers) {
        super(peers, "verify-service", "lifeboat.peers.verify-url", peers.verifyUrl(), VerifyApi.class);
    }

    /** Queues a verification of {@code backupId} at {@code level}; returns it as verify-service answers. */
    public VerificationView request(String backupId, VerificationRecord.Level level, VerificationRecord.Trigger trigger) {
        return call((api, auth) -> api.request(auth, new VerificationRequest(backupId, level.name(), null,
                trigger.name())));
    }
}
