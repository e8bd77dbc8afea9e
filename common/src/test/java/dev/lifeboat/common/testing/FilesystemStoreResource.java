package dev.lifeboat.common.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Quarkus test resource: the filesystem store in a fresh temp folder. */
public class FilesystemStoreResource implements QuarkusTestResourceLifecycleManager {
    private Path dir;

    @Override
    public Map<String, String> start() {
        try {
            dir = Files.createTempDirectory("lifeboat-store-");
            return Map.of("lifeboat.store.type", "filesystem", "lifeboat.store.filesystem.path", dir.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        TempDirs.delete(dir);
    }
}
