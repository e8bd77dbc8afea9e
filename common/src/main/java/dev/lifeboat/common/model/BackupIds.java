package dev.lifeboat.common.model;

import dev.lifeboat.common.error.Errors.InvalidBackupId;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.regex.Pattern;

/**
 * Backup ids and database labels (DESIGN §2). A backup id is the data object's file name,
 * {@code <db>_backup_YYYYMMDD_HHMMSS[_N].<format>[.<compression>][.age]}; it is validated wherever it enters.
 */
public final class BackupIds {
    public static final int MAX_LENGTH = 200;
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]+");
    /** Labels may not contain '.', so a file name splits unambiguously into label and time. */
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9_-]{1,63}");
    private static final DateTimeFormatter STAMP = dev.lifeboat.common.job.JobIds.STAMP;
    /** A base backup's id: {@code <db>_base_YYYYMMDD_HHMMSS[_N].tar[.<compression>][.age]}. */
    private static final Pattern BASE_ID = Pattern.compile("([A-Za-z0-9_-]{1,63})_base_\\d{8}_\\d{6}(?:_\\d+)?\\.tar[A-Za-z0-9.]*");

    private BackupIds() {
    }

    /** Returns {@code id} when it is a syntactically valid backup id, else throws {@link InvalidBackupId}. */
    public static String validate(String id) {
        if (id == null || id.isEmpty()) {
            throw new InvalidBackupId("A backup id is required.");
        }
        if (id.length() > MAX_LENGTH) {
            throw new InvalidBackupId("A backup id has at most " + MAX_LENGTH + " characters; got " + id.length() + ".");
        }
        if (!ID.matcher(id).matches() || id.contains("..") || id.startsWith(".")) {
            throw new InvalidBackupId("A backup id consists of letters, digits, '.', '_' and '-' (no '..', no '/'); got '"
                    + printable(id) + "'.");
        }
        return id;
    }

    /** Returns {@code label} when it is a valid database label, else throws {@link InvalidRequest}. */
    public static String validateLabel(String label) {
        if (label == null || !LABEL.matcher(label).matches()) {
            throw new InvalidRequest("A database label consists of 1 to 63 letters, digits, '_' and '-'; got '"
                    + printable(label) + "'.");
        }
        return label;
    }

    /** True when {@code label} is a valid database label. */
    public static boolean isLabel(String label) {
        return label != null && LABEL.matcher(label).matches();
    }

    /**
     * The data file name for a backup of {@code label} started at {@code time}; {@code sequence} 1 gives the plain
     * name, 2 and up add {@code _N} for a second backup in the same second.
     */
    public static String fileName(String label, Instant time, int sequence, String suffix) {
        String base = label + "_backup_" + STAMP.format(time);
        return (sequence <= 1 ? base : base + "_" + sequence) + suffix;
    }

    /**
     * The object name of a base backup (point-in-time recovery) of {@code label} started at {@code time}, numbered
     * like {@link #fileName}: {@code <db>_base_YYYYMMDD_HHMMSS[_N].tar<suffix>}. Never taken for a logical backup's id.
     */
    public static String baseFileName(String label, Instant time, int sequence, String suffix) {
        String base = label + "_base_" + STAMP.format(time);
        return (sequence <= 1 ? base : base + "_" + sequence) + ".tar" + suffix;
    }

    /** Whether {@code id} names a base backup ({@link #baseFileName}). */
    public static boolean isBase(String id) {
        return id != null && id.length() <= MAX_LENGTH && BASE_ID.matcher(id).matches();
    }

    /** The database label of a base backup's id, else {@link InvalidBackupId}. */
    public static String labelOfBase(String id) {
        java.util.regex.Matcher m = BASE_ID.matcher(validate(id));
        if (!m.matches()) {
            throw new InvalidBackupId("'" + printable(id) + "' is not a Lifeboat base backup id (<database>_base_<time>.tar...).");
        }
        return m.group(1);
    }

    /** The database label an id starts with (everything before {@code _backup_}). */
    public static String labelOf(String id) {
        int at = id.lastIndexOf("_backup_");
        if (at <= 0) {
            throw new InvalidBackupId("'" + printable(id) + "' is not a Lifeboat backup id (<database>_backup_<time>...).");
        }
        return id.substring(0, at);
    }

    /** When a backup started, read from its id ({@code <label>_backup_YYYYMMDD_HHMMSS...}); empty if not an id. */
    public static java.util.Optional<Instant> startedAt(String id) {
        int at = id.lastIndexOf("_backup_");
        if (at <= 0 || id.length() < at + 8 + 15) {
            return java.util.Optional.empty();
        }
        try {
            return java.util.Optional.of(Instant.from(STAMP.parse(id.substring(at + 8, at + 8 + 15))));
        } catch (java.time.format.DateTimeParseException e) {
            return java.util.Optional.empty();
        }
    }

    /** The id cut to a readable length with control characters made visible, for error messages. */
    static String printable(String s) {
        if (s == null) {
            return "";
        }
        String cut = s.length() > 60 ? s.substring(0, 60) + "..." : s;
        StringBuilder out = new StringBuilder(cut.length());
        cut.codePoints().forEach(c -> {
            if (Character.isISOControl(c)) {
                out.append(String.format("\\u%04x", c));
            } else {
                out.appendCodePoint(c);
            }
        });
        return out.toString();
    }
}
