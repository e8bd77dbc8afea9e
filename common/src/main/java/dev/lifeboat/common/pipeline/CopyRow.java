package dev.lifeboat.common.pipeline;

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

    /** The index of the first newline in {@code b[from, to)}, or -1. */
    static int indexOfNewline(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }
}
