package dev.lifeboat.common.pipeline;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts and SHA-256-hashes the bytes passing through a point of the chain, so sizes and digests are measured
 * while streaming, never by reading the object again. The count is readable from other threads (progress).
 */
public final class Measure {
    private final MessageDigest sha256;
    private final AtomicLong bytes = new AtomicLong();

    public Measure() {
        try {
            sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public long bytes() {
        return bytes.get();
    }

    /** The digest so far, hex; call once, at the end. */
    public String sha256Hex() {
        return HexFormat.of().formatHex(sha256.digest());
    }

    /** A stream writing through to {@code out}, measuring; {@code close()} is passed on only if {@code passClose}. */
    public OutputStream outputStream(OutputStream out, boolean passClose) {
        return new FilterOutputStream(out) {
            @Override
            public void write(int b) throws IOException {
                out.write(b);
                sha256.update((byte) b);
                bytes.incrementAndGet();
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                out.write(b, off, len);
                sha256.update(b, off, len);
                bytes.addAndGet(len);
            }

            @Override
            public void close() throws IOException {
                if (passClose) {
                    super.close();
                } else {
                    out.flush();
                }
            }
        };
    }

    /** A stream reading through {@code in}, measuring what is read. */
    public InputStream inputStream(InputStream in) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = in.read();
                if (b >= 0) {
                    sha256.update((byte) b);
                    bytes.incrementAndGet();
                }
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = in.read(b, off, len);
                if (n > 0) {
                    sha256.update(b, off, n);
                    bytes.addAndGet(n);
                }
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                byte[] buf = new byte[8192];
                long done = 0;
                while (done < n) {
                    int r = read(buf, 0, (int) Math.min(buf.length, n - done));
                    if (r < 0) {
                        break;
                    }
                    done += r;
                }
                return done;
            }
        };
    }
}
