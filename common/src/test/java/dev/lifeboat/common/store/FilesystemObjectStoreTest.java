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

    /**
     * Replicas share the folder: while one writes and deletes objects (each write a temporary file linked to its
     * name, then removed), another lists it. A file that vanishes between reading the folder and reading its size
     * is skipped, never a failed listing (seen in CI as a job journal's listing failing on a heartbeat's temporary
     * file).
     */
    @Test
    void listingWhileAnotherWriterCommitsAndDeletesNeverFails() throws Exception {
        int objects = 4000;
        java.util.concurrent.atomic.AtomicReference<Throwable> writerFailure = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        Thread writer = new Thread(() -> {
            try {
                for (int i = 0; i < objects && !stop.get(); i++) {
                    store.putIfAbsent("db/sub-" + (i % 7) + "/obj-" + i, bytes("x" + i));
                    if (i > 0) {
                        store.delete("db/sub-" + ((i - 1) % 7) + "/obj-" + (i - 1));
                    }
                }
            } catch (Throwable e) {
                writerFailure.set(e);
            }
        }, "writer");
        writer.start();
        int listings = 0;
        try {
            while (writer.isAlive()) {
                // a walk is no snapshot: folders are read one after the other, so no count is asserted
                assertThat(store.list("db/")).allSatisfy(o -> assertThat(o.key()).matches("db/sub-\\d/obj-\\d+"));
                assertThat(store.pending("db/")).allSatisfy(k -> assertThat(k).matches("db/sub-\\d/obj-\\d+"));
                assertThat(store.abortPending("other/", java.time.Instant.now())).isEmpty();
                listings++;
            }
        } finally {
            stop.set(true); // a failed listing stops the writer before the folder is removed
            writer.join();
        }
        assertThat(writerFailure.get()).isNull();
        assertThat(listings).isPositive();
        assertThat(store.list("db/")).extracting(ObjectStore.ObjectInfo::key)
                .containsExactly("db/sub-" + ((objects - 1) % 7) + "/obj-" + (objects - 1));
    }
}
