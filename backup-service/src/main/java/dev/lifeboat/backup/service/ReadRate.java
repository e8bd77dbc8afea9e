package dev.lifeboat.backup.service;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;

/**
 * Caps the rate at which a dump is read ({@code lifeboat.backup.max-rate}, bytes per second), to spare a busy
 * database server and network; unset, dumps are read as fast as they come. Reads are never held longer than needed
 * to keep the average at or below the cap since the stream was opened.
 */
final class ReadRate extends FilterInputStream {
    private final long bytesPerSecond;
    private final long startNanos = System.nanoTime();
    private long read;

    ReadRate(InputStream in, long bytesPerSecond) {
        super(in);
        if (bytesPerSecond <= 0) {
            throw new IllegalArgumentException("lifeboat.backup.max-rate must be positive, got " + bytesPerSecond);
        }
        this.bytesPerSecond = bytesPerSecond;
    }

    @Override
    public int read() throws IOException {
        pace();
        int b = super.read();
        if (b >= 0) {
            read++;
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        pace();
        // at most a tenth of a second's worth at once, so the pace stays smooth
        int n = super.read(b, off, (int) Math.max(1, Math.min(len, bytesPerSecond / 10)));
        if (n > 0) {
            read += n;
        }
        return n;
    }

    private void pace() throws InterruptedIOException {
        long due = startNanos + read * 1_000_000_000L / bytesPerSecond;
        long wait = due - System.nanoTime();
        if (wait > 0) {
            try {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while pacing the dump");
            }
        }
    }
}
