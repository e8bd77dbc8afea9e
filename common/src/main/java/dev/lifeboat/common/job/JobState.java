package dev.lifeboat.common.job;

/** Where a job is: waiting for its turn, running, or ended (with or without success). */
public enum JobState {
    QUEUED, RUNNING, COMPLETED, FAILED;

    /** Whether the job has ended. */
    public boolean done() {
        return this == COMPLETED || this == FAILED;
    }
}
