package dev.lifeboat.common.wal;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * PostgreSQL's WAL file names and positions, as {@code xlog_internal.h} defines them: a segment is named
 * {@code TTTTTTTTXXXXXXXXYYYYYYYY} (timeline, then the segment number split at {@code 0x100000000 / segmentSize}
 * segments per "xlogid"), a history file {@code TTTTTTTT.history}, an LSN is written {@code X/Y} (high and low 32
 * bits in hex). Written by hand because no library names WAL files; every name from outside is validated here.
 */
public final class WalNames {
    /** The default and by far most common {@code wal_segment_size}. */
    public static final long DEFAULT_SEGMENT_SIZE = 16L * 1024 * 1024;
    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");
    private static final Pattern LSN = Pattern.compile("[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}");

    private WalNames() {
    }

    public static boolean isSegment(String name) {
        return name != null && SEGMENT.matcher(name).matches() && timeline(name) > 0;
    }

    public static boolean isHistory(String name) {
        return name != null && HISTORY.matcher(name).matches() && timeline(name) > 0;
    }

    /** The timeline of a segment or history file name. */
    public static int timeline(String name) {
        return (int) Long.parseLong(name.substring(0, 8), 16);
    }

    /** The timeline as the archive's folder names it: 8 hex digits. */
    public static String timelineHex(int timeline) {
        return String.format(Locale.ROOT, "%08X", timeline);
    }

    /** The segment number of a segment name. */
    public static long segmentNumber(String name, long segmentSize) {
        if (!isSegment(name)) {
            throw new IllegalArgumentException("Not a WAL segment name: " + name);
        }
        long perId = 0x100000000L / segmentSize;
        return Long.parseLong(name.substring(8, 16), 16) * perId + Long.parseLong(name.substring(16, 24), 16);
    }

    /** The name of segment {@code number} on {@code timeline}. */
    public static String segmentName(int timeline, long number, long segmentSize) {
        long perId = 0x100000000L / segmentSize;
        return String.format(Locale.ROOT, "%08X%08X%08X", timeline, number / perId, number % perId);
    }

    /** The history file of {@code timeline}. */
    public static String historyName(int timeline) {
        return timelineHex(timeline) + ".history";
    }

    /** An LSN ({@code 0/3000028}) as a number. */
    public static long lsn(String text) {
        if (text == null || !LSN.matcher(text).matches()) {
            throw new IllegalArgumentException("Not an LSN: " + text);
        }
        int slash = text.indexOf('/');
        return (Long.parseLong(text.substring(0, slash), 16) << 32) | Long.parseLong(text.substring(slash + 1), 16);
    }

    /** A number as an LSN, the way PostgreSQL prints it ({@code 0/3000028}). */
    public static String lsn(long value) {
        return String.format(Locale.ROOT, "%X/%X", value >>> 32, value & 0xFFFFFFFFL);
    }

    /**
     * The archive's segment size: the size of any complete segment archived (a power of two of at least 1 MiB, as
     * {@code wal_segment_size} must be), else the default.
     */
    public static long segmentSize(java.util.Collection<dev.lifeboat.common.model.WalObject> files) {
        return files.stream().filter(o -> o.kind() == dev.lifeboat.common.model.WalObject.Kind.SEGMENT)
                .mapToLong(dev.lifeboat.common.model.WalObject::rawSizeBytes)
                .filter(s -> s >= (1 << 20) && Long.bitCount(s) == 1).findFirst().orElse(DEFAULT_SEGMENT_SIZE);
    }

    /** The segment holding the byte at {@code lsn}. */
    public static long segmentOf(long lsn, long segmentSize) {
        return Long.divideUnsigned(lsn, segmentSize);
    }
}
