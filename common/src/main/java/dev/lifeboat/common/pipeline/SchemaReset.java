package dev.lifeboat.common.pipeline;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * Rewrites a plain-format dump on its way into psql, where restore-service loads it in ONE transaction of its own:
 * <ul>
 * <li>always, it drops the transaction control pg_dump writes around large-object data: the lines {@code BEGIN;}
 * right after a {@code Type: BLOBS} TOC header and the {@code COMMIT;} that ends that section. Passed through, that
 * COMMIT would commit the restore's transaction halfway (and psql would run in autocommit after it), so a later
 * failure could no longer roll the target back;</li>
 * <li>with schema reset (clean-schema restores, {@link #SchemaReset(OutputStream)}), it puts
 * {@code DROP SCHEMA IF EXISTS <name> CASCADE;} right before each {@code CREATE SCHEMA <name>;} that pg_dump wrote
 * for a schema TOC entry, so the dump's schemas are replaced instead of the restore failing with "schema already
 * exists". The few objects a dump creates outside any schema that the target may hold too (publications, event
 * triggers, foreign servers; see {@link Kind}) are replaced the same way.</li>
 * </ul>
 * Every other byte passes through unchanged. Written by hand because no library reads a pg_dump stream, and the
 * stream is too large to hold or to turn into a String per line.
 *
 * <p>Both rewrites look at whole lines only and only in the TOC entry they belong to: the BLOBS section holds
 * nothing but {@code lo_open}/{@code lowrite}/{@code lo_close} calls between its BEGIN and COMMIT, so a
 * {@code COMMIT;} line anywhere else (a procedure body written at column 0, COPY data) is left alone.
 *
 * <p>Extensions need no line of their own: an extension lives in a schema, so dropping its schema drops it, and
 * pg_dump creates it again with {@code CREATE EXTENSION IF NOT EXISTS ... WITH SCHEMA ...} right after the schemas,
 * from the files installed on the target server.
 *
 * <p>A line is rewritten only when it is exactly {@code CREATE SCHEMA <identifier>;} (or starts with
 * {@code CREATE PUBLICATION <identifier>} and the like), outside COPY data, and the last TOC header
 * ({@code -- Name: ...}) announced that kind of object ({@code ; Type: SCHEMA; Schema: -;}) with nothing but
 * blank and comment lines since. The header condition keeps the same text inside a function body or a string
 * literal from being rewritten; skipping COPY blocks (from {@code COPY ... FROM stdin;} to the line {@code \.},
 * which no data line can be: a data backslash is doubled) keeps table data from being read as SQL.
 *
 * <p>Memory stays bounded: only the start of a statement line is kept, up to {@link #MAX_HELD_LINE} bytes, and
 * bytes are held back from {@code out} only while the line may still turn out to be a {@code CREATE SCHEMA} line
 * (a longer line cannot be one). COPY rows pass straight through; only their first two bytes are remembered.
 */
public final class SchemaReset extends OutputStream {
    static final int MAX_HELD_LINE = 4096;
    private static final byte[] TOC_HEADER = ascii("-- Name: ");
    private static final byte[] DATA_HEADER = ascii("-- Data for Name: ");
    private static final byte[] BLOBS_ENTRY = ascii("; Type: BLOBS;");
    private static final byte[] BEGIN = ascii("BEGIN;");
    private static final byte[] COMMIT = ascii("COMMIT;");
    private static final byte[] COMMENT = ascii("--");
    private static final byte[] COPY = ascii("COPY ");
    private static final byte[] FROM_STDIN = ascii(" FROM stdin;");

    /**
     * What is replaced: objects a clean-schema restore finds in the target already and that pg_dump creates without
     * {@code IF NOT EXISTS}. Schemas are dropped with CASCADE (their content goes with them); a foreign server too
     * (its user mappings, which the dump creates again); publications and event triggers hold nothing.
     */
    public enum Kind {
        SCHEMA("SCHEMA", "CREATE SCHEMA ", "DROP SCHEMA IF EXISTS ", " CASCADE;\n", true),
        PUBLICATION("PUBLICATION", "CREATE PUBLICATION ", "DROP PUBLICATION IF EXISTS ", ";\n", false),
        EVENT_TRIGGER("EVENT TRIGGER", "CREATE EVENT TRIGGER ", "DROP EVENT TRIGGER IF EXISTS ", ";\n", false),
        SERVER("SERVER", "CREATE SERVER ", "DROP SERVER IF EXISTS ", " CASCADE;\n", false);

        private final byte[] entry;
        private final byte[] create;
        private final byte[] drop;
        private final byte[] dropEnd;
        /** The CREATE line is exactly {@code <create><identifier>;}; else the identifier ends at a space or ';'. */
        private final boolean wholeLine;

        Kind(String tocType, String create, String drop, String dropEnd, boolean wholeLine) {
            this.entry = ascii("; Type: " + tocType + "; Schema: -;");
            this.create = ascii(create);
            this.drop = ascii(drop);
            this.dropEnd = ascii(dropEnd);
            this.wholeLine = wholeLine;
        }
    }

    /** One object dropped before the dump created it again: its kind and its identifier as the dump writes it. */
    public record Replaced(Kind kind, String identifier) {
    }

    private final OutputStream out;
    private final boolean resetSchemas;
    private final List<Replaced> replaced = new ArrayList<>();
    private int transactionLinesDropped;
    private final byte[] one = new byte[1];
    private boolean closed;

    // outside COPY: the current line's start (to classify it), of which the first `held` bytes are not written yet
    private final byte[] line = new byte[MAX_HELD_LINE];
    private int lineLength;
    private boolean lineTooLong;
    private int held;
    // the line's last bytes, so that a COPY header longer than the kept start is still recognised
    private final byte[] tail = new byte[FROM_STDIN.length];
    // the kind of the TOC header that came last, followed only by blank and comment lines; null if none
    private Kind afterHeader;
    // a BLOBS TOC header came last, followed only by blank and comment lines: its BEGIN is next
    private boolean afterBlobsHeader;
    // the BLOBS section's BEGIN was dropped and its COMMIT not seen yet
    private boolean inBlobs;

    // inside COPY: the current row (to spot the "\." terminator)
    private boolean inCopy;
    private final CopyRow row = new CopyRow();

    /** Both rewrites: for a clean-schema restore over an existing database. */
    public SchemaReset(OutputStream out) {
        this(out, true);
    }

    /** The large-object transaction control is always dropped; schemas are reset only with {@code resetSchemas}. */
    public SchemaReset(OutputStream out, boolean resetSchemas) {
        this.out = Objects.requireNonNull(out, "out");
        this.resetSchemas = resetSchemas;
    }

    /** How many {@code BEGIN;}/{@code COMMIT;} lines of BLOBS sections were dropped. */
    public int transactionLinesDropped() {
        return transactionLinesDropped;
    }

    /** The schema identifiers, as written in the dump, before whose creation a DROP was put, in dump order. */
    public List<String> schemas() {
        return replaced.stream().filter(r -> r.kind() == Kind.SCHEMA).map(Replaced::identifier).toList();
    }

    /** Every object before whose creation a DROP was put, schemas included, in dump order. */
    public List<Replaced> replaced() {
        return List.copyOf(replaced);
    }

    @Override
    public void write(int b) throws IOException {
        one[0] = (byte) b;
        write(one, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        if (closed) {
            throw new IOException("SchemaReset is closed");
        }
        int end = off + len;
        int pending = off; // b[pending, i) passes through unchanged and is not written yet: one write per run
        int i = off;
        while (i < end) {
            int nl = CopyRow.indexOfNewline(b, i, end);
            int segmentEnd = nl < 0 ? end : nl;
            if (inCopy) {
                row.add(b, i, segmentEnd - i);
                if (nl >= 0) {
                    endRow();
                }
            } else {
                pending = statementBytes(b, i, segmentEnd, nl >= 0, pending);
            }
            i = nl < 0 ? end : nl + 1;
        }
        if (pending < end) {
            out.write(b, pending, end - pending);
        }
    }

    private void endRow() {
        if (row.endIsTerminator()) {
            inCopy = false;
        }
    }

    /**
     * One piece of a statement line, {@code b[from, to)}, the line's end when {@code lineEnds}. Returns where the
     * bytes of {@code b} not yet written now start: past the piece when it is held back.
     */
    private int statementBytes(byte[] b, int from, int to, boolean lineEnds, int pending) throws IOException {
        keep(b, from, to);
        boolean candidate = !lineTooLong && (resetSchemas && afterHeader != null && startsLike(afterHeader.create)
                || afterBlobsHeader && startsLike(BEGIN) || inBlobs && startsLike(COMMIT));
        if (candidate && !lineEnds) {
            // whether a DROP goes before this line (or the line goes) is known only at its end
            writeRun(b, pending, from);
            held = lineLength;
            return to;
        }
        if (candidate && dropTransactionLine()) {
            // the held start, this piece and the newline all go
            writeRun(b, pending, from);
            held = 0;
            endStatementLine();
            return to + 1;
        }
        int identifierEnd = candidate && resetSchemas ? createIdentifierEnd() : -1;
        if (identifierEnd >= 0 || held > 0) {
            writeRun(b, pending, from);
            pending = from;
        }
        if (identifierEnd >= 0) {
            writeDrop(identifierEnd);
        }
        if (held > 0) {
            // the held start of the line; this piece (already kept in `line` too) follows from b
            out.write(line, 0, held);
            held = 0;
        }
        if (lineEnds) {
            endStatementLine();
        }
        return pending;
    }

    private void writeRun(byte[] b, int from, int to) throws IOException {
        if (to > from) {
            out.write(b, from, to - from);
        }
    }

    private void keep(byte[] b, int from, int to) {
        int len = to - from;
        int room = line.length - lineLength;
        if (len > room) {
            lineTooLong = true;
        }
        int n = Math.min(len, room);
        System.arraycopy(b, from, line, lineLength, n);
        lineLength += n;
        if (len >= tail.length) {
            System.arraycopy(b, to - tail.length, tail, 0, tail.length);
        } else {
            System.arraycopy(tail, len, tail, 0, tail.length - len);
            System.arraycopy(b, from, tail, tail.length - len, len);
        }
    }

    /** Whether the complete line is a BLOBS section's {@code BEGIN;} or {@code COMMIT;}; if so, counts it as dropped. */
    private boolean dropTransactionLine() {
        boolean drop = !lineTooLong && (afterBlobsHeader && lineIs(BEGIN) || inBlobs && lineIs(COMMIT));
        if (drop) {
            transactionLinesDropped++;
        }
        return drop;
    }

    private boolean lineIs(byte[] text) {
        return lineLength == text.length && startsWith(text);
    }

    private void endStatementLine() {
        if (startsWith(TOC_HEADER) || startsWith(DATA_HEADER)) {
            afterHeader = null;
            if (startsWith(TOC_HEADER)) {
                for (Kind kind : Kind.values()) {
                    if (!lineTooLong && contains(kind.entry)) {
                        afterHeader = kind;
                    }
                }
            }
            afterBlobsHeader = !lineTooLong && contains(BLOBS_ENTRY);
            inBlobs = false;
        } else if (afterBlobsHeader && lineIs(BEGIN)) {
            afterBlobsHeader = false;
            inBlobs = true;
        } else if (inBlobs && lineIs(COMMIT)) {
            inBlobs = false;
        } else if (lineLength > 0 && !startsWith(COMMENT)) {
            afterHeader = null;
            afterBlobsHeader = false;
            // the tail starts zeroed, so a line shorter than " FROM stdin;" never matches it
            if (startsWith(COPY) && Arrays.equals(tail, FROM_STDIN)) {
                inCopy = true;
                row.reset();
            }
        }
        lineLength = 0;
        lineTooLong = false;
        Arrays.fill(tail, (byte) 0);
    }

    /**
     * The end of the identifier when the line creates an object of the last header's kind, else -1: the whole line is
     * {@code CREATE SCHEMA <identifier>;}; or it starts with {@code CREATE PUBLICATION <identifier>} followed by a
     * space, a ';' or the line's end (pg_dump continues some of these statements on the next lines).
     */
    private int createIdentifierEnd() {
        Kind kind = afterHeader;
        int start = kind == null ? 0 : kind.create.length;
        if (kind == null || lineTooLong || lineLength <= start || !startsWith(kind.create)) {
            return -1;
        }
        if (kind.wholeLine) {
            int last = lineLength - 1;
            return line[last] == ';' && last > start && identifierEnd(line, start, last) == last ? last : -1;
        }
        int end = identifierEnd(line, start, lineLength);
        return end > 0 && (end == lineLength || line[end] == ' ' || line[end] == ';') ? end : -1;
    }

    /** Where the identifier starting at {@code from} ends (not beyond {@code to}), or -1 if none starts there. */
    private static int identifierEnd(byte[] b, int from, int to) {
        if (b[from] == '"') {
            int i = from + 1;
            while (i < to) {
                if (b[i] == '"') {
                    if (i + 1 < to && b[i + 1] == '"') {
                        i += 2;
                        continue;
                    }
                    return i == from + 1 ? -1 : i + 1;
                }
                i++;
            }
            return -1;
        }
        if (!isIdentifierStart(b[from])) {
            return -1;
        }
        int i = from + 1;
        while (i < to && (isIdentifierStart(b[i]) || (b[i] >= '0' && b[i] <= '9') || b[i] == '$')) {
            i++;
        }
        return i;
    }

    private static boolean isIdentifierStart(byte c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }

    private void writeDrop(int identifierEnd) throws IOException {
        Kind kind = afterHeader;
        int start = kind.create.length;
        int n = identifierEnd - start;
        byte[] drop = new byte[kind.drop.length + n + kind.dropEnd.length];
        System.arraycopy(kind.drop, 0, drop, 0, kind.drop.length);
        System.arraycopy(line, start, drop, kind.drop.length, n);
        System.arraycopy(kind.dropEnd, 0, drop, kind.drop.length + n, kind.dropEnd.length);
        out.write(drop);
        replaced.add(new Replaced(kind, new String(line, start, n, StandardCharsets.UTF_8)));
    }

    /** Whether the line so far agrees with {@code prefix} (is a prefix of it, or starts with it). */
    private boolean startsLike(byte[] prefix) {
        int n = Math.min(lineLength, prefix.length);
        return Arrays.equals(line, 0, n, prefix, 0, n);
    }

    private boolean startsWith(byte[] prefix) {
        return lineLength >= prefix.length && Arrays.equals(line, 0, prefix.length, prefix, 0, prefix.length);
    }

    private boolean contains(byte[] part) {
        outer:
        for (int i = 0; i + part.length <= lineLength; i++) {
            for (int j = 0; j < part.length; j++) {
                if (line[i + j] != part[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    /** Writes what is not held back; a held line start stays until its end decides it (or {@link #close}). */
    @Override
    public void flush() throws IOException {
        out.flush();
    }

    /** Ends the last line (a dump need not end with a newline), writes what was held, and closes {@code out}. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (held > 0 && !dropTransactionLine()) {
                int identifierEnd = resetSchemas ? createIdentifierEnd() : -1;
                if (identifierEnd >= 0) {
                    writeDrop(identifierEnd);
                }
                out.write(line, 0, held);
            }
            held = 0;
        } finally {
            out.close();
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
