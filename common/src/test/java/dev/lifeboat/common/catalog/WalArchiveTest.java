package dev.lifeboat.common.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.model.Compression;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.store.FilesystemObjectStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The WAL archive's layout in a real (filesystem) store: write-once files, records last, snapshots, trust. */
class WalArchiveTest {
    private static final String SEG = "000000010000000000000003";

    @TempDir
    Path dir;

    @Test
    void aSegmentIsStoredThroughTheChainOnceAndReadsBackIdentical() throws Exception {
        FilesystemObjectStore store = new FilesystemObjectStore(dir.resolve("store"));
        Path keyFile = dir.resolve("integrity.key");
        Files.writeString(keyFile, "k1=" + "0123456789abcdef".repeat(4) + "\n");
        WalArchive wal = new WalArchive(store, new BackupCatalog(store, BackupCatalog::defaultPrefix,
                Integrity.fromKeyFile(Optional.of(keyFile))));
        String[] age = AgeKeys.generate();
        Codec codec = Codec.forWriting(Compression.ZSTD, 3, 0, List.of(age[0]));
        byte[] segment = new byte[1 << 20];
        new Random(7).nextBytes(segment);

        WalObject first = wal.put("main", Kind.SEGMENT, SEG, new ByteArrayInputStream(segment), codec, true, null,
                Instant.parse("2026-12-02T10:00:00Z"), "7300000000000000001");
        assertThat(first.key()).isEqualTo("database/main/wal/00000001/" + SEG + ".zst.age");
        assertThat(first.rawSizeBytes()).isEqualTo(segment.length);
        WalObject again = wal.put("main", Kind.SEGMENT, SEG, new ByteArrayInputStream(new byte[10]), codec, true, null,
                null, "7300000000000000001");
        assertThat(again).as("an archived segment is never rewritten").isEqualTo(first);

        Path ident = dir.resolve("age.txt");
        Files.writeString(ident, age[1] + "\n");
        ByteArrayOutputStream back = new ByteArrayOutputStream();
        ReadChain.Result r = ReadChain.read(store, WalArchive.stored(first), List.of(age[1]), new Measure(),
                (b, off, len) -> back.write(b, off, len));
        assertThat(r.ok()).as(r.detail()).isTrue();
        assertThat(back.toByteArray()).isEqualTo(segment);

        // two snapshots of the next segment, and a history file: ordered history, segments, snapshots oldest first
        String next = "000000010000000000000004";
        WalObject s1 = wal.put("main", Kind.PARTIAL, next, new ByteArrayInputStream(new byte[100]), codec, true,
                "0/4000100", null, "7300000000000000001");
        WalObject s2 = wal.put("main", Kind.PARTIAL, next, new ByteArrayInputStream(new byte[200]), codec, true,
                "0/4000200", null, "7300000000000000001");
        wal.put("main", Kind.HISTORY, "00000002.history", new ByteArrayInputStream("1\t0/5000000\tno recovery target\n"
                .getBytes()), codec, true, null, null, "7300000000000000001");
        assertThat(wal.list("main")).extracting(WalObject::kind, WalObject::name).containsExactly(
                org.assertj.core.groups.Tuple.tuple(Kind.SEGMENT, SEG),
                org.assertj.core.groups.Tuple.tuple(Kind.PARTIAL, next),
                org.assertj.core.groups.Tuple.tuple(Kind.PARTIAL, next),
                org.assertj.core.groups.Tuple.tuple(Kind.HISTORY, "00000002.history"));
        assertThat(wal.find("main", next, Kind.PARTIAL)).contains(s2);
        assertThat(wal.find("main", next, Kind.SEGMENT)).isEmpty();
        wal.delete(s2);
        assertThat(wal.find("main", next, Kind.PARTIAL)).contains(s1);

        // a planted record (unsigned) does not count; a data object without a record is replaced by the next put
        String planted = "database/main/wal/00000001/000000010000000000000009.zst.age";
        store.putIfAbsent(planted, new byte[]{1});
        store.putIfAbsent(planted + ".json", dev.lifeboat.common.model.Json.write(new WalObject(1, "main",
                Kind.SEGMENT, 1, "000000010000000000000009", planted, 1, 1, "00", true, Instant.now(), null, null, "x")));
        assertThat(wal.find("main", "000000010000000000000009", Kind.SEGMENT)).isEmpty();
        String orphan = "database/main/wal/00000001/00000001000000000000000A.zst.age";
        store.putIfAbsent(orphan, new byte[]{1, 2, 3});
        WalObject redone = wal.put("main", Kind.SEGMENT, "00000001000000000000000A", new ByteArrayInputStream(segment),
                codec, true, null, null, "7300000000000000001");
        assertThat(redone.rawSizeBytes()).isEqualTo(segment.length);

        assertThatThrownBy(() -> wal.put("main", Kind.SEGMENT, "../x", new ByteArrayInputStream(new byte[1]), codec,
                true, null, null, "x")).isInstanceOf(IllegalArgumentException.class);
    }
}
