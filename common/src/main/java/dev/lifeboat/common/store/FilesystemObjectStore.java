package dev.lifeboat.common.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * An {@link ObjectStore} in a local folder (local runs, hostPath, NFS). A new object is written to a hidden
 * temporary file in its final folder, fsynced, then hard-linked to its name: the link is atomic and fails if the
 * name exists, so a committed object is complete and never overwritten. Failures are classified into the
 * {@link StoreException} family like the S3 store's ({@link #classify}).
 */
public final class FilesystemObjectStore implements ObjectStore {
    private static final String TEMP_MARK = ".lifeboat-tmp-";
    private final Path root;

    public FilesystemObjectStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    private Path path(String key) {
        Path p = root.resolve(ObjectStore.checkKey(key)).normalize();
        if (!p.startsWith(root)) {
            throw new IllegalArgumentException("Invalid object key: " + key);
        }
        return p;
    }

    /**
     * The store failure behind {@code e}, raised by {@code operation} on {@code key} at {@code path}: access denied
     * and read-only file systems are {@link StoreException.AccessDenied}, a stale NFS handle or a timeout is
     * {@link StoreException.Transient}, a missing file {@link ObjectNotFoundException}, the rest
     * {@link StoreException.Failed}.
     */
    static StoreException classify(StoreOperation operation, String key, Path path, IOException e) {
        if (e instanceof StoreException s) {
            return s;
        }
        String reason = e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : String.valueOf(e.getMessage());
        String subject = key.isEmpty() ? path.toString() : key + " at " + path;
        if (e instanceof AccessDeniedException) {
            return new StoreException.AccessDenied(operation, key, "Filesystem access denied to " + verb(operation) + " "
                    + subject + ": check that the store folder (lifeboat.store.filesystem.path) and its subfolders are "
                    + "writable by the service's user (owner, mode, fsGroup) (AccessDeniedException)", e);
        }
        if (reason.contains("Read-only file system")) {
            return new StoreException.AccessDenied(operation, key, "Filesystem access denied to " + verb(operation) + " "
                    + subject + ": the store folder is on a read-only file system; mount it read-write", e);
        }
        if (e instanceof NoSuchFileException) {
            return new ObjectNotFoundException(operation, key, "No object at " + subject, e);
        }
        String failed = "Filesystem " + verb(operation) + " of " + subject + " failed";
        if (reason.contains("Stale file handle") || reason.contains("Resource temporarily unavailable")
                || reason.contains("timed out")) {
            return new StoreException.Transient(operation, key, failed + " with a temporary error: " + reason, e);
        }
        if (reason.contains("No space left on device") || reason.contains("Disk quota exceeded")) {
            return new StoreException.Failed(operation, key, failed + ": the file system is full (" + reason + ")", e);
        }
        return new StoreException.Failed(operation, key, failed + ": " + e.getClass().getSimpleName() + ": " + reason, e);
    }

    private static String verb(StoreOperation operation) {
        return switch (operation) {
            case UPLOAD_PART, START_UPLOAD -> "write";
            case OPEN, RESUME -> "read";
            case CHECK_REACHABLE -> "use";
            default -> operation.words();
        };
    }

    @Override
    public PendingObject create(String key) throws IOException {
        Path target = path(key);
        try {
            Files.createDirectories(target.getParent());
            if (Files.exists(target)) {
                throw new ObjectExistsException(StoreOperation.CREATE, key, null);
            }
            Path temp = target.resolveSibling(TEMP_MARK + target.getFileName() + "-" + UUID.randomUUID());
            FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            return new FilePending(key, target, temp, channel);
        } catch (IOException e) {
            throw classify(StoreOperation.CREATE, key, target, e);
        }
    }

