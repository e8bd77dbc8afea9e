package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.pipeline.ReadChain.Outcome;
import dev.lifeboat.common.store.FilesystemObjectStore;
import dev.lifeboat.common.store.ObjectStore;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each outcome of the one read chain, on a real encrypted, compressed backup in a filesystem store: what is proof
 * about the backup's bytes (MISSING, SIZE_INVALID, CHECKSUM_MISMATCH, UNDECODABLE) and what is the store failing
 * (STORE_ERROR) are never confused.
 */
class ReadChainTest {
    private static final String ID = "main_backup_20260101_020000.sql.zst.age";
    private static final String KEY = "database/main/" + ID;

    @TempDir
    Path dir;
    private FilesystemObjectStore store;
    private String[] key;
    private byte[] dump;
    private BackupMetadata metadata;

    @BeforeEach
    void writeBackup() throws IOException {
        store = new FilesystemObjectStore(dir);
        key = AgeKeys.generate();
        StringBuilder text = new StringBuilder("COPY public.t (id, v) FROM stdin;\n");
        Random random = new Random(7);
        for (int i = 0; i < 50_000; i++) {
            text.append(i).append('\t').append(random.nextLong()).append('\n');
        }
        dump = text.append("\\.\n").toString().getBytes(StandardCharsets.UTF_8);
        Measure measure = new Measure();
        try (ObjectStore.PendingObject pending = store.create(KEY)) {
            WriteChain chain = new WriteChain(pending, Codec.forWriting(Compression.ZSTD, 3, 0, List.of(key[0])),
                    new ContentFingerprint(), measure);
            chain.transferFrom(new java.io.ByteArrayInputStream(dump));
            chain.finish();
            pending.commit();
        }
        metadata = metadata(measure.bytes(), measure.sha256Hex(), dump.length);
    }

    private BackupMetadata metadata(long stored, String sha, long raw) {
        return new BackupMetadata(1, ID, "main", "app", KEY, "15.0", "pg_dump 15", "UTF8", DumpFormat.PLAIN,
                Compression.ZSTD, List.of(key[0]), Trigger.MANUAL, Map.of(), Instant.now(), Instant.now(), 1.0, raw,
                stored, sha, List.of(), null, null, null);
    }

    private ReadChain.Result read(ObjectStore from, BackupMetadata m, String identity, ByteArrayOutputStream sink) {
        return ReadChain.read(from, m, List.of(identity), new Measure(), sink::write);
    }

    @Test
    void anIntactBackupReadsBackToTheDumpItWasWrittenFrom() {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        ReadChain.Result r = read(store, metadata, key[1], got);
        assertThat(r.outcome()).as(r.detail()).isEqualTo(Outcome.OK);
        assertThat(got.toByteArray()).isEqualTo(dump);
        assertThat(r.dumpBytes()).isEqualTo(dump.length);
    }

    @Test
    void aMissingObjectIsMissing() throws IOException {
        store.delete(KEY);
        ReadChain.Result r = read(store, metadata, key[1], new ByteArrayOutputStream());
        assertThat(r.outcome()).isEqualTo(Outcome.MISSING);
        assertThat(r.detail()).contains(ID);
    }

