package dev.lifeboat.common.job;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * What every Lifeboat job (a backup, a restore, a verification) has: an id, a {@link JobState}, its steps with their
 * timings (a closed enum per kind of job), timestamps, and the error it ended with. The job's worker thread writes it;
 * the API reads it meanwhile, so the fields are volatile and the step log synchronized. Kinds add their own progress.
 *
 * @param <N> the job's closed set of step names
 */
public abstract class Job<N extends Enum<N>> {
    private final String id;
    private final Instant createdAt = Instant.now();
    private final StepLog<N> steps = new StepLog<>();
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private volatile JobState state;
    private volatile long startNanos;
    private volatile Instant startedAt;
    private volatile Instant finishedAt;
    private volatile String error;

    /** A job that runs at once ({@code queued=false}) or waits for its turn. */
    protected Job(String id, boolean queued) {
        this.id = id;
        if (queued) {
            state = JobState.QUEUED;
        } else {
            markRunning();
        }
    }

    public String id() {
        return id;
    }

    public JobState state() {
        return state;
    }

    /** When the job was asked for. */
    public Instant createdAt() {
        return createdAt;
    }

    /** When it started running; null while queued. */
    public Instant startedAt() {
        return startedAt;
    }

    public Instant finishedAt() {
        return finishedAt;
    }

    /** Why it failed; null unless FAILED (or a kind that records errors of a finished job). */
    public String error() {
        return error;
    }

    /** Seconds it has been running, or ran. */
    public double elapsedSeconds() {
        if (startedAt == null) {
            return 0;
        }
        return finishedAt != null ? (finishedAt.toEpochMilli() - startedAt.toEpochMilli()) / 1000.0
                : (System.nanoTime() - startNanos) / 1e9;
    }

    /** The step running now, if any. */
    public N phase() {
        return steps.running();
    }

    public List<Step<N>> steps() {
        return steps.list();
    }

    /** The step log, for the job's worker. */
    public StepLog<N> log() {
        return steps;
    }

    /** Completes once the job ended and its result is recorded wherever it goes. */
    public CompletableFuture<Void> done() {
        return done;
    }

    /** The job leaves the queue and starts. */
    protected void markRunning() {
        startNanos = System.nanoTime();
        startedAt = Instant.now();
        state = JobState.RUNNING;
    }

    /**
     * The job ended: {@code error} null = COMPLETED, else FAILED with that reason (also when {@code failed} is forced
     * by a kind whose completed jobs carry an error, see {@link #end(JobState, String)}). Waiters are released by
     * {@link #release()}.
     */
    protected void end(String failure) {
        end(failure == null ? JobState.COMPLETED : JobState.FAILED, failure);
    }

    /** The job ended in {@code terminal}, with {@code reason} (may be null). */
    protected void end(JobState terminal, String reason) {
        error = reason;
        finishedAt = Instant.now();
        if (startedAt == null) {
            startedAt = finishedAt;
        }
        state = terminal;
    }

    /** Releases whoever waits for the job; after its result was recorded. */
    protected void release() {
        done.complete(null);
    }
}
