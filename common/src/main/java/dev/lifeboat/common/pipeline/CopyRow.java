package dev.lifeboat.common.pipeline;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * One row of COPY data as it streams past in pieces: how long it is and its first two bytes, enough to tell the
 * end-of-data line {@code \.} from a row without holding the row. Shared by the dump readers that follow COPY blocks
 * ({@link ContentFingerprint}, {@link SchemaReset}); also where they find line ends.
 */
final class CopyRow {
    private long length;
    private byte first;
    private byte second;

    /** Another piece of the current row, {@code b[off, off + len)}. */
    void add(byte[] b, int off, int len) {
        if (len == 0) {
            return;
        }
        if (length == 0) {
            first = b[off];
            if (len > 1) {
                second = b[off + 1];
            }
        } else if (length == 1) {
            second = b[off];
        }
        length += len;
    }

    /** Whether the row that just ended was the end-of-data line {@code \.}; starts the next row either way. */
    boolean endIsTerminator() {
        boolean terminator = length == 2 && first == '\\' && second == '.';
        length = 0;
        return terminator;
    }

    /** Forgets a partly seen row (a new COPY block starts). */
    void reset() {
        length = 0;
    }

    /**
     * The index of the first newline in {@code b[from, to)}, or -1. Every dump byte passes here (the fingerprint and
     * the schema reset look for line ends), so it reads eight bytes at a time (SWAR: the classic has-zero-byte test
     * on the word XOR newlines; the lowest flagged byte is always a true match) instead of comparing byte by byte.
     */
    static int indexOfNewline(byte[] b, int from, int to) {
        int i = from;
        for (; i <= to - Long.BYTES; i += Long.BYTES) {
            long x = (long) LONGS.get(b, i) ^ NEWLINES;
            long found = (x - ONES) & ~x & HIGHS;
            if (found != 0) {
                return i + (Long.numberOfTrailingZeros(found) >>> 3);
            }
        }
        for (; i < to; i++) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101010101010101L;
    private static final long HIGHS = 0x8080808080808080L;
    private static final long NEWLINES = 0x0a0a0a0a0a0a0a0aL;
}
