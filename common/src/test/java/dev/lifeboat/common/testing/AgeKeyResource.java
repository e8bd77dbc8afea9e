package dev.lifeboat.common.testing;

import dev.lifeboat.common.pipeline.AgeKeys;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/**
 * Quarkus test resource: a fresh age key pair. The public key is the encryption recipient; the secret is written
 * to a 0600 identity file in age-keygen's format (usable by the {@code age} CLI), given as
 * {@code lifeboat.encryption.identity-files}.
 */
public class AgeKeyResource implements QuarkusTestResourceLifecycleManager {
    private Path dir;

    @Override
    public Map<String, String> start() {
        try {
            String[] pair = AgeKeys.generate();
            dir = Files.createTempDirectory("lifeboat-age-");
            Path identity = dir.resolve("key.txt");
            Files.createFile(identity, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(identity, "# public key: " + pair[0] + "\n" + pair[1] + "\n");
            return Map.of("lifeboat.encryption.recipients", pair[0],
                    "lifeboat.encryption.identity-files", identity.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void stop() {
        TempDirs.delete(dir);
    }
}
