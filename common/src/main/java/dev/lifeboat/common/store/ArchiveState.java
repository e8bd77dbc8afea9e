package dev.lifeboat.common.store;

import java.time.Instant;

/**
 * The life of an archived object's restore, as a closed state machine driven by HEAD observations
 * ({@link ArchiveRetrieval.Observation}) and by our own restore request:
 * <pre>
 *   ARCHIVED --request--> RESTORE_REQUESTED --HEAD ongoing="true"--> IN_PROGRESS --HEAD ongoing="false"--> READABLE
 *   READABLE --expiry-date passed, or the header gone--> EXPIRED --request--> RESTORE_REQUESTED ...
 * </pre>
 * An object in a class that is not an archive one is {@link #NOT_ARCHIVED} and readable. A HEAD may lag behind a
 * request (S3 answers RestoreObject before HEAD shows the restore), so RESTORE_REQUESTED stays until a HEAD shows
 * the restore running or done.
 */
public enum ArchiveState {
    /** Not in an archive class: readable as it is. */
    NOT_ARCHIVED,
    /** In GLACIER or DEEP_ARCHIVE without a restored copy: a restore must be requested. */
    ARCHIVED,
    /** We asked for a restore; the store does not show it yet. */
    RESTORE_REQUESTED,
    /** The store is restoring the copy ({@code ongoing-request="true"}). */
    IN_PROGRESS,
    /** The restored copy can be read until its expiry ({@code ongoing-request="false"}). */
    READABLE,
    /** The restored copy went away: a new restore must be requested. */
    EXPIRED;

    /** Whether the object can be read now. */
    public boolean readable() {
        return this == NOT_ARCHIVED || this == READABLE;
    }

    /** Whether a restore must be asked for (again) before the object can be read. */
    public boolean needsRequest() {
        return this == ARCHIVED || this == EXPIRED;
    }

    /** The state after asking the store for a restore. */
    public ArchiveState requested() {
        if (!needsRequest()) {
            throw new IllegalStateException("No restore to request in state " + this);
        }
        return RESTORE_REQUESTED;
    }

    /** The state after a HEAD that answered {@code seen}, at {@code now}. */
    public ArchiveState observed(ArchiveRetrieval.Observation seen, Instant now) {
        if (!seen.archived()) {
            return NOT_ARCHIVED;
        }
        if (Boolean.TRUE.equals(seen.ongoing())) {
            return IN_PROGRESS;
        }
        if (Boolean.FALSE.equals(seen.ongoing())) {
            return seen.expiry() != null && !seen.expiry().isAfter(now) ? EXPIRED : READABLE;
        }
        // no x-amz-restore header
        return switch (this) {
            case RESTORE_REQUESTED -> RESTORE_REQUESTED; // the HEAD lags the request
            case READABLE, EXPIRED -> EXPIRED;
            default -> ARCHIVED;
        };
    }

    /** The state of an object first seen through {@code seen}, before any request of ours. */
    public static ArchiveState initial(ArchiveRetrieval.Observation seen, Instant now) {
        return ARCHIVED.observed(seen, now);
    }
}
