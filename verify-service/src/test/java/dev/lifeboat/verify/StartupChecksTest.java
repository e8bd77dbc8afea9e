package dev.lifeboat.verify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.testing.ServiceProcess;
import dev.lifeboat.common.testing.TempDirs;
import dev.lifeboat.common.testing.TokenResource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Settings a production start refuses, checked on the built service as it runs in production (a process in normal
 * mode): an API without authentication, unless explicitly allowed; a backup timeout the janitor would cut short.
 */
class StartupChecksTest {
    private static Path store;

    @BeforeAll
    static void folder() throws IOException {
        store = Files.createTempDirectory("lifeboat-startup-");
    }

    @AfterAll
    static void cleanUp() {
        TempDirs.delete(store);
    }

    private static Map<String, String> base() {
        Map<String, String> config = new HashMap<>(new TokenResource().start());
        config.put("lifeboat.store.filesystem.path", store.toString());
        config.put("lifeboat.backup.schedule", "off");
        config.put("lifeboat.databases.main.host", "127.0.0.1");
        return config;
    }

    @Test
    void authenticationTurnedOffIsRefusedInProductionUnlessExplicitlyAllowed() {
        Map<String, String> off = base();
        off.keySet().removeIf(k -> k.startsWith("lifeboat.auth.tokens."));
        off.put("lifeboat.auth.enabled", "false");
        assertThatThrownBy(() -> ServiceProcess.start("backup-service", off).close())
                .hasMessageContaining("exited").hasMessageContaining("lifeboat.auth.allow-disabled=true");

        off.put("lifeboat.auth.allow-disabled", "true");
        try (ServiceProcess bench = ServiceProcess.start("backup-service", off)) {
            assertThat(bench.log()).contains("lifeboat.auth.enabled=false: the API accepts every request");
        }
    }

    @Test
    void aBackupTimeoutNotShorterThanTheJanitorGraceIsRefused() {
        Map<String, String> config = base();
        config.put("lifeboat.backup.timeout", "24h");
        config.put("lifeboat.backup.janitor-grace", "24h");
        assertThatThrownBy(() -> ServiceProcess.start("backup-service", config).close())
                .hasMessageContaining("exited").hasMessageContaining("lifeboat.backup.timeout (PT24H) must be shorter");
    }
}
