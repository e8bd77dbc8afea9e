package dev.lifeboat.common.pg;

import java.util.Optional;

/**
 * How to reach one database. The password is kept out of {@link #toString()} and, when a program is started,
 * goes only into that child's environment ({@code PGPASSWORD}), never its arguments.
 */
public record PgConnection(String host, int port, String database, String user, Optional<String> password) {
    @Override
    public String toString() {
        return user + "@" + host + ":" + port + "/" + database;
    }
}
