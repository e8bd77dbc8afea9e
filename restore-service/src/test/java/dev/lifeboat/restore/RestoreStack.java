package dev.lifeboat.restore;

import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.testing.PostgresServer;
import dev.lifeboat.common.testing.S3Server;
import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.Map;

/**
 * Everything a restore test needs, started once per test class: a real PostgreSQL holding database {@code app}
 * (target {@code primary}, backed up as {@code main}), {@code stuckdb} (target {@code stuck}) and {@code bigdb} (backed up
 * as {@code big}, restored into the scratch target), the in-process S3
 * server, an age key pair, and backup-service running as a real process from its built application, writing to
 * the same bucket. Tests reach the parts through the static accessors.
 */
public class RestoreStack implements QuarkusTestResourceLifecycleManager {
    static final String NAMESPACE = "shop";
    private static PostgresServer postgres;
    private static S3Server s3;
    private static ServiceProcess backupService;
    private static Path keys;
    private static String recipient;

    @Override
    public Map<String, String> start() {
        try {
            postgres = PostgresServer.start();
            postgres.createDatabase("app");
            postgres.createDatabase("stuckdb");
            postgres.createDatabase("bigdb");
            s3 = S3Server.start();
            String[] pair = AgeKeys.generate();
            recipient = pair[0];
            keys = Files.createTempDirectory("lifeboat-restore-keys-");
            Path identity = keys.resolve("key.txt");
            Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(identity, "# public key: " + pair[0] + "\n" + pair[1] + "\n");
            Path token = keys.resolve("restore-service-token");
            Files.writeString(token, TokenResource.RESTORER);

            Map<String, String> store = Map.of(
                    "lifeboat.store.type", "s3",
                    "lifeboat.store.s3.bucket", S3Server.BUCKET,
                    "lifeboat.store.s3.prefix", "backups",
                    "lifeboat.store.s3.endpoint", s3.endpoint(),
                    "lifeboat.store.s3.path-style", "true",
                    "lifeboat.store.s3.access-key-id", S3Server.ACCESS_KEY,
                    "lifeboat.store.s3.secret-access-key", S3Server.SECRET_KEY);
            Map<String, String> backup = new HashMap<>(store);
            backup.putAll(new TokenResource().start());
            backup.putAll(Map.of(
                    "lifeboat.databases.main.host", postgres.host(),
                    "lifeboat.databases.main.port", Integer.toString(postgres.port()),
                    "lifeboat.databases.main.database", "app",
                    "lifeboat.databases.main.password", PostgresServer.PASSWORD,
                    "lifeboat.databases.stuck.host", postgres.host(),
                    "lifeboat.databases.stuck.port", Integer.toString(postgres.port()),
                    "lifeboat.databases.stuck.database", "stuckdb",
                    "lifeboat.databases.stuck.password", PostgresServer.PASSWORD,
                    "lifeboat.encryption.recipients", recipient,
                    "lifeboat.backup.schedule", "off"));
            backup.putAll(Map.of(
                    "lifeboat.databases.big.host", postgres.host(),
                    "lifeboat.databases.big.port", Integer.toString(postgres.port()),
                    "lifeboat.databases.big.database", "bigdb",
                    "lifeboat.databases.big.password", PostgresServer.PASSWORD));
            backupService = ServiceProcess.start("backup-service", backup);

            Map<String, String> config = new HashMap<>(store);
            config.putAll(new TokenResource().start());
            String port = Integer.toString(postgres.port());
            config.putAll(Map.of(
                    "lifeboat.encryption.identity-files", identity.toString(),
                    "lifeboat.peers.backup-url", backupService.apiUrl(),
                    "lifeboat.peers.token-file", token.toString(),
                    "lifeboat.restore.pods-gone-timeout", "3s"));
            config.putAll(target("primary", port, "app", "main"));
            config.put("lifeboat.targets.primary.modes", "clean-schema,recreate-database");
            config.put("lifeboat.targets.primary.workloads.namespace", NAMESPACE);
            config.put("lifeboat.targets.primary.workloads.deployments", "web");
            config.put("lifeboat.targets.primary.workloads.selector", "tier=worker");
            config.putAll(target("stuck", port, "stuckdb", "stuck"));
            config.put("lifeboat.targets.stuck.safety-backup", "false");
            config.put("lifeboat.targets.stuck.workloads.namespace", NAMESPACE);
            config.put("lifeboat.targets.stuck.workloads.deployments", "stuck-app");
            config.putAll(target("scratch", port, "postgres", null));
            config.put("lifeboat.targets.scratch.scratch", "true");
            return config;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Map<String, String> target(String name, String port, String database, String label) {
        Map<String, String> t = new HashMap<>();
        t.put("lifeboat.targets." + name + ".host", "127.0.0.1");
        t.put("lifeboat.targets." + name + ".port", port);
        t.put("lifeboat.targets." + name + ".database", database);
        t.put("lifeboat.targets." + name + ".password", PostgresServer.PASSWORD);
        if (label != null) {
            t.put("lifeboat.targets." + name + ".database-label", label);
        }
        return t;
    }

    static PostgresServer postgres() {
        return postgres;
    }

    static ServiceProcess backupService() {
        return backupService;
    }

    static String recipient() {
        return recipient;
    }

    static Path identityFile() {
        return keys.resolve("key.txt");
    }

    @Override
    public void stop() {
        if (backupService != null) {
            backupService.close();
        }
        if (s3 != null) {
            s3.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        TempDirs.delete(keys);
    }
}
