package dev.lifeboat.common.pipeline;

import com.exceptionfactory.jagged.RecipientStanzaReader;
import com.exceptionfactory.jagged.RecipientStanzaWriter;
import com.exceptionfactory.jagged.framework.stream.StandardDecryptingChannelFactory;
import com.exceptionfactory.jagged.framework.stream.StandardEncryptingChannelFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;

/**
 * age encryption (jagged) to one or more X25519 recipients; decryption with any of one or more identities.
 * The output is standard age v1, so {@code age -d -i key.txt} decrypts it in an emergency. The age payload is
 * authenticated chunk by chunk and marks its last chunk, so a flipped or truncated byte fails the read.
 */
public final class AgeStage implements Stage {
    private final List<String> recipients;
    private final List<String> identities;

    private AgeStage(List<String> recipients, List<String> identities) {
        this.recipients = List.copyOf(recipients);
        this.identities = List.copyOf(identities);
    }

    /** A stage that encrypts to these public keys ({@code age1...}). */
    public static AgeStage encryptingTo(List<String> recipients) {
        if (recipients.isEmpty()) {
            throw new IllegalArgumentException("At least one age recipient is needed");
        }
        AgeKeys.checkRecipients(recipients);
        return new AgeStage(recipients, List.of());
    }

    /** A stage that decrypts with any of these identities ({@code AGE-SECRET-KEY-1...}). */
    public static AgeStage decryptingWith(List<String> identities) {
        return new AgeStage(List.of(), identities);
    }

    @Override
    public OutputStream wrap(OutputStream out) throws IOException {
        try {
            List<RecipientStanzaWriter> writers = new ArrayList<>();
            for (String r : recipients) {
                writers.add(com.exceptionfactory.jagged.x25519.X25519RecipientStanzaWriterFactory.newRecipientStanzaWriter(r));
            }
            return Channels.newOutputStream(new StandardEncryptingChannelFactory()
                    .newEncryptingChannel(Channels.newChannel(out), writers));
        } catch (GeneralSecurityException e) {
            throw new DecryptionException("age encryption could not start: " + e.getMessage(), e);
        }
    }

    @Override
    public InputStream unwrap(InputStream in) throws IOException {
        if (identities.isEmpty()) {
            throw new DecryptionException("The backup is age-encrypted but no identity is configured "
                    + "(lifeboat.encryption.identity-files)", null);
        }
        try {
            List<RecipientStanzaReader> readers = new ArrayList<>();
            for (String identity : identities) {
                readers.add(com.exceptionfactory.jagged.x25519.X25519RecipientStanzaReaderFactory.newRecipientStanzaReader(identity));
            }
            return new DecryptionErrors(Channels.newInputStream(new StandardDecryptingChannelFactory()
                    .newDecryptingChannel(Channels.newChannel(in), readers)));
        } catch (GeneralSecurityException e) {
            throw new DecryptionException("age decryption failed (no configured identity matches, or the header "
                    + "is damaged): " + e.getMessage(), e);
        }
    }

    @Override
    public String suffix() {
        return ".age";
    }

    /** Decryption or authentication failed: wrong key, or the stored bytes were damaged. Never retried. */
    public static final class DecryptionException extends IOException {
        public DecryptionException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** Reports jagged's authentication failures, which surface as wrapped security exceptions, as decryption errors. */
    private static final class DecryptionErrors extends java.io.FilterInputStream {
        DecryptionErrors(InputStream in) {
            super(in);
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                throw translate(e);
            }
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        private static IOException translate(IOException e) {
            if (e instanceof DecryptionException) {
                return e;
            }
            return new DecryptionException("age payload could not be authenticated (damaged or truncated): "
                    + e.getMessage(), e);
        }
    }
}
