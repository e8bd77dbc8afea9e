package dev.lifeboat.common.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import io.quarkus.runtime.annotations.RegisterForReflection;

/** What a peer needs of backup-service's view of a backup: its id, state and, if it failed, why. */
@RegisterForReflection
@JsonIgnoreProperties(ignoreUnknown = true)
public record BackupStatus(String id, String database, String status, String error) {
    public static final String RUNNING = "RUNNING";
    public static final String COMPLETED = "COMPLETED";
    public static final String FAILED = "FAILED";

    public boolean done() {
        return COMPLETED.equals(status) || FAILED.equals(status);
    }
}
