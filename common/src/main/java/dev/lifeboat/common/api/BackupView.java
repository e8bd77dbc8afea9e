package dev.lifeboat.common.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.model.BackupKind;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Trigger;
import dev.lifeboat.common.model.VerificationRecord;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;

/**
 * A backup as backup-service's API shows it and its clients read it: running (with progress), failed (with the
 * reason), completed (with what verify-service proved of it, and its metadata) or, when its metadata has no valid
 * integrity tag, {@code trusted=false}; when its metadata cannot be parsed at all, {@code trusted=false} with
 * {@code damaged} (the metadata object's key and the parse error). {@code holder}: the replica (pod) running or last
 * running the job, while it is not completed. {@code kind}: {@code LOGICAL} (pg_dump; {@code metadata}) or
 * {@code BASE} (pg_basebackup, point-in-time recovery; {@code base} holds its metadata once completed).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
@RegisterForReflection
public record BackupView(String id, String database, JobState status, Trigger trigger, Instant startedAt,
                         Instant finishedAt, Progress progress, String error, Verification verification,
                         Boolean trusted, BackupMetadata metadata, Damage damaged,
                         String holder, BackupKind kind, BaseBackupMetadata base) {

    /** Why a backup is shown as damaged: its metadata object and the reason it cannot be read. */
    @RegisterForReflection
    public record Damage(String metadataKey, String error) {
    }

    /** Bytes read from pg_dump, bytes written to the store so far, and seconds since the start. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Progress(long bytesRead, long bytesStored, double elapsedSeconds) {
    }

    /**
     * What the verification records say: {@code verified} = proven restorable (a passed full verification and no
     * failed one since), and the newest verification.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Verification(boolean verified, String lastId, VerificationRecord.Level lastLevel,
                               VerificationRecord.Result lastResult, Instant lastFinishedAt) {

        static Verification of(List<VerificationRecord> records) {
            VerificationRecord last = records.isEmpty() ? null : records.get(records.size() - 1);
            return new Verification(BackupCatalog.provenRestorable(records), last == null ? null : last.id(),
                    last == null ? null : last.level(), last == null ? null : last.result(),
                    last == null ? null : last.finishedAt());
        }
    }

    /** A completed backup; {@code records}: its verification records, oldest first. */
    public static BackupView of(BackupMetadata m, List<VerificationRecord> records) {
        return new BackupView(m.id(), m.database(), JobState.COMPLETED, m.trigger(), m.startedAt(), m.finishedAt(),
                new Progress(m.rawSizeBytes(), m.storedSizeBytes(), m.durationSeconds()), null,
                Verification.of(records), null, m, null, null, BackupKind.LOGICAL, null);
    }

    /** A backup whose metadata is untrusted: shown, never acted on. */
    public static BackupView untrusted(BackupMetadata m) {
        return new BackupView(m.id(), m.database(), JobState.COMPLETED, m.trigger(), m.startedAt(), m.finishedAt(),
                null, "UNTRUSTED: the metadata has no valid integrity tag; never restored, verified or chosen as latest",
                null, Boolean.FALSE, m, null, null, BackupKind.LOGICAL, null);
    }

    /** A backup whose metadata object cannot be parsed: shown with the key and the error, never acted on. */
    public static BackupView damaged(BackupCatalog.DamagedMetadata d) {
        String id = d.id() != null ? d.id() : d.key().substring(d.key().lastIndexOf('/') + 1);
        return new BackupView(id, d.database(), JobState.COMPLETED, null,
                d.id() == null ? null : dev.lifeboat.common.model.BackupIds.startedAt(d.id()).orElse(null), null, null,
                "DAMAGED: the metadata object " + d.key() + " cannot be parsed (" + d.error() + "); the backup is never "
                        + "restored, verified or chosen as latest: inspect it, then repair or delete it",
                null, Boolean.FALSE, null, new Damage(d.key(), d.error()), null, BackupKind.LOGICAL, null);
    }

    /** A completed base backup (point-in-time recovery): not verified yet (base backup verification comes later). */
    public static BackupView of(BaseBackupMetadata m) {
        return new BackupView(m.id(), m.database(), JobState.COMPLETED, m.trigger(), m.startedAt(), m.finishedAt(),
                new Progress(m.rawSizeBytes(), m.storedSizeBytes(), m.durationSeconds()), null, null, null, null, null,
                null, BackupKind.BASE, m);
    }
}
