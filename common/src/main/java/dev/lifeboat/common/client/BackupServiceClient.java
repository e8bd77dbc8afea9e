package dev.lifeboat.common.client;

import dev.lifeboat.common.config.PeersConfig;
import dev.lifeboat.common.api.BackupView;
import dev.lifeboat.common.api.BackupView;
import dev.lifeboat.common.model.Trigger;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.inject.Singleton;
import java.util.Map;

/** Calls backup-service (DESIGN §6) with this service's own token: starts a backup and follows it. */
@Singleton
public class BackupServiceClient extends PeerClient<BackupApi> {

    public BackupServiceClient(PeersConfig peers) {
        super(peers, "backup-service", "lifeboat.peers.backup-url", peers.backupUrl(), BackupApi.class);
    }

    /** Body of {@code POST /api/v1/backups}. */
    @RegisterForReflection
    public record StartRequest(String database, Trigger trigger, Map<String, String> labels) {
    }

    /** Starts a backup of {@code database}; returns the running backup. */
    public BackupView start(String database, Trigger trigger, Map<String, String> labels) {
        return call((api, auth) -> api.start(auth, new StartRequest(database, trigger, labels)));
    }

    /** A backup by id, running or done. */
    public BackupView get(String id) {
        return call((api, auth) -> api.get(auth, id));
    }
}
