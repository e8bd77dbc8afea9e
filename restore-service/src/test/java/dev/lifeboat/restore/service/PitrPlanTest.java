package dev.lifeboat.restore.service;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.error.Errors.PointInTimeUnreachable;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.store.FilesystemObjectStore;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Choosing what a point-in-time restore recovers from, in a real (filesystem) store with the WAL archive's layout:
 * the newest base backup that ended before the instant and whose WAL reaches it without a gap; refusals name the
 * instants or the missing segment. Also the request's instant: an explicit offset, one instant in any offset.
 */
class PitrPlanTest {
    private static final String SYSTEM = "7300000000000000001";
    private static final Instant T0 = Instant.parse("2026-12-02T10:00:00Z");

    @TempDir
    Path dir;
    private BackupCatalog catalog;
    private WalArchive wal;
    private final Codec codec = Codec.forWriting(Compression.ZSTD, 1, 0, List.of());

    @BeforeEach
    void store() {
        FilesystemObjectStore store = new FilesystemObjectStore(dir);
        catalog = new BackupCatalog(store, BackupCatalog::defaultPrefix);
        wal = new WalArchive(store, catalog);
    }

    private BaseBackupMetadata base(int minutes, String startLsn, String endLsn) throws Exception {
        Instant started = T0.plusSeconds(60L * minutes);
        String id = BackupIds.baseFileName("main", started, 1, codec.suffix());
        BaseBackupMetadata m = new BaseBackupMetadata(BaseBackupMetadata.SCHEMA_VERSION, id, "main",
                catalog.baseDataKey("main", id), "15.10", "pg_basebackup (PostgreSQL) 15.10", SYSTEM, 1, startLsn,
                startLsn, endLsn, null, null, Compression.ZSTD, List.of(), Trigger.MANUAL, Map.of(), started,
                started.plusSeconds(30), 30, 100, 100, "00", null);
        catalog.commitBase(m);
        return m;
    }

    private void segment(int number, Integer reachableMinutes) throws Exception {
        wal.put("main", Kind.SEGMENT, String.format("0000000100000000%08X", number), new ByteArrayInputStream(new byte[64]),
                codec, false, null, reachableMinutes == null ? null : T0.plusSeconds(60L * reachableMinutes), SYSTEM);
    }

