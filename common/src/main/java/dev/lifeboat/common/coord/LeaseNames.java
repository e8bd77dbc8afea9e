package dev.lifeboat.common.coord;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Lease names: {@code lifeboat-<kind>-<key>} as a valid DNS-1123 label (lowercase letters, digits and '-', at most
 * 63 characters, starting and ending alphanumeric). Database labels and target names may hold characters a name may
 * not ({@code Main_DB}); those, and keys too long, get a hash of the original key appended, so two keys never share
 * a Lease.
 */
public final class LeaseNames {
    /**
     * The kind of the WAL receiver's Leases (point-in-time recovery): {@code lifeboat-wal-<label>}, held by the one
     * backup-service replica that runs the database's pg_receivewal and uploads its WAL.
     */
    public static final String WAL = "wal";
    private static final int MAX = 63;
    private static final int HASH = 10;

    private LeaseNames() {
    }

    /** The Lease name for {@code key} of {@code kind} ({@code backup}, {@code restore}, ...). */
    public static String of(String kind, String key) {
        String plain = "lifeboat-" + kind + "-" + key;
        String mapped = plain.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-").replaceAll("-+$", "");
        if (mapped.equals(plain) && plain.length() <= MAX) {
            return plain;
        }
        String hash = sha256(key).substring(0, HASH);
        String head = mapped.substring(0, Math.min(mapped.length(), MAX - HASH - 1)).replaceAll("-+$", "");
        return head + "-" + hash;
    }

    /** The Lease of a database's WAL receiver: {@code lifeboat-wal-<label>}. */
    public static String wal(String label) {
        return of(WAL, label);
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
