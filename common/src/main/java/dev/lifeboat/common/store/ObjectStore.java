package dev.lifeboat.common.store;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;

/**
 * Where backups live: a flat namespace of keys ({@code database/main/metadata/x.json}) holding opaque bytes.
 * Implementations move bytes only; retries, metrics and logging belong in decorators.
 *
 * <p>Contract, checked for every implementation by the shared {@code ObjectStoreContract} test:
 * <ul>
 *   <li>Keys are relative, '/'-separated, without empty, '.' or '..' segments; others are rejected with
 *       {@link IllegalArgumentException}.</li>
 *   <li>A new object becomes visible all at once, on {@link PendingObject#commit()}, and never replaces an
 *       existing one ({@link ObjectExistsException}). Until then {@link #stat}, {@link #open} and {@link #list}
 *       do not see it; {@link PendingObject#abort()} leaves nothing behind.</li>
 *   <li>An absent key: {@link #stat} returns empty, {@link #open} throws {@link ObjectNotFoundException},
 *       {@link #delete} does nothing.</li>
 *   <li>Failures of the store itself are {@link IOException}s.</li>
 * </ul>
 */
public interface ObjectStore {

    /** Starts writing a new object at {@code key}; the bytes are streamed, never held whole. */
    PendingObject create(String key) throws IOException;

    /** Writes a small object at once; fails with {@link ObjectExistsException} if {@code key} exists. */
    default void putIfAbsent(String key, byte[] content) throws IOException {
        try (PendingObject out = create(key)) {
            out.write(content);
            out.commit();
        }
    }

    /** Opens a committed object for streaming reads. */
    InputStream open(String key) throws IOException;

    /** Size and key of a committed object, or empty when there is none. */
    Optional<ObjectInfo> stat(String key) throws IOException;

    /** Committed objects whose key starts with {@code prefix}, at any depth, sorted by key. */
    List<ObjectInfo> list(String prefix) throws IOException;

    /** Removes a committed object; absent is not an error. */
    void delete(String key) throws IOException;

    /** Throws when the store cannot be reached or used right now (readiness). */
    void checkReachable() throws IOException;

    /** Where a key is, for people: {@code s3://bucket/key} or a file path. */
    String locate(String key);

    /** Uploads or temporary files of uncommitted objects under {@code prefix}; empty when nothing is pending. */
    List<String> pending(String prefix) throws IOException;

    /**
     * Removes uploads or temporary files under {@code prefix} that were started before {@code startedBefore}:
     * what a writer killed midway left behind. Returns their keys. Pending objects started later are untouched.
     */
    List<String> abortPending(String prefix, java.time.Instant startedBefore) throws IOException;

    /** A committed object. */
    record ObjectInfo(String key, long size) {
    }

    /** An object being written: visible only after {@link #commit()}; {@link #close()} without commit aborts. */
    abstract class PendingObject extends java.io.OutputStream {
        /** Makes the object visible atomically; {@link ObjectExistsException} if the key was taken meanwhile. */
        public abstract void commit() throws IOException;

        /** Discards everything written; safe to call more than once and after a failed commit. */
        public abstract void abort();

        /** Aborts unless committed. */
        @Override
        public abstract void close() throws IOException;
    }

    /** The key of a create already holds an object. */
    class ObjectExistsException extends IOException {
        public ObjectExistsException(String key) {
            super("Object already exists: " + key);
        }
    }

    /** No committed object at the key. */
    class ObjectNotFoundException extends IOException {
        public ObjectNotFoundException(String key) {
            super("No object at " + key);
        }
    }

    /** Validates a key against the contract above. */
    static String checkKey(String key) {
        if (key == null || key.isEmpty() || key.startsWith("/") || key.endsWith("/") || key.length() > 1024) {
            throw new IllegalArgumentException("Invalid object key: " + key);
        }
        for (String segment : key.split("/", -1)) {
            if (segment.isEmpty() || segment.equals(".") || segment.equals("..") || segment.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("Invalid object key: " + key);
            }
        }
        return key;
    }
}
