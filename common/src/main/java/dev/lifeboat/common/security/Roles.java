package dev.lifeboat.common.security;

/** Role names for {@code @RolesAllowed}; see {@link AuthConfig.Role}. */
public final class Roles {
    public static final String VIEWER = "viewer";
    public static final String OPERATOR = "operator";
    public static final String RESTORER = "restorer";

    private Roles() {
    }
}
