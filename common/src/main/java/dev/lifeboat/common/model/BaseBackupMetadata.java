package dev.lifeboat.common.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The metadata of a completed base backup (point-in-time recovery), schema version 1: the physical copy of the whole
 * cluster pg_basebackup streamed as one tar ({@code -Ft -D - -X none}), without WAL. Written last, as the commit
 * marker, to {@code <prefix>/base/metadata/<id>.json}; the data is {@code <prefix>/base/<id>}. A base backup is
 * restorable only with the WAL from {@code startLsn} to {@code endLsn} on {@code timeline} (and after, to reach a
 * later instant): the WAL archive marks that by setting {@code walArchivedThrough}, null until then. Holds public
 * keys only, never secrets.
 *
 * @param key                the data object's key
 * @param serverVersion      the server's release, e.g. {@code 15.10}
 * @param toolVersion        {@code pg_basebackup --version}
 * @param systemIdentifier   the cluster's system identifier ({@code IDENTIFY_SYSTEM}): WAL of another cluster never
 *                           fits this backup
 * @param timeline           the timeline the backup started on ({@code START TIMELINE} of {@code backup_label})
 * @param startLsn           {@code START WAL LOCATION} of {@code backup_label}: replay starts here
 * @param checkpointLsn      {@code CHECKPOINT LOCATION} of {@code backup_label}
 * @param endLsn             the end of the manifest's {@code WAL-Ranges}: recovery must replay at least up to here
 * @param manifestSha256     SHA-256 of the {@code backup_manifest} member of the tar (pg_basebackup puts it at the end
 *                           of a tar written to stdout)
 * @param manifestChecksum   the manifest's own {@code Manifest-Checksum} (SHA-256 of the manifest up to it), which
 *                           {@code pg_verifybackup} checks
 * @param rawSizeBytes       bytes of the tar pg_basebackup produced
 * @param storedSizeBytes    bytes stored (after compression and encryption)
 * @param sha256             SHA-256 of the stored bytes, hex
 * @param walArchivedThrough the LSN up to which the WAL archive holds this backup's WAL; null: not (yet) archived,
 *                           so the backup cannot be restored through Lifeboat
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BaseBackupMetadata(
        int schemaVersion,
        String id,
        String database,
        String key,
        String serverVersion,
        String toolVersion,
        String systemIdentifier,
        int timeline,
        String startLsn,
        String checkpointLsn,
        String endLsn,
        String manifestSha256,
        String manifestChecksum,
        Compression compression,
        List<String> encryptionRecipients,
        Trigger trigger,
        Map<String, String> labels,
        Instant startedAt,
        Instant finishedAt,
        double durationSeconds,
        long rawSizeBytes,
        long storedSizeBytes,
        String sha256,
        @JsonInclude(JsonInclude.Include.ALWAYS) String walArchivedThrough) {

    public static final int SCHEMA_VERSION = 1;
}
