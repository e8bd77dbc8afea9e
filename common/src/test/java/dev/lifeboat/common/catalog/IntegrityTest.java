package dev.lifeboat.common.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.UntrustedBackup;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.store.FilesystemObjectStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trust in the store: with an integrity key, only what Lifeboat signed counts. A backup planted straight into the
 * store (data and metadata, without the key) is listed as untrusted, is never latest and cannot be fetched for a
 * restore or verification; a planted verdict proves nothing; a signed record moved to another name is untrusted;
 * records signed with the previous key stay trusted after a rotation.
 */
class IntegrityTest {
    private static final String OLD = "k2025=" + "a".repeat(40);
    private static final String NEW = "k2026=" + "b".repeat(40);
    private static final Instant T = Instant.parse("2026-01-01T02:00:00Z");

    @TempDir
    Path dir;
    private FilesystemObjectStore store;

    @BeforeEach
    void store() {
        store = new FilesystemObjectStore(dir.resolve("store"));
    }

    private BackupCatalog catalog(String... keyLines) throws IOException {
        if (keyLines.length == 0) {
            return new BackupCatalog(store, BackupCatalog::defaultPrefix, Integrity.none());
        }
        Path file = Files.createTempFile(dir, "keys", ".txt");
        Files.writeString(file, "# integrity keys\n" + String.join("\n", keyLines) + "\n");
        return new BackupCatalog(store, BackupCatalog::defaultPrefix, Integrity.fromKeyFile(Optional.of(file)));
    }

    private static BackupMetadata backup(String id, Instant started) {
        return new BackupMetadata(1, id, "main", "app", "database/main/" + id, "15.0", "pg_dump 15", "UTF8",
                DumpFormat.PLAIN, Compression.ZSTD, List.of(), Trigger.SCHEDULED, Map.of("team", "b"), started,
                started.plusSeconds(10), 10.5, 1000, 200, "ab".repeat(32), List.of(), null, null, null);
    }

