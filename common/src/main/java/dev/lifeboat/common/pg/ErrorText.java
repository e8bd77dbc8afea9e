package dev.lifeboat.common.pg;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Makes what a PostgreSQL program wrote on stderr fit for a job's error, which every API viewer may read. The
 * server's {@code DETAIL} field quotes row values ({@code Key (email)=(alice@example.com) already exists},
 * {@code Failing row contains (...)}) and its {@code CONTEXT} field quotes COPY input lines, so both are left
 * out, with every line they run on to; the {@code ERROR} line, hints and the program's own messages stay.
 *
 * <p>The labels are libpq's, in the client's language: programs are started with {@code LC_MESSAGES=C} (see
 * {@link PgProcess}) so that they are the English ones matched here.
 */
final class ErrorText {
    /** Optional {@code psql:<stdin>:12: } location prefix psql puts before a message read from a script. */
    private static final String LOCATION = "(?:[A-Za-z_]+:\\S*?:\\d+:\\s+)?";
    private static final Pattern HIDDEN = Pattern.compile("^" + LOCATION + "(DETAIL|CONTEXT):.*");
    /** A line that starts a new message or field; it ends a hidden field that ran on over several lines. */
    private static final Pattern STARTS_FIELD = Pattern.compile("^" + LOCATION
            + "(?:(?:ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|LOG|DEBUG|HINT|QUERY|LOCATION|STATEMENT):"
            + "|LINE \\d+:|(?:psql|pg_dump|pg_dumpall|pg_restore)[:\\s]).*");

    private ErrorText() {
    }

    /**
     * {@code stderr} without its DETAIL and CONTEXT fields, each replaced by one line saying it was left out.
     * {@code cutAtStart}: the text is the tail of a longer output, so its first lines may continue a field whose
     * label was cut off; they are left out up to the first line that starts a message.
     */
    static String redact(String stderr, boolean cutAtStart) {
        List<String> out = new ArrayList<>();
        boolean hiding = cutAtStart;
        if (cutAtStart) {
            out.add("(earlier output left out)");
        }
        for (String line : stderr.split("\\R", -1)) {
            var hidden = HIDDEN.matcher(line);
            if (hidden.matches()) {
                hiding = true;
                out.add(hidden.group(1) + ": (left out: it may quote row values)");
            } else if (hiding && !STARTS_FIELD.matcher(line).matches()) {
                continue;
            } else {
                hiding = false;
                out.add(line);
            }
        }
        return String.join("\n", out);
    }
}
