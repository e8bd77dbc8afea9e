package dev.lifeboat.common.model;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The metadata of a completed backup, schema version 1 (DESIGN §2). Written last, as the commit marker, to
 * {@code <prefix>/metadata/<id>.json}. Holds public keys only, never secrets.
 *
 * @param encoding        the dump's client encoding ({@code SET client_encoding}), the encoding of its COPY data;
 *                        null for the custom format
 * @param rawSizeBytes    bytes pg_dump produced
 * @param storedSizeBytes bytes stored (after compression and encryption)
 * @param sha256          SHA-256 of the stored bytes, hex
 * @param fingerprint     per-table content fingerprint; empty for the custom format, which is not read
 * @param fingerprintAlgorithm the per-row hash of {@code fingerprint} (see {@code ContentFingerprint}); null for
 *                        backups written before it was recorded, which used {@link #LEGACY_FINGERPRINT}
 * @param largeObjects    count and content hash of the dump's large objects; null when none were fingerprinted
 * @param roles           the object holding the cluster's role definitions the dump refers to; null when none stored
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record BackupMetadata(
        int schemaVersion,
        String id,
        String database,
        String databaseName,
        String key,
        String serverVersion,
        String pgDumpVersion,
        String encoding,
        DumpFormat format,
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
        List<TableFingerprint> fingerprint,
        String fingerprintAlgorithm,
        LargeObjectsFingerprint largeObjects,
        RolesObject roles) {

    public static final int SCHEMA_VERSION = 1;
    /** The fingerprint algorithm of backups whose metadata names none. */
    public static final String LEGACY_FINGERPRINT = "sha256-128-sum";

    /**
     * The large objects of a dump: how many, their total size, and an order-independent hash over each object's
     * oid, owner and data.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record LargeObjectsFingerprint(long count, long bytes, String hash) {
    }

    /**
     * The role definitions stored beside the data ({@code pg_dumpall --roles-only}), read through the same chain:
     * the object's key, sizes, SHA-256, whether passwords are included, and the role names.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record RolesObject(String key, long rawSizeBytes, long storedSizeBytes, String sha256, boolean passwords,
                              List<String> names) {
    }

    /** The algorithm {@link #fingerprint} was computed with. */
    @JsonIgnore
    public String fingerprintAlgorithmOrLegacy() {
        return fingerprintAlgorithm == null ? LEGACY_FINGERPRINT : fingerprintAlgorithm;
    }

    /** This metadata with other labels (those of a label sidecar, see {@code BackupCatalog#setLabels}). */
    public BackupMetadata withLabels(Map<String, String> newLabels) {
        return new BackupMetadata(schemaVersion, id, database, databaseName, key, serverVersion, pgDumpVersion, encoding,
                format, compression, encryptionRecipients, trigger, newLabels, startedAt, finishedAt, durationSeconds,
                rawSizeBytes, storedSizeBytes, sha256, fingerprint, fingerprintAlgorithm, largeObjects, roles);
    }

    /** Whether the backup carries the label {@code keep=true}: never deleted by a retention policy. */
    @JsonIgnore
    public boolean keep() {
        return labels != null && "true".equalsIgnoreCase(labels.get("keep"));
    }

    @JsonIgnore
    public boolean encrypted() {
        return encryptionRecipients != null && !encryptionRecipients.isEmpty();
    }
}