    @Override
    public InputStream open(String key) throws IOException {
        Path p = path(key);
        if (Files.isDirectory(p)) {
            throw new ObjectNotFoundException(key); // a folder holding other keys is not an object
        }
        try {
            return Files.newInputStream(p);
        } catch (NoSuchFileException e) {
            throw new ObjectNotFoundException(key);
        } catch (IOException e) {
            throw classify(StoreOperation.OPEN, key, p, e);
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        Path p = path(key);
        try {
            return Files.isRegularFile(p) ? Optional.of(new ObjectInfo(key, Files.size(p))) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw classify(StoreOperation.STAT, key, p, e);
        }
    }

    @Override
    public List<ObjectInfo> list(String prefix) throws IOException {
        try {
            return listFiles(prefix);
        } catch (IOException e) {
            throw classify(StoreOperation.LIST, prefix, root, e);
        }
    }

    private List<ObjectInfo> listFiles(String prefix) throws IOException {
        List<ObjectInfo> out = new ArrayList<>();
        walkFiles((p, attrs) -> {
            if (attrs.isRegularFile() && !p.getFileName().toString().startsWith(TEMP_MARK)) {
                String key = root.relativize(p).toString().replace('\\', '/');
                if (key.startsWith(prefix)) {
                    out.add(new ObjectInfo(key, attrs.size()));
                }
            }
        });
        out.sort((a, b) -> a.key().compareTo(b.key()));
        return out;
    }

    /** What {@link #walkFiles} does with each file it finds, given the attributes read while walking. */
    @FunctionalInterface
    private interface FileVisit {
        void accept(Path file, BasicFileAttributes attrs) throws IOException;
    }

    /**
     * Visits every file under the root. Other writers work in the same folders meanwhile (a temporary file is
     * linked to its name and removed, a heartbeat replaces its record), so a file or folder that vanishes between
     * reading its folder and reading its attributes is skipped: {@link Files#walk} would fail the whole listing
     * with an {@link java.io.UncheckedIOException} instead.
     */
    private void walkFiles(FileVisit visit) throws IOException {
        if (!Files.isDirectory(root)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                visit.accept(file, attrs);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null && !(e instanceof NoSuchFileException)) {
                    throw e;
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    @Override
    public void delete(String key) throws IOException {
        Path p = path(key);
        try {
            if (!Files.isDirectory(p)) { // a folder holding other keys is not an object: nothing to delete
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw classify(StoreOperation.DELETE, key, p, e);
        }
    }

    @Override
    public void checkReachable() throws IOException {
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw classify(StoreOperation.CHECK_REACHABLE, "", root, e);
        }
        if (!Files.isWritable(root)) {
            throw classify(StoreOperation.CHECK_REACHABLE, "", root, new AccessDeniedException(root.toString(), null,
                    "Store folder is not writable"));
        }
    }

    @Override
    public String locate(String key) {
        return path(key).toString();
    }

    @Override
    public List<String> pending(String prefix) throws IOException {
        try {
            return pendingFiles(prefix);
        } catch (IOException e) {
            throw classify(StoreOperation.PENDING, prefix, root, e);
        }
    }

    private List<String> pendingFiles(String prefix) throws IOException {
        List<String> out = new ArrayList<>();
        walkFiles((p, attrs) -> {
            if (p.getFileName().toString().startsWith(TEMP_MARK)) {
                String key = keyOfTemp(p);
                if (key.startsWith(prefix)) {
                    out.add(key);
                }
            }
        });
        return out;
    }

    @Override
    public List<String> abortPending(String prefix, java.time.Instant startedBefore) throws IOException {
        try {
            return abortPendingFiles(prefix, startedBefore);
        } catch (IOException e) {
            throw classify(StoreOperation.ABORT_PENDING, prefix, root, e);
        }
    }

    private List<String> abortPendingFiles(String prefix, java.time.Instant startedBefore) throws IOException {
        List<String> removed = new ArrayList<>();
        walkFiles((p, attrs) -> {
            if (p.getFileName().toString().startsWith(TEMP_MARK)) {
                String key = keyOfTemp(p);
                // a file committed or aborted since it was listed is simply not there to delete
                if (key.startsWith(prefix) && attrs.lastModifiedTime().toInstant().isBefore(startedBefore)
                        && Files.deleteIfExists(p)) {
                    removed.add(key);
                }
            }
        });
        return removed;
    }

    /** The key of the object a temporary file is being written for ({@code .lifeboat-tmp-<name>-<uuid>}). */
    private String keyOfTemp(Path temp) {
        String name = temp.getFileName().toString();
        String objectName = name.substring(TEMP_MARK.length(), Math.max(TEMP_MARK.length(), name.length() - 37));
        return root.relativize(temp.resolveSibling(objectName)).toString().replace('\\', '/');
    }

    private static void fsyncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // some file systems cannot open a directory for sync; the data file itself was forced
        }
    }

    private static final class FilePending extends PendingObject {
        private final String key;
        private final Path target;
        private final Path temp;
        private final FileChannel channel;
        private final OutputStream out;
        private boolean done;

        FilePending(String key, Path target, Path temp, FileChannel channel) {
            this.key = key;
            this.target = target;
            this.temp = temp;
            this.channel = channel;
            this.out = java.nio.channels.Channels.newOutputStream(channel);
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                throw classify(StoreOperation.UPLOAD_PART, key, temp, e);
            }
        }

        @Override
        public void commit() throws IOException {
            if (done) {
                throw new IOException("Object " + key + " is already committed or aborted");
            }
            try {
                channel.force(true);
                channel.close();
                Files.createLink(target, temp);
                Files.delete(temp);
                fsyncDirectory(target.getParent());
                done = true;
            } catch (FileAlreadyExistsException e) {
                abort();
                throw new ObjectExistsException(StoreOperation.COMMIT, key, e);
            } catch (NoSuchFileException e) {
                abort();
                throw new StoreException.Conflict(StoreOperation.COMMIT, key, "Filesystem commit of " + key + " failed: "
                        + "its temporary file " + temp + " was removed meanwhile (the clean-up of stale writes); "
                        + "nothing was stored", e);
            } catch (IOException e) {
                abort();
                throw classify(StoreOperation.COMMIT, key, target, e);
            } catch (RuntimeException e) {
                abort();
                throw e;
            }
        }

        @Override
        public void abort() {
            done = true;
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing a file we are about to delete
            }
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // left for the janitor: temp names are never listed
            }
        }

        @Override
        public void close() {
            if (!done) {
                abort();
            }
        }
    }
}
