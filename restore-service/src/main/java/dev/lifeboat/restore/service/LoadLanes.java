package dev.lifeboat.restore.service;

import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.ParallelCopy;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The lanes of a {@link ParallelCopy}: psql processes on the database being loaded, each in its own session, started
 * at the first large table and kept until the load ends. A lane gets only what Lifeboat writes: the dump's session
 * settings, then per table {@code BEGIN}, the session tuning, a wait until the main connection's commit made the
 * table visible, the {@code COPY} and its rows, {@code COMMIT} and an {@code \echo} of a token whose arrival on the
 * lane's stdout says the commit is done ({@code -o /dev/null} keeps statement output off stdout). The main
 * connection is told to commit (and begin again) at the start of every such table.
 */
final class LoadLanes implements ParallelCopy.Lanes {
    private static final int BUFFER = 1 << 16;

    private final PgTools.Program psql;
    private final PgConnection connection;
    private final Duration connectTimeout;
    private final Duration timeout;
    private final String tuning;
    private final OutputStream main;
    private final PgProcess mainProcess;
    private final int count;
    private final List<PgProcess> processes = new ArrayList<>();
    private final List<OutputStream> streams = new ArrayList<>();
    private int block;

    LoadLanes(int count, PgTools.Program psql, PgConnection connection, Duration connectTimeout, Duration timeout,
              String tuning, OutputStream main, PgProcess mainProcess) {
        this.count = count;
        this.psql = psql;
        this.connection = connection;
        this.connectTimeout = connectTimeout;
        this.timeout = timeout;
        this.tuning = tuning;
        this.main = main;
        this.mainProcess = mainProcess;
    }

    @Override
    public int count() {
        return count;
    }

    @Override
    public List<OutputStream> open(String table, byte[] prologue, byte[] header) throws IOException {
        block++;
        // the main connection commits what it ran so far (the table among it) and goes on in a new transaction
        write(main, "COMMIT;\nBEGIN;\n" + tuning);
        main.flush();
        if (processes.isEmpty()) {
            for (int i = 0; i < count; i++) {
                PgProcess p = PgProcess.start(psql.path(), List.of("-X", "--no-password", "-q", "-v", "ON_ERROR_STOP=1",
                        "-v", "VERBOSITY=verbose", "-o", "/dev/null"), connection, connectTimeout,
                        new TimeLimit(timeout, "lifeboat.restore.timeout"), false, "lifeboat-restore-lane-" + i);
                processes.add(p);
                OutputStream in = new BufferedOutputStream(p.stdin(), BUFFER);
                streams.add(in);
                lane(i, () -> {
                    in.write(prologue);
                    write(in, "SET client_min_messages = warning;\n");
                });
            }
        }
        String wait = visibleWait(table);
        for (int i = 0; i < count; i++) {
            OutputStream in = streams.get(i);
            lane(i, () -> {
                write(in, wait + "BEGIN;\n" + tuning);
                in.write(header);
                in.flush(); // the lane waits for the table at once, not when its first rows fill the buffer
            });
        }
        return List.copyOf(streams);
    }

    @Override
    public void close() throws IOException {
        String token = "lifeboat-lane-block-" + block;
        for (int i = 0; i < count; i++) {
            OutputStream in = streams.get(i);
            lane(i, () -> {
                write(in, "\\.\nCOMMIT;\n\\echo " + token + "\n");
                in.flush();
            });
        }
        for (int i = 0; i < count; i++) {
            awaitToken(i, token);
        }
    }

    @Override
    public boolean alive() {
        return mainProcess.isAlive();
    }

    /** What lane {@code i}'s psql said on stderr (its error, after a failure). */
    String stderr(int i) {
        return i < processes.size() ? processes.get(i).stderr() : "";
    }

    /** The load is over: each lane's psql ends (nothing is open on it) and must have exited 0. */
    void finish() throws ParallelCopy.LaneFailed {
        for (int i = 0; i < processes.size(); i++) {
            int lane = i;
            lane(i, () -> streams.get(lane).close());
            try {
                processes.get(i).waitSuccess();
            } catch (RuntimeException e) {
                throw new ParallelCopy.LaneFailed(i, "lane " + i + "'s psql failed: " + e.getMessage(), e);
            }
        }
    }

    /** Waits a little for lane {@code i}'s psql to end after a failure, so that its error is complete. */
    void awaitExit(int i) {
        if (i < processes.size()) {
            processes.get(i).awaitExit(Duration.ofSeconds(5));
        }
    }

    /** After a failure, or always at the end: every lane's psql is stopped (a no-op for one that ended). */
    void kill() {
        for (PgProcess p : processes) {
            p.kill();
            p.close();
        }
    }

    private interface Step {
        void run() throws IOException;
    }

    private void lane(int i, Step step) throws ParallelCopy.LaneFailed {
        try {
            step.run();
        } catch (IOException e) {
            throw new ParallelCopy.LaneFailed(i, "writing to lane " + i + " failed: " + e.getMessage(), e);
        }
    }

    /** Reads lane {@code i}'s stdout up to the line {@code token}: everything before it was committed. */
    private void awaitToken(int i, String token) throws IOException {
        InputStream out = processes.get(i).stdout();
        StringBuilder lineRead = new StringBuilder();
        while (true) {
            int c;
            try {
                c = out.read();
            } catch (IOException e) {
                throw new ParallelCopy.LaneFailed(i, "lane " + i + " failed: " + e.getMessage(), e);
            }
            if (c < 0) {
                throw new ParallelCopy.LaneFailed(i, "lane " + i + "'s psql ended before committing its rows", null);
            }
            if (c == '\n') {
                if (lineRead.toString().equals(token)) {
                    return;
                }
                lineRead.setLength(0);
            } else if (lineRead.length() < 256) {
                lineRead.append((char) c);
            }
        }
    }

    /**
     * A statement that returns once {@code table} (as pg_dump writes it: {@code schema.name}, either part possibly
     * quoted) is committed, i.e. once the main connection committed it. It runs in its own transaction, before the
     * lane's: each check reads pg_class with a new snapshot, and the lane's {@code BEGIN} after it starts with fresh
     * catalog caches. ({@code to_regclass} in the loop would not do: it reads the session's catalog cache, which
     * keeps "no such table" until the session processes invalidations, and a loop that takes no lock never does.)
     */
    static String visibleWait(String table) {
        List<String> parts = identifiers(table);
        return "DO $lifeboat_wait$ BEGIN WHILE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                + "ON n.oid = c.relnamespace WHERE n.nspname = " + literal(parts.get(0)) + " AND c.relname = "
                + literal(parts.get(1)) + ") LOOP PERFORM pg_catalog.pg_sleep(0.01); END LOOP; END $lifeboat_wait$;\n";
    }

    /** {@code schema.name} as pg_dump writes it, split and unquoted: {@code "a ""b"""."c"} is {@code a "b"} and {@code c}. */
    static List<String> identifiers(String qualified) {
        List<String> out = new ArrayList<>(2);
        StringBuilder part = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < qualified.length(); i++) {
            char c = qualified.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < qualified.length() && qualified.charAt(i + 1) == '"') {
                    part.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    part.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == '.') {
                out.add(part.toString());
                part.setLength(0);
            } else {
                part.append(c);
            }
        }
        out.add(part.toString());
        if (out.size() != 2 || quoted) {
            throw new IllegalArgumentException("not a schema-qualified table name: " + qualified);
        }
        return out;
    }

    /** An escape-string literal, read the same whatever standard_conforming_strings is. */
    private static String literal(String value) {
        return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }

    private static void write(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
    }
}
