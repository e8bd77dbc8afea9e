package dev.lifeboat.common.pg;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The session settings that decide the exact text of COPY data, so that the content fingerprint taken from a
 * dump (DESIGN §4) and the one read back from a restored table with {@code COPY ... TO STDOUT} see the same bytes
 * for the same values, whatever the server's or the database's defaults are.
 *
 * <p>pg_dump fixes DateStyle, IntervalStyle and extra_float_digits itself; the time zone (timestamptz is written
 * in the session's zone, which a database-level {@code SET timezone} changes) and {@code bytea_output} it takes
 * from the defaults, so Lifeboat fixes them for pg_dump too. The dump's encoding is the source database's; the
 * scratch database may have another, so the read-back asks for the dump's.
 */
public final class CopyText {
    private CopyText() {
    }

    /** Settings pg_dump runs with: every timestamptz in UTC, bytea in hex. */
    public static Map<String, String> forDump() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("TimeZone", "UTC");
        s.put("bytea_output", "hex");
        return s;
    }

    /**
     * Settings that read a restored table back exactly as pg_dump wrote it: the dump settings, what pg_dump sets
     * itself, and the dump's client encoding ({@code null}: the database's own). {@code row_security=off} makes a
     * row-level security policy that would hide rows an error, as in pg_dump, instead of a silent difference.
     */
    public static Map<String, String> forReadback(String dumpEncoding) {
        Map<String, String> s = forDump();
        s.put("DateStyle", "ISO");
        s.put("IntervalStyle", "postgres");
        s.put("extra_float_digits", "3");
        s.put("row_security", "off");
        if (dumpEncoding != null && dumpEncoding.matches("[A-Za-z0-9_]{1,40}")) {
            s.put("client_encoding", dumpEncoding);
        }
        return s;
    }
}
