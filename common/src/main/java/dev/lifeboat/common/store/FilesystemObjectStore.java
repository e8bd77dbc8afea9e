package dev.lifeboat.common.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * An {@link ObjectStore} in a local folder (local runs, hostPath, NFS). A new object is written to a hidden
 * temporary file in its final folder, fsynced, then hard-linked to its name: the link is atomic and fails if the
 * name exists, so a committed object is complete and never overwritten.
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

    @Override
    public PendingObject create(String key) throws IOException {
        Path target = path(key);
        Files.createDirectories(target.getParent());
        if (Files.exists(target)) {
            throw new ObjectExistsException(key);
        }
        Path temp = target.resolveSibling(TEMP_MARK + target.getFileName() + "-" + UUID.randomUUID());
        FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new FilePending(key, target, temp, channel);
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
        }
    }

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        Path p = path(key);
        try {
            return Files.isRegularFile(p) ? Optional.of(new ObjectInfo(key, Files.size(p))) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<ObjectInfo> list(String prefix) throws IOException {
        List<ObjectInfo> out = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return out;
        }
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(p) && !p.getFileName().toString().startsWith(TEMP_MARK)) {
                    String key = root.relativize(p).toString().replace('\\', '/');
                    if (key.startsWith(prefix)) {
                        try {
                            out.add(new ObjectInfo(key, Files.size(p)));
                        } catch (NoSuchFileException gone) {
                            // deleted while listing
                        }
                    }
                }
            }
        }
        out.sort((a, b) -> a.key().compareTo(b.key()));
        return out;
    }

    @Override
    public void delete(String key) throws IOException {
        Path p = path(key);
        if (!Files.isDirectory(p)) { // a folder holding other keys is not an object: nothing to delete
            Files.deleteIfExists(p);
        }
    }

    @Override
    public void checkReachable() throws IOException {
        Files.createDirectories(root);
        if (!Files.isWritable(root)) {
            throw new IOException("Store folder is not writable: " + root);
        }
    }

    @Override
    public String locate(String key) {
        return path(key).toString();
    }

    @Override
    public List<String> pending(String prefix) throws IOException {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return out;
        }
        try (Stream<Path> files = Files.walk(root)) {
            files.filter(p -> p.getFileName().toString().startsWith(TEMP_MARK))
                    .map(this::keyOfTemp)
                    .filter(k -> k.startsWith(prefix))
                    .forEach(out::add);
        }
        return out;
    }

    @Override
    public List<String> abortPending(String prefix, java.time.Instant startedBefore) throws IOException {
        List<String> removed = new ArrayList<>();
        if (!Files.isDirectory(root)) {
            return removed;
        }
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (!p.getFileName().toString().startsWith(TEMP_MARK)) {
                    continue;
                }
                String key = keyOfTemp(p);
                if (key.startsWith(prefix)) {
                    try {
                        if (Files.getLastModifiedTime(p).toInstant().isBefore(startedBefore) && Files.deleteIfExists(p)) {
                            removed.add(key);
                        }
                    } catch (NoSuchFileException gone) {
                        // committed or aborted meanwhile
                    }
                }
            }
        }
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
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
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
                throw new ObjectExistsException(key);
            } catch (IOException | RuntimeException e) {
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
