package dev.lifeboat.common.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.store.FilesystemObjectStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What verification records prove, and how the catalog reads them beside the backups. */
class BackupCatalogTest {
    private static final Instant T = Instant.parse("2026-01-01T02:00:00Z");
    private static final String BACKUP = "main_backup_20260101_020000.sql.zst.age";

    @TempDir
    Path dir;

    @Test
    void aPassedFullVerificationProvesABackupUntilALaterVerificationFails() {
        assertThat(BackupCatalog.provenRestorable(List.of())).isFalse();
        assertThat(BackupCatalog.provenRestorable(List.of(record("a", Level.CHECKSUM, Result.PASSED, 0)))).isFalse();
        assertThat(BackupCatalog.provenRestorable(List.of(record("a", Level.FULL, Result.ERROR, 0)))).isFalse();
        VerificationRecord full = record("a", Level.FULL, Result.PASSED, 0);
        assertThat(BackupCatalog.provenRestorable(List.of(full))).isTrue();
        assertThat(BackupCatalog.provenRestorable(List.of(full, record("b", Level.CHECKSUM, Result.ERROR, 60)))).isTrue();
        assertThat(BackupCatalog.provenRestorable(List.of(full, record("b", Level.CHECKSUM, Result.FAILED, 60)))).isFalse();
        assertThat(BackupCatalog.provenRestorable(List.of(record("b", Level.CHECKSUM, Result.FAILED, 0), full))).isTrue();
    }

    @Test
    void aFailureIsAnsweredOnlyByALaterPassOfTheSameOrAHigherLevel() {
        assertThat(BackupCatalog.provenBad(List.of())).isFalse();
        assertThat(BackupCatalog.provenBad(List.of(record("a", Level.FULL, Result.ERROR, 0)))).isFalse();
        assertThat(BackupCatalog.provenBad(List.of(record("a", Level.FULL, Result.FAILED, 0),
                record("b", Level.FULL, Result.ERROR, 60)))).isTrue();
        assertThat(BackupCatalog.provenBad(List.of(record("a", Level.CHECKSUM, Result.FAILED, 0),
                record("b", Level.FULL, Result.PASSED, 60)))).isFalse();
        assertThat(BackupCatalog.provenBad(List.of(record("a", Level.CHECKSUM, Result.FAILED, 0),
                record("b", Level.CHECKSUM, Result.PASSED, 60)))).isFalse();
        // the daily checksum passing does not undo a failed full verification (e.g. a fingerprint difference)
        assertThat(BackupCatalog.provenBad(List.of(record("a", Level.FULL, Result.FAILED, 0),
                record("b", Level.CHECKSUM, Result.PASSED, 60)))).isTrue();
        assertThat(BackupCatalog.provenBad(List.of(record("a", Level.FULL, Result.PASSED, 0),
                record("b", Level.FULL, Result.FAILED, 60)))).isTrue();
    }

