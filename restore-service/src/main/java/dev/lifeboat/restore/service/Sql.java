package dev.lifeboat.restore.service;

/** Quoting for the few SQL statements restore-service writes itself (names come from configuration). */
final class Sql {
    private Sql() {
    }

    /** A quoted identifier: {@code "name"} with embedded quotes doubled. */
    static String identifier(String name) {
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("NUL in an identifier");
        }
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    /** A string literal, standard-conforming: {@code 'text'} with embedded quotes doubled. */
    static String literal(String text) {
        if (text.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("NUL in a literal");
        }
        return "'" + text.replace("'", "''") + "'";
    }

    /**
     * The seed's {@code DROP SCHEMA public CASCADE; CREATE SCHEMA public;}, recreating public exactly as initdb
     * makes it (owner, privilege, comment). pg_dump writes only what differs from that default, so anything else
     * would leave the restored schema different from the dumped one (in 15+, e.g. other roles losing USAGE).
     */
    static String resetPublicSchema(int serverVersionNum) {
        String create = serverVersionNum >= 150000
                ? "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\nGRANT USAGE ON SCHEMA public TO PUBLIC;\n"
                : "CREATE SCHEMA public;\nGRANT ALL ON SCHEMA public TO PUBLIC;\n";
        return "DROP SCHEMA IF EXISTS public CASCADE;\n" + create
                + "COMMENT ON SCHEMA public IS 'standard public schema';\n";
    }
}
