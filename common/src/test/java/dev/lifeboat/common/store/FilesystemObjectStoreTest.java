package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.store.ObjectStore.PendingObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FilesystemObjectStoreTest extends ObjectStoreContract {
    @TempDir
    Path dir;
    Path root;

    @Override
    protected ObjectStore newStore() {
        root = dir.resolve("store");
        return new FilesystemObjectStore(root);
    }

    @Test
    void pendingObjectIsATempFileThatPendingReportsAndListIgnores() throws IOException {
        try (PendingObject out = store.create("db/a.sql")) {
            out.write(bytes("abc"));
            assertThat(store.pending("db/")).hasSize(1).allSatisfy(k -> assertThat(k).startsWith("db/"));
            assertThat(store.pending("other/")).isEmpty();
            assertThat(store.list("")).isEmpty();
        }
        try (Stream<Path> files = Files.walk(root)) {
            assertThat(files.filter(Files::isRegularFile)).isEmpty();
        }
    }

    @Test
    void committedObjectIsAPlainFileAtItsKey() throws IOException {
        store.putIfAbsent("db/a.sql", bytes("abc"));
        assertThat(root.resolve("db/a.sql")).hasContent("abc");
        assertThat(store.locate("db/a.sql")).isEqualTo(root.resolve("db/a.sql").toString());
    }
}
