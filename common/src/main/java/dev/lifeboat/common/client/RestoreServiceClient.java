package dev.lifeboat.common.client;

import dev.lifeboat.common.api.BackupView;
import dev.lifeboat.common.api.RestoreView;
import dev.lifeboat.common.config.PeersConfig;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.inject.Singleton;

/** Calls restore-service (DESIGN §6) with this service's own token: scratch restores for verification. */
@Singleton
public class RestoreServiceClient extends PeerClient<RestoreApi> {

    public RestoreServiceClient(PeersConfig peers) {
        super(peers, "restore-service", "lifeboat.peers.restore-url", peers.restoreUrl(), RestoreApi.class);
    }

    /** Body of {@code POST /api/v1/restores}. */
    @RegisterForReflection
    public record StartRequest(String backupId, String target) {
    }

    /** Starts restoring {@code backupId} into {@code target}; returns the running restore. */
    public RestoreView start(String backupId, String target) {
        return call((api, auth) -> api.start(auth, new StartRequest(backupId, target)));
    }

    /** A restore by id, running or done. */
    public RestoreView get(String id) {
        return call((api, auth) -> api.get(auth, id, null));
    }

    /** A restore by id, once it has ended or after {@code seconds} (1-20), whichever comes first. */
    public RestoreView await(String id, int seconds) {
        return call((api, auth) -> api.get(auth, id, seconds));
    }

    /** Drops the scratch database of a finished restore. */
    public void dropDatabase(String id) {
        call((api, auth) -> {
            api.dropDatabase(auth, id);
            return null;
        });
    }
}
