package dev.lifeboat.restore.rest;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import dev.lifeboat.common.api.RestoreMode;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.util.List;

/**
 * A restore target as the API shows it: whether a restore into it replaces a database in place, and what an
 * in-place restore does by default. Servers, users and credentials are configuration, not shown.
 *
 * @param name          the target's name, as a request gives it
 * @param scratch       {@code true}: every restore goes into a fresh database; {@code false}: in place
 * @param database      in place only: the database a restore replaces
 * @param databaseLabel the database label whose backups {@code latest} restores, if configured
 * @param modes         in place only: the modes allowed, the default first
 * @param safetyBackup  in place only: whether a safety backup is taken unless the request says otherwise
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record TargetView(String name, boolean scratch, String database, String databaseLabel, List<RestoreMode> modes,
                         Boolean safetyBackup) {

    static TargetView of(String name, Target t) {
        if (t.scratch()) {
            return new TargetView(name, true, null, t.databaseLabel().orElse(null), null, null);
        }
        return new TargetView(name, false, t.database(), t.databaseLabel().orElse(null), t.modes(), t.safetyBackup());
    }
}
