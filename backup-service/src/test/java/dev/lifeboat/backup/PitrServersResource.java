package dev.lifeboat.backup;

import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.TempDirs;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Quarkus test resource for point-in-time recovery: two real PostgreSQL servers. The first has what PITR needs
 * (PostgreSQL 15's defaults: {@code wal_level=replica}, {@code max_wal_senders=10}, {@code max_replication_slots=10},
 * initdb's {@code host replication} line) and a {@code LOGIN REPLICATION} role; its database {@code app} is
 * configured twice: {@code main} with PITR enabled through that role, {@code plain} without PITR. The second server
 * has {@code wal_level=minimal} and {@code max_wal_senders=0}; its database is {@code minimal}, PITR enabled through a
 * role without REPLICATION, so every prerequisite but one is missing there.
 */
public class PitrServersResource implements QuarkusTestResourceLifecycleManager {
    static final String REPLICATOR = "lifeboat_replicator";
    static final String NO_REPLICATION = "lifeboat_plain";
    static final String ROLE_PASSWORD = "pitr-test-Pw'2";

    private PostgresServer ready;
    private PostgresServer minimal;
    private Path spool;

    @Override
    public Map<String, String> start() {
        ready = PostgresServer.start();
        ready.createDatabase("app");
        ready.psql("postgres", "CREATE ROLE " + REPLICATOR + " LOGIN REPLICATION PASSWORD '" + sqlText(ROLE_PASSWORD) + "'");
        minimal = PostgresServer.start(Map.of("wal_level", "minimal", "max_wal_senders", "0"));
        minimal.createDatabase("app");
        minimal.psql("postgres", "CREATE ROLE " + NO_REPLICATION + " LOGIN PASSWORD '" + sqlText(ROLE_PASSWORD) + "'");
        Map<String, String> config = new HashMap<>();
        database(config, "main", ready);
        config.put("lifeboat.databases.main.pitr.enabled", "true");
        config.put("lifeboat.databases.main.pitr.user", REPLICATOR);
        config.put("lifeboat.databases.main.pitr.password", ROLE_PASSWORD);
        database(config, "plain", ready);
        database(config, "minimal", minimal);
        config.put("lifeboat.databases.minimal.pitr.enabled", "true");
        config.put("lifeboat.databases.minimal.pitr.user", NO_REPLICATION);
        config.put("lifeboat.databases.minimal.pitr.password", ROLE_PASSWORD);
        config.put("lifeboat.databases.minimal.pitr.slot", "lifeboat_minimal_slot");
        spool = spoolDir();
        config.put("lifeboat.pitr.spool-dir", spool.toString());
        return config;
    }

    private static void database(Map<String, String> config, String label, PostgresServer server) {
        String p = "lifeboat.databases." + label + ".";
        config.put(p + "host", server.host());
        config.put(p + "port", Integer.toString(server.port()));
        config.put(p + "database", "app");
        config.put(p + "user", PostgresServer.USER);
        config.put(p + "password", PostgresServer.PASSWORD);
    }

    /**
     * A fresh folder for the WAL receivers' spool (the default, /var/lib/lifeboat/wal-spool, is the chart's); the
     * resource that asked for it deletes it at its stop.
     */
    static Path spoolDir() {
        try {
            return Files.createTempDirectory("lifeboat-wal-spool-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sqlText(String s) {
        return s.replace("'", "''");
    }

    @Override
    public void stop() {
        if (ready != null) {
            ready.close();
        }
        if (minimal != null) {
            minimal.close();
        }
        TempDirs.delete(spool);
    }
}
