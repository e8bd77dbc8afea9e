package dev.lifeboat.common.pipeline;

import dev.lifeboat.common.model.TableFingerprint;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The content fingerprint of a plain-format dump (DESIGN §4), computed as the dump streams through: for each
 * {@code COPY <table> (<columns>) FROM stdin;} block, the number of rows and an order-independent hash of the row
 * lines. Written by hand because no library reads COPY blocks out of a pg_dump stream.
 *
 * <p>Why the row lines are hashed as they are: in COPY text format a row is exactly one line (newline, tab,
 * backslash, carriage return inside values are escaped: {@code \n}, {@code \t}, {@code \\}; NULL is {@code \N}),
 * and the block ends with the line {@code \.}, which no data line can be (a data backslash is doubled). So the
 * raw line bytes identify the row's values without decoding any escape, and {@code COPY ... TO STDOUT} of the
 * restored table yields the same lines. Each line's SHA-256 (first 128 bits) is added modulo 2^128: addition
 * is order-independent and, unlike XOR, duplicate rows do not cancel out.
 *
 * <p>Memory stays bounded: row bytes go straight into the digest; only statement lines outside COPY blocks are
 * buffered, up to {@link #MAX_STATEMENT_LINE} bytes (longer lines cannot be COPY headers and are skipped). Statement
 * lines also feed {@link LargeObjectFingerprint}, which reads the large objects' lines (about 32 KiB each) and fails
 * on one it cannot read whole instead of skipping it.
 */
public final class ContentFingerprint extends OutputStream {
    static final int MAX_STATEMENT_LINE = 1 << 20;
    private static final byte[] COPY = "COPY ".getBytes(StandardCharsets.US_ASCII);
    private static final String FROM_STDIN = " FROM stdin;";
    private static final java.util.regex.Pattern CLIENT_ENCODING =
            java.util.regex.Pattern.compile("SET client_encoding = '([A-Za-z0-9_]{1,40})';");

    private final Map<String, Table> tables = new LinkedHashMap<>();
    /** The dump's large objects, read from its statement lines. */
    private final LargeObjectFingerprint largeObjects = new LargeObjectFingerprint();
    /** The dump's {@code SET client_encoding}: the encoding its COPY data is in. */
    private String encoding;
    private final MessageDigest digest;
    private final byte[] one = new byte[1];

    // outside COPY: the current line, unless it outgrew the limit
    private byte[] line = new byte[256];
    private int lineLength;
    private boolean lineTooLong;

    // inside COPY: the table, and the current row (to spot the "\." terminator)
    private Table current;
    private final CopyRow row = new CopyRow();

    public ContentFingerprint() {
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Starts a table's block explicitly, for reading {@code COPY ... TO STDOUT} output (verification). */
    public void beginTable(String table, String columns) {
        current = tables.computeIfAbsent(table, t -> new Table(t, columns));
        row.reset();
    }

    /** Ends a block started with {@link #beginTable} when the input has no {@code \.} line. */
    public void endTable() {
        current = null;
    }

    @Override
    public void write(int b) {
        one[0] = (byte) b;
        write(one, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
        int end = off + len;
        int i = off;
        while (i < end) {
            int nl = CopyRow.indexOfNewline(b, i, end);
            int segmentEnd = nl < 0 ? end : nl;
            if (current != null) {
                rowBytes(b, i, segmentEnd - i);
                if (nl >= 0) {
                    endRow();
                }
            } else {
                statementBytes(b, i, segmentEnd - i);
                if (nl >= 0) {
                    endStatementLine();
                }
            }
            i = nl < 0 ? end : nl + 1;
        }
    }

    private void rowBytes(byte[] b, int off, int len) {
        row.add(b, off, len);
        digest.update(b, off, len);
    }

    private void endRow() {
        if (row.endIsTerminator()) {
            digest.reset();
            current = null;
        } else {
            current.add(digest.digest());
        }
    }

    private void statementBytes(byte[] b, int off, int len) {
        if (lineTooLong || len == 0) {
            return;
        }
        if (lineLength + len > MAX_STATEMENT_LINE) {
            lineTooLong = true;
            return;
        }
        if (lineLength + len > line.length) {
            line = java.util.Arrays.copyOf(line, Math.max(line.length * 2, lineLength + len));
        }
        System.arraycopy(b, off, line, lineLength, len);
        lineLength += len;
    }

    private void endStatementLine() {
        largeObjects.statementLine(line, lineLength, lineTooLong);
        if (!lineTooLong && startsWithCopy()) {
            String header = new String(line, 0, lineLength, StandardCharsets.UTF_8);
            if (header.endsWith(FROM_STDIN)) {
                parseCopyHeader(header.substring(COPY.length, header.length() - FROM_STDIN.length()));
            }
        } else if (encoding == null && !lineTooLong && lineLength < 64 && line[0] == 'S') {
            java.util.regex.Matcher m = CLIENT_ENCODING.matcher(new String(line, 0, lineLength, StandardCharsets.US_ASCII));
            if (m.matches()) {
                encoding = m.group(1);
            }
        }
        lineLength = 0;
        lineTooLong = false;
        if (line.length > 64 * 1024) {
            line = new byte[256];
        }
    }

    private boolean startsWithCopy() {
        if (lineLength < COPY.length) {
            return false;
        }
        for (int i = 0; i < COPY.length; i++) {
            if (line[i] != COPY[i]) {
                return false;
            }
        }
        return true;
    }

    /** {@code target} is {@code schema.table} or {@code schema.table (col, ...)}, identifiers quoted as needed. */
    private void parseCopyHeader(String target) {
        int i = skipIdentifier(target, 0);
        if (i < target.length() && target.charAt(i) == '.') {
            i = skipIdentifier(target, i + 1);
        }
        String table = target.substring(0, i);
        String rest = target.substring(i).strip();
        String columns = rest.startsWith("(") && rest.endsWith(")") ? rest.substring(1, rest.length() - 1) : "";
        beginTable(table, columns);
    }

    private static int skipIdentifier(String s, int from) {
        int i = from;
        if (i < s.length() && s.charAt(i) == '"') {
            i++;
            while (i < s.length()) {
                if (s.charAt(i) == '"') {
                    if (i + 1 < s.length() && s.charAt(i + 1) == '"') {
                        i += 2;
                        continue;
                    }
                    return i + 1;
                }
                i++;
            }
            return i;
        }
        while (i < s.length() && s.charAt(i) != '.' && s.charAt(i) != ' ') {
            i++;
        }
        return i;
    }

    /** The client encoding the dump declared ({@code SET client_encoding = '...';}), or null if none was seen. */
    public String encoding() {
        return encoding;
    }

    /**
     * The fingerprint of the dump's large objects, once it ended (none: count 0); throws
     * {@link LargeObjectFingerprint.Unreadable} when they could not all be read.
     */
    public dev.lifeboat.common.model.BackupMetadata.LargeObjectsFingerprint largeObjects() {
        return largeObjects.result();
    }

    /** The fingerprint of every table seen so far, in dump order. */
    public List<TableFingerprint> result() {
        List<TableFingerprint> out = new ArrayList<>(tables.size());
        for (Table t : tables.values()) {
            out.add(new TableFingerprint(t.name, t.columns, t.rows, t.hashHex()));
        }
        return out;
    }

    @Override
    public void close() {
        // nothing held: result() is read after the stream ends
    }

    private static final class Table {
        private static final BigInteger MOD = BigInteger.ONE.shiftLeft(128);
        final String name;
        final String columns;
        long rows;
        long high;
        long low;

        Table(String name, String columns) {
            this.name = name;
            this.columns = columns;
        }

        /** Adds the first 128 bits of a row digest to the 128-bit sum (high:low), carrying between the halves. */
        void add(byte[] sha) {
            long h = 0;
            long l = 0;
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (sha[i] & 0xff);
                l = (l << 8) | (sha[8 + i] & 0xff);
            }
            long newLow = low + l;
            long carry = Long.compareUnsigned(newLow, low) < 0 ? 1 : 0;
            low = newLow;
            high = high + h + carry;
            rows++;
        }

        String hashHex() {
            BigInteger v = new BigInteger(Long.toUnsignedString(high)).shiftLeft(64)
                    .add(new BigInteger(Long.toUnsignedString(low))).mod(MOD);
            String hex = v.toString(16);
            return "0".repeat(32 - hex.length()) + hex;
        }
    }
}
