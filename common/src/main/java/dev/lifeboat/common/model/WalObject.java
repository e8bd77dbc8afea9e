package dev.lifeboat.common.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;

/**
 * The record of one file in a database's WAL archive (point-in-time recovery), schema version 1, written (signed)
 * after its data object as the commit marker: {@code <key>.json}. A WAL file counts as archived only once its record
 * exists. Holds no secret.
 *
 * @param kind             what the file is
 * @param timeline         the timeline, from the file name
 * @param name             the file name as PostgreSQL names it: {@code 000000010000000000000003} (segment),
 *                         {@code 00000002.history}, or for a {@link Kind#PARTIAL} snapshot the segment's name (the
 *                         key tells snapshots of one segment apart)
 * @param key              the data object's key: the file through the write chain (zstd, age), its codec suffix last
 * @param rawSizeBytes     bytes of the WAL file itself (a segment's size is the server's {@code wal_segment_size})
 * @param storedSizeBytes  bytes stored
 * @param sha256           SHA-256 of the stored bytes, hex
 * @param encrypted        whether the stored bytes are age-encrypted
 * @param archivedAt       when the record was committed
 * @param endLsn           for a {@link Kind#PARTIAL} snapshot: the WAL position known to be in it (the receiver had
 *                         written at least up to here when the file was read); null for other kinds
 * @param reachableUntil   the newest instant (server clock) that a recovery target may name with this file in the
 *                         archive: a commit (the archiver's heartbeat, or any transaction) at or after it is in this
 *                         file or an earlier one; null when unknown
 * @param systemIdentifier the cluster's system identifier: WAL of another cluster never fits its base backups
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record WalObject(
        int schemaVersion,
        String database,
        Kind kind,
        int timeline,
        String name,
        String key,
        long rawSizeBytes,
        long storedSizeBytes,
        String sha256,
        boolean encrypted,
        Instant archivedAt,
        String endLsn,
        Instant reachableUntil,
        String systemIdentifier) {

    public static final int SCHEMA_VERSION = 1;

    /** What an archived WAL file is. */
    public enum Kind {
        /** A complete segment, as pg_receivewal closed it. */
        SEGMENT,
        /** A snapshot of the segment being written ({@code .partial}), for the RPO; superseded by the complete one. */
        PARTIAL,
        /** A timeline history file ({@code 00000002.history}). */
        HISTORY
    }
}
