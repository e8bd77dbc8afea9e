package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.model.Compression;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class CodecTest {
    private static final int AGE_CHUNK = 64 * 1024;
    /** Dump-like text plus incompressible bytes, so even compressed it spans several 64 KiB age chunks. */
    private static byte[] plaintext;
    private static String[] keyA;
    private static String[] keyB;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        Random random = new Random(20260101);
        b.writeBytes("--\n-- PostgreSQL database dump\n--\n\nCOPY public.t (id, name) FROM stdin;\n"
                .getBytes(StandardCharsets.UTF_8));
        for (int i = 0; i < 20_000; i++) {
            b.writeBytes((i + "\tname \u00e9 " + random.nextInt(1000) + "\t\\N\n").getBytes(StandardCharsets.UTF_8));
        }
        b.writeBytes("\\.\n\n".getBytes(StandardCharsets.UTF_8));
        byte[] noise = new byte[300_000];
        random.nextBytes(noise);
        b.writeBytes(noise);
        plaintext = b.toByteArray();
        keyA = AgeKeys.generate();
        keyB = AgeKeys.generate();
    }

    static byte[] encode(Codec codec, byte[] content) throws IOException {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        try (OutputStream out = codec.encode(sink)) {
            // uneven writes, like a pipe delivers them
            int off = 0;
            int step = 1;
            while (off < content.length) {
                int n = Math.min(step, content.length - off);
                out.write(content, off, n);
                off += n;
                step = step * 3 % 100_003 + 1;
            }
        }
        return sink.toByteArray();
    }

    static byte[] decode(String fileName, List<String> identities, byte[] stored) throws IOException {
        try (InputStream in = Codec.forReading(fileName, identities).decode(new ByteArrayInputStream(stored))) {
            return in.readAllBytes();
        }
    }

    static Stream<Arguments> variants() {
        return Stream.of(
                Arguments.of(Compression.ZSTD, true, ".zst.age"),
                Arguments.of(Compression.GZIP, true, ".gz.age"),
                Arguments.of(Compression.ZSTD, false, ".zst"),
                Arguments.of(Compression.GZIP, false, ".gz"),
                Arguments.of(Compression.NONE, false, ""),
                Arguments.of(Compression.NONE, true, ".age"));
    }

    @ParameterizedTest(name = "{0} encrypted={1}")
    @MethodSource("variants")
    void roundTripRestoresExactPlaintext(Compression compression, boolean encrypted, String suffix) throws IOException {
        Codec codec = Codec.forWriting(compression, 3, 0, encrypted ? List.of(keyA[0]) : List.of());
        assertThat(codec.suffix()).isEqualTo(suffix);
        byte[] stored = encode(codec, plaintext);
        if (compression != Compression.NONE) {
            assertThat(stored.length).isLessThan(plaintext.length);
        }
        if (encrypted) {
            assertThat(new String(stored, 0, 21, StandardCharsets.US_ASCII)).isEqualTo("age-encryption.org/v1");
        } else if (compression == Compression.NONE) {
            assertThat(stored).isEqualTo(plaintext);
        }
        assertThat(decode("main_backup_20260101_020000.sql" + suffix, List.of(keyA[1]), stored)).isEqualTo(plaintext);
    }

    @Test
    void zstdWithWorkersRoundTrips() throws IOException {
        byte[] stored = encode(Codec.forWriting(Compression.ZSTD, 19, 2, List.of(keyA[0])), plaintext);
        assertThat(decode("x.sql.zst.age", List.of(keyA[1]), stored)).isEqualTo(plaintext);
    }

    @Test
    void emptyInputRoundTrips() throws IOException {
        for (Compression c : Compression.values()) {
            Codec codec = Codec.forWriting(c, 3, 0, List.of(keyA[0]));
            byte[] stored = encode(codec, new byte[0]);
            assertThat(decode("x.sql" + codec.suffix(), List.of(keyA[1]), stored)).isEmpty();
        }
    }

    @Test
    void eachOfTwoRecipientsDecryptsAlone() throws IOException {
        byte[] stored = encode(Codec.forWriting(Compression.ZSTD, 3, 0, List.of(keyA[0], keyB[0])), plaintext);
        assertThat(decode("x.sql.zst.age", List.of(keyA[1]), stored)).isEqualTo(plaintext);
        assertThat(decode("x.sql.zst.age", List.of(keyB[1]), stored)).isEqualTo(plaintext);
        String[] other = AgeKeys.generate();
        assertThat(decode("x.sql.zst.age", List.of(other[1], keyB[1]), stored)).isEqualTo(plaintext);
    }

    @Test
    void wrongIdentityFailsWithDecryptionException() throws IOException {
        byte[] stored = encode(Codec.forWriting(Compression.ZSTD, 3, 0, List.of(keyA[0])), plaintext);
        String[] wrong = AgeKeys.generate();
        assertThatThrownBy(() -> decode("x.sql.zst.age", List.of(wrong[1]), stored))
                .isInstanceOf(AgeStage.DecryptionException.class);
    }

    @Test
    void encryptedObjectWithoutIdentityFailsWithDecryptionException() throws IOException {
        byte[] stored = encode(Codec.forWriting(Compression.ZSTD, 3, 0, List.of(keyA[0])), plaintext);
        assertThatThrownBy(() -> decode("x.sql.zst.age", List.of(), stored))
                .isInstanceOf(AgeStage.DecryptionException.class)
                .hasMessageContaining("identity");
    }

    @Test
    void invalidRecipientIsRefusedWhenBuildingTheCodec() {
        assertThatThrownBy(() -> Codec.forWriting(Compression.ZSTD, 3, 0, List.of("age1notakey")))
                .hasMessageContaining("age1notakey");
    }

    /** Age authenticates every chunk and gzip has a CRC-32; unencrypted zstd frames carry no checksum here. */
    static Stream<Arguments> selfCheckingVariants() {
        return variants().filter(a -> (boolean) a.get()[1] || a.get()[0] == Compression.GZIP);
    }

    /** Everything but raw SQL, which has no framing to notice a missing end. */
    static Stream<Arguments> framedVariants() {
        return variants().filter(a -> (boolean) a.get()[1] || a.get()[0] != Compression.NONE);
    }

    @ParameterizedTest(name = "{0} encrypted={1}")
    @MethodSource("selfCheckingVariants")
    void flippedByteFailsReadingToTheEnd(Compression compression, boolean encrypted, String suffix) throws IOException {
        byte[] stored = encode(Codec.forWriting(compression, 3, 0, encrypted ? List.of(keyA[0]) : List.of()), plaintext);
        byte[] damaged = stored.clone();
        damaged[damaged.length / 2] ^= 0x01;
        assertThatThrownBy(() -> decode("x.sql" + suffix, List.of(keyA[1]), damaged)).isInstanceOf(IOException.class);
        if (encrypted) {
            assertThatThrownBy(() -> decode("x.sql" + suffix, List.of(keyA[1]), damaged))
                    .isInstanceOf(AgeStage.DecryptionException.class);
        }
    }

    @ParameterizedTest(name = "{0} encrypted={1}")
    @MethodSource("framedVariants")
    void truncatedObjectFailsReadingToTheEnd(Compression compression, boolean encrypted, String suffix) throws IOException {
        byte[] stored = encode(Codec.forWriting(compression, 3, 0, encrypted ? List.of(keyA[0]) : List.of()), plaintext);
        byte[] truncated = Arrays.copyOf(stored, stored.length - 100);
        assertThatThrownBy(() -> decode("x.sql" + suffix, List.of(keyA[1]), truncated)).isInstanceOf(IOException.class);
    }

    @Test
    void ageObjectCutAtAChunkBoundaryFails() throws IOException {
        // 2 full chunks + 1000 bytes: the stored payload ends with a short last chunk (1000 + 16 tag bytes)
        byte[] content = new byte[2 * AGE_CHUNK + 1000];
        new Random(5).nextBytes(content);
        byte[] stored = encode(Codec.forWriting(Compression.NONE, 0, 0, List.of(keyA[0])), content);
        assertThat(decode("x.sql.age", List.of(keyA[1]), stored)).isEqualTo(content);
        byte[] withoutLastChunk = Arrays.copyOf(stored, stored.length - (1000 + 16));
        assertThatThrownBy(() -> decode("x.sql.age", List.of(keyA[1]), withoutLastChunk))
                .isInstanceOf(AgeStage.DecryptionException.class);
    }

    @Test
    void measureGivesSha256AndSizeOfTheStoredBytes() throws IOException {
        Measure measure = new Measure();
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        try (OutputStream out = Codec.forWriting(Compression.ZSTD, 3, 0, List.of(keyA[0])).encode(measure.outputStream(sink, true))) {
            out.write(plaintext);
        }
        byte[] stored = sink.toByteArray();
        assertThat(measure.bytes()).isEqualTo(stored.length);
        assertThat(measure.sha256Hex()).isEqualTo(sha256(stored));

        Measure reading = new Measure();
        try (InputStream in = Codec.forReading("x.sql.zst.age", List.of(keyA[1]))
                .decode(reading.inputStream(new ByteArrayInputStream(stored)))) {
            assertThat(in.readAllBytes()).isEqualTo(plaintext);
        }
        assertThat(reading.bytes()).isEqualTo(stored.length);
        assertThat(reading.sha256Hex()).isEqualTo(sha256(stored));
    }

    @Test
    void measureWithoutPassCloseLeavesTheSinkOpen() throws IOException {
        Measure measure = new Measure();
        boolean[] closed = {false};
        OutputStream sink = new ByteArrayOutputStream() {
            @Override
            public void close() {
                closed[0] = true;
            }
        };
        try (OutputStream out = measure.outputStream(sink, false)) {
            out.write(1);
            out.write(new byte[] {2, 3, 4}, 1, 2);
        }
        assertThat(closed[0]).isFalse();
        assertThat(measure.bytes()).isEqualTo(3);
        assertThat(measure.sha256Hex()).isEqualTo(sha256(new byte[] {1, 3, 4}));
    }

    // --- interoperability with the stock age, zstd and gzip tools ---

    private Path keyFile(String secret) throws IOException {
        Path key = dir.resolve("key.txt");
        Files.createFile(key, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(key, "# test key\n" + secret + "\n");
        return key;
    }

    /** Runs {@code first | second} without a shell and returns the second program's stdout. */
    private byte[] pipeline(List<String> first, List<String> second) throws Exception {
        Path err1 = dir.resolve("err1");
        Path err2 = dir.resolve("err2");
        List<Process> ps = ProcessBuilder.startPipeline(List.of(
                new ProcessBuilder(first).redirectError(err1.toFile()),
                new ProcessBuilder(second).redirectError(err2.toFile())));
        byte[] out;
        try (InputStream in = ps.get(1).getInputStream()) {
            out = in.readAllBytes();
        }
        for (Process p : ps) {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(ps.get(0).exitValue()).as("%s: %s", first, Files.readString(err1)).isZero();
        assertThat(ps.get(1).exitValue()).as("%s: %s", second, Files.readString(err2)).isZero();
        return out;
    }

    @ParameterizedTest
    @CsvSource({"ZSTD, .sql.zst.age, zstd", "GZIP, .sql.gz.age, gzip"})
    void stockAgeAndDecompressorRestoreTheBackup(Compression compression, String suffix, String decompressor) throws Exception {
        String[] pair = AgeKeys.generate();
        Path file = dir.resolve("main_backup_20260101_020000" + suffix);
        Files.write(file, encode(Codec.forWriting(compression, 3, 0, List.of(pair[0])), plaintext));
        Path key = keyFile(pair[1]);
        byte[] out = pipeline(List.of("age", "-d", "-i", key.toString(), file.toString()), List.of(decompressor, "-d", "-c"));
        assertThat(out).isEqualTo(plaintext);
    }

    @Test
    void codecReadsWhatStockZstdAndAgeWrote() throws Exception {
        Path key = dir.resolve("age-keygen.txt");
        ProcessBuilder keygen = new ProcessBuilder("age-keygen", "-o", key.toString()).redirectErrorStream(true);
        Process kp = keygen.start();
        kp.getInputStream().readAllBytes();
        assertThat(kp.waitFor()).isZero();
        String publicKey = Files.readAllLines(key).stream().filter(l -> l.startsWith("# public key: "))
                .map(l -> l.substring("# public key: ".length()).strip()).findFirst().orElseThrow();
        Path plain = dir.resolve("dump.sql");
        Files.write(plain, plaintext);

        byte[] stored = pipeline(List.of("zstd", "-q", "-c", plain.toString()), List.of("age", "-r", publicKey));
        assertThat(decode("main_backup_20260101_020000.sql.zst.age", AgeKeys.readIdentities(List.of(key)), stored))
                .isEqualTo(plaintext);

        byte[] storedGz = pipeline(List.of("gzip", "-c", plain.toString()), List.of("age", "-r", publicKey));
        assertThat(decode("main_backup_20260101_020000.sql.gz.age", AgeKeys.readIdentities(List.of(key)), storedGz))
                .isEqualTo(plaintext);
    }

    @Test
    void readIdentitiesSkipsCommentsAndBlankLines() throws IOException {
        Path key = dir.resolve("ids.txt");
        Files.writeString(key, "# created: now\n# public key: " + keyA[0] + "\n\n  " + keyA[1] + "  \n" + keyB[1] + "\n");
        assertThat(AgeKeys.readIdentities(List.of(key))).containsExactly(keyA[1], keyB[1]);
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
