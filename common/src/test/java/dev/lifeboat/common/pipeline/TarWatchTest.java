package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.testing.PostgresServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TarWatch} on archives written by GNU tar (ustar headers, as pg_basebackup writes): every byte passes through
 * unchanged, in reads of any size, and the kept member, the digest and the tail of the digested member come out
 * right; an archive cut short is not complete.
 */
class TarWatchTest {

    @Test
    void keepsTheLabelAndDigestsTheManifestWhateverTheReadSizes(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("backup_label"), "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n");
        byte[] big = new byte[300_001];
        new Random(7).nextBytes(big);
        Files.createDirectories(dir.resolve("base/1"));
        Files.write(dir.resolve("base/1/1259"), big);
        StringBuilder manifest = new StringBuilder("{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n");
        for (int i = 0; i < 2000; i++) {
            manifest.append("{ \"Path\": \"base/1/").append(i).append("\", \"Size\": 8192 },\n");
        }
        manifest.append("],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n"
                + "\"Manifest-Checksum\": \"abc\"}\n");
        Files.writeString(dir.resolve("backup_manifest"), manifest);
        Path tar = dir.resolve("x.tar");
        PostgresServer.run(List.of("tar", "--format=ustar", "-cf", tar.toString(), "-C", dir.toString(),
                "backup_label", "base", "backup_manifest"), Map.of(), null);
        byte[] archive = Files.readAllBytes(tar);

        for (int chunk : new int[] {1, 511, 513, 4096, 1 << 20}) {
            TarWatch watch = new TarWatch(new ByteArrayInputStream(archive), Set.of("backup_label"),
                    Set.of("backup_manifest"));
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[chunk];
            int n;
            while ((n = watch.read(buf, 0, chunk)) >= 0) {
                out.write(buf, 0, n);
            }
            assertThat(out.toByteArray()).as("passed through unchanged, chunk %d", chunk).isEqualTo(archive);
            assertThat(watch.complete()).isTrue();
            assertThat(watch.members()).isEqualTo(5); // backup_label, base/, base/1/, base/1/1259, backup_manifest
            assertThat(watch.text("backup_label")).startsWith("START WAL LOCATION: 0/2000028 ");
            assertThat(watch.text("base/1/1259")).isNull();
            byte[] m = manifest.toString().getBytes(StandardCharsets.UTF_8);
            assertThat(watch.sha256("backup_manifest"))
                    .isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(m)));
            assertThat(m.length).isGreaterThan(TarWatch.TAIL);
            assertThat(watch.tail("backup_manifest")).hasSize(TarWatch.TAIL)
                    .endsWith("\"End-LSN\": \"0/2000100\" }\n],\n\"Manifest-Checksum\": \"abc\"}\n");
        }
    }

    @Test
    void anArchiveCutShortIsNotComplete(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("backup_label"), "x\n");
        Path tar = dir.resolve("x.tar");
        PostgresServer.run(List.of("tar", "--format=ustar", "-cf", tar.toString(), "-C", dir.toString(), "backup_label"),
                Map.of(), null);
        byte[] archive = Files.readAllBytes(tar);
        try (InputStream in = new TarWatch(new ByteArrayInputStream(archive, 0, 1024), Set.of(), Set.of())) {
            TarWatch watch = (TarWatch) in;
            byte[] buf = new byte[300];
            while (watch.read(buf, 0, buf.length) >= 0) {
                // drain
            }
            assertThat(watch.complete()).isFalse();
            assertThat(watch.members()).isEqualTo(1);
        }
    }
}
