package dev.lifeboat.common.job;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.function.Predicate;

/**
 * The jobs of one kind in a service: the active ones (queued or running), each optionally holding a key exclusively
 * through a {@link KeyLock} (one backup per database, one restore per target), and a bounded history of finished
 * ones for {@code GET}s. Thread-safe.
 *
 * @param <J> the kind of job
 */
public final class JobRegistry<J extends Job<?>> {
    private final KeyLock lock;
    private final int history;
    private final Busy busy;
    /** Active jobs by id, oldest first, with the key each holds (null for none); guarded by {@code this}. */
    private final Map<String, Entry<J>> active = new LinkedHashMap<>();
    /** Finished jobs by id, oldest first, at most {@code history}; guarded by {@code this}. */
    private final Map<String, J> finished = new LinkedHashMap<>();

    private record Entry<J>(J job, String key) {
    }

    /** The error for a key already held. */
    @FunctionalInterface
    public interface Busy {
        /**
         * @param key      the key asked for
         * @param jobId    the job holding it
         * @param instance the replica (pod) running that job; null when unknown (the in-process lock)
         */
        RuntimeException busy(String key, String jobId, String instance);
    }

    /**
     * @param history how many finished jobs are kept
     * @param busy    the error for a key already held
     */
    public JobRegistry(KeyLock lock, int history, Busy busy) {
        this.lock = lock;
        this.history = history;
        this.busy = busy;
    }

    /** Registers {@code job}, holding {@code key} (null: none) for it; throws the busy error if the key is held. */
    public synchronized J register(String key, J job) {
        if (key != null) {
            Optional<KeyLock.Holder> holder = lock.tryAcquire(key, job.id());
            if (holder.isPresent()) {
                throw busy.busy(key, holder.get().jobId(), holder.get().instance());
            }
        }
        active.put(job.id(), new Entry<>(job, key));
        return job;
    }

    /**
     * The job ended: its key is released, it moves to the history, and then whoever waits for it is released (so a
     * waiter that starts the next job on the key finds it free). Call once, after recording its result.
     */
    public void finish(J job) {
        synchronized (this) {
            Entry<J> entry = active.remove(job.id());
            if (entry != null && entry.key() != null) {
                lock.release(entry.key(), job.id());
            }
            finished.put(job.id(), job);
            while (finished.size() > history) {
                finished.remove(finished.keySet().iterator().next());
            }
        }
        job.release();
    }

    /**
     * Runs {@code task} while holding {@code key} for {@code holderId}, which is no job (e.g. recovering what a replica
     * that died left of a target), if the key is free on every replica; returns whether it ran. A job asking for the
     * key meanwhile gets the busy error naming {@code holderId}.
     */
    public boolean whileHolding(String key, String holderId, Runnable task) {
        synchronized (this) {
            if (lock.tryAcquire(key, holderId).isPresent()) {
                return false;
            }
        }
        try {
            task.run();
            return true;
        } finally {
            lock.release(key, holderId);
        }
    }

    /** Who holds {@code key}, on this or another replica; empty when it is free. */
    public Optional<KeyLock.Holder> holder(String key) {
        return lock.holder(key);
    }

    /** An active or recently finished job. */
    public synchronized Optional<J> find(String id) {
        Entry<J> entry = active.get(id);
        return entry != null ? Optional.of(entry.job()) : Optional.ofNullable(finished.get(id));
    }

    /** The first active job matching {@code filter}, oldest first. */
    public synchronized Optional<J> findActive(Predicate<J> filter) {
        return active.values().stream().map(Entry::job).filter(filter).findFirst();
    }

    /** The active jobs, oldest first. */
    public synchronized List<J> active() {
        return active.values().stream().map(Entry::job).toList();
    }

    /** The finished jobs kept, newest first. */
    public synchronized List<J> finished() {
        List<J> out = new ArrayList<>(finished.values());
        Collections.reverse(out);
        return out;
    }

    /** Active jobs first (oldest first), then finished ones, newest first. */
    public synchronized List<J> all() {
        List<J> out = new ArrayList<>(active());
        out.addAll(finished());
        return out;
    }

    /** Whether no job is active. */
    public synchronized boolean idle() {
        return active.isEmpty();
    }

    /**
     * Waits until no job is active (each ended, was recorded and released its key), at most {@code limit}; for a
     * graceful shutdown, which must not wait forever. Returns whether the registry is idle.
     */
    public boolean awaitIdle(java.time.Duration limit) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!idle() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return idle();
    }

    /**
     * Waits until {@code job} has ended and its result is recorded, at most {@code limit}; returns it, ended or not
     * (a GET that answers as soon as the job ends, so a caller need not poll at a guessed interval).
     */
    public J await(J job, java.time.Duration limit) {
        try {
            job.done().get(limit.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            // still running: the caller gets it as it is now
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for job " + job.id(), e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        return job;
    }

    /** Waits until {@code job} has ended and its result is recorded; returns it. */
    public J await(J job) {
        try {
            job.done().get();
            return job;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for job " + job.id(), e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }
}