    private void data(String id) throws IOException {
        store.putIfAbsent("database/main/" + id, "data".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aPlantedBackupIsUntrustedNeverLatestAndRefused() throws IOException {
        BackupCatalog catalog = catalog(NEW);
        String good = "main_backup_20260101_020000.sql.zst";
        data(good);
        catalog.commit(backup(good, T));
        // planted without the key: future-dated, so it would be "latest" and hide a missed RPO
        String planted = "main_backup_20990101_000000.sql.zst";
        data(planted);
        store.putIfAbsent(catalog.metadataKey("main", planted), Json.write(backup(planted, Instant.parse("2099-01-01T00:00:00Z"))));

        assertThat(catalog.list("main")).extracting(BackupMetadata::id).containsExactly(good);
        assertThat(catalog.listUntrusted("main")).extracting(BackupMetadata::id).containsExactly(planted);
        assertThat(catalog.latest("main")).map(BackupMetadata::id).contains(good);
        assertThat(catalog.find(planted)).isEmpty();
        assertThatThrownBy(() -> catalog.get(planted)).isInstanceOf(UntrustedBackup.class)
                .hasMessageContaining("UNTRUSTED").hasMessageContaining(planted);
        assertThat(catalog.get(good).id()).isEqualTo(good);
        assertThat(catalog.untrustedCount("main")).isEqualTo(1);
    }

    @Test
    void aSignedMetadataCopiedUnderAnotherNameIsUntrusted() throws IOException {
        BackupCatalog catalog = catalog(NEW);
        String good = "main_backup_20260101_020000.sql.zst";
        data(good);
        catalog.commit(backup(good, T));
        byte[] signed = store.open(catalog.metadataKey("main", good)).readAllBytes();
        String replay = "main_backup_20990101_000000.sql.zst";
        store.putIfAbsent(catalog.metadataKey("main", replay), signed);
        assertThat(catalog.latest("main")).map(BackupMetadata::id).contains(good);
        assertThat(catalog.listUntrusted("main")).hasSize(1);
    }

    @Test
    void aTamperedFieldBreaksTheTag() throws IOException {
        BackupCatalog catalog = catalog(NEW);
        String good = "main_backup_20260101_020000.sql.zst";
        data(good);
        catalog.commit(backup(good, T));
        String key = catalog.metadataKey("main", good);
        String json = new String(store.open(key).readAllBytes(), StandardCharsets.UTF_8);
        assertThat(json).contains("\"integrity\"").contains("\"keyId\" : \"k2026\"");
        store.delete(key);
        store.putIfAbsent(key, json.replace("\"storedSizeBytes\" : 200", "\"storedSizeBytes\" : 201")
                .getBytes(StandardCharsets.UTF_8));
        assertThat(catalog.list("main")).isEmpty();
        assertThat(catalog.listUntrusted("main")).hasSize(1);
    }

    @Test
    void aPlantedPassedVerificationProvesNothing() throws IOException {
        BackupCatalog catalog = catalog(NEW);
        String id = "main_backup_20260101_020000.sql.zst";
        data(id);
        catalog.commit(backup(id, T));
        VerificationRecord forged = record("verify_20260101_030000_abcdef", id);
        store.putIfAbsent(catalog.verificationKey("main", id, forged.id()), Json.write(forged));
        assertThat(catalog.latestVerified("main")).isEmpty();

        catalog.recordVerification(record("verify_20260101_040000_abcdef", id), 10);
        assertThat(catalog.latestVerified("main")).map(BackupMetadata::id).contains(id);
        assertThat(catalog.verificationsOf("main", id)).extracting(VerificationRecord::id)
                .containsExactly("verify_20260101_040000_abcdef");
    }

    @Test
    void recordsSignedWithThePreviousKeyStayTrustedAfterRotationAndNewOnesUseTheNewKey() throws IOException {
        String id = "main_backup_20260101_020000.sql.zst";
        data(id);
        catalog(OLD).commit(backup(id, T));
        catalog(OLD).recordVerification(record("verify_20260101_030000_abcdef", id), 10);

        BackupCatalog rotated = catalog(NEW, OLD);
        assertThat(rotated.latest("main")).map(BackupMetadata::id).contains(id);
        assertThat(rotated.latestVerified("main")).map(BackupMetadata::id).contains(id);
        String second = "main_backup_20260102_020000.sql.zst";
        data(second);
        rotated.commit(backup(second, T.plusSeconds(86400)));
        assertThat(new String(store.open(rotated.metadataKey("main", second)).readAllBytes(), StandardCharsets.UTF_8))
                .contains("\"keyId\" : \"k2026\"");

        // once the old key is dropped, what only it signed is no longer trusted
        BackupCatalog newOnly = catalog(NEW);
        assertThat(newOnly.list("main")).extracting(BackupMetadata::id).containsExactly(second);
    }

    @Test
    void withoutAKeyNothingIsSignedAndEverythingIsReadAsBefore() throws IOException {
        BackupCatalog catalog = catalog();
        String id = "main_backup_20260101_020000.sql.zst";
        data(id);
        catalog.commit(backup(id, T));
        assertThat(new String(store.open(catalog.metadataKey("main", id)).readAllBytes(), StandardCharsets.UTF_8))
                .doesNotContain("integrity");
        assertThat(catalog.latest("main")).isPresent();
        assertThat(catalog.integrityEnabled()).isFalse();
    }

    @Test
    void aKeyFileThatIsNotOfTheDocumentedFormIsRefused() throws IOException {
        assertThatThrownBy(() -> catalog("short=abc")).isInstanceOf(InvalidConfiguration.class)
                .hasMessageContaining("<key-id>=<secret>");
        assertThatThrownBy(() -> catalog(NEW, NEW)).isInstanceOf(InvalidConfiguration.class)
                .hasMessageContaining("twice");
    }

    private static VerificationRecord record(String id, String backupId) {
        Instant at = T.plusSeconds(3600);
        return new VerificationRecord(VerificationRecord.SCHEMA_VERSION, id, backupId, "main", Level.FULL,
                VerificationRecord.Trigger.MANUAL, Result.PASSED, at.minusSeconds(5), at, 5, null, null, null, null, 1.0,
                3, null, List.of());
    }
}
