package dev.lifeboat.common.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/** What a peer needs of restore-service's view of a restore: state, the database restored into, timings, steps. */
@RegisterForReflection
@JsonIgnoreProperties(ignoreUnknown = true)
public record RestoreStatus(String id, String target, String backupId, String status, String phase, String database,
                           Instant startedAt, Instant finishedAt, String error, Progress progress, List<Step> steps) {
    public static final String COMPLETED = "COMPLETED";
    public static final String FAILED = "FAILED";

    /** Stored bytes restored so far. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Progress(long bytesRestored, long totalBytes, double percent, double elapsedSeconds) {
    }

    /** One step of the restore. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Step(String name, String status, Double seconds, String detail) {
    }

    public boolean done() {
        return COMPLETED.equals(status) || FAILED.equals(status);
    }

    /** The name of the step that failed, or null. */
    public String failedStep() {
        return steps == null ? null
                : steps.stream().filter(s -> FAILED.equals(s.status())).map(Step::name).findFirst().orElse(null);
    }
}