    @Test
    void recordsAreReadFromBesideTheBackupByBackupAndUnrelatedObjectsIgnored() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(dir);
        BackupCatalog catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix);
        VerificationRecord r = record("verify_20260101_030000_abcdef", Level.FULL, Result.PASSED, 0);
        String key = catalog.verificationKey("main", BACKUP, r.id());
        assertThat(key).isEqualTo("database/main/verifications/" + BACKUP + "/verify_20260101_030000_abcdef.json");
        store.putIfAbsent(key, Json.write(r));
        store.putIfAbsent("database/main/verifications/" + BACKUP + "/notes.txt", "x".getBytes(StandardCharsets.UTF_8));
        store.putIfAbsent("database/main/verifications/" + BACKUP + "/broken.json", "{".getBytes(StandardCharsets.UTF_8));
        // a record filed under another backup's folder than the one it names is not counted for either
        store.putIfAbsent("database/main/verifications/main_backup_20260102_020000.sql.zst.age/x.json", Json.write(r));

        Map<String, List<VerificationRecord>> byBackup = catalog.verifications("main");
        assertThat(byBackup).containsOnlyKeys(BACKUP);
        assertThat(byBackup.get(BACKUP)).extracting(VerificationRecord::id).containsExactly(r.id());
        assertThat(catalog.verificationsOf("main", BACKUP)).hasSize(1);

        store.delete(key);
        assertThat(catalog.verificationsOf("main", BACKUP)).isEmpty();
    }

    @Test
    void aServerRefusalIsKeptSignedUntilTheServerIsSupportedAgainAndAPlantedOneIsIgnored() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(dir);
        java.nio.file.Path keyFile = dir.resolve("integrity.key");
        java.nio.file.Files.writeString(keyFile, "k1=" + "0123456789abcdef".repeat(4) + "\n");
        BackupCatalog catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix,
                Integrity.fromKeyFile(java.util.Optional.of(keyFile)));
        assertThat(catalog.serverRefusal("main")).isEmpty();
        catalog.recordServerCheck(new BackupCatalog.ServerCheck("main", "15.18", "15.18", true, null, T));
        assertThat(store.list(catalog.serverChecksPrefix("main"))).as("a supported server leaves nothing").isEmpty();

        catalog.recordServerCheck(new BackupCatalog.ServerCheck("main", "17.5", "15.18", false, "too new", T));
        catalog.recordServerCheck(new BackupCatalog.ServerCheck("main", "17.5", "15.18", false, "still too new", T));
        assertThat(store.list(catalog.serverChecksPrefix("main"))).as("older versions removed").hasSize(1);
        assertThat(catalog.serverRefusal("main")).map(BackupCatalog.ServerCheck::message).contains("still too new");
        assertThat(catalog.serverRefusal("other")).isEmpty();

        // planted without a valid tag, newer than the real one: ignored, and counted as untrusted
        store.putIfAbsent(catalog.serverChecksPrefix("main") + "999999999999999.json",
                Json.write(new BackupCatalog.ServerCheck("main", "18.0", "15.18", false, "planted", T)));
        assertThat(catalog.serverRefusal("main")).map(BackupCatalog.ServerCheck::message).contains("still too new");
        assertThat(catalog.untrustedCount("main")).isEqualTo(1);

        catalog.recordServerCheck(new BackupCatalog.ServerCheck("main", "17.5", "17.2", true, null, T));
        assertThat(catalog.serverRefusal("main")).isEmpty();
        assertThat(store.list(catalog.serverChecksPrefix("main"))).isEmpty();
    }

    @Test
    void labelSidecarsAreSignedVersionedAndInTheDeleteOrder() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(dir);
        java.nio.file.Path keyFile = dir.resolve("integrity.key");
        java.nio.file.Files.writeString(keyFile, "k1=" + "0123456789abcdef".repeat(4) + "\n");
        BackupCatalog catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix,
                Integrity.fromKeyFile(java.util.Optional.of(keyFile)));
        catalog.setLabels("main", BACKUP, Map.of("keep", "true"));
        catalog.setLabels("main", BACKUP, Map.of("keep", "true", "note", "quarterly"));
        List<String> versions = store.list(catalog.labelsPrefix("main") + BACKUP + "/").stream()
                .map(dev.lifeboat.common.store.ObjectStore.ObjectInfo::key).toList();
        assertThat(versions).as("older versions removed once the new one is written").hasSize(1);
        assertThat(catalog.labelOverrides("main")).containsExactly(Map.entry(BACKUP, Map.of("keep", "true", "note", "quarterly")));
        // a sidecar planted without a valid tag, or naming another backup, is ignored and counted as untrusted
        String other = "main_backup_20260102_020000.sql.zst.age";
        store.putIfAbsent(catalog.labelsPrefix("main") + other + "/999999999999999.json",
                Json.write(new BackupCatalog.LabelSet(other, "main", Map.of("keep", "true"), T)));
        String third = "main_backup_20260103_020000.sql.zst.age";
        store.putIfAbsent(catalog.labelsPrefix("main") + third + "/000000000000001.json",
                store.open(versions.get(0)).readAllBytes());
        assertThat(catalog.labelOverrides("main")).containsOnlyKeys(BACKUP);
        assertThat(catalog.untrustedCount("main")).isEqualTo(2);
        assertThat(catalog.deleteOrder("main", BACKUP)).containsExactly(catalog.metadataKey("main", BACKUP),
                catalog.dataKey("main", BACKUP), versions.get(0), catalog.rolesKey("main", BACKUP));
    }

    @Test
    void unparseableMetadataIsReportedAsDamagedWithItsKeyAndErrorUntilItIsGone() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(dir);
        BackupCatalog catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix);
        String key = catalog.metadataKey("main", BACKUP);
        store.putIfAbsent(key, "{\"id\": garbage".getBytes(StandardCharsets.UTF_8));
        store.putIfAbsent(catalog.metadataKey("main", "not-a-backup-name"), "[]]".getBytes(StandardCharsets.UTF_8));

        assertThat(catalog.list("main")).isEmpty();
        assertThat(catalog.latest("main")).isEmpty();
        List<BackupCatalog.DamagedMetadata> damaged = catalog.listDamaged("main");
        assertThat(damaged).extracting(BackupCatalog.DamagedMetadata::key)
                .containsExactlyInAnyOrder(key, catalog.metadataKey("main", "not-a-backup-name"));
        BackupCatalog.DamagedMetadata first = damaged.stream().filter(d -> d.key().equals(key)).findFirst().orElseThrow();
        assertThat(first.id()).isEqualTo(BACKUP);
        assertThat(first.database()).isEqualTo("main");
        assertThat(first.error()).contains("garbage");
        assertThat(catalog.damagedAsListed("main")).hasSize(2);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> catalog.get(BACKUP))
                .isInstanceOf(dev.lifeboat.common.error.Errors.UntrustedBackup.class)
                .hasMessageContaining("DAMAGED").hasMessageContaining(key);

        // repaired or deleted: no longer reported
        store.delete(catalog.metadataKey("main", "not-a-backup-name"));
        store.delete(key);
        catalog.list("main");
        assertThat(catalog.damagedAsListed("main")).isEmpty();
        assertThat(catalog.listDamaged("other")).isEmpty();
    }

    @Test
    void stepsComeBackFromTheStoreWithTheirTypes() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(dir);
        BackupCatalog catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix);
        Instant at = T.plusSeconds(60);
        VerificationRecord r = new VerificationRecord(VerificationRecord.SCHEMA_VERSION, "verify_20260101_030100_abcdef",
                BACKUP, "main", Level.FULL, VerificationRecord.Trigger.SWEEP, Result.FAILED, at, at, 1,
                VerificationRecord.StepName.FINGERPRINT, "public.t", "differs", "restore_20260101_030000_abcdef", 0.5, 1,
                List.of(new VerificationRecord.TableMismatch("public.t", "content differs", 2L, 2L, "a", "b")),
                List.of(new Step<>(VerificationRecord.StepName.FINGERPRINT, Step.Status.FAILED, at, at, 0.1, "differs")));
        store.putIfAbsent(catalog.verificationKey("main", BACKUP, r.id()), Json.write(r));
        VerificationRecord read = catalog.verificationsOf("main", BACKUP).get(0);
        assertThat(read).isEqualTo(r);
        Object name = read.steps().get(0).name();
        assertThat(name).isInstanceOf(VerificationRecord.StepName.class);
    }

    private static VerificationRecord record(String id, Level level, Result result, long secondsAfter) {
        Instant at = T.plusSeconds(3600 + secondsAfter);
        return new VerificationRecord(VerificationRecord.SCHEMA_VERSION, id, BACKUP, "main", level,
                VerificationRecord.Trigger.MANUAL, result, at.minusSeconds(5), at, 5, null, null, null, null, null,
                null, null, List.of());
    }
}
