package dev.lifeboat.restore.service;

import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.PgTimeout;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.api.RestoreFailure;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ParallelCopy;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.pipeline.SchemaReset;
import dev.lifeboat.common.store.ObjectStore;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * Loads a stored plain-format backup into a database in ONE transaction (DESIGN §3 step 4), streaming:
 * store → SHA-256 and size of the stored bytes → age decryption → decompression → dump rewrite → psql.
 *
 * <p>Why it is all-or-nothing: psql runs without {@code --single-transaction}; this class writes {@code BEGIN}
 * first and writes {@code COMMIT} itself, only after the last stored byte was read and its size and SHA-256
 * matched the metadata (age authenticates every chunk and its end as it decrypts; zstd and gzip check their own
 * frames). psql runs with {@code ON_ERROR_STOP}, so a failing statement ends it at once. On any failure psql is
 * killed before its input is closed, and even an input that just ends has no COMMIT: PostgreSQL rolls the
 * transaction back when the connection goes, and the database is exactly as before. The only transaction control
 * pg_dump writes itself, the {@code BEGIN;}/{@code COMMIT;} around large-object data, is dropped on the way
 * ({@link SchemaReset}), so Lifeboat's COMMIT is the only one that reaches the server.
 */
final class DumpLoader {
    private static final int BUFFER = 1 << 16;

    private DumpLoader() {
    }

    /**
     * Loading the rows of large tables over {@code lanes} more connections ({@link ParallelCopy}), each beginning its
     * transactions with {@code tuning}; only for a database created for the restore, which is dropped on failure.
     * {@link #NONE}: everything in one transaction.
     */
    record Parallel(int lanes, String tuning) {
        static final Parallel NONE = new Parallel(1, "");

        boolean on() {
            return lanes >= 2;
        }
    }

    /** What the load did: the tables whose rows went over the lanes, and their bytes. */
    record Loaded(int parallelTables, long parallelBytes) {
    }

    /**
     * Where the plain SQL comes from. It writes all of it into the sink and returns normally only when all of it was
     * read and checked; its own failures are {@link RestoreFault}s (nothing is committed then), the sink's are
     * {@link ReadChain.SinkFailed}.
     */
    interface Source {
        void writeTo(ReadChain.Sink sink);
    }

    /** A stored backup through the read chain: size, SHA-256, age, decompression. */
    static Source fromBackup(ObjectStore store, BackupMetadata metadata, List<String> identities, Measure measure) {
        return sink -> {
            ReadChain.Result read = ReadChain.read(store, metadata, identities, measure, sink);
            if (read.keyProblem()) { // the configuration is at fault, not the backup
                throw new RestoreFault(RestoreFailure.OTHER, read.detail() + " The stored bytes are intact: no configured "
                        + "age identity opens them (lifeboat.encryption.identity-files). Nothing was committed; the "
                        + "target is unchanged.");
            }
            if (!read.ok()) {
                throw new RestoreFault(read.outcome() == ReadChain.Outcome.STORE_ERROR ? RestoreFailure.STORE_ERROR
                        : RestoreFailure.BACKUP_DAMAGED, read.detail() + " Nothing was committed; the target is unchanged.");
            }
        };
    }

