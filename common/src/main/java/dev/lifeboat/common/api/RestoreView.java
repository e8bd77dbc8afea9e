package dev.lifeboat.common.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.job.Step;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/**
 * A restore as restore-service's API shows it and its clients read it: its phase, each step with its timing,
 * progress, and, if it failed, why (in words and as a {@link RestoreFailure}). {@code holder}: the replica (pod) that
 * runs or ran it; {@code status} ABANDONED when that replica stopped before the restore ended ({@code error} says why).
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record RestoreView(String id, String target, String backupId, RestoreMode mode, JobState status,
                          RestoreStep phase, String database, Boolean databaseDropped, String safetyBackupId,
                          Instant startedAt, Instant finishedAt, Progress progress, List<Step<RestoreStep>> steps,
                          String error, RestoreFailure failure, String holder) {

    /** A restore whose replica is not named. */
    public RestoreView(String id, String target, String backupId, RestoreMode mode, JobState status, RestoreStep phase,
                       String database, Boolean databaseDropped, String safetyBackupId, Instant startedAt,
                       Instant finishedAt, Progress progress, List<Step<RestoreStep>> steps, String error,
                       RestoreFailure failure) {
        this(id, target, backupId, mode, status, phase, database, databaseDropped, safetyBackupId, startedAt, finishedAt,
                progress, steps, error, failure, null);
    }

    /** Stored bytes read and loaded so far, of the backup's stored size. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Progress(long bytesRestored, long totalBytes, double percent, double elapsedSeconds) {
    }

    /** The step that failed, or null. */
    public RestoreStep failedStep() {
        return steps == null ? null : steps.stream().filter(s -> s.status() == Step.Status.FAILED).map(Step::name)
                .findFirst().orElse(null);
    }
}
