package dev.lifeboat.common.job;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;

/**
 * One step of a job (a restore, a verification) as the API shows it and a verification record stores it: its
 * name, how it ended, its timing and what it found.
 *
 * @param <N> the job's closed set of step names
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Step<N extends Enum<N>>(N name, Status status, Instant startedAt, Instant finishedAt, Double seconds,
                                      String detail) {

    /** State of a step. */
    public enum Status {
        RUNNING, DONE, FAILED, SKIPPED
    }
}
