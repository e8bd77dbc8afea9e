package dev.lifeboat.common.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.job.Step;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * The record of one finished verification of a backup, schema version 1 (DESIGN §2, §4), stored by verify-service
 * (and only by it) at {@code <prefix>/verifications/<backup id>/<verification id>.json}. Write-once, like the
 * metadata. backup-service ({@code ?verified=true}) and restore-service ({@code latest-verified}) read it.
 *
 * @param result          the verdict: {@code PASSED}, {@code FAILED} (the backup is proven bad) or {@code ERROR} (no
 *                        verdict: something other than the backup failed, e.g. restore-service was down) or
 *                        {@code ARCHIVED} (no verdict: the data is archived and the scheduled pass did not read it)
 * @param failedStep      the step that failed or erred; null when passed
 * @param failedTable     for a fingerprint difference, the first table that differs
 * @param restoreSeconds  how long the scratch restore took (the measured RTO); only when it completed
 * @param tablesCompared  tables whose restored data was compared with the backup's fingerprint
 * @param mismatches      every table that differs, when the fingerprint step failed
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VerificationRecord(
        int schemaVersion,
        String id,
        String backupId,
        String database,
        Level level,
        Trigger trigger,
        Result result,
        Instant startedAt,
        Instant finishedAt,
        double durationSeconds,
        StepName failedStep,
        String failedTable,
        String error,
        String restoreId,
        Double restoreSeconds,
        Integer tablesCompared,
        List<TableMismatch> mismatches,
        List<Step<StepName>> steps) {

    public static final int SCHEMA_VERSION = 1;

    /** How much is proven (DESIGN §4). */
    public enum Level {
        /** Metadata present, object size and SHA-256 match, it decrypts and decompresses to the end. */
        CHECKSUM,
        /** Checksum, then a scratch restore whose data is compared with the fingerprint, index checks, SQL checks. */
        FULL;

        /** {@code checksum} or {@code full}, any case; null when neither. */
        public static Level parse(String text) {
            if (text == null) {
                return null;
            }
            for (Level l : values()) {
                if (l.name().equals(text.strip().toUpperCase(Locale.ROOT))) {
                    return l;
                }
            }
            return null;
        }
    }

    /**
     * The verdict of a verification; a closed set. {@code ARCHIVED}: the data sits in an archive storage class and
     * the scheduled checksum pass did not restore it; no verdict (not FAILED, and not a pass).
     */
    public enum Result {
        PASSED, FAILED, ERROR, ARCHIVED
    }

    /** What started a verification. */
    public enum Trigger {
        /** backup-service announced a new backup. */
        NEW_BACKUP,
        /** verify-service found a backup without a verdict on its own schedule. */
        SWEEP,
        /** The daily checksum pass over every retained backup. */
        SCHEDULED,
        /** Asked for through the API. */
        MANUAL
    }

    /** The steps of a verification, in the order they run. */
    public enum StepName {
        /** The metadata is readable and the data object is there with the recorded size. */
        METADATA,
        /** The stored bytes read whole: SHA-256 and size match, age and zstd/gzip decode to the end. */
        CHECKSUM,
        /** restore-service restores the backup into a fresh scratch database. */
        RESTORE,
        /** Each table read back with COPY ... TO STDOUT, fingerprinted, compared with the metadata's. */
        FINGERPRINT,
        /** amcheck's B-tree checks over every index of the restored database, where the extension is available. */
        AMCHECK,
        /** The configured SQL checks, each returning one boolean. */
        SQL_CHECKS,
        /** The scratch database dropped again (also after a failure). */
        DROP_SCRATCH
    }

    /**
     * A table whose restored data differs from the backup's fingerprint. Rows and hashes are null on the side where
     * the table does not exist.
     */
    @RegisterForReflection
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record TableMismatch(String table, String problem, Long backupRows, Long restoredRows, String backupHash,
                                String restoredHash) {
    }

    /** Whether this is a verdict that the backup restores (a passed full verification). */
    public boolean provesRestorable() {
        return level == Level.FULL && result == Result.PASSED;
    }
}
