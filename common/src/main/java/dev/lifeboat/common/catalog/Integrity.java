package dev.lifeboat.common.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Authentication tags on what Lifeboat stores as JSON (metadata, verification records), so that whoever can write to
 * the bucket cannot plant a backup or a verdict: an HMAC-SHA-256, keyed by a secret only the services hold
 * ({@code lifeboat.store.integrity-key-file}), over a canonical form of the document (object keys sorted at every
 * level, the tag itself left out), stored in the document as {@code "integrity": {"keyId", "hmacSha256"}}.
 * Canonicalizing the parsed tree rather than hashing the bytes keeps a tag valid when a newer writer adds fields.
 *
 * <p>The key file holds one key per line, {@code <key-id>=<secret>} (secret: at least 32 characters); the first line
 * signs, every line verifies, so a key is rotated by adding the new key as the first line and keeping the old one
 * until no record it signed is left. Without the setting nothing is signed or checked ({@link Trust#UNCHECKED}).
 */
public final class Integrity {
    /** The JSON field holding the tag. */
    public static final String FIELD = "integrity";
    private static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final int MIN_SECRET = 32;
    private static final ObjectMapper PLAIN = new ObjectMapper();

    /** What the tag of a stored document says. */
    public enum Trust {
        /** Tagged with an accepted key, and the tag matches. */
        TRUSTED,
        /** No key is configured: nothing is checked (as before integrity tags existed). */
        UNCHECKED,
        /** A key is configured and the tag is missing, of an unknown key, or does not match: never acted on. */
        UNTRUSTED
    }

    private final Map<String, byte[]> keys; // key id → secret, signing key first

    private Integrity(Map<String, byte[]> keys) {
        this.keys = keys;
    }

    /** No key: documents are written untagged and read as {@link Trust#UNCHECKED}. */
    public static Integrity none() {
        return new Integrity(Map.of());
    }

    /** The keys of {@code keyFile} (see the class comment), or {@link #none()} when not set. */
    public static Integrity fromKeyFile(Optional<Path> keyFile) {
        if (keyFile.isEmpty()) {
            return none();
        }
        String setting = "lifeboat.store.integrity-key-file";
        List<String> lines;
        try {
            lines = Files.readAllLines(keyFile.get(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidConfiguration("Cannot read " + setting + " (" + keyFile.get() + "): "
                    + e.getClass().getSimpleName());
        }
        Map<String, byte[]> keys = new LinkedHashMap<>();
        for (String raw : lines) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            String id = eq < 0 ? "" : line.substring(0, eq).strip();
            String secret = eq < 0 ? "" : line.substring(eq + 1).strip();
            if (!KEY_ID.matcher(id).matches() || secret.length() < MIN_SECRET) {
                throw new InvalidConfiguration(setting + ": each line is <key-id>=<secret>, the id of letters, digits "
                        + "and ._- and the secret of at least " + MIN_SECRET + " characters (e.g. from "
                        + "`openssl rand -hex 32`); a line of " + keyFile.get() + " is not");
            }
            if (keys.putIfAbsent(id, secret.getBytes(StandardCharsets.UTF_8)) != null) {
                throw new InvalidConfiguration(setting + ": key id '" + id + "' appears twice");
            }
        }
        if (keys.isEmpty()) {
            throw new InvalidConfiguration(setting + " (" + keyFile.get() + ") holds no key");
        }
        return new Integrity(java.util.Collections.unmodifiableMap(keys));
    }

    /** Whether documents are signed and checked. */
    public boolean enabled() {
        return !keys.isEmpty();
    }

    /** The id of the key that signs, if any. */
    public Optional<String> signingKeyId() {
        return keys.keySet().stream().findFirst();
    }

    /** The JSON document {@code json} with its tag added (unchanged when no key is configured). */
    public byte[] sign(byte[] json) {
        if (!enabled()) {
            return json;
        }
        try {
            ObjectNode tree = (ObjectNode) PLAIN.readTree(json);
            tree.remove(FIELD);
            String keyId = signingKeyId().orElseThrow();
            ObjectNode tag = tree.putObject(FIELD);
            tag.put("keyId", keyId);
            ObjectNode unsigned = tree.deepCopy();
            unsigned.remove(FIELD);
            tag.put("hmacSha256", HexFormat.of().formatHex(mac(keys.get(keyId), canonical(unsigned))));
            return PLAIN.writerWithDefaultPrettyPrinter().writeValueAsBytes(tree);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What the tag of a stored document says; {@code json} must be a JSON object. */
    public Trust check(byte[] json) throws IOException {
        if (!enabled()) {
            return Trust.UNCHECKED;
        }
        JsonNode parsed = PLAIN.readTree(json);
        if (!(parsed instanceof ObjectNode tree) || !(tree.get(FIELD) instanceof ObjectNode tag)) {
            return Trust.UNTRUSTED;
        }
        byte[] key = keys.get(tag.path("keyId").asText(""));
        String expected = tag.path("hmacSha256").asText("");
        if (key == null || expected.isEmpty()) {
            return Trust.UNTRUSTED;
        }
        ObjectNode unsigned = tree.deepCopy();
        unsigned.remove(FIELD);
        byte[] actual = mac(key, canonical(unsigned));
        byte[] given;
        try {
            given = HexFormat.of().parseHex(expected);
        } catch (IllegalArgumentException e) {
            return Trust.UNTRUSTED;
        }
        return MessageDigest.isEqual(actual, given) ? Trust.TRUSTED : Trust.UNTRUSTED;
    }

    private static byte[] mac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    /** Compact JSON with the keys of every object sorted. */
    static byte[] canonical(JsonNode node) throws IOException {
        return PLAIN.writeValueAsBytes(sorted(node));
    }

    private static JsonNode sorted(JsonNode node) {
        if (node instanceof ObjectNode object) {
            Map<String, JsonNode> fields = new TreeMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                fields.put(e.getKey(), sorted(e.getValue()));
            }
            ObjectNode out = PLAIN.createObjectNode();
            fields.forEach(out::set);
            return out;
        }
        if (node instanceof ArrayNode array) {
            List<JsonNode> items = new ArrayList<>();
            array.forEach(item -> items.add(sorted(item)));
            ArrayNode out = PLAIN.createArrayNode();
            out.addAll(items);
            return out;
        }
        return node;
    }
}
