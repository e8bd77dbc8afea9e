package dev.lifeboat.common.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;

/** Quarkus test resource: API tokens for one client of each role (fixed values, test use only). */
public class TokenResource implements QuarkusTestResourceLifecycleManager {
    public static final String OPERATOR = "test-operator-token-0123456789abcdef0123";
    public static final String VIEWER = "test-viewer-token-0123456789abcdef012345";
    public static final String RESTORER = "test-restorer-token-0123456789abcdef0123";

    @Override
    public Map<String, String> start() {
        return Map.of(
                "lifeboat.auth.tokens.ops.token", OPERATOR,
                "lifeboat.auth.tokens.ops.roles", "operator,viewer",
                "lifeboat.auth.tokens.dashboard.token", VIEWER,
                "lifeboat.auth.tokens.dashboard.roles", "viewer",
                "lifeboat.auth.tokens.restore-service.token", RESTORER,
                "lifeboat.auth.tokens.restore-service.roles", "restorer");
    }

    @Override
    public void stop() {
        // nothing to release
    }
}
