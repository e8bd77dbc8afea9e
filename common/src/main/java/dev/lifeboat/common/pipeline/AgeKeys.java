package dev.lifeboat.common.pipeline;

import com.exceptionfactory.jagged.x25519.X25519KeyPairGenerator;
import com.exceptionfactory.jagged.x25519.X25519RecipientStanzaWriterFactory;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;

/** Reading and checking age keys: recipients ({@code age1...}) and identity files as written by {@code age-keygen}. */
public final class AgeKeys {
    private AgeKeys() {
    }

    /** A new X25519 key pair: {@code [public "age1...", secret "AGE-SECRET-KEY-1..."]}. */
    public static String[] generate() {
        try {
            KeyPair pair = new X25519KeyPairGenerator().generateKeyPair();
            return new String[] {
                new String(pair.getPublic().getEncoded(), StandardCharsets.US_ASCII),
                new String(pair.getPrivate().getEncoded(), StandardCharsets.US_ASCII)
            };
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("X25519 is not available in this JVM", e);
        }
    }

    /** Throws {@link InvalidConfiguration} naming the first recipient that is not an age X25519 public key. */
    public static void checkRecipients(List<String> recipients) {
        for (String r : recipients) {
            try {
                X25519RecipientStanzaWriterFactory.newRecipientStanzaWriter(r);
            } catch (GeneralSecurityException | RuntimeException e) {
                throw new InvalidConfiguration("Not an age X25519 recipient (age1...): '" + r + "'");
            }
        }
    }

    /** The secret keys in age identity files; comments and blank lines are skipped. */
    public static List<String> readIdentities(List<Path> files) {
        List<String> out = new ArrayList<>();
        for (Path file : files) {
            try {
                for (String line : Files.readAllLines(file, StandardCharsets.US_ASCII)) {
                    String l = line.strip();
                    if (l.startsWith("AGE-SECRET-KEY-")) {
                        out.add(l);
                    }
                }
            } catch (IOException e) {
                throw new InvalidConfiguration("Cannot read age identity file " + file + ": " + e.getMessage());
            }
        }
        return out;
    }
}
