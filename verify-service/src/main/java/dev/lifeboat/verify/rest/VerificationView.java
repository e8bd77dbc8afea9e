package dev.lifeboat.verify.rest;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import dev.lifeboat.common.model.VerificationRecord.TableMismatch;
import dev.lifeboat.common.model.VerificationRecord.Trigger;
import dev.lifeboat.verify.service.VerificationJob;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/**
 * A verification as the API shows it: queued, running (phase, steps so far, progress) or finished (the stored
 * record: result, the failed step and table, every step with its timing, the measured restore time).
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VerificationView(String id, String backupId, String database, Level level, Trigger trigger,
                               VerificationJob.Status status, Result result, StepName phase, Instant startedAt,
                               Instant finishedAt, Double durationSeconds, Progress progress, StepName failedStep,
                               String failedTable, String error, String restoreId, Double restoreSeconds,
                               Integer tablesCompared, List<TableMismatch> mismatches, List<Step<StepName>> steps) {

    /** While running: stored bytes checked, the scratch restore's progress, tables compared. */
    @RegisterForReflection
    public record Progress(long bytesChecked, long storedBytes, double restorePercent, int tablesCompared, int tables) {
    }

    static VerificationView of(VerificationJob job) {
        if (job.status() == VerificationJob.Status.FINISHED) {
            return of(job.record());
        }
        VerificationRecord r = job.record();
        Progress progress = job.status() == VerificationJob.Status.RUNNING ? new Progress(job.bytesChecked(),
                job.storedBytes(), job.restorePercent(), job.tablesCompared(), job.tables()) : null;
        return new VerificationView(r.id(), r.backupId(), r.database(), r.level(), r.trigger(), job.status(), null,
                job.phase(), r.startedAt(), null, null, progress, null, null, null, job.restoreId(), null, null, null,
                r.steps());
    }

    static VerificationView of(VerificationRecord r) {
        return new VerificationView(r.id(), r.backupId(), r.database(), r.level(), r.trigger(),
                VerificationJob.Status.FINISHED, r.result(), null, r.startedAt(), r.finishedAt(), r.durationSeconds(),
                null, r.failedStep(), r.failedTable(), r.error(), r.restoreId(), r.restoreSeconds(),
                r.tablesCompared(), r.mismatches(), r.steps());
    }
}
