package dev.lifeboat.common.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** WAL names and LSNs as PostgreSQL writes them (values checked against pg_walfile_name on PostgreSQL 15). */
class WalNamesTest {
    private static final long MB16 = WalNames.DEFAULT_SEGMENT_SIZE;

    @Test
    void namesAndPositionsRoundTrip() {
        // SELECT pg_walfile_name('1/A3000028') on timeline 1 → 0000000100000001000000A3
        long lsn = WalNames.lsn("1/A3000028");
        assertThat(lsn).isEqualTo(0x1A3000028L);
        assertThat(WalNames.lsn(lsn)).isEqualTo("1/A3000028");
        long seg = WalNames.segmentOf(lsn, MB16);
        assertThat(WalNames.segmentName(1, seg, MB16)).isEqualTo("0000000100000001000000A3");
        assertThat(WalNames.segmentNumber("0000000100000001000000A3", MB16)).isEqualTo(seg);
        assertThat(WalNames.segmentName(2, WalNames.segmentNumber("0000000100000000000000FF", MB16) + 1, MB16))
                .isEqualTo("000000020000000100000000");
        // 64 MiB segments: 64 per xlogid
        assertThat(WalNames.segmentName(1, 65, 64L << 20)).isEqualTo("000000010000000100000001");
        assertThat(WalNames.timeline("0000000A00000001000000A3")).isEqualTo(10);
        assertThat(WalNames.historyName(10)).isEqualTo("0000000A.history");
        assertThat(WalNames.isHistory("0000000A.history")).isTrue();
        assertThat(WalNames.isSegment("000000000000000100000001")).as("timeline 0 does not exist").isFalse();
        assertThat(WalNames.isSegment("0000000100000001000000a3")).as("lower case is not PostgreSQL's").isFalse();
        assertThatThrownBy(() -> WalNames.lsn("1/A3000028; DROP")).isInstanceOf(IllegalArgumentException.class);
    }
}
