package dev.lifeboat.common.job;

import dev.lifeboat.common.error.Errors.InvalidRequest;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HexFormat;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Job ids: {@code <kind>_<UTC yyyyMMdd_HHmmss>_<6 hex>} (e.g. {@code restore_20260101_020000_a1b2c3}), sortable by
 * time, unguessable enough to be used as names (a scratch database is named after its restore). The one UTC stamp
 * format of Lifeboat's names, backup ids included.
 */
public final class JobIds {
    /** The UTC time stamp in every Lifeboat name: {@code yyyyMMdd_HHmmss}. */
    public static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss").withZone(ZoneOffset.UTC);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final String kind;
    private final Pattern pattern;

    /** Ids of one kind of job, e.g. {@code restore}. */
    public JobIds(String kind) {
        this.kind = kind;
        this.pattern = Pattern.compile(Pattern.quote(kind) + "_(\\d{8}_\\d{6})_[0-9a-f]{6}");
    }

    /** A new id, stamped now. */
    public String next() {
        byte[] random = new byte[3];
        RANDOM.nextBytes(random);
        return kind + "_" + STAMP.format(Instant.now()) + "_" + HexFormat.of().formatHex(random);
    }

    /** {@code id} if it is an id of this kind, else {@link InvalidRequest} quoting it printably. */
    public String validate(String id) {
        if (id == null || id.length() > 64 || !pattern.matcher(id).matches()) {
            throw new InvalidRequest("A " + kind + " id looks like " + kind + "_20260101_020000_a1b2c3; got '"
                    + printable(id) + "'.");
        }
        return id;
    }

    /** When the job with this id was created, if {@code id} is one of this kind. */
    public Optional<Instant> createdAt(String id) {
        Matcher m = id == null ? null : pattern.matcher(id);
        return m != null && m.matches() ? Optional.of(Instant.from(STAMP.parse(m.group(1)))) : Optional.empty();
    }

    /** A request value cut to 60 characters with control characters replaced, safe to quote in a message. */
    public static String printable(String s) {
        if (s == null) {
            return "";
        }
        String cut = s.length() > 60 ? s.substring(0, 60) + "..." : s;
        return cut.replaceAll("\\p{Cntrl}", "?");
    }
}
