package dev.lifeboat.common.pg;

import java.util.Map;
import java.util.Optional;

/**
 * How to reach one database. The password is kept out of {@link #toString()} and, when a program is started,
 * goes only into that child's environment ({@code PGPASSWORD}), never its arguments. {@code settings} are
 * session settings the program's connection starts with ({@code PGOPTIONS}), e.g. {@code TimeZone=UTC}.
 */
public record PgConnection(String host, int port, String database, String user, Optional<String> password,
                           Map<String, String> settings) {

    public PgConnection {
        settings = Map.copyOf(settings);
    }

    public PgConnection(String host, int port, String database, String user, Optional<String> password) {
        this(host, port, database, user, password, Map.of());
    }

    /** The same server and user, another database. */
    public PgConnection withDatabase(String name) {
        return new PgConnection(host, port, name, user, password, settings);
    }

    /** The same connection, starting its sessions with these settings (replacing any given before). */
    public PgConnection withSettings(Map<String, String> sessionSettings) {
        return new PgConnection(host, port, database, user, password, sessionSettings);
    }

    @Override
    public String toString() {
        return user + "@" + host + ":" + port + "/" + database;
    }
}
