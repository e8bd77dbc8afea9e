package dev.lifeboat.restore.service;

import dev.lifeboat.common.error.Errors.ChecksumMismatch;
import dev.lifeboat.common.error.Errors.PgTimeout;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.error.LifeboatException;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.AgeStage.DecryptionException;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.SchemaReset;
import dev.lifeboat.common.store.ObjectStore;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Loads a stored plain-format backup into a database in ONE transaction (DESIGN §3 step 4), streaming:
 * store → SHA-256 and size of the stored bytes → age decryption → decompression → (schema reset) → psql.
 *
 * <p>Why it is all-or-nothing: psql runs without {@code --single-transaction}; this class writes {@code BEGIN}
 * first and writes {@code COMMIT} itself, only after the last stored byte was read and its size and SHA-256
 * matched the metadata (age authenticates every chunk and its end as it decrypts; zstd and gzip check their own
 * frames). psql runs with {@code ON_ERROR_STOP}, so a failing statement ends it at once. On any failure psql is
 * killed before its input is closed, and even an input that just ends has no COMMIT: PostgreSQL rolls the
 * transaction back when the connection goes, and the database is exactly as before.
 */
final class DumpLoader {
    private static final int BUFFER = 1 << 16;
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("restore-watchdog").daemon().factory());

    private DumpLoader() {
    }

    /**
     * Loads {@code metadata}'s object into {@code connection}'s database. {@code preamble} runs first, inside the
     * transaction; with {@code resetSchemas} each schema the dump creates is dropped just before (see
     * {@link SchemaReset}). {@code measure} counts the stored bytes read (progress) and checks their digest.
     */
    static void load(ObjectStore store, BackupMetadata metadata, List<String> identities, PgTools.Program psql,
                     PgConnection connection, Duration connectTimeout, String preamble, boolean resetSchemas,
                     Measure measure, Duration timeout) {
        Codec codec = Codec.forReading(metadata.id(), identities);
        AtomicBoolean timedOut = new AtomicBoolean();
        PgProcess process = PgProcess.start(psql.path(), List.of("-X", "--no-password", "-q", "-v", "ON_ERROR_STOP=1"),
                connection, connectTimeout, new TimeLimit(timeout, "lifeboat.restore.timeout"), true);
        ScheduledFuture<?> watchdog = WATCHDOG.schedule(() -> {
            timedOut.set(true);
            process.kill();
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        boolean committed = false;
        try {
            OutputStream psqlIn = new BufferedOutputStream(process.stdin(), BUFFER);
            try (InputStream raw = open(store, metadata)) {
                InputStream measured = measure.inputStream(raw);
                toPsql(process, () -> write(psqlIn, "BEGIN;\nSET client_min_messages = warning;\n" + preamble + "\n"));
                OutputStream sink = resetSchemas ? new SchemaReset(keepOpen(psqlIn)) : psqlIn;
                InputStream dump = fromStore(metadata, () -> codec.decode(measured));
                byte[] buffer = new byte[BUFFER];
                while (true) {
                    int n = fromStore(metadata, () -> dump.read(buffer));
                    if (n < 0) {
                        break;
                    }
                    toPsql(process, () -> sink.write(buffer, 0, n));
                }
                // bytes after the end of the compressed/encrypted stream are still part of the object: read them too
                fromStore(metadata, () -> measured.transferTo(OutputStream.nullOutputStream()));
                check(metadata, measure);
                // a dump ends with a newline; one more completes a last line that did not, so nothing is held back
                toPsql(process, () -> {
                    sink.write('\n');
                    sink.flush();
                    write(psqlIn, "COMMIT;\n");
                    psqlIn.close();
                });
                committed = true;
            } catch (IOException e) {
                throw new StoreUnavailable("Reading backup " + metadata.id() + " failed: " + e.getMessage(), e);
            }
            process.waitSuccess();
        } catch (RuntimeException e) {
            process.kill();
            if (timedOut.get() || e instanceof PgTimeout) {
                throw new PgToolFailed("The load did not finish within " + timeout
                        + " (lifeboat.restore.timeout); it was stopped and rolled back");
            }
            if (committed && e instanceof PgToolFailed p) {
                throw new PgToolFailed("A statement of the dump failed; the load was rolled back: " + p.getMessage());
            }
            throw e;
        } finally {
            watchdog.cancel(false);
            process.close();
        }
    }

    private interface IoAction<T> {
        T run() throws IOException;
    }

    private interface IoStep {
        void run() throws IOException;
    }

    private static InputStream open(ObjectStore store, BackupMetadata metadata) {
        try {
            return store.open(metadata.key());
        } catch (ObjectStore.ObjectNotFoundException e) {
            throw new ChecksumMismatch("The data object of backup " + metadata.id() + " is missing ("
                    + metadata.key() + "). The target is unchanged.");
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot open backup " + metadata.id() + ": " + e.getMessage(), e);
        }
    }

    /** Reading the stored object failed: it is damaged, cannot be decrypted, or the store failed. */
    private static <T> T fromStore(BackupMetadata metadata, IoAction<T> action) {
        try {
            return action.run();
        } catch (DecryptionException e) {
            throw new ChecksumMismatch("Backup " + metadata.id() + " cannot be decrypted: " + e.getMessage()
                    + ". Nothing was committed; the target is unchanged.");
        } catch (IOException | RuntimeException e) {
            if (e instanceof LifeboatException l) {
                throw l;
            }
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            boolean damaged = e.getClass().getName().startsWith("com.github.luben.zstd")
                    || e instanceof java.util.zip.ZipException || e instanceof java.io.EOFException
                    || e instanceof RuntimeException;
            if (damaged) {
                throw new ChecksumMismatch("Backup " + metadata.id() + " is damaged (" + message
                        + "). Nothing was committed; the target is unchanged.");
            }
            throw new StoreUnavailable("Reading backup " + metadata.id() + " failed: " + message
                    + ". Nothing was committed; the target is unchanged.", e);
        }
    }

    /** Writing to psql failed: it ended, almost always because a statement failed; quote what it said. */
    private static void toPsql(PgProcess process, IoStep step) {
        try {
            step.run();
        } catch (IOException e) {
            process.awaitExit(Duration.ofSeconds(5));
            String said = process.stderr();
            throw new PgToolFailed("psql stopped reading the dump; the load was rolled back"
                    + (said.isBlank() ? " (" + e.getMessage() + ")" : ": " + said));
        }
    }

    /** The stored bytes must be exactly those the backup wrote; otherwise nothing is committed. */
    private static void check(BackupMetadata metadata, Measure measure) {
        long size = measure.bytes();
        String sha = measure.sha256Hex();
        if (size != metadata.storedSizeBytes()) {
            throw new ChecksumMismatch("Backup " + metadata.id() + " has " + size + " stored bytes; its metadata records "
                    + metadata.storedSizeBytes() + ". Nothing was committed; the target is unchanged.");
        }
        if (!sha.equalsIgnoreCase(metadata.sha256())) {
            throw new ChecksumMismatch("Backup " + metadata.id() + ": SHA-256 of the stored bytes is " + sha
                    + ", its metadata records " + metadata.sha256() + ". Nothing was committed; the target is unchanged.");
        }
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
