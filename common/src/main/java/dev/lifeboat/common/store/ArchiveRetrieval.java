package dev.lifeboat.common.store;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;

/**
 * Reading objects that sit in an archive storage class (S3 GLACIER, DEEP_ARCHIVE): a GET is refused
 * ({@link StoreException.Archived}) until a temporary copy is restored. This interface asks for that copy and
 * observes its progress; {@link ArchiveState} is the state machine the callers follow, {@link ArchiveWait} the
 * polling loop the restore and verify services share. Stores without archive tiers use {@link #NONE}: their objects
 * are always readable.
 */
public interface ArchiveRetrieval {

    /** Never archived: the filesystem store, and stores configured without archive support. */
    ArchiveRetrieval NONE = new ArchiveRetrieval() {
        @Override
        public Observation observe(String key) {
            return new Observation(ObjectStore.ObjectInfo.STANDARD, false, null, null);
        }

        @Override
        public void request(String key) {
            // nothing to restore
        }

        @Override
        public Duration expectedTime(String storageClass) {
            return Duration.ZERO;
        }

        @Override
        public String tier() {
            return "none";
        }
    };

    /**
     * What a HEAD of the object says.
     *
     * @param storageClass  S3's storage class, {@code STANDARD} when the answer names none
     * @param archived      whether the class is an archive one (GLACIER, DEEP_ARCHIVE), whose GETs need a restore
     * @param ongoing       the {@code x-amz-restore} header's {@code ongoing-request}: true while the restore runs,
     *                      false once the copy is readable, null without the header (no restore asked for, or the
     *                      copy expired)
     * @param expiry        the header's {@code expiry-date}: when the restored copy goes away; null if not given
     */
    record Observation(String storageClass, boolean archived, Boolean ongoing, Instant expiry) {
    }

    /** A HEAD of the object at {@code key}: storage class and restore state. */
    Observation observe(String key) throws IOException;

    /**
     * Asks the store for a temporary readable copy (S3 RestoreObject with the configured tier and days). Asking while
     * a restore runs or after it finished is not an error.
     */
    void request(String key) throws IOException;

    /** How long a restore of an object in {@code storageClass} takes at the configured tier (AWS's upper bound). */
    Duration expectedTime(String storageClass);

    /** The retrieval tier asked for ({@code Expedited}, {@code Standard}, {@code Bulk}). */
    String tier();

    /** Whether S3 keeps objects of {@code storageClass} where a GET needs a restore first. */
    static boolean archiveClass(String storageClass) {
        return "GLACIER".equals(storageClass) || "DEEP_ARCHIVE".equals(storageClass);
    }
}
