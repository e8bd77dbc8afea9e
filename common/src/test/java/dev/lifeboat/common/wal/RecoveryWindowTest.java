package dev.lifeboat.common.wal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which instants base backups and archived WAL can restore, across snapshots, gaps and timeline switches. */
class RecoveryWindowTest {
    private static final long SEG = WalNames.DEFAULT_SEGMENT_SIZE;
    private static final Instant T0 = Instant.parse("2026-12-02T10:00:00Z");

    private static Instant t(int minutes) {
        return T0.plusSeconds(60L * minutes);
    }

    private static BaseBackupMetadata base(String id, int timeline, String start, String end, Instant finished) {
        return new BaseBackupMetadata(1, id, "main", "k/" + id, "15.10", "15.10", "7300", timeline, start, start, end,
                "m", "c", Compression.ZSTD, List.of(), Trigger.MANUAL, Map.of(), finished.minusSeconds(30), finished,
                30, 1, 1, "s", null);
    }

    private static WalObject segment(int timeline, long n, Instant reachableUntil) {
        String name = WalNames.segmentName(timeline, n, SEG);
        return new WalObject(1, "main", Kind.SEGMENT, timeline, name, "k/" + name, SEG, 10, "s", true,
                reachableUntil == null ? T0 : reachableUntil, null, reachableUntil, "7300");
    }

    private static WalObject partial(int timeline, long n, String endLsn, Instant reachableUntil) {
        String name = WalNames.segmentName(timeline, n, SEG);
        return new WalObject(1, "main", Kind.PARTIAL, timeline, name, "k/" + name + ".partial", SEG, 10, "s", true,
                reachableUntil, endLsn, reachableUntil, "7300");
    }

    @Test
    void aBaseBackupWithItsWalReachesFromItsEndToTheNewestSnapshot() {
        BaseBackupMetadata b = base("b1", 1, "0/3000028", "0/3000138", t(1));
        List<WalObject> wal = List.of(segment(1, 3, t(1)), segment(1, 4, t(3)), partial(1, 5, "0/5001000", t(5)));
        RecoveryWindow.Window w = RecoveryWindow.of(List.of(b), wal);
        assertThat(w.oldest()).isEqualTo(t(1));
        assertThat(w.newest()).isEqualTo(t(5));
        assertThat(w.gaps()).isEmpty();
        assertThat(w.chainFor(t(4))).hasValueSatisfying(c -> assertThat(c.base().id()).isEqualTo("b1"));
        assertThat(w.chainFor(t(5))).isPresent();
        assertThat(w.chainFor(t(5).plusSeconds(1))).as("after the archive's end").isEmpty();
        assertThat(w.chainFor(t(0))).as("before the base backup finished").isEmpty();
        assertThat(w.latest()).hasValueSatisfying(c -> assertThat(c.lastFile()).isEqualTo("000000010000000000000005"));
        // the same base backup of another cluster (its system identifier) has no WAL here
        BaseBackupMetadata other = new BaseBackupMetadata(1, "x1", "main", "k", "15.10", "15.10", "9999", 1,
                "0/3000028", "0/3000028", "0/3000138", "m", "c", Compression.ZSTD, List.of(), Trigger.MANUAL, Map.of(),
                t(0), t(1), 30, 1, 1, "s", null);
        assertThat(RecoveryWindow.of(List.of(other), wal).empty()).isTrue();
    }

    @Test
    void aBaseBackupWhoseWalIsNotArchivedToItsEndIsNotRecoverable() {
        BaseBackupMetadata b = base("b1", 1, "0/3000028", "0/4000138", t(1));
        assertThat(RecoveryWindow.of(List.of(b), List.of(segment(1, 3, t(1)))).empty()).isTrue();
        // a snapshot of the end segment holding the end LSN is enough; one that stops short is not
        assertThat(RecoveryWindow.of(List.of(b), List.of(segment(1, 3, t(1)), partial(1, 4, "0/4000100", t(2))))
                .empty()).isTrue();
        assertThat(RecoveryWindow.of(List.of(b), List.of(segment(1, 3, t(1)), partial(1, 4, "0/4000200", t(2))))
                .newest()).isEqualTo(t(2));
        // the end LSN exactly at a segment boundary needs nothing of the next segment
        BaseBackupMetadata boundary = base("b2", 1, "0/3000028", "0/4000000", t(1));
        assertThat(RecoveryWindow.of(List.of(boundary), List.of(segment(1, 3, t(2)))).newest()).isEqualTo(t(2));
    }

    @Test
    void aGapEndsAChainAndANewerBaseBackupStartsTheNextOne() {
        BaseBackupMetadata old = base("b1", 1, "0/3000028", "0/3000138", t(1));
        BaseBackupMetadata fresh = base("b2", 1, "0/7000028", "0/7000138", t(20));
        List<WalObject> wal = new ArrayList<>(List.of(segment(1, 3, t(1)), segment(1, 4, t(4)),
                segment(1, 7, t(20)), segment(1, 8, t(25))));
        RecoveryWindow.Window w = RecoveryWindow.of(List.of(old, fresh), wal);
        assertThat(w.gaps()).containsExactly("000000010000000000000005", "000000010000000000000006");
        assertThat(w.oldest()).isEqualTo(t(1));
        assertThat(w.newest()).isEqualTo(t(25));
        assertThat(w.chainFor(t(3))).hasValueSatisfying(c -> assertThat(c.base().id()).isEqualTo("b1"));
        assertThat(w.chainFor(t(10))).as("inside the gap").isEmpty();
        assertThat(w.chainFor(t(22))).hasValueSatisfying(c -> assertThat(c.base().id()).isEqualTo("b2"));
        assertThat(w.latest()).hasValueSatisfying(c -> assertThat(c.base().id()).isEqualTo("b2"));
    }

    @Test
    void aChainFollowsATimelineWhoseHistoryIsArchived() {
        BaseBackupMetadata b = base("b1", 1, "0/3000028", "0/3000138", t(1));
        WalObject history = new WalObject(1, "main", Kind.HISTORY, 2, "00000002.history", "k/h", 40, 10, "s", true,
                t(5), null, null, "7300");
        List<WalObject> wal = List.of(segment(1, 3, t(1)), segment(1, 4, t(4)), segment(2, 5, t(8)),
                segment(2, 6, t(9)));
        assertThat(RecoveryWindow.of(List.of(b), wal).newest()).as("no history: timeline 2 is unknown").isEqualTo(t(4));
        List<WalObject> withHistory = new ArrayList<>(wal);
        withHistory.add(history);
        RecoveryWindow.Window w = RecoveryWindow.of(List.of(b), withHistory);
        assertThat(w.newest()).isEqualTo(t(9));
        assertThat(w.latest().orElseThrow().lastFile()).isEqualTo("000000020000000000000006");
    }
}
