package dev.lifeboat.common.job;

/**
 * Where a job is: waiting for its turn, running, or ended (with or without success). {@code ABANDONED}: the replica
 * running it stopped reporting (killed, crashed, lost its node) before it ended; another replica found it so.
 */
public enum JobState {
    QUEUED, RUNNING, COMPLETED, FAILED, ABANDONED;

    /** Whether the job has ended. */
    public boolean done() {
        return this == COMPLETED || this == FAILED || this == ABANDONED;
    }
}
