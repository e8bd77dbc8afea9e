package dev.lifeboat.common.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.util.Map;

/**
 * Quarkus test resource: one real PostgreSQL for the test class, with database {@code app} configured as the
 * Lifeboat database {@code main}. Tests reach it with {@code PostgresServer.client(port)}, the port being
 * {@code lifeboat.databases.main.port}.
 */
public class PostgresResource implements QuarkusTestResourceLifecycleManager {
    private PostgresServer server;

    @Override
    public Map<String, String> start() {
        server = PostgresServer.start();
        server.createDatabase("app");
        return Map.of(
                "lifeboat.databases.main.host", server.host(),
                "lifeboat.databases.main.port", Integer.toString(server.port()),
                "lifeboat.databases.main.database", "app",
                "lifeboat.databases.main.user", PostgresServer.USER,
                "lifeboat.databases.main.password", PostgresServer.PASSWORD);
    }

    @Override
    public void stop() {
        if (server != null) {
            server.close();
        }
    }
}
