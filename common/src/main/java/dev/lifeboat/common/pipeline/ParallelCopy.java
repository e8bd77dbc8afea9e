package dev.lifeboat.common.pipeline;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Splits a plain-format dump on its way into psql so that the rows of a large table are loaded over several
 * connections at once ("lanes"), while everything else goes to the main connection in dump order. PostgreSQL loads
 * one COPY on one core; the lanes load one table on as many cores as there are lanes. restore-service uses it only
 * for a database it created for the restore (scratch, recreate-database), where the load need not be one
 * transaction: that database is dropped on any failure and shown to no one before the load ended.
 *
 * <p>How a dump is split:
 * <ul>
 * <li>a COPY block that a {@code -- Data for Name: ...; Type: TABLE DATA;} TOC header announced is held until it
 * ends or passes {@link #HELD_CHUNKS} chunks. A block that ends sooner goes to the main connection whole: a small
 * table gains nothing from a lane;</li>
 * <li>a larger block is opened on every lane ({@link Lanes#open}: the main connection commits, so the table it
 * created is visible to the lanes, each lane begins a transaction and starts the same {@code COPY ... FROM stdin;}),
 * and its rows go to the lanes in chunks of about {@link #CHUNK} bytes, each whole rows (a row longer than a chunk
 * goes to one lane, in pieces), each to the lane with the fewest chunks queued. Every lane has a thread that writes
 * its queue ({@link #QUEUED} chunks at most), so one slow lane never stalls the others. At the block's end
 * ({@code \.}) every lane ends its COPY and commits ({@link Lanes#close}) before anything after it reaches the main
 * connection, so what follows (index builds, constraints) sees every row;</li>
 * <li>the session settings at the head of the dump ({@code SET client_encoding ...} and the like, the lines before
 * the first other statement) are kept as the lanes' prologue, so a lane reads rows as the main connection would.</li>
 * </ul>
 * Rows keep their bytes; only their order in the table's heap changes, which SQL does not define (the content
 * fingerprint is a sum over rows, blind to order). Memory is bounded: {@link #HELD_CHUNKS} + lanes × {@link #QUEUED}
 * + 2 chunks, and one SQL line of at most {@link #MAX_LINE} bytes (a longer one passes through as it comes and is
 * never a COPY header a lane would take). Written by hand: no library reads a pg_dump stream.
 */
public final class ParallelCopy extends OutputStream {
    /** About this many bytes of whole rows go to a lane at once. */
    static final int CHUNK = 256 * 1024;
    /** A COPY block of up to this many chunks (1 MiB) goes to the main connection whole. */
    static final int HELD_CHUNKS = 4;
    /** Chunks queued per lane. */
    static final int QUEUED = 4;
    /** An SQL line is held whole up to this length to be classified; a COPY header is shorter by far. */
    static final int MAX_LINE = 1 << 20;
    private static final int MAX_PROLOGUE = 64 * 1024;
    private static final byte[] COPY = ascii("COPY ");
    private static final byte[] FROM_STDIN = ascii(" FROM stdin;");
    private static final byte[] DATA_HEADER = ascii("-- Data for Name: ");
    private static final byte[] TABLE_DATA = ascii("; Type: TABLE DATA;");
    private static final byte[] SET = ascii("SET ");
    private static final byte[] SET_CONFIG = ascii("SELECT pg_catalog.set_config(");
    private static final byte[] TERMINATOR = ascii("\\.\n");
    private static final byte[] COMMENT = ascii("--");
    private static final Chunk END = new Chunk(new byte[0], 0, false);

    /** The connections the rows of a large table are loaded over; implemented by restore-service with psql. */
    public interface Lanes {
        /** How many lanes there are (at least 2). */
        int count();

        /**
         * A large COPY block starts: the main connection commits what it ran (so {@code table} is visible) and
         * begins a new transaction; each lane (started first, with {@code prologue}, if it is not yet) begins a
         * transaction, waits until {@code table} is visible, and starts {@code header}. Returns one stream per lane.
         */
        List<OutputStream> open(String table, byte[] prologue, byte[] header) throws IOException;

        /** Every lane got all rows of the block (flushed): each ends its COPY and commits; returns when all did. */
        void close() throws IOException;

        /** False once the load cannot go on (the main connection ended); checked while waiting on a lane. */
        boolean alive();
    }

    /** Writing to lane {@code lane} failed (its psql ended, almost always because the server refused a row). */
    public static final class LaneFailed extends IOException {
        private final int lane;

        public LaneFailed(int lane, String message, Throwable cause) {
            super(message, cause);
            this.lane = lane;
        }

        public int lane() {
            return lane;
        }
    }

    private record Chunk(byte[] bytes, int length, boolean midRow) {
    }

    private enum State { SQL, SQL_LONG, MAIN_COPY, HOLD, PARALLEL }

    private final OutputStream main;
    private final Lanes lanes;
    private final byte[] one = new byte[1];
    private State state = State.SQL;
    private boolean closed;

    // SQL: the current line, held whole up to MAX_LINE
    private byte[] line = new byte[8192];
    private int lineLength;
    private final byte[] tail = new byte[FROM_STDIN.length];
    private int tailLength;
    private boolean longLineIsCopy;
    // a TABLE DATA header came last, followed only by blank and comment lines
    private boolean afterDataHeader;
    private boolean inPrologue = true;
    private final ByteArrayOutputStream prologue = new ByteArrayOutputStream();

    // COPY rows
    private final CopyRow row = new CopyRow();
    private byte[] header;
    private String table;
    private final List<Chunk> held = new ArrayList<>();
    private byte[] chunk;
    private int fill;
    private int rowsEnd; // chunk[0, rowsEnd) holds whole rows

    // PARALLEL
    private final ArrayBlockingQueue<byte[]> free;
    private final int maxChunks;
    private int allocated;
    private Lane[] active;
    private int next;
    private int sticky = -1;
    private int parallelTables;
    private long parallelBytes;
    private final List<Thread> writers = new ArrayList<>();

    public ParallelCopy(OutputStream main, Lanes lanes) {
        this.main = Objects.requireNonNull(main, "main");
        this.lanes = Objects.requireNonNull(lanes, "lanes");
        if (lanes.count() < 2 || lanes.count() > 64) {
            throw new IllegalArgumentException("lanes: 2 to 64, not " + lanes.count());
        }
        maxChunks = HELD_CHUNKS + 2 + QUEUED * lanes.count();
        free = new ArrayBlockingQueue<>(maxChunks);
    }

    /** How many tables' rows went over the lanes. */
    public int parallelTables() {
        return parallelTables;
    }

    /** How many bytes of rows went over the lanes. */
    public long parallelBytes() {
        return parallelBytes;
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
            throw new IOException("ParallelCopy is closed");
        }
        int end = off + len;
        int i = off;
        while (i < end) {
            int nl = CopyRow.indexOfNewline(b, i, end);
            int segmentEnd = nl < 0 ? end : nl + 1;
            switch (state) {
                case SQL -> sqlLine(b, i, segmentEnd, nl >= 0);
                case SQL_LONG -> longLine(b, i, segmentEnd, nl >= 0);
                case MAIN_COPY -> {
                    main.write(b, i, segmentEnd - i);
                    row.add(b, i, (nl < 0 ? end : nl) - i);
                    if (nl >= 0 && row.endIsTerminator()) {
                        state = State.SQL;
                    }
                }
                case HOLD, PARALLEL -> rows(b, i, segmentEnd, nl >= 0);
            }
            i = segmentEnd;
        }
    }

    @Override
    public void flush() throws IOException {
        main.flush();
    }

    /**
     * The dump ended: anything held goes to the main connection (a dump that ends inside a COPY block or a line is
     * psql's to refuse); the lanes are not closed here ({@link Lanes} owns them).
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        switch (state) {
            case SQL -> main.write(line, 0, lineLength);
            case HOLD -> {
                main.write(header);
                for (Chunk c : held) {
                    main.write(c.bytes(), 0, c.length());
                }
                main.write(chunk, 0, fill);
            }
            case PARALLEL -> throw new IOException("the dump ended inside the rows of " + table);
            default -> {
            }
        }
        main.flush();
    }

    /** Stops the lane writers (after a failure); the caller kills the lanes' processes. */
    public void abort() {
        for (Thread t : writers) {
            t.interrupt();
        }
        writers.clear();
    }

    private void sqlLine(byte[] b, int from, int to, boolean ends) throws IOException {
        int n = to - from;
        if (lineLength + n > MAX_LINE) { // too long to be a COPY header a lane takes: pass it through
            main.write(line, 0, lineLength);
            longLineIsCopy = startsWith(line, lineLength, COPY);
            keepTail(line, 0, lineLength);
            lineLength = 0;
            line = new byte[8192];
            state = State.SQL_LONG;
            longLine(b, from, to, ends);
            return;
        }
        if (lineLength + n > line.length) {
            line = Arrays.copyOf(line, Math.min(MAX_LINE, Math.max(line.length * 2, lineLength + n)));
        }
        System.arraycopy(b, from, line, lineLength, n);
        lineLength += n;
        if (ends) {
            int length = lineLength;
            lineLength = 0;
            statement(length);
        }
    }

    private void longLine(byte[] b, int from, int to, boolean ends) throws IOException {
        main.write(b, from, to - from);
        keepTail(b, from, ends ? to - 1 : to);
        if (ends) {
            state = longLineIsCopy && tailLength == tail.length && Arrays.equals(tail, FROM_STDIN) ? State.MAIN_COPY : State.SQL;
            row.reset();
            tailLength = 0;
            afterDataHeader = false;
            inPrologue = false;
        }
    }

    private void keepTail(byte[] b, int from, int to) {
        int n = Math.min(tail.length, to - from);
        int keep = Math.min(tailLength, tail.length - n);
        System.arraycopy(tail, tailLength - keep, tail, 0, keep);
        System.arraycopy(b, to - n, tail, keep, n);
        tailLength = keep + n;
    }

    /** A whole statement line, {@code line[0, length)} with its newline. */
    private void statement(int length) throws IOException {
        int content = length - 1;
        boolean copy = startsWith(line, content, COPY) && endsWith(line, content, FROM_STDIN);
        if (copy && afterDataHeader) {
            String name = tableOf(line, content);
            if (name != null) {
                header = Arrays.copyOf(line, length);
                table = name;
                state = State.HOLD;
                row.reset();
                chunk = takeChunk();
                fill = 0;
                rowsEnd = 0;
                afterDataHeader = false;
                inPrologue = false;
                return;
            }
        }
        main.write(line, 0, length);
        if (copy) {
            state = State.MAIN_COPY;
            row.reset();
        }
        boolean quiet = content == 0 || startsWith(line, content, COMMENT) || line[0] == '\\';
        if (inPrologue && length <= MAX_PROLOGUE - prologue.size()
                && (startsWith(line, content, SET) || startsWith(line, content, SET_CONFIG))) {
            prologue.write(line, 0, length);
        } else if (!quiet) {
            inPrologue = false;
        }
        if (startsWith(line, content, DATA_HEADER) && contains(line, content, TABLE_DATA)) {
            afterDataHeader = true;
        } else if (!quiet || copy) {
            afterDataHeader = false;
        }
    }

    /** A piece of the current row, {@code b[from, to)}, its newline included when {@code ends}. */
    private void rows(byte[] b, int from, int to, boolean ends) throws IOException {
        row.add(b, from, (ends ? to - 1 : to) - from);
        for (int i = from; i < to; ) {
            if (fill == CHUNK) {
                chunkFull();
            }
            int n = Math.min(to - i, CHUNK - fill);
            System.arraycopy(b, i, chunk, fill, n);
            fill += n;
            i += n;
        }
        if (ends) {
            if (row.endIsTerminator()) {
                fill -= TERMINATOR.length; // the "\." line is no row; always within this chunk (see chunkFull)
                endBlock();
            } else {
                rowsEnd = fill;
            }
        }
    }

    /** The chunk is full: hand over its whole rows, the start of the row being read moves to the next one. */
    private void chunkFull() throws IOException {
        byte[] full = chunk;
        chunk = takeChunk();
        if (rowsEnd > 0) {
            int carry = fill - rowsEnd;
            System.arraycopy(full, rowsEnd, chunk, 0, carry);
            handOver(new Chunk(full, rowsEnd, false));
            fill = carry;
        } else { // one row longer than a chunk: it goes to one lane in pieces
            handOver(new Chunk(full, fill, true));
            fill = 0;
        }
        rowsEnd = 0;
    }

    private void handOver(Chunk c) throws IOException {
        if (state == State.HOLD) {
            held.add(c);
            if (held.size() > HELD_CHUNKS) {
                goParallel();
            }
        } else {
            dispatch(c);
        }
    }

    private void goParallel() throws IOException {
        List<OutputStream> streams = lanes.open(table, prologue.toByteArray(), header);
        if (streams.size() != lanes.count()) {
            throw new IllegalStateException("lanes opened " + streams.size() + " streams, not " + lanes.count());
        }
        active = new Lane[streams.size()];
        for (int i = 0; i < active.length; i++) {
            active[i] = new Lane(i, streams.get(i));
            Thread t = Thread.ofPlatform().daemon().name("lifeboat-load-lane-" + i).start(active[i]::run);
            writers.add(t);
        }
        state = State.PARALLEL;
        sticky = -1;
        parallelTables++;
        for (Chunk c : held) {
            dispatch(c);
        }
        held.clear();
    }

    private void dispatch(Chunk c) throws IOException {
        int lane = sticky >= 0 ? sticky : leastBusy();
        sticky = c.midRow() ? lane : -1;
        parallelBytes += c.length();
        try {
            while (!active[lane].queue.offer(c, 100, TimeUnit.MILLISECONDS)) {
                check();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while handing rows to a lane");
        }
        check();
    }

    private int leastBusy() {
        int best = -1;
        int bestSize = Integer.MAX_VALUE;
        for (int k = 0; k < active.length; k++) {
            int i = (next + k) % active.length;
            int size = active[i].queue.size();
            if (size < bestSize) {
                best = i;
                bestSize = size;
            }
        }
        next = (best + 1) % active.length;
        return best;
    }

    private void check() throws IOException {
        for (Lane lane : active) {
            if (lane.failure != null) {
                throw new LaneFailed(lane.index, "loading rows of " + table + " over lane " + lane.index + " failed: "
                        + lane.failure.getMessage(), lane.failure);
            }
        }
        if (!lanes.alive()) {
            throw new IOException("the load ended while rows of " + table + " were loaded over the lanes");
        }
    }

    /** The block's {@code \.} was read: held rows go to the main connection, or the lanes end their COPY. */
    private void endBlock() throws IOException {
        if (state == State.HOLD) {
            main.write(header);
            for (Chunk c : held) {
                main.write(c.bytes(), 0, c.length());
                release(c.bytes());
            }
            held.clear();
            main.write(chunk, 0, fill);
            main.write(TERMINATOR);
        } else {
            if (fill > 0) {
                dispatch(new Chunk(chunk, fill, false));
                chunk = null;
            }
            for (Lane lane : active) {
                try {
                    while (!lane.queue.offer(END, 100, TimeUnit.MILLISECONDS)) {
                        check();
                    }
                    while (!lane.done.await(100, TimeUnit.MILLISECONDS)) {
                        check();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("interrupted while the lanes finish " + table);
                }
            }
            check();
            writers.clear();
            active = null;
            lanes.close();
        }
        if (chunk != null) {
            release(chunk);
        }
        chunk = null;
        fill = 0;
        rowsEnd = 0;
        header = null;
        state = State.SQL;
    }

    private byte[] takeChunk() throws IOException {
        byte[] c = free.poll();
        if (c != null) {
            return c;
        }
        if (allocated < maxChunks) {
            allocated++;
            return new byte[CHUNK];
        }
        try {
            while ((c = free.poll(100, TimeUnit.MILLISECONDS)) == null) {
                if (active != null) {
                    check();
                }
            }
            return c;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while waiting for a lane");
        }
    }

    private void release(byte[] c) {
        free.offer(c);
    }

    /** One lane's writer: its queue into its stream, then a flush at the block's end. */
    private final class Lane {
        final int index;
        final OutputStream out;
        final ArrayBlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(QUEUED);
        final CountDownLatch done = new CountDownLatch(1);
        volatile IOException failure;

        Lane(int index, OutputStream out) {
            this.index = index;
            this.out = out;
        }

        void run() {
            try {
                for (Chunk c = queue.take(); c != END; c = queue.take()) {
                    if (failure == null) {
                        try {
                            out.write(c.bytes(), 0, c.length());
                        } catch (IOException e) {
                            failure = e;
                        }
                    }
                    release(c.bytes());
                }
                if (failure == null) {
                    out.flush();
                }
            } catch (IOException e) {
                failure = e;
            } catch (InterruptedException e) {
                failure = new java.io.InterruptedIOException("lane " + index + " stopped");
            } finally {
                done.countDown();
            }
        }
    }

    /**
     * The table a COPY header names, {@code COPY <schema>.<table> (...) FROM stdin;}, as written (quoted identifiers
     * kept: it is given to {@code to_regclass}); null if it is not one pg_dump writes.
     */
    static String tableOf(byte[] b, int length) {
        int i = COPY.length;
        int start = i;
        for (int part = 0; part < 2; part++) {
            if (i < length && b[i] == '"') {
                i++;
                while (true) {
                    if (i >= length) {
                        return null;
                    }
                    if (b[i] == '"') {
                        if (i + 1 < length && b[i + 1] == '"') {
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    i++;
                }
            } else {
                int from = i;
                while (i < length && b[i] != '.' && b[i] != ' ' && b[i] != '"') {
                    i++;
                }
                if (i == from) {
                    return null;
                }
            }
            if (part == 0) {
                if (i >= length || b[i] != '.') {
                    return null;
                }
                i++;
            }
        }
        if (i >= length || b[i] != ' ') {
            return null;
        }
        return new String(b, start, i - start, StandardCharsets.UTF_8);
    }

    private static boolean startsWith(byte[] b, int length, byte[] prefix) {
        return length >= prefix.length && Arrays.equals(b, 0, prefix.length, prefix, 0, prefix.length);
    }

    private static boolean endsWith(byte[] b, int length, byte[] suffix) {
        return length >= suffix.length && Arrays.equals(b, length - suffix.length, length, suffix, 0, suffix.length);
    }

    private static boolean contains(byte[] b, int length, byte[] part) {
        outer:
        for (int i = 0; i + part.length <= length; i++) {
            for (int k = 0; k < part.length; k++) {
                if (b[i + k] != part[k]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
