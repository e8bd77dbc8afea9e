package dev.lifeboat.restore.rest;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.restore.service.RestoreJob;
import dev.lifeboat.restore.service.RestoreMode;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/** A restore as the API shows it: its phase, each step with its timing, progress, and the error if any. */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RestoreView(String id, String target, String backupId, RestoreMode mode, RestoreJob.Status status,
                          RestoreJob.StepName phase, String database, Boolean databaseDropped, String safetyBackupId,
                          Instant startedAt, Instant finishedAt, Progress progress, List<Step<RestoreJob.StepName>> steps,
                          String error) {

    /** Stored bytes read and loaded so far, of the backup's stored size. */
    @RegisterForReflection
    public record Progress(long bytesRestored, long totalBytes, double percent, double elapsedSeconds) {
    }

    static RestoreView of(RestoreJob job) {
        long total = job.totalBytes();
        double percent = total <= 0 ? 0 : Math.min(100.0, Math.round(job.bytesRestored() * 1000.0 / total) / 10.0);
        return new RestoreView(job.id(), job.target(), job.backupId(), job.spec().mode(), job.status(), job.phase(),
                job.database(), job.databaseDropped() ? Boolean.TRUE : null, job.safetyBackupId(), job.startedAt(),
                job.finishedAt(), new Progress(job.bytesRestored(), total, percent,
                Math.round(job.elapsedSeconds() * 10) / 10.0), job.steps(), job.error());
    }
}
