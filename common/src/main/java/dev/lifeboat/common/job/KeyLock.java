package dev.lifeboat.common.job;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Exclusive ownership of a key (a database being backed up, a target being restored into) by one job. The in-process
 * implementation serves one replica; {@code common.coord.LeaseLock} backs it with Kubernetes Leases so replicas share
 * it.
 */
public interface KeyLock {

    /** Takes {@code key} for {@code jobId}; empty when taken, else who holds it. */
    Optional<Holder> tryAcquire(String key, String jobId);

    /** Gives {@code key} back if {@code jobId} holds it. */
    void release(String key, String jobId);

    /** Who holds {@code key} now, on any replica; empty when it is free. */
    Optional<Holder> holder(String key);

    /**
     * Who holds a key: the job and the replica (pod name) running it; {@code instance} is null for the in-process
     * lock, where it can only be this replica.
     */
    record Holder(String jobId, String instance) {
    }

    /** The lock of one process. */
    static KeyLock inProcess() {
        Map<String, String> holders = new ConcurrentHashMap<>();
        return new KeyLock() {
            @Override
            public Optional<Holder> tryAcquire(String key, String jobId) {
                String holder = holders.putIfAbsent(key, jobId);
                return holder == null || holder.equals(jobId) ? Optional.empty() : Optional.of(new Holder(holder, null));
            }

            @Override
            public void release(String key, String jobId) {
                holders.remove(key, jobId);
            }

            @Override
            public Optional<Holder> holder(String key) {
                return Optional.ofNullable(holders.get(key)).map(job -> new Holder(job, null));
            }
        };
    }
}
