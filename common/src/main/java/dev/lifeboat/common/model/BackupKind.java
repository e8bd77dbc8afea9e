package dev.lifeboat.common.model;

import dev.lifeboat.common.error.Errors.InvalidRequest;
import java.util.Locale;

/**
 * What a backup is: {@code LOGICAL}, a pg_dump of one database (restorable across majors and into other servers), or
 * {@code BASE}, a pg_basebackup of the whole cluster, the start of point-in-time recovery.
 */
public enum BackupKind {
    LOGICAL, BASE;

    /** The kind a request names ({@code logical} when none), case-insensitive; else {@link InvalidRequest}. */
    public static BackupKind parse(String kind) {
        if (kind == null || kind.isBlank()) {
            return LOGICAL;
        }
        for (BackupKind k : values()) {
            if (k.name().equalsIgnoreCase(kind.strip())) {
                return k;
            }
        }
        throw new InvalidRequest("\"kind\" is \"logical\" (pg_dump, the default) or \"base\" (pg_basebackup, for "
                + "point-in-time recovery); got '" + (kind.length() > 40 ? kind.substring(0, 40) + "..." : kind)
                .replaceAll("\\p{Cntrl}", "?") + "'.");
    }
}
