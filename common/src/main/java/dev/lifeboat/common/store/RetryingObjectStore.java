package dev.lifeboat.common.store;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The decorator that retries and counts: every operation of the store it wraps runs under the shared
 * {@link RetryPolicy}, which retries {@link StoreException.Transient} failures only and reports each attempt and
 * retry to the metrics. Wired once, in {@code StoreProducer}.
 *
 * <p>What it cannot repeat from outside is left to the store, under the same policy: the writes and the commit of a
 * {@link PendingObject} (only the S3 store holds the part being sent) and reads that break midway (only the store
 * can resume at the right byte). {@link #checkReachable} is tried once: readiness must answer fast.
 */
public final class RetryingObjectStore implements ObjectStore {
    private final ObjectStore delegate;
    private final RetryPolicy policy;

    public RetryingObjectStore(ObjectStore delegate, RetryPolicy policy) {
        this.delegate = delegate;
        this.policy = policy;
    }

    @Override
    public PendingObject create(String key) throws IOException {
        return policy.call(StoreOperation.CREATE, () -> delegate.create(key));
    }

    @Override
    public PendingObject create(String key, java.util.Map<String, String> tags) throws IOException {
        return policy.call(StoreOperation.CREATE, () -> delegate.create(key, tags));
    }

    @Override
    public Optional<BucketLifecycle> lifecycle() {
        return delegate.lifecycle();
    }

    @Override
    public ArchiveRetrieval archive() {
        return delegate.archive();
    }

    @Override
    public InputStream open(String key) throws IOException {
        return policy.call(StoreOperation.OPEN, () -> delegate.open(key));
    }

    @Override
    public Optional<ObjectInfo> stat(String key) throws IOException {
        return policy.call(StoreOperation.STAT, () -> delegate.stat(key));
    }

    @Override
    public List<ObjectInfo> list(String prefix) throws IOException {
        return policy.call(StoreOperation.LIST, () -> delegate.list(prefix));
    }

    @Override
    public void delete(String key) throws IOException {
        policy.call(StoreOperation.DELETE, () -> {
            delegate.delete(key);
            return null;
        });
    }

    @Override
    public void checkReachable() throws IOException {
        policy.once(StoreOperation.CHECK_REACHABLE, () -> {
            delegate.checkReachable();
            return null;
        });
    }

    @Override
    public String locate(String key) {
        return delegate.locate(key);
    }

    @Override
    public List<String> pending(String prefix) throws IOException {
        return policy.call(StoreOperation.PENDING, () -> delegate.pending(prefix));
    }

    @Override
    public List<String> abortPending(String prefix, Instant startedBefore) throws IOException {
        return policy.call(StoreOperation.ABORT_PENDING, () -> delegate.abortPending(prefix, startedBefore));
    }
}
