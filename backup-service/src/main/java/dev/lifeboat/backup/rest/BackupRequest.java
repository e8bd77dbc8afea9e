package dev.lifeboat.backup.rest;

import dev.lifeboat.common.model.Trigger;
import java.util.Map;

/**
 * Body of {@code POST /api/v1/backups}; every field is optional.
 *
 * @param database label of the database; may be left out when only one is configured
 * @param labels   free key/value labels stored in the metadata (at most 20)
 * @param trigger  {@code MANUAL} (default) or {@code PRE_RESTORE} (set by restore-service)
 * @param kind     {@code logical} (pg_dump, the default) or {@code base} (pg_basebackup, for point-in-time recovery;
 *                 needs {@code pitr.enabled}); case-insensitive
 */
public record BackupRequest(String database, Map<String, String> labels, Trigger trigger, String kind) {
}
