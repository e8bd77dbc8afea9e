package dev.lifeboat.common.api;

/** How an in-place restore replaces the target's contents (DESIGN §3, §6). */
public enum RestoreMode {
    /** Drop and recreate the schemas the dump contains, then load; all in one transaction. */
    CLEAN_SCHEMA("clean-schema"),
    /** Load into a new database, then swap it in for the target by renaming; the old one is dropped. */
    RECREATE_DATABASE("recreate-database");

    private final String value;

    RestoreMode(String value) {
        this.value = value;
    }

    @com.fasterxml.jackson.annotation.JsonValue
    public String value() {
        return value;
    }

    /** Parses the API's spelling ({@code clean-schema}); null for an unknown one. */
    public static RestoreMode parse(String s) {
        for (RestoreMode m : values()) {
            if (m.value.equals(s) || m.name().equals(s)) {
                return m;
            }
        }
        return null;
    }
}
