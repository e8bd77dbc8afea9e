package dev.lifeboat.common.testing;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.store.ObjectStore;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * Backups made by a test's hand instead of backup-service, for the all-or-nothing tests: the plain dump of a real
 * backup read back, a changed dump encoded as backup-service would, and the result stored as a complete backup with
 * the real one's metadata (signed by the catalog when it signs). Shared by restore-service's and verify-service's
 * tests.
 */
public final class ForgedBackups {
    private final ObjectStore store;
    private final BackupCatalog catalog;

    public ForgedBackups(ObjectStore store, BackupCatalog catalog) {
        this.store = store;
        this.catalog = catalog;
    }

    /** The stored bytes of {@code key}. */
    public byte[] read(String key) throws IOException {
        try (InputStream in = store.open(key)) {
            return in.readAllBytes();
        }
    }

    /** The plain dump of backup {@code m}, decrypted with the identity in {@code identityFile} and decompressed. */
    public byte[] plain(BackupMetadata m, Path identityFile) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<String> identities = AgeKeys.readIdentities(List.of(identityFile));
        try (InputStream in = Codec.forReading(m.id(), identities).decode(store.open(m.key()))) {
            in.transferTo(out);
        }
        return out.toByteArray();
    }

    /** {@code dump} compressed with zstd and age-encrypted to {@code recipients}, as backup-service stores it. */
    public static byte[] encode(byte[] dump, List<String> recipients) throws IOException {
        ByteArrayOutputStream stored = new ByteArrayOutputStream();
        try (OutputStream out = Codec.forWriting(Compression.ZSTD, 3, 0, recipients).encode(stored)) {
            out.write(dump);
        }
        return stored.toByteArray();
    }

    /**
     * Stores {@code data} as a complete backup named {@code id} of {@code source}'s database, with {@code source}'s
     * metadata otherwise; the size and SHA-256 recorded are those of {@code data} when {@code matching}, else the
     * source's (a mismatch), and {@code rawSize} bytes of dump. Returns {@code id}.
     */
    public String forge(BackupMetadata source, String id, byte[] data, boolean matching, long rawSize) throws IOException {
        Measure measure = new Measure();
        try (OutputStream m = measure.outputStream(OutputStream.nullOutputStream(), true)) {
            m.write(data);
        }
        return forge(source, id, data, matching ? data.length : source.storedSizeBytes(),
                matching ? measure.sha256Hex() : "0".repeat(64), rawSize);
    }

    /** As above, recording the stored size and SHA-256 given (the SHA-256 of other bytes: caught only at the end). */
    public String forge(BackupMetadata source, String id, byte[] data, long storedSize, String sha256, long rawSize)
            throws IOException {
        String label = source.database();
        String key = catalog.dataKey(label, id);
        store.delete(key);
        store.delete(catalog.metadataKey(label, id));
        try (ObjectStore.PendingObject out = store.create(key)) {
            out.write(data);
            out.commit();
        }
        BackupMetadata forged = new BackupMetadata(source.schemaVersion(), id, label, source.databaseName(),
                key, source.serverVersion(), source.pgDumpVersion(), source.encoding(), source.format(), source.compression(),
                source.encryptionRecipients(), source.trigger(), source.labels(), Instant.parse("2020-01-01T00:00:00Z"),
                Instant.parse("2020-01-01T00:00:01Z"), 1, rawSize, storedSize, sha256, source.fingerprint(),
                source.fingerprintAlgorithm(), source.largeObjects(), source.roles());
        catalog.commit(forged);
        return id;
    }

    /** Removes a forged backup again (data and metadata), so that tests sharing the store do not meet it. */
    public void remove(String label, String id) throws IOException {
        store.delete(catalog.metadataKey(label, id));
        store.delete(catalog.dataKey(label, id));
    }
}
