package dev.lifeboat.common.api;

/**
 * What a restore does about the roles the backup refers to that the target server lacks (DESIGN §6, request field
 * {@code roles}). Roles are cluster-wide, so a dump alone does not bring them; each backup stores their definitions.
 */
public enum RolesOption {
    /** Create the missing roles inside the restore transaction ({@code NOLOGIN} unless the backup carries passwords);
     * existing roles are never altered. The default for scratch targets. */
    CREATE_MISSING("create-missing"),
    /** Refuse the restore up front, naming the missing roles. The default in place. */
    REQUIRE("require");

    private final String value;

    RolesOption(String value) {
        this.value = value;
    }

    @com.fasterxml.jackson.annotation.JsonValue
    public String value() {
        return value;
    }

    /** Parses the API's spelling ({@code create-missing}); null for an unknown one. */
    public static RolesOption parse(String s) {
        for (RolesOption o : values()) {
            if (o.value.equals(s) || o.name().equals(s)) {
                return o;
            }
        }
        return null;
    }
}
