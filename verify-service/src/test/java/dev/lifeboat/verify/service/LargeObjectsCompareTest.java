package dev.lifeboat.verify.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.model.BackupMetadata.LargeObjectsFingerprint;
import dev.lifeboat.common.model.VerificationRecord.TableMismatch;
import org.junit.jupiter.api.Test;

/** How the FINGERPRINT step names a large-object difference: what differs, with both sides' values. */
class LargeObjectsCompareTest {
    private static final LargeObjectsFingerprint BACKUP = new LargeObjectsFingerprint(4, 11_260_014, "a".repeat(32));

    @Test
    void equalLargeObjectsAreNoMismatch() {
        assertThat(RestoredData.compare(BACKUP, new LargeObjectsFingerprint(4, 11_260_014, "a".repeat(32)))).isNull();
    }

    @Test
    void eachDifferenceIsNamed() {
        TableMismatch count = RestoredData.compare(BACKUP, new LargeObjectsFingerprint(3, 11_260_000, "b".repeat(32)));
        assertThat(count.table()).isEqualTo(RestoredData.LARGE_OBJECTS);
        assertThat(count.problem()).isEqualTo("count differs: 4 in the backup, 3 restored");
        assertThat(count.backupRows()).isEqualTo(4);
        assertThat(count.restoredRows()).isEqualTo(3);

        assertThat(RestoredData.compare(BACKUP, new LargeObjectsFingerprint(4, 11_260_013, "b".repeat(32))).problem())
                .isEqualTo("total size differs: 11260014 bytes in the backup, 11260013 restored");

        TableMismatch content = RestoredData.compare(BACKUP, new LargeObjectsFingerprint(4, 11_260_014, "b".repeat(32)));
        assertThat(content.problem()).startsWith("content differs: the oid, owner or data");
        assertThat(content.backupHash()).isEqualTo("a".repeat(32));
        assertThat(content.restoredHash()).isEqualTo("b".repeat(32));
    }
}
