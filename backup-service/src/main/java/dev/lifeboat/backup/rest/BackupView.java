package dev.lifeboat.backup.rest;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.backup.service.BackupJob;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.Trigger;
import java.time.Instant;
import java.util.List;

/**
 * A backup as the API shows it: running (with progress), failed (with the reason) or completed (with what
 * verify-service proved of it, and its metadata).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@io.quarkus.runtime.annotations.RegisterForReflection
public record BackupView(String id, String database, BackupJob.Status status, Trigger trigger, Instant startedAt,
                         Instant finishedAt, Progress progress, String error, Verification verification,
                         BackupMetadata metadata) {

    /** Bytes read from pg_dump, bytes written to the store so far, and seconds since the start. */
    @io.quarkus.runtime.annotations.RegisterForReflection
    public record Progress(long bytesRead, long bytesStored, double elapsedSeconds) {
    }

    /**
     * What the verification records say: {@code verified} = proven restorable (a passed full verification and no
     * failed one since), and the newest verification.
     */
    @io.quarkus.runtime.annotations.RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Verification(boolean verified, String lastId, VerificationRecord.Level lastLevel,
                               VerificationRecord.Result lastResult, Instant lastFinishedAt) {

        static Verification of(List<VerificationRecord> records) {
            VerificationRecord last = records.isEmpty() ? null : records.get(records.size() - 1);
            return new Verification(BackupCatalog.provenRestorable(records), last == null ? null : last.id(),
                    last == null ? null : last.level(), last == null ? null : last.result(),
                    last == null ? null : last.finishedAt());
        }
    }

    static BackupView of(BackupJob job) {
        if (job.status() == BackupJob.Status.COMPLETED) {
            return of(job.metadata(), List.of());
        }
        return new BackupView(job.id(), job.database(), job.status(), job.trigger(), job.startedAt(), job.finishedAt(),
                new Progress(job.bytesRead(), job.bytesStored(), Math.round(job.elapsedSeconds() * 10) / 10.0),
                job.error(), null, null);
    }

    /** A completed backup; {@code records}: its verification records, oldest first. */
    static BackupView of(BackupMetadata m, List<VerificationRecord> records) {
        return new BackupView(m.id(), m.database(), BackupJob.Status.COMPLETED, m.trigger(), m.startedAt(),
                m.finishedAt(), new Progress(m.rawSizeBytes(), m.storedSizeBytes(), m.durationSeconds()), null,
                Verification.of(records), m);
    }
}
