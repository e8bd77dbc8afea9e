package dev.lifeboat.common.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import dev.lifeboat.common.model.VerificationRecord.TableMismatch;
import dev.lifeboat.common.model.VerificationRecord.Trigger;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/**
 * A verification as verify-service's API shows it and its clients read it: queued, running (phase, steps so
 * far, progress) or finished (the stored
 * record: result, the failed step and table, every step with its timing, the measured restore time), or abandoned
 * (the replica running it went silent: {@code error} says which and when). {@code holder}: the replica (pod) running
 * it, while it is queued or running, or when it was abandoned.
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record VerificationView(String id, String backupId, String database, Level level, Trigger trigger,
                               Status status, Result result, StepName phase, Instant startedAt,
                               Instant finishedAt, Double durationSeconds, Progress progress, StepName failedStep,
                               String failedTable, String error, String restoreId, Double restoreSeconds,
                               Integer tablesCompared, List<TableMismatch> mismatches, List<Step<StepName>> steps,
                               String holder) {

    /** While running: stored bytes checked, the scratch restore's progress, tables compared. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Progress(long bytesChecked, long storedBytes, double restorePercent, int tablesCompared, int tables) {
    }

    /**
     * Where a verification is: waiting for the worker, running, finished with a result, or abandoned without one (its
     * replica stopped reporting before it ended; the sweep verifies that backup again).
     */
    public enum Status {
        QUEUED, RUNNING, FINISHED, ABANDONED
    }

    /** A finished verification, from its record. */
    public static VerificationView of(VerificationRecord r) {
        return new VerificationView(r.id(), r.backupId(), r.database(), r.level(), r.trigger(),
                Status.FINISHED, r.result(), null, r.startedAt(), r.finishedAt(), r.durationSeconds(),
                null, r.failedStep(), r.failedTable(), r.error(), r.restoreId(), r.restoreSeconds(),
                r.tablesCompared(), r.mismatches(), r.steps(), null);
    }
}