    @Test
    void theNewestBaseBackupBeforeTheInstantWithItsWalIsChosen() throws Exception {
        BaseBackupMetadata older = base(0, "0/1000028", "0/1000138");
        BaseBackupMetadata newer = base(20, "0/3000028", "0/3000138");
        segment(1, 5);
        segment(2, 15);
        segment(3, 25);
        segment(4, 40);
        PitrPlan at10 = PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.plusSeconds(600)));
        assertThat(at10.base().id()).isEqualTo(older.id());
        assertThat(at10.segments()).isEqualTo(2);
        PitrPlan at30 = PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.plusSeconds(1800)));
        assertThat(at30.base().id()).isEqualTo(newer.id());
        PitrPlan latest = PitrPlan.choose(catalog, wal, "main", PointInTime.parse("latest"));
        assertThat(latest.target()).isEqualTo(T0.plusSeconds(2400)).isEqualTo(latest.archiveEnd());
        assertThat(latest.base().id()).isEqualTo(newer.id());
    }

    @Test
    void aBaseBackupByIdRecoversToItsEndOnceItsWalIsArchived() throws Exception {
        BaseBackupMetadata base = base(0, "0/1000028", "0/2000138");
        segment(1, 5);
        assertThatThrownBy(() -> PitrPlan.forBase(catalog, wal, base.id()))
                .isInstanceOf(PointInTimeUnreachable.class)
                .hasMessageContaining("WAL segment 000000010000000000000002 is not archived");
        segment(2, 10);
        segment(3, 15);
        PitrPlan plan = PitrPlan.forBase(catalog, wal, base.id());
        assertThat(plan.base().id()).isEqualTo(base.id());
        assertThat(plan.target()).isEqualTo(base.finishedAt());
        assertThat(plan.segments()).as("start through end segment, not beyond").isEqualTo(2);
        assertThat(PointInTime.END_OF_BACKUP.latest()).isFalse();
        assertThatThrownBy(() -> PitrPlan.forBase(catalog, wal, "main_base_20261202_110000.tar.zst"))
                .hasMessageContaining("No completed base backup main_base_20261202_110000.tar.zst");
    }

    @Test
    void aBaseBackupWhoseDrillFailedIsNotChosen() throws Exception {
        BaseBackupMetadata older = base(0, "0/1000028", "0/1000138");
        BaseBackupMetadata newer = base(20, "0/3000028", "0/3000138");
        for (int n = 1; n <= 4; n++) {
            segment(n, 10 * n);
        }
        assertThat(PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.plusSeconds(2100))).base().id())
                .isEqualTo(newer.id());
        catalog.recordVerification(new VerificationRecord(VerificationRecord.SCHEMA_VERSION, "verify_20261202_110000_x",
                newer.id(), "main", Level.FULL, VerificationRecord.Trigger.NEW_BACKUP, Result.FAILED,
                T0.plusSeconds(3000), T0.plusSeconds(3010), 10, StepName.CHECKSUM, null,
                "WAL segment 000000010000000000000003 fails its SHA-256", null, null, null, null, List.of()), 5);
        assertThat(PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.plusSeconds(2100))).base().id())
                .as("the older base backup's WAL reaches the instant too").isEqualTo(older.id());
    }

    @Test
    void refusalsNameTheInstantsAndTheMissingSegment() throws Exception {
        base(0, "0/1000028", "0/1000138");
        segment(1, 5);
        segment(2, 15);
        segment(4, 40);
        assertThatThrownBy(() -> PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.minusSeconds(60))))
                .isInstanceOf(PointInTimeUnreachable.class)
                .hasMessageContaining("ends at " + T0.plusSeconds(30) + ", after the target " + T0.minusSeconds(60));
        assertThatThrownBy(() -> PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.plusSeconds(3600))))
                .isInstanceOf(PointInTimeUnreachable.class)
                .hasMessageContaining("reaches " + T0.plusSeconds(2400) + " (its newest reachable instant), before the "
                        + "target " + T0.plusSeconds(3600));
        assertThatThrownBy(() -> PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.plusSeconds(1800))))
                .isInstanceOf(PointInTimeUnreachable.class)
                .hasMessageContaining("segment 000000010000000000000003 is missing");
        // up to the gap it still works
        assertThat(PitrPlan.choose(catalog, wal, "main", new PointInTime(T0.plusSeconds(600))).segments()).isEqualTo(2);
        assertThatThrownBy(() -> PitrPlan.choose(catalog, wal, "other", PointInTime.parse("latest")))
                .isInstanceOf(PointInTimeUnreachable.class).hasMessageContaining("has no base backup");
    }

    @Test
    void anInstantNeedsAnExplicitOffsetAndIsOneInstantInAnyOffset() {
        PointInTime z = PointInTime.parse("2026-12-02T09:15:00.123456Z");
        assertThat(PointInTime.parse("2026-12-02T10:15:00.123456+01:00")).isEqualTo(z);
        assertThat(PointInTime.parse("2026-12-02T04:15:00.123456-05:00")).isEqualTo(z);
        assertThat(z.recoveryTargetTime()).isEqualTo("2026-12-02 09:15:00.123456+00:00");
        assertThat(PointInTime.parse("latest").latest()).isTrue();
        assertThatThrownBy(() -> PointInTime.parse("2026-12-02T10:15:00")).isInstanceOf(InvalidRequest.class)
                .hasMessageContaining("explicit offset").hasMessageContaining("2026-12-02T10:15:00+01:00");
        assertThatThrownBy(() -> PointInTime.parse("yesterday")).isInstanceOf(InvalidRequest.class);
    }

    @Test
    void theSpoolPathMustBeSafeInRestoreCommand() {
        assertThat(RecoveryInstance.spool("/var/lib/lifeboat/pitr")).isEqualTo(Path.of("/var/lib/lifeboat/pitr"));
        for (String bad : List.of("relative/path", "/tmp/it's", "/tmp/a b", "/tmp/x\nrm", "/tmp/$(id)", "/tmp/../etc",
                "/tmp/%p")) {
            assertThatThrownBy(() -> RecoveryInstance.spool(bad)).as(bad).isInstanceOf(InvalidConfiguration.class);
        }
    }
}
