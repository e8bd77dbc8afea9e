package dev.lifeboat.restore.service;

import dev.lifeboat.common.error.Errors.InvalidRequest;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;

/**
 * The instant a point-in-time restore recovers to: an ISO-8601 date-time with an explicit offset ({@code Z},
 * {@code +01:00}, {@code -05:00}), or {@code latest} (null {@link #at}): the end of the WAL archive; or, for the
 * restore of a base backup by its id ({@link #END_OF_BACKUP}), the base backup's own end: the first consistent
 * point ({@code recovery_target = 'immediate'}), which is what verify-service's drill of a base backup recovers to.
 */
public record PointInTime(Instant at, boolean endOfBackup) {
    public static final PointInTime END_OF_BACKUP = new PointInTime(null, true);
    public static final String LATEST = "latest";
    public static final String FORM = "\"<ISO-8601 date-time with an offset>\" such as \"2026-12-02T10:15:00+01:00\" or "
            + "\"2026-12-02T09:15:00Z\", or \"latest\"";
    /** As recovery_target_time takes it: UTC, microseconds, the offset written out. */
    private static final DateTimeFormatter SERVER = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSSxxx");

    public PointInTime(Instant at) {
        this(at, false);
    }

    /** Parses a request's {@code pointInTime}; a time without an offset is refused (it would be ambiguous). */
    public static PointInTime parse(String text) {
        if (LATEST.equals(text)) {
            return new PointInTime(null);
        }
        String shown = text.length() > 64 ? text.substring(0, 64) + "..." : text;
        try {
            return new PointInTime(OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant());
        } catch (DateTimeParseException e) {
            throw new InvalidRequest("\"pointInTime\" '" + shown.replaceAll("\\p{Cntrl}", "?") + "' is not a date-time "
                    + "with an explicit offset; expected " + FORM + ".");
        }
    }

    public boolean latest() {
        return at == null && !endOfBackup;
    }

    /** The value of {@code recovery_target_time}, e.g. {@code 2026-12-02 09:15:00.000000+00:00}. */
    public String recoveryTargetTime() {
        return SERVER.format(at.atOffset(ZoneOffset.UTC));
    }

    @Override
    public String toString() {
        return endOfBackup ? "the end of the base backup" : at == null ? LATEST : at.toString();
    }
}
