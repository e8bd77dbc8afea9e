package dev.lifeboat.common.job;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Exclusive ownership of a key (a database being backed up, a target being restored into) by one job. The in-process
 * implementation serves one replica; a later implementation backs it with a Kubernetes Lease so replicas share it.
 */
public interface KeyLock {

    /** Takes {@code key} for {@code jobId}; empty when taken, else the id of the job holding it. */
    Optional<String> tryAcquire(String key, String jobId);

    /** Gives {@code key} back if {@code jobId} holds it. */
    void release(String key, String jobId);

    /** The lock of one process. */
    static KeyLock inProcess() {
        Map<String, String> holders = new ConcurrentHashMap<>();
        return new KeyLock() {
            @Override
            public Optional<String> tryAcquire(String key, String jobId) {
                String holder = holders.putIfAbsent(key, jobId);
                return holder == null || holder.equals(jobId) ? Optional.empty() : Optional.of(holder);
            }

            @Override
            public void release(String key, String jobId) {
                holders.remove(key, jobId);
            }
        };
    }
}
