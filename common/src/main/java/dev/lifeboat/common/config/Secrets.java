package dev.lifeboat.common.config;

import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Reads a secret given either inline or as a file (a mounted Kubernetes Secret). The file wins and is read at each
 * call, so a rotated Secret is picked up without a restart. Values are never logged; errors name the setting only.
 */
public final class Secrets {
    private Secrets() {
    }

    /**
     * The secret: the content of {@code file} (stripped) when set, else {@code inline}.
     *
     * @param fileSetting the setting that names the file, for the error message (e.g.
     *                    {@code lifeboat.databases.main.password-file})
     */
    public static Optional<String> read(Optional<String> inline, Optional<Path> file, String fileSetting) {
        if (file.isEmpty()) {
            return inline;
        }
        try {
            return Optional.of(Files.readString(file.get(), StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            throw new InvalidConfiguration("Cannot read " + fileSetting + " (" + file.get() + "): "
                    + e.getClass().getSimpleName());
        }
    }
}
