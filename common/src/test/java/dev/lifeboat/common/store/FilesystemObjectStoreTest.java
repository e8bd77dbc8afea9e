package dev.lifeboat.common.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.store.ObjectStore.PendingObject;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
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

    /**
     * The folder's failures in the store's terms. The tests run as root, whom file modes do not stop, so the
     * operating system's answers are given to the classifier directly.
     */
    @Test
    void fileSystemFailuresAreClassifiedWithWhatToCheck() {
        Path p = Path.of("/backups/db/a.sql");
        assertThat(FilesystemObjectStore.classify(StoreOperation.COMMIT, "db/a.sql", p, new AccessDeniedException(p.toString())))
                .isInstanceOfSatisfying(StoreException.AccessDenied.class, e -> {
                    assertThat(e.operation()).isEqualTo(StoreOperation.COMMIT);
                    assertThat(e.key()).isEqualTo("db/a.sql");
                    assertThat(e.getMessage()).startsWith("Filesystem access denied to commit db/a.sql at /backups/db/a.sql")
                            .contains("lifeboat.store.filesystem.path").contains("fsGroup");
                });
        assertThat(FilesystemObjectStore.classify(StoreOperation.UPLOAD_PART, "db/a.sql", p,
                new FileSystemException(p.toString(), null, "Read-only file system")))
                .isInstanceOf(StoreException.AccessDenied.class).hasMessageContaining("read-only");
        assertThat(FilesystemObjectStore.classify(StoreOperation.UPLOAD_PART, "db/a.sql", p,
                new FileSystemException(p.toString(), null, "No space left on device")))
                .isInstanceOf(StoreException.Failed.class).hasMessageContaining("write of db/a.sql").hasMessageContaining("full");
        assertThat(FilesystemObjectStore.classify(StoreOperation.OPEN, "db/a.sql", p,
                new FileSystemException(p.toString(), null, "Stale file handle")))
                .isInstanceOf(StoreException.Transient.class);
        assertThat(FilesystemObjectStore.classify(StoreOperation.OPEN, "db/a.sql", p, new java.nio.file.NoSuchFileException(p.toString())))
                .isInstanceOf(ObjectStore.ObjectNotFoundException.class);
        assertThat(FilesystemObjectStore.classify(StoreOperation.LIST, "db/", p, new IOException("Input/output error")))
                .isInstanceOf(StoreException.Failed.class).hasMessageContaining("Input/output error");
    }

    @Test
    void aStoreFolderThatCannotBeCreatedFailsReadinessWithItsPath() throws IOException {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        ObjectStore blocked = new FilesystemObjectStore(file.resolve("store"));
        assertThatThrownBy(blocked::checkReachable).isInstanceOfSatisfying(StoreException.class, e -> {
            assertThat(e.operation()).isEqualTo(StoreOperation.CHECK_REACHABLE);
            assertThat(e.getMessage()).contains(file.resolve("store").toString());
        });
        assertThatThrownBy(() -> blocked.putIfAbsent("db/x", new byte[1])).isInstanceOf(StoreException.Failed.class);
    }
}
