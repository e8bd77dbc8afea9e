package dev.lifeboat.common.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one write chain (DESIGN §2): dump bytes → content fingerprint (plain dumps) → compression → age encryption →
 * size and SHA-256 of the stored bytes → the store's pending object, one pass, no temporary file.
 * {@link #finish()} flushes the last compressed and encrypted bytes; committing the pending object is the caller's.
 *
 * <p>Why the stages run on threads of their own: on one thread, every microsecond spent fingerprinting, encrypting,
 * hashing or uploading is a microsecond nobody reads pg_dump's pipe, and pg_dump (and its backend) stall behind a
 * full 64 KiB pipe buffer. Here the calling thread only reads the dump into buffers of a fixed pool of
 * {@link #CHUNKS} × {@link #CHUNK} bytes and hands each buffer, without copying it, to the fingerprint thread and to
 * the encoding thread (compression — zstd's own native workers — then encryption, SHA-256 and the store's writes).
 * A buffer goes back to the pool when both have consumed it, so memory is bounded whatever the dump's size and
 * however slow a stage is: when the pool is empty the reader waits, and pg_dump waits on its pipe. The bytes each
 * stage sees, and so the stored object and the fingerprint, are exactly those of the serial chain.
 *
 * <p>A failure in any stage aborts all: the reader stops at its next buffer and throws the stage's exception, the
 * other stage is stopped, and no thread of the chain outlives {@link #transferFrom}.
 */
public final class WriteChain {
    /** Bytes per hand-off buffer: the most one read of pg_dump's pipe returns. */
    static final int CHUNK = 1 << 16;
    /** Buffers in the pool: the whole of the chain's own buffering (1 MiB) between the dump and the stages. */
    static final int CHUNKS = 16;

    private final ContentFingerprint fingerprint;
    private final OutputStream tap;
    private final Measure stored;
    private final OutputStream encoded;
    private final AtomicLong raw = new AtomicLong();
    private boolean finished;

    /**
     * @param fingerprint the fingerprint to feed, or null for formats that are not fingerprinted
     * @param stored      measures the stored bytes (its count is the upload progress)
     */
    public WriteChain(OutputStream pending, Codec codec, ContentFingerprint fingerprint, Measure stored)
            throws IOException {
        this(codec.encode(stored.outputStream(pending, false)), fingerprint, fingerprint, stored);
    }

    /** The chain with its two consumers given: {@code tap} (the fingerprint's stage, or null) and {@code encoded}. */
    WriteChain(OutputStream encoded, OutputStream tap, ContentFingerprint fingerprint, Measure stored) {
        this.fingerprint = fingerprint;
        this.tap = tap;
        this.stored = stored;
        this.encoded = encoded;
    }

    /** Streams {@code dump} to its end through the chain; returns once every stage has taken in every byte. */
    public void transferFrom(InputStream dump) throws IOException {
        Chunk[] all = new Chunk[CHUNKS];
        BlockingQueue<Chunk> free = new ArrayBlockingQueue<>(CHUNKS);
        for (int i = 0; i < CHUNKS; i++) {
            all[i] = new Chunk(new byte[CHUNK]);
            free.add(all[i]);
        }
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int consumers = tap == null ? 1 : 2;
        StageThread encode = new StageThread("lifeboat-encode", encoded, free, failure);
        StageThread tapStage = tap == null ? null : new StageThread("lifeboat-fingerprint", tap, free, failure);
        encode.thread.start();
        if (tapStage != null) {
            tapStage.thread.start();
        }
        boolean clean = false;
        try {
            while (true) {
                rethrow(failure.get());
                Chunk chunk = free.take();
                int n = fill(dump, chunk.data);
                if (n < 0) {
                    free.add(chunk);
                    break;
                }
                if (n == 0) {
                    free.add(chunk);
                    continue;
                }
                chunk.length = n;
                chunk.users.set(consumers);
                raw.addAndGet(n);
                encode.queue.put(chunk);
                if (tapStage != null) {
                    tapStage.queue.put(chunk);
                }
            }
            encode.queue.put(Chunk.END);
            if (tapStage != null) {
                tapStage.queue.put(Chunk.END);
            }
            encode.thread.join();
            if (tapStage != null) {
                tapStage.thread.join();
            }
            rethrow(failure.get());
            clean = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("The backup was interrupted");
        } finally {
            if (!clean) {
                stop(encode);
                stop(tapStage);
            }
        }
    }

    /**
     * Reads into {@code data}: one read, then more while the dump has bytes ready without waiting, so that each
     * hand-off carries a full buffer rather than the few KiB pg_dump writes at a time (every hand-off wakes two
     * threads); -1 at the end of the dump.
     */
    private static int fill(InputStream dump, byte[] data) throws IOException {
        int n = dump.read(data, 0, data.length);
        while (n > 0 && n < data.length && dump.available() > 0) {
            int more = dump.read(data, n, data.length - n);
            if (more < 0) {
                break; // the end: the next read says so again
            }
            n += more;
        }
        return n;
    }

    /**
     * Stops a stage (it may be waiting for a buffer or inside a write) and waits until its thread ended. The interrupt
     * is repeated: a write that was interrupted may have swallowed it before the stage reached its next wait.
     */
    private static void stop(StageThread stage) {
        if (stage == null) {
            return;
        }
        stage.stopping = true;
        boolean interrupted = false;
        while (stage.thread.isAlive()) {
            stage.thread.interrupt();
            try {
                stage.thread.join(100);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static void rethrow(Throwable t) throws IOException {
        if (t == null) {
            return;
        }
        if (t instanceof IOException e) {
            throw e;
        }
        if (t instanceof UncheckedIOException e) {
            throw e.getCause();
        }
        if (t instanceof RuntimeException e) {
            throw e;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IOException(t);
    }

    /** Writes bytes through the chain, for a producer that is not a stream (e.g. a filter writing as it reads). */
    public void write(byte[] b, int off, int len) throws IOException {
        if (fingerprint != null) {
            fingerprint.write(b, off, len);
        }
        encoded.write(b, off, len);
        raw.addAndGet(len);
    }

    /** Ends compression and encryption: the last bytes reach the pending object here. */
    public void finish() throws IOException {
        finished = true;
        encoded.close();
    }

    /** Releases the stages after a failure (their output is discarded with the pending object). */
    public void discard() {
        if (!finished) {
            finished = true;
            try {
                encoded.close();
            } catch (IOException | RuntimeException ignored) {
                // the failure that got us here is what gets reported
            }
        }
    }

    /** Dump bytes taken in so far. */
    public long rawBytes() {
        return raw.get();
    }

    /** Stored bytes written so far. */
    public long storedBytes() {
        return stored.bytes();
    }

    /** The dump's encoding as the fingerprint read it; null when not fingerprinted. */
    public String encoding() {
        return fingerprint == null ? null : fingerprint.encoding();
    }

    /** The large-object fingerprint, once the dump ended; null when not fingerprinted. */
    public dev.lifeboat.common.model.BackupMetadata.LargeObjectsFingerprint largeObjects() {
        return fingerprint == null ? null : fingerprint.largeObjects();
    }

    /** The per-table fingerprint, once the dump ended; empty when not fingerprinted. */
    public List<dev.lifeboat.common.model.TableFingerprint> fingerprint() {
        return fingerprint == null ? List.of() : fingerprint.result();
    }

    /** The fingerprint's algorithm ({@code BackupMetadata.fingerprintAlgorithm}); null when not fingerprinted. */
    public String fingerprintAlgorithm() {
        return fingerprint == null ? null : fingerprint.algorithm();
    }

    /** One buffer of the pool: its bytes, how many are filled, and how many stages still have to consume it. */
    private static final class Chunk {
        /** Tells a stage that the dump ended. */
        static final Chunk END = new Chunk(new byte[0]);
        final byte[] data;
        final AtomicInteger users = new AtomicInteger();
        int length;

        Chunk(byte[] data) {
            this.data = data;
        }
    }

    /**
     * One consuming stage on its own thread: writes each buffer handed to it to {@code out}, then returns the buffer
     * to the pool if it was the last to need it. After a failure (its own or another stage's) it only returns
     * buffers, so the reader never waits for one that will not come back, until the end or its interrupt.
     */
    private static final class StageThread {
        final BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(CHUNKS + 1);
        final Thread thread;
        volatile boolean stopping;

        StageThread(String name, OutputStream out, BlockingQueue<Chunk> free, AtomicReference<Throwable> failure) {
            thread = Thread.ofPlatform().name(name).daemon().unstarted(() -> {
                try {
                    for (Chunk c; !stopping && (c = queue.take()) != Chunk.END; ) {
                        if (failure.get() == null) {
                            try {
                                out.write(c.data, 0, c.length);
                            } catch (Throwable t) {
                                failure.compareAndSet(null, t);
                            }
                        }
                        if (c.users.decrementAndGet() == 0) {
                            free.add(c);
                        }
                    }
                } catch (InterruptedException e) {
                    // stopped by the reader after a failure: the chain is being discarded
                }
            });
        }
    }
}
