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
 *   <li>Failures of the store itself are {@link StoreException}s, one of a closed family that says what kind of
 *       failure it was, names the {@link StoreOperation} and the key, and carries a message a person can act on:
 *       <ul>
 *         <li>{@link StoreException.NotFound}: nothing there; {@link ObjectNotFoundException} for an absent key
 *             (S3 404 NoSuchKey, no such file), the base type also for a missing bucket;</li>
 *         <li>{@link StoreException.AccessDenied}: credentials or permissions refused (S3 403 AccessDenied,
 *             InvalidAccessKeyId, SignatureDoesNotMatch, no credentials; a folder the service may not write);</li>
 *         <li>{@link StoreException.Archived}: an S3 object in GLACIER or DEEP_ARCHIVE (403 InvalidObjectState on
 *             GET), readable only once restored;</li>
 *         <li>{@link StoreException.Conflict}: a concurrent change won; {@link ObjectExistsException} when the key
 *             was taken (S3 409/412 on the conditional commit), also an upload aborted meanwhile;</li>
 *         <li>{@link StoreException.Transient}: may succeed if tried again (S3 5xx, 429, SlowDown, throttling;
 *             connection reset or refused, timeouts, a body cut short);</li>
 *         <li>{@link StoreException.Failed}: anything else (a request the store rejects, a full disk).</li>
 *       </ul>
 *       Only {@code Transient} failures are retried, by {@link RetryPolicy}: whole operations by the
 *       {@link RetryingObjectStore} decorator, part uploads, commits and broken reads (resumed from the byte they
 *       reached) inside the S3 store. What reaches the caller has already been retried. Misuse (a commit after an
 *       abort) is a plain {@link IOException}.</li>
 * </ul>
 */
public interface ObjectStore {

    /** Starts writing a new object at {@code key}; the bytes are streamed, never held whole. */
    PendingObject create(String key) throws IOException;

    /**
     * Starts writing a new object carrying {@code tags} (S3 object tags, which bucket lifecycle rules can filter
     * on, e.g. {@link BucketLifecycle#DATA_TAGS}); stores without tags ignore them.
     */
    default PendingObject create(String key, java.util.Map<String, String> tags) throws IOException {
        return create(key);
    }

    /** The bucket lifecycle rules of this store, when it has any (S3); empty otherwise (filesystem). */
    default Optional<BucketLifecycle> lifecycle() {
        return Optional.empty();
    }

    /** Restores of archived objects; a store without archive tiers never has one ({@link ArchiveRetrieval#NONE}). */
    default ArchiveRetrieval archive() {
        return ArchiveRetrieval.NONE;
    }

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

    /** Throws when the store cannot be reached or used right now (readiness); never retried, so it answers fast. */
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

    /**
     * A committed object.
     *
     * @param storageClass where the store keeps it: S3's storage class ({@code STANDARD}, {@code STANDARD_IA},
     *                     {@code GLACIER}, {@code DEEP_ARCHIVE}...); {@value #STANDARD} for stores without classes
     */
    record ObjectInfo(String key, long size, String storageClass) {
        public static final String STANDARD = "STANDARD";

        public ObjectInfo {
            storageClass = storageClass == null || storageClass.isBlank() ? STANDARD : storageClass;
        }

        public ObjectInfo(String key, long size) {
            this(key, size, STANDARD);
        }
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

    /** The key of a create already holds an object: the {@link StoreException.Conflict} of a taken key. */
    final class ObjectExistsException extends StoreException.Conflict {
        public ObjectExistsException(String key) {
            this(StoreOperation.COMMIT, key, null);
        }

        public ObjectExistsException(StoreOperation operation, String key, Throwable cause) {
            super(operation, key, "Object already exists: " + key, cause);
        }
    }

    /** No committed object at the key: the {@link StoreException.NotFound} of an absent key. */
    final class ObjectNotFoundException extends StoreException.NotFound {
        public ObjectNotFoundException(String key) {
            this(StoreOperation.OPEN, key, "No object at " + key, null);
        }

        public ObjectNotFoundException(StoreOperation operation, String key, String message, Throwable cause) {
            super(operation, key, message, cause);
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
