package dev.lifeboat.common.config;

import io.smallrye.config.ConfigMapping;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** age encryption keys ({@code lifeboat.encryption.*}, DESIGN §10). */
@ConfigMapping(prefix = "lifeboat.encryption")
public interface EncryptionConfig {
    /** age public keys ({@code age1...}) every new backup is encrypted to; none = backups are not encrypted. */
    Optional<List<String>> recipients();

    /** age identity files (from {@code age-keygen}) used to read backups; list old keys too when rotating. */
    Optional<List<Path>> identityFiles();
}
