package dev.lifeboat.common.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The one write chain (DESIGN §2): dump bytes → content fingerprint (plain dumps) → compression → age encryption →
 * size and SHA-256 of the stored bytes → the store's pending object, one pass, a fixed buffer, no temporary file.
 * {@link #finish()} flushes the last compressed and encrypted bytes; committing the pending object is the caller's.
 */
public final class WriteChain {
    private static final int BUFFER = 1 << 16;

    private final ContentFingerprint fingerprint;
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
        this.fingerprint = fingerprint;
        this.stored = stored;
        this.encoded = codec.encode(stored.outputStream(pending, false));
    }

    /** Streams {@code dump} to its end through the chain. */
    public void transferFrom(InputStream dump) throws IOException {
        byte[] buffer = new byte[BUFFER];
        for (int n; (n = dump.read(buffer)) >= 0; ) {
            write(buffer, 0, n);
        }
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
}