    /**
     * pg_dump's plain output: all of it, and pg_dump exited 0, or a {@link RestoreFault} quoting what it said.
     * {@code counted} gets the bytes as they pass (progress).
     */
    static Source fromPgDump(PgProcess pgDump, java.util.function.LongConsumer counted) {
        return sink -> {
            byte[] buffer = new byte[BUFFER];
            try (java.io.InputStream in = pgDump.stdout()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    try {
                        sink.write(buffer, 0, n);
                    } catch (IOException e) {
                        pgDump.kill();
                        throw new ReadChain.SinkFailed(e);
                    }
                    counted.accept(n);
                }
            } catch (IOException e) {
                pgDump.kill();
                throw new RestoreFault(RestoreFailure.OTHER, "Reading pg_dump of the recovered instance failed: "
                        + e.getMessage() + " " + pgDump.stderr().strip() + " Nothing was committed; the target is unchanged.");
            }
            try {
                pgDump.waitSuccess();
            } catch (RuntimeException e) {
                throw new RestoreFault(RestoreFailure.OTHER, "pg_dump of the recovered instance failed: "
                        + Errors.describe(e) + " Nothing was committed; the target is unchanged.");
            }
        };
    }

    /**
     * Loads the plain SQL of {@code source} into {@code connection}'s database. {@code preamble} runs first, inside the
     * transaction; with {@code resetSchemas} each schema the dump creates is dropped just before, and the dump's
     * large-object transaction control is dropped either way (see {@link SchemaReset}). With {@code parallel} on,
     * the rows of large tables go over lanes ({@link ParallelCopy}, {@link LoadLanes}) in transactions of their own.
     */
    static Loaded load(Source source, PgTools.Program psql, PgConnection connection, Duration connectTimeout,
                       String preamble, Parallel parallel, boolean resetSchemas, Duration timeout,
                       java.util.function.Consumer<PgProcess> started, java.util.function.Supplier<String> stop) {
        // verbose errors carry the SQLSTATE, which tells a statement of the dump failing from the server failing
        PgProcess process = PgProcess.start(psql.path(), List.of("-X", "--no-password", "-q", "-v", "ON_ERROR_STOP=1",
                "-v", "VERBOSITY=verbose"), connection, connectTimeout, new TimeLimit(timeout, "lifeboat.restore.timeout"),
                true);
        started.accept(process);
        OutputStream psqlIn = new BufferedOutputStream(process.stdin(), BUFFER);
        LoadLanes lanes = parallel.on() ? new LoadLanes(parallel.lanes(), psql, connection, connectTimeout, timeout,
                parallel.tuning(), psqlIn, process) : null;
        ParallelCopy split = lanes == null ? null : new ParallelCopy(keepOpen(psqlIn), lanes);
        try {
            toPsql(process, connection, () -> write(psqlIn, "BEGIN;\nSET client_min_messages = warning;\n" + preamble + "\n"));
            // always through SchemaReset: it drops the BEGIN/COMMIT pg_dump wraps large-object data in
            SchemaReset sink = new SchemaReset(split == null ? keepOpen(psqlIn) : split, resetSchemas);
            try {
                source.writeTo(sink::write);
            } catch (ReadChain.SinkFailed e) {
                throw e.getCause() instanceof ParallelCopy.LaneFailed failed ? laneStopped(lanes, failed, connection)
                        : psqlStopped(process, connection, e.getCause());
            }
            if (stop.get() != null) { // asked to stop (shutdown): never COMMIT
                throw new RestoreFault(RestoreFailure.OTHER, stop.get() + "; nothing was committed");
            }
            // a dump ends with a newline; one more completes a last line that did not, so nothing is held back
            toPsql(process, connection, () -> {
                sink.write('\n');
                sink.flush();
                if (split != null) {
                    split.close();
                }
            });
            if (lanes != null) {
                try {
                    lanes.finish(); // idle since the last large table: each lane's psql just ends
                } catch (ParallelCopy.LaneFailed e) {
                    throw laneStopped(lanes, e, connection);
                }
            }
            toPsql(process, connection, () -> {
                write(psqlIn, "COMMIT;\n");
                psqlIn.close();
            });
            try {
                process.waitSuccess();
            } catch (PgTimeout e) {
                throw e;
            } catch (PgToolFailed e) {
                throw RestoreFault.ofPsql(process.stderr(), connection.user(),
                        "A statement of the dump failed; the load was rolled back: " + e.getMessage());
            }
            return split == null ? new Loaded(0, 0) : new Loaded(split.parallelTables(), split.parallelBytes());
        } catch (RuntimeException e) {
            process.kill();
            if (e instanceof PgTimeout || process.timedOut()) {
                throw new RestoreFault(RestoreFailure.TIMEOUT, "The load did not finish within " + timeout
                        + " (lifeboat.restore.timeout); it was stopped and rolled back");
            }
            throw e;
        } finally {
            if (split != null) {
                lanes.kill();
                split.abort();
            }
            process.close();
        }
    }

    /** A lane stopped: quote what its psql said. Only a database created for the restore has lanes; it is dropped. */
    private static RestoreFault laneStopped(LoadLanes lanes, ParallelCopy.LaneFailed e, PgConnection connection) {
        lanes.awaitExit(e.lane());
        String said = lanes.stderr(e.lane());
        return RestoreFault.ofPsql(said, connection.user(), "Loading rows in parallel failed ("
                + e.getMessage() + (said.isBlank() ? "" : "; psql said: " + said.strip())
                + "); the database being loaded is dropped, nothing else was changed");
    }

    private interface IoStep {
        void run() throws IOException;
    }

    /** Writing to psql failed: it ended, almost always because a statement failed; quote what it said. */
    private static void toPsql(PgProcess process, PgConnection connection, IoStep step) {
        try {
            step.run();
        } catch (IOException e) {
            throw psqlStopped(process, connection, e);
        }
    }

    private static RestoreFault psqlStopped(PgProcess process, PgConnection connection, IOException e) {
        process.awaitExit(Duration.ofSeconds(5));
        String said = process.stderr();
        return RestoreFault.ofPsql(said, connection.user(), "psql stopped reading the dump; the load was rolled back"
                + (said.isBlank() ? " (" + e.getMessage() + ")" : ": " + said));
    }

    private static void write(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
    }

    /** A view of {@code out} whose close only flushes: the COMMIT is written after the dump. */
    private static OutputStream keepOpen(OutputStream out) {
        return new FilterOutputStream(out) {
            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
            }

            @Override
            public void close() throws IOException {
                out.flush();
            }
        };
    }
}
