package dev.lifeboat.backup;

import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.TempDirs;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Quarkus test resource for the WAL archive: one real PostgreSQL server with what PITR needs (PostgreSQL 15's
 * defaults: {@code wal_level=replica}, {@code max_wal_senders=10}, initdb's {@code host replication} line) and a
 * {@code LOGIN REPLICATION} role; its database {@code app} is {@code main}, PITR enabled through that role, snapshots
 * of the partial segment every 2 s, the spool in a fresh folder, base backups read at most 8 MiB/s.
 */
public class WalServerResource implements QuarkusTestResourceLifecycleManager {
    static final String PARTIAL_INTERVAL = "2s";
    private PostgresServer server;
    private Path spool;

    @Override
    public Map<String, String> start() {
        server = PostgresServer.start();
        server.createDatabase("app");
        server.psql("postgres", "CREATE ROLE " + PitrServersResource.REPLICATOR + " LOGIN REPLICATION PASSWORD '"
                + PitrServersResource.ROLE_PASSWORD.replace("'", "''") + "'");
        Map<String, String> config = new HashMap<>();
        String p = "lifeboat.databases.main.";
        config.put(p + "host", server.host());
        config.put(p + "port", Integer.toString(server.port()));
        config.put(p + "database", "app");
        config.put(p + "user", PostgresServer.USER);
        config.put(p + "password", PostgresServer.PASSWORD);
        config.put(p + "pitr.enabled", "true");
        config.put(p + "pitr.user", PitrServersResource.REPLICATOR);
        config.put(p + "pitr.password", PitrServersResource.ROLE_PASSWORD);
        config.put(p + "pitr.partial-interval", PARTIAL_INTERVAL);
        config.put(p + "pitr.base-schedule", "off");
        // base backups (32 MiB of tar here) take about 4 s instead of a fraction of one, so that a test can catch one
        // running, connected, and hold it (WalReceiverTest: a base backup running when a gap is found)
        config.put("lifeboat.backup.max-rate", Integer.toString(8 << 20));
        spool = PitrServersResource.spoolDir();
        config.put("lifeboat.pitr.spool-dir", spool.toString());
        return config;
    }

    @Override
    public void stop() {
        if (server != null) {
            server.close();
        }
        TempDirs.delete(spool);
    }
}
