package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.testing.Poll;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The write chain's overlapping stages: the same bytes and fingerprint as the serial chain (dump → fingerprint and
 * codec in one thread), a failure in any stage ends all of them and reaches the caller, and the buffers between
 * the dump and the stages are a fixed pool whatever the dump's size.
 */
class WriteChainTest {

    /** A plain dump of some megabytes: statements and COPY blocks with rows of varying length. */
    static byte[] dump() {
        StringBuilder s = new StringBuilder("SET client_encoding = 'UTF8';\nCREATE TABLE public.t (id int, v text);\n");
        for (int t = 0; t < 3; t++) {
            s.append("COPY public.t").append(t).append(" (id, v) FROM stdin;\n");
            for (int i = 0; i < 40_000; i++) {
                s.append(i).append('\t').append("value ").append(Integer.toHexString(i * 2654435761L > 0 ? i * 7919 : i))
                        .append("x".repeat(i % 97)).append('\n');
            }
            s.append("\\.\n\n");
        }
        return s.toString().getBytes(StandardCharsets.UTF_8);
    }

    static boolean chainThreadsAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().startsWith("lifeboat-encode")
                        || t.isAlive() && t.getName().startsWith("lifeboat-fingerprint"));
    }

    /** Returns reads in pieces of at most {@code piece} bytes, like a pipe. */
    static InputStream pieces(byte[] data, int piece) {
        return new ByteArrayInputStream(data) {
            @Override
            public synchronized int read(byte[] b, int off, int len) {
                return super.read(b, off, Math.min(len, piece));
            }
        };
    }

    @Test
    void storedBytesAndFingerprintAreThoseOfTheSerialChain() throws IOException {
        byte[] dump = dump();
        Codec codec = Codec.forWriting(Compression.ZSTD, 3, 0, List.of());

        ByteArrayOutputStream serialStored = new ByteArrayOutputStream();
        ContentFingerprint serialFingerprint = new ContentFingerprint();
        try (OutputStream encoded = codec.encode(serialStored)) {
            serialFingerprint.write(dump, 0, dump.length);
            encoded.write(dump);
        }

        for (int piece : new int[] {WriteChain.CHUNK, 4093, 100}) {
            ByteArrayOutputStream stored = new ByteArrayOutputStream();
            Measure measure = new Measure();
            WriteChain chain = new WriteChain(stored, codec, new ContentFingerprint(), measure);
            chain.transferFrom(pieces(dump, piece));
            chain.finish();
            assertThat(stored.toByteArray()).as("reads of %d", piece).isEqualTo(serialStored.toByteArray());
            assertThat(chain.fingerprint()).isEqualTo(serialFingerprint.result()).hasSize(3);
            assertThat(chain.fingerprintAlgorithm()).isEqualTo(ContentFingerprint.XXH3_128);
            assertThat(chain.rawBytes()).isEqualTo(dump.length);
            assertThat(chain.storedBytes()).isEqualTo(serialStored.size());
        }
        assertThat(chainThreadsAlive()).isFalse();
    }

    @Test
    void withZstdWorkersAndAgeTheStoredBytesDecodeToTheDump() throws IOException {
        byte[] dump = dump();
        String[] key = AgeKeys.generate();
        ByteArrayOutputStream stored = new ByteArrayOutputStream();
        WriteChain chain = new WriteChain(stored, Codec.forWriting(Compression.ZSTD, 3, 2, List.of(key[0])),
                new ContentFingerprint(), new Measure());
        chain.transferFrom(pieces(dump, 65536));
        chain.finish();
        byte[] decoded = Codec.forReading("x.sql.zst.age", List.of(key[1]))
                .decode(new ByteArrayInputStream(stored.toByteArray())).readAllBytes();
        assertThat(decoded).isEqualTo(dump);
    }

    @Test
    void aFailingStoreStopsTheReaderAndTheFingerprintAndIsThrown() {
        AtomicLong read = new AtomicLong();
        InputStream endless = endless(read);
        OutputStream failing = new OutputStream() {
            long written;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                written += len;
                if (written > 1 << 20) {
                    throw new IOException("disk full");
                }
            }
        };
        WriteChain chain = new WriteChain(failing, new ContentFingerprint(), new ContentFingerprint(), new Measure());
        assertThatThrownBy(() -> chain.transferFrom(endless)).isInstanceOf(IOException.class).hasMessage("disk full");
        assertThat(read.get()).isLessThan(64L << 20); // the dump was not read on to its (far) end
        assertThat(chainThreadsAlive()).isFalse();
    }

    @Test
    void aFailingFingerprintStageStopsTheChainAndIsThrown() {
        OutputStream tap = new OutputStream() {
            @Override
            public void write(int b) {
                throw new IllegalStateException("fingerprint broke");
            }

            @Override
            public void write(byte[] b, int off, int len) {
                throw new IllegalStateException("fingerprint broke");
            }
        };
        AtomicLong read = new AtomicLong();
        WriteChain chain = new WriteChain(OutputStream.nullOutputStream(), tap, new ContentFingerprint(), new Measure());
        assertThatThrownBy(() -> chain.transferFrom(endless(read))).isInstanceOf(IllegalStateException.class)
                .hasMessage("fingerprint broke");
        assertThat(chainThreadsAlive()).isFalse();
    }

    @Test
    void aFailingDumpReadStopsTheStagesAndIsThrown() {
        CountDownLatch never = new CountDownLatch(1);
        OutputStream stuck = new OutputStream() { // a store that hangs: the reader's failure must still end the chain
            @Override
            public void write(int b) {
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    never.await();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException("stopped");
                }
            }
        };
        InputStream broken = new InputStream() {
            int reads;

            @Override
            public int read() {
                return 'x';
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (++reads > 3) {
                    throw new IOException("pg_dump's pipe broke");
                }
                java.util.Arrays.fill(b, off, off + len, (byte) 'x');
                return len;
            }
        };
        WriteChain chain = new WriteChain(stuck, new ContentFingerprint(), new ContentFingerprint(), new Measure());
        assertThatThrownBy(() -> chain.transferFrom(broken)).isInstanceOf(IOException.class)
                .hasMessage("pg_dump's pipe broke");
        assertThat(chainThreadsAlive()).isFalse();
    }

    @Test
    void aStalledStageHoldsTheReaderAtTheFixedPoolOfBuffers() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicLong stored = new AtomicLong();
        OutputStream slowStore = new OutputStream() {
            @Override
            public void write(int b) {
                stored.incrementAndGet();
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new java.io.InterruptedIOException();
                }
                stored.addAndGet(len);
            }
        };
        long total = 64L << 20;
        AtomicLong read = new AtomicLong();
        InputStream source = new InputStream() {
            @Override
            public int read() {
                throw new UnsupportedOperationException();
            }

            @Override
            public int read(byte[] b, int off, int len) {
                long left = total - read.get();
                if (left <= 0) {
                    return -1;
                }
                int n = (int) Math.min(len, left);
                java.util.Arrays.fill(b, off, off + n, (byte) '\n');
                read.addAndGet(n);
                return n;
            }
        };
        WriteChain chain = new WriteChain(slowStore, new ContentFingerprint(), new ContentFingerprint(), new Measure());
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread reader = Thread.ofPlatform().start(() -> {
            try {
                chain.transferFrom(source);
            } catch (Throwable t) {
                failed.set(t);
            }
        });
        long bound = (long) WriteChain.CHUNKS * WriteChain.CHUNK;
        Poll.until("the reader waits for a free buffer", Duration.ofSeconds(20),
                () -> read.get() == bound && reader.getState() == Thread.State.WAITING);
        assertThat(read.get()).isEqualTo(bound); // not a byte more than the pool holds, while the store is stalled
        release.countDown();
        reader.join(Duration.ofSeconds(60));
        assertThat(reader.isAlive()).isFalse();
        assertThat(failed.get()).isNull();
        assertThat(read.get()).isEqualTo(total);
        assertThat(stored.get()).isEqualTo(total);
        assertThat(chainThreadsAlive()).isFalse();
    }

    /** An input of 1 GiB of dump-like lines that counts what was read. */
    static InputStream endless(AtomicLong read) {
        byte[] line = "COPY public.t (v) FROM stdin;\n".getBytes(StandardCharsets.US_ASCII);
        return new InputStream() {
            @Override
            public int read() {
                throw new UnsupportedOperationException();
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (read.get() > 1L << 30) {
                    return -1;
                }
                for (int i = 0; i < len; i++) {
                    b[off + i] = line[(int) ((read.get() + i) % line.length)];
                }
                read.addAndGet(len);
                return len;
            }
        };
    }
}
