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
     * Removes every large object of the database, inside the load's transaction (clean-schema). Large objects belong
     * to no schema, so the schema reset leaves them; the dump then fails on its own {@code lo_create} ("duplicate key
     * ... pg_largeobject_metadata_oid_index"). Always, not only when the backup has large objects: the target must
     * end with the backup's large objects and no others (a backup taken before large objects were fingerprinted does
     * not say whether it has any), and it costs nothing on a database without them. Needs the right to unlink each
     * object (its owner or a superuser); otherwise the load fails and is rolled back.
     */
    static final String UNLINK_LARGE_OBJECTS =
            "SELECT count(pg_catalog.lo_unlink(oid)) FROM pg_catalog.pg_largeobject_metadata;\n";

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
