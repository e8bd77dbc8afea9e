package dev.lifeboat.common.api;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * Body of {@code POST /api/v1/verifications}.
 *
 * @param backupId a backup id, or {@code latest}
 * @param level    {@code full} (default) or {@code checksum}
 * @param database for {@code latest}: whose newest backup (a database label); may be left out when only one is known
 * @param trigger  {@code MANUAL} (default) or {@code NEW_BACKUP} (sent by backup-service)
 */
@RegisterForReflection
public record VerificationRequest(String backupId, String level, String database, String trigger) {
}