    @Test
    void aTruncatedObjectHasAnInvalidSize() throws IOException {
        Path file = dir.resolve(KEY);
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length - 1000));
        ReadChain.Result r = read(store, metadata, key[1], new ByteArrayOutputStream());
        assertThat(r.outcome()).isEqualTo(Outcome.SIZE_INVALID);
        assertThat(r.detail()).contains("stored bytes read; the metadata records " + metadata.storedSizeBytes());
    }

    @Test
    void aFlippedByteIsAChecksumMismatch() throws IOException {
        Path file = dir.resolve(KEY);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x01;
        Files.write(file, bytes);
        ReadChain.Result r = read(store, metadata, key[1], new ByteArrayOutputStream());
        assertThat(r.outcome()).isEqualTo(Outcome.CHECKSUM_MISMATCH);
        assertThat(r.detail()).contains("SHA-256").contains("does not decrypt");
    }

    @Test
    void intactBytesThatNoConfiguredKeyOpensAreUndecodableForTheKey() {
        String[] other = AgeKeys.generate();
        ReadChain.Result r = read(store, metadata, other[1], new ByteArrayOutputStream());
        assertThat(r.outcome()).isEqualTo(Outcome.UNDECODABLE);
        assertThat(r.keyProblem()).isTrue();
    }

    @Test
    void bytesThatWereDamagedBeforeTheyWereChecksummedAreUndecodable() throws IOException {
        // the damage happened before the SHA-256 was taken: the checksum matches, the payload does not authenticate
        Path file = dir.resolve(KEY);
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 100] ^= 0x40;
        Files.write(file, bytes);
        java.security.MessageDigest sha;
        try {
            sha = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        BackupMetadata forged = metadata(bytes.length, java.util.HexFormat.of().formatHex(sha.digest(bytes)),
                dump.length);
        ReadChain.Result r = read(store, forged, key[1], new ByteArrayOutputStream());
        assertThat(r.outcome()).isEqualTo(Outcome.UNDECODABLE);
        assertThat(r.keyProblem()).isFalse();
    }

    @Test
    void aStoreThatFailsMidStreamIsAStoreErrorNotADamagedBackup() {
        ObjectStore flaky = new DelegatingStore(store) {
            @Override
            public InputStream open(String key) throws IOException {
                return new FilterInputStream(super.open(key)) {
                    private long read;

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        if (read > 100_000) {
                            throw new java.net.SocketException("Connection reset");
                        }
                        int n = super.read(b, off, Math.min(len, 8192));
                        read += Math.max(n, 0);
                        return n;
                    }
                };
            }
        };
        ReadChain.Result r = read(flaky, metadata, key[1], new ByteArrayOutputStream());
        assertThat(r.outcome()).as(r.detail()).isEqualTo(Outcome.STORE_ERROR);
        assertThat(r.detail()).contains("Connection reset");
    }

    @Test
    void aStoreThatCannotBeReachedIsAStoreError() {
        ObjectStore down = new DelegatingStore(store) {
            @Override
            public InputStream open(String key) throws IOException {
                throw new java.net.ConnectException("Connection refused");
            }
        };
        ReadChain.Result r = read(down, metadata, key[1], new ByteArrayOutputStream());
        assertThat(r.outcome()).isEqualTo(Outcome.STORE_ERROR);
        assertThat(r.detail()).contains("Connection refused");
    }

    @Test
    void theSinkFailingEscapesAsSinkFailed() {
        assertThatThrownBy(() -> ReadChain.read(store, metadata, List.of(key[1]), new Measure(), (b, off, len) -> {
            throw new IOException("Broken pipe");
        })).isInstanceOf(ReadChain.SinkFailed.class).hasMessageContaining("Broken pipe");
    }

    /** A store that forwards to another; tests override the operation they make fail. */
    private static class DelegatingStore implements ObjectStore {
        private final ObjectStore inner;

        DelegatingStore(ObjectStore inner) {
            this.inner = inner;
        }

        @Override
        public PendingObject create(String key) throws IOException {
            return inner.create(key);
        }

        @Override
        public InputStream open(String key) throws IOException {
            return inner.open(key);
        }

        @Override
        public Optional<ObjectInfo> stat(String key) throws IOException {
            return inner.stat(key);
        }

        @Override
        public List<ObjectInfo> list(String prefix) throws IOException {
            return inner.list(prefix);
        }

        @Override
        public void delete(String key) throws IOException {
            inner.delete(key);
        }

        @Override
        public void checkReachable() throws IOException {
            inner.checkReachable();
        }

        @Override
        public String locate(String key) {
            return inner.locate(key);
        }

        @Override
        public List<String> pending(String prefix) throws IOException {
            return inner.pending(prefix);
        }

        @Override
        public List<String> abortPending(String prefix, Instant startedBefore) throws IOException {
            return inner.abortPending(prefix, startedBefore);
        }
    }
}
