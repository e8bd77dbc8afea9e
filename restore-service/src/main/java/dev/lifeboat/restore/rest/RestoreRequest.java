package dev.lifeboat.restore.rest;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Body of {@code POST /api/v1/restores}.
 *
 * @param backupId     a backup id, {@code latest} or {@code latest-verified}
 * @param pointInTime  instead of {@code backupId}: restore {@code database} to this instant (ISO-8601 with an offset)
 *                     or {@code latest} (the end of its WAL archive)
 * @param target       a configured target name
 * @param database     for {@code latest}: whose backups (a database label); default the target's database-label
 * @param mode         {@code clean-schema} or {@code recreate-database}; default the target's first allowed mode
 * @param safetyBackup take a PRE_RESTORE backup first; default the target's {@code safety-backup} (in place only)
 * @param scaleDown    scale the target's workloads to 0 around the restore; default true (in place only)
 * @param roles        {@code create-missing} or {@code require}: what to do about roles the backup refers to that the
 *                     target server lacks; default {@code create-missing} for scratch targets, {@code require} in place
 */
@RegisterForReflection
public record RestoreRequest(String backupId, String target, String database, String mode, Boolean safetyBackup,
                             Boolean scaleDown, String roles, String pointInTime) {
}
