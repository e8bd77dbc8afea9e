package dev.lifeboat.backup.rest;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.backup.service.BackupJob;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Trigger;
import java.time.Instant;

/**
 * A backup as the API shows it: running (with progress), failed (with the reason) or completed (with its
 * metadata).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@io.quarkus.runtime.annotations.RegisterForReflection
public record BackupView(String id, String database, BackupJob.Status status, Trigger trigger, Instant startedAt,
                         Instant finishedAt, Progress progress, String error, BackupMetadata metadata) {

    /** Bytes read from pg_dump, bytes written to the store so far, and seconds since the start. */
    public record Progress(long bytesRead, long bytesStored, double elapsedSeconds) {
    }

    static BackupView of(BackupJob job) {
        if (job.status() == BackupJob.Status.COMPLETED) {
            return of(job.metadata());
        }
        return new BackupView(job.id(), job.database(), job.status(), job.trigger(), job.startedAt(), job.finishedAt(),
                new Progress(job.bytesRead(), job.bytesStored(), Math.round(job.elapsedSeconds() * 10) / 10.0),
                job.error(), null);
    }

    static BackupView of(BackupMetadata m) {
        return new BackupView(m.id(), m.database(), BackupJob.Status.COMPLETED, m.trigger(), m.startedAt(),
                m.finishedAt(), new Progress(m.rawSizeBytes(), m.storedSizeBytes(), m.durationSeconds()), null, m);
    }
}
