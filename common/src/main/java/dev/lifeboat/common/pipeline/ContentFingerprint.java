package dev.lifeboat.common.pipeline;

import com.dynatrace.hash4j.hashing.HashStream128;
import com.dynatrace.hash4j.hashing.HashValue128;
import com.dynatrace.hash4j.hashing.Hasher128;
import com.dynatrace.hash4j.hashing.Hashing;
import dev.lifeboat.common.model.BackupMetadata;
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
 * restored table yields the same lines. Each line's 128-bit hash is added modulo 2^128: addition is
 * order-independent and, unlike XOR, duplicate rows do not cancel out.
 *
 * <p>The per-row hash is {@link #XXH3_128} (hash4j's XXH3-128, a few GB/s) for new backups; backups fingerprinted
 * before the metadata named an algorithm used {@link BackupMetadata#LEGACY_FINGERPRINT} (the first 128 bits of each
 * row's SHA-256, one {@code MessageDigest} call per row, the backup's slowest stage), which stays computable so
 * those backups stay verifiable. A non-cryptographic hash is enough here: the fingerprint proves the restore put
 * back what was dumped; tampering with the stored bytes is caught by their SHA-256 and age's authentication.
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
    /** The algorithm new backups are fingerprinted with, as recorded in {@code BackupMetadata.fingerprintAlgorithm}. */
    public static final String XXH3_128 = "xxh3-128-sum";

    private final String algorithm;
    private final RowHash digest;
    private final byte[] one = new byte[1];

    // outside COPY: the current line, unless it outgrew the limit
    private byte[] line = new byte[256];
    private int lineLength;
    private boolean lineTooLong;

    // inside COPY: the table, and the current row (to spot the "\." terminator)
    private Table current;
    private final CopyRow row = new CopyRow();

    /** A fingerprint with the current algorithm, {@link #XXH3_128}. */
    public ContentFingerprint() {
        this(XXH3_128);
    }

    /**
     * A fingerprint with the named algorithm: {@link #XXH3_128}, or {@link BackupMetadata#LEGACY_FINGERPRINT} (null
     * means legacy, as in metadata written before the algorithm was recorded).
     *
     * @throws IllegalArgumentException for an algorithm this version does not know
     */
    public ContentFingerprint(String algorithm) {
        this.algorithm = algorithm == null ? BackupMetadata.LEGACY_FINGERPRINT : algorithm;
        this.digest = switch (this.algorithm) {
            case XXH3_128 -> new Xxh3RowHash();
            case BackupMetadata.LEGACY_FINGERPRINT -> new Sha256RowHash();
            default -> throw new IllegalArgumentException("Unknown fingerprint algorithm '" + algorithm + "' (known: "
                    + XXH3_128 + ", " + BackupMetadata.LEGACY_FINGERPRINT + ")");
        };
    }

    /** Whether this version can compute the named algorithm (null = legacy). */
    public static boolean knows(String algorithm) {
        return algorithm == null || XXH3_128.equals(algorithm) || BackupMetadata.LEGACY_FINGERPRINT.equals(algorithm);
    }

    /** The per-row hash algorithm, as recorded in the metadata. */
    public String algorithm() {
        return algorithm;
    }

    /** Starts a table's block explicitly, for reading {@code COPY ... TO STDOUT} output (verification). */
    public void beginTable(String table, String columns) {
        current = tables.computeIfAbsent(table, t -> new Table(t, columns));
        row.reset();
    }

    /** Whether the input so far ends inside a table's rows: its {@code \.} line has not come yet. */
    public boolean inTable() {
        return current != null;
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
                if (nl >= 0) {
                    endRow(b, i, segmentEnd - i);
                } else {
                    rowBytes(b, i, segmentEnd - i);
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

    /** A piece of a row that goes on in the next write. */
    private void rowBytes(byte[] b, int off, int len) {
        row.add(b, off, len);
        digest.update(b, off, len);
    }

    /** The last piece of a row (the whole row, most of the time: then it is hashed in one call). */
    private void endRow(byte[] b, int off, int len) {
        row.add(b, off, len);
        if (row.endIsTerminator()) {
            digest.reset();
            current = null;
        } else {
            digest.finish(b, off, len, current);
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

    /**
     * One table's fingerprint from those of parts of its rows (read back in ranges): the row counts and the 128-bit
     * sums added, as if its rows had been read in one stream; the sum of row hashes is what makes this exact.
     */
    public static TableFingerprint sum(List<TableFingerprint> parts) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("no parts");
        }
        long rows = 0;
        BigInteger hash = BigInteger.ZERO;
        for (TableFingerprint p : parts) {
            rows += p.rows();
            hash = hash.add(new BigInteger(p.hash(), 16));
        }
        String hex = hash.mod(Table.MOD).toString(16);
        TableFingerprint first = parts.get(0);
        return new TableFingerprint(first.table(), first.columns(), rows, "0".repeat(32 - hex.length()) + hex);
    }

    /**
     * A per-row hash, fed in pieces: {@link #update} for a piece of a row that goes on, {@link #finish} with its last
     * piece, which adds the row's 128 bits to the table and starts the next row.
     */
    private interface RowHash {
        void update(byte[] b, int off, int len);

        void finish(byte[] b, int off, int len, Table table);

        void reset();
    }

    /** XXH3-128; a row that arrives in one piece (nearly all) is hashed by the one-shot function, no stream state. */
    private static final class Xxh3RowHash implements RowHash {
        private static final Hasher128 HASHER = Hashing.xxh3_128();
        private final HashStream128 stream = HASHER.hashStream();
        private boolean streaming;

        @Override
        public void update(byte[] b, int off, int len) {
            stream.putBytes(b, off, len);
            streaming = true;
        }

        @Override
        public void finish(byte[] b, int off, int len, Table table) {
            HashValue128 v;
            if (streaming) {
                v = stream.putBytes(b, off, len).get();
                reset();
            } else {
                v = HASHER.hashBytesTo128Bits(b, off, len);
            }
            table.add(v.getMostSignificantBits(), v.getLeastSignificantBits());
        }

        @Override
        public void reset() {
            stream.reset();
            streaming = false;
        }
    }

    /** The legacy hash: the first 128 bits of the row's SHA-256, big-endian. */
    private static final class Sha256RowHash implements RowHash {
        private final MessageDigest sha;

        Sha256RowHash() {
            try {
                sha = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void update(byte[] b, int off, int len) {
            sha.update(b, off, len);
        }

        @Override
        public void finish(byte[] b, int off, int len, Table table) {
            sha.update(b, off, len);
            byte[] d = sha.digest();
            long h = 0;
            long l = 0;
            for (int i = 0; i < 8; i++) {
                h = (h << 8) | (d[i] & 0xff);
                l = (l << 8) | (d[8 + i] & 0xff);
            }
            table.add(h, l);
        }

        @Override
        public void reset() {
            sha.reset();
        }
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

        /** Adds a row's 128-bit hash (h:l) to the 128-bit sum (high:low), carrying between the halves. */
        void add(long h, long l) {
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
