package dev.lifeboat.common.pipeline;

import dev.lifeboat.common.model.BackupMetadata.LargeObjectsFingerprint;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * The fingerprint of a database's large objects (DESIGN §4): how many, their total size in bytes, and an
 * order-independent hash over each object's oid, owner and data. Computed at backup time from the statement lines of
 * a plain dump (fed by {@link ContentFingerprint}) and at verification from the restored database's objects read
 * back ({@link #object}, {@link #beginData}, {@link #data}, {@link #endData}); the two agree when the objects do.
 *
 * <p>What pg_dump 15 writes, and so what is read: per object a TOC entry {@code Type: BLOB} (17: {@code BLOB
 * METADATA}) with {@code SELECT pg_catalog.lo_create('<oid>');} and {@code ALTER LARGE OBJECT <oid> OWNER TO
 * <role>;}, then one {@code Type: BLOBS} data entry: {@code BEGIN;}, per object {@code SELECT pg_catalog.lo_open(
 * '<oid>', 131072);}, a {@code SELECT pg_catalog.lowrite(0, '\x<hex>');} per 16 KiB (a line of about 32 KiB) and
 * {@code SELECT pg_catalog.lo_close(0);}, then {@code COMMIT;}. Lines are read only inside those entries (the same
 * text in a function body is not a large object). Inside them nothing is skipped: a line that is too long or not
 * understood, or counts that do not add up (an object created but never written, or without an owner), is an
 * {@link Unreadable} error that fails the backup, never a silently smaller fingerprint.
 *
 * <p>The hash: per object two terms, SHA-256 of {@code "O" oid NUL owner} and of {@code "D" oid NUL data} (first 128
 * bits each, the owner as the role name's bytes in the dump's encoding), added modulo 2^128. Addition makes the
 * order of objects irrelevant; the oid in both terms binds owner and data to their object. The two terms are
 * separate so that neither side has to hold every object's owner until its data comes (memory stays bounded: one
 * digest and one decoded line).
 */
public final class LargeObjectFingerprint {
    private static final BigInteger MOD = BigInteger.ONE.shiftLeft(128);
    private static final byte[] TOC_HEADER = ascii("-- Name: ");
    private static final byte[] DATA_HEADER = ascii("-- Data for Name: ");
    private static final byte[] TYPE = ascii("; Type: ");
    private static final byte[] COMMENT = ascii("--");
    private static final byte[] LO_CALL = ascii("SELECT pg_catalog.lo");
    private static final byte[] LO_CREATE = ascii("SELECT pg_catalog.lo_create('");
    private static final byte[] LO_UNLINK = ascii("SELECT pg_catalog.lo_unlink(");
    private static final byte[] ALTER = ascii("ALTER LARGE OBJECT ");
    private static final byte[] OWNER_TO = ascii(" OWNER TO ");
    private static final byte[] LO_OPEN = ascii("SELECT pg_catalog.lo_open('");
    private static final byte[] LOWRITE = ascii("SELECT pg_catalog.lowrite(0, '\\x");
    private static final byte[] LOWRITE_ESCAPED = ascii("SELECT pg_catalog.lowrite(0, E'\\\\x");
    private static final byte[] LOWRITE_END = ascii("');");
    private static final byte[] LO_CLOSE = ascii("SELECT pg_catalog.lo_close(0);");
    private static final byte[] BEGIN = ascii("BEGIN;");
    private static final byte[] COMMIT = ascii("COMMIT;");

    /** A large-object line of the dump that cannot be read, or objects that do not add up. */
    public static final class Unreadable extends RuntimeException {
        Unreadable(String message) {
            super(message);
        }
    }

    private enum Entry { OTHER, METADATA, DATA }

    private final MessageDigest digest;
    private BigInteger sum = BigInteger.ZERO;
    private long created;
    private long owned;
    private long written;
    private long bytes;

    // dump side: the TOC entry the lines belong to, and the object whose data is being written (-1: none)
    private Entry entry = Entry.OTHER;
    private long open = -1;
    private byte[] decoded = new byte[0]; // grown to the longest lowrite (16 KiB); none for dumps without large objects

    public LargeObjectFingerprint() {
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One object's metadata (read-back side): its oid and its owner's name in the dump's encoding. */
    public void object(long oid, byte[] owner) {
        created++;
        owner(oid, owner, 0, owner.length);
    }

    /** Starts an object's data (read-back side); {@link #data} follows in order, then {@link #endData}. */
    public void beginData(long oid) {
        if (open >= 0) {
            throw new Unreadable("Large object " + open + "'s data was not ended before " + oid + "'s began.");
        }
        open = oid;
        digest.reset();
        digest.update((byte) 'D');
        digest.update(ascii(Long.toString(oid)));
        digest.update((byte) 0);
    }

    public void data(byte[] b, int off, int len) {
        if (open < 0) {
            throw new Unreadable("Large-object data outside an object.");
        }
        digest.update(b, off, len);
        bytes += len;
    }

    public void endData() {
        if (open < 0) {
            throw new Unreadable("Large-object data ended outside an object.");
        }
        add(digest.digest());
        written++;
        open = -1;
    }

    /** The fingerprint so far; throws {@link Unreadable} when the objects seen do not add up. */
    public LargeObjectsFingerprint result() {
        if (open >= 0) {
            throw new Unreadable("The data of large object " + open + " did not end (no lo_close).");
        }
        if (owned != created || written != created) {
            throw new Unreadable("The dump's large objects do not add up: " + created + " created, " + owned
                    + " given an owner, " + written + " with data; their fingerprint cannot be computed.");
        }
        String hex = sum.toString(16);
        return new LargeObjectsFingerprint(created, bytes, "0".repeat(32 - hex.length()) + hex);
    }

    /**
     * A statement line of the dump (outside COPY data), {@code line[0, length)} without its newline; with
     * {@code tooLong} only its start was kept.
     */
    void statementLine(byte[] line, int length, boolean tooLong) {
        if (startsWith(line, length, TOC_HEADER) || startsWith(line, length, DATA_HEADER)) {
            if (open >= 0) {
                throw new Unreadable("The data of large object " + open + " did not end (no lo_close) before the next "
                        + "TOC entry.");
            }
            entry = entryType(line, length);
            return;
        }
        if (entry == Entry.OTHER || (!tooLong && length == 0) || startsWith(line, length, COMMENT)) {
            return;
        }
        if (tooLong) {
            throw unreadable("is longer than the fingerprint reads", line, length);
        }
        if (entry == Entry.METADATA) {
            metadataLine(line, length);
        } else {
            dataLine(line, length);
        }
    }

    private void metadataLine(byte[] line, int length) {
        if (startsWith(line, length, LO_CREATE)) {
            int end = digitsEnd(line, LO_CREATE.length, length);
            if (end == LO_CREATE.length || !isAt(line, length, end, ascii("');")) || end + 3 != length) {
                throw unreadable("is not a lo_create pg_dump writes", line, length);
            }
            created++;
        } else if (startsWith(line, length, ALTER)) {
            int oidEnd = digitsEnd(line, ALTER.length, length);
            int ownerStart = oidEnd + OWNER_TO.length;
            if (oidEnd == ALTER.length || !isAt(line, length, oidEnd, OWNER_TO) || ownerStart >= length - 1
                    || line[length - 1] != ';') {
                throw unreadable("is not an ALTER LARGE OBJECT ... OWNER TO pg_dump writes", line, length);
            }
            byte[] owner = unquote(line, ownerStart, length - 1);
            if (owner == null) {
                throw unreadable("names its owner in a way pg_dump does not write", line, length);
            }
            owner(oid(line, ALTER.length, oidEnd), owner, 0, owner.length);
        } else if (startsWith(line, length, LO_CALL) && !startsWith(line, length, LO_UNLINK)) {
            throw unreadable("is a large-object call the fingerprint does not know", line, length);
        }
    }

    private void dataLine(byte[] line, int length) {
        if (open >= 0 && (startsWith(line, length, LOWRITE) || startsWith(line, length, LOWRITE_ESCAPED))) {
            int start = startsWith(line, length, LOWRITE) ? LOWRITE.length : LOWRITE_ESCAPED.length;
            int end = length - LOWRITE_END.length;
            if (end < start || !isAt(line, length, end, LOWRITE_END) || (end - start) % 2 != 0) {
                throw unreadable("is not a lowrite pg_dump writes", line, length);
            }
            int n = (end - start) / 2;
            if (decoded.length < n) {
                decoded = new byte[n];
            }
            for (int i = 0; i < n; i++) {
                int hi = Character.digit(line[start + 2 * i], 16);
                int lo = Character.digit(line[start + 2 * i + 1], 16);
                if (hi < 0 || lo < 0) {
                    throw unreadable("holds a character that is not hex", line, length);
                }
                decoded[i] = (byte) (hi << 4 | lo);
            }
            data(decoded, 0, n);
        } else if (open < 0 && startsWith(line, length, LO_OPEN)) {
            int end = digitsEnd(line, LO_OPEN.length, length);
            if (end == LO_OPEN.length || !isAt(line, length, end, ascii("', ")) || line[length - 1] != ';') {
                throw unreadable("is not a lo_open pg_dump writes", line, length);
            }
            beginData(oid(line, LO_OPEN.length, end));
        } else if (open >= 0 && length == LO_CLOSE.length && startsWith(line, length, LO_CLOSE)) {
            endData();
        } else if (open < 0 && length == COMMIT.length && startsWith(line, length, COMMIT)) {
            entry = Entry.OTHER; // the section ends; what follows (the dump's last lines) has no TOC header
        } else if (open >= 0 || length != BEGIN.length || !startsWith(line, length, BEGIN)) {
            throw unreadable("is not what pg_dump writes in large-object data", line, length);
        }
    }

    private void owner(long oid, byte[] owner, int off, int len) {
        digest.reset();
        digest.update((byte) 'O');
        digest.update(ascii(Long.toString(oid)));
        digest.update((byte) 0);
        digest.update(owner, off, len);
        add(digest.digest());
        owned++;
    }

    private void add(byte[] sha) {
        sum = sum.add(new BigInteger(1, Arrays.copyOf(sha, 16))).mod(MOD);
    }

    /**
     * The kind of TOC entry a header line starts. Large-object entries have a name pg_dump makes up (an oid, a
     * range of oids, {@code BLOBS}) and no schema; the header must hold {@code "; Type: "} once, so that a table or
     * role named like a large-object header is not taken for one.
     */
    private static Entry entryType(byte[] line, int length) {
        int nameStart = startsWith(line, length, TOC_HEADER) ? TOC_HEADER.length : DATA_HEADER.length;
        int at = indexOf(line, nameStart, length, TYPE);
        if (at < 0 || indexOf(line, at + 1, length, TYPE) >= 0) {
            return Entry.OTHER;
        }
        for (int i = nameStart; i < at; i++) {
            byte c = line[i];
            if (!(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == ' ' || c == '.')) {
                return Entry.OTHER;
            }
        }
        int from = at + TYPE.length;
        int to = from;
        while (to < length && line[to] != ';') {
            to++;
        }
        if (!isAt(line, length, to, ascii("; Schema: -;"))) {
            return Entry.OTHER;
        }
        String type = new String(line, from, to - from, StandardCharsets.US_ASCII);
        return switch (type) {
            case "BLOB", "BLOB METADATA" -> Entry.METADATA;
            case "BLOBS" -> Entry.DATA;
            default -> Entry.OTHER;
        };
    }

    /**
     * A role name as pg_dump writes it (fmtId): bare, or double-quoted with quotes doubled. Returns its bytes without
     * the quoting, or null when {@code line[from, to)} is neither.
     */
    private static byte[] unquote(byte[] line, int from, int to) {
        if (line[from] != '"') {
            for (int i = from; i < to; i++) {
                if (line[i] == ' ' || line[i] == '"' || line[i] == ';') {
                    return null;
                }
            }
            return Arrays.copyOfRange(line, from, to);
        }
        if (to - from < 3 || line[to - 1] != '"') {
            return null;
        }
        byte[] out = new byte[to - from];
        int n = 0;
        for (int i = from + 1; i < to - 1; i++) {
            if (line[i] == '"') {
                if (i + 1 >= to - 1 || line[i + 1] != '"') {
                    return null;
                }
                i++;
            }
            out[n++] = line[i];
        }
        return Arrays.copyOf(out, n);
    }

    private static int digitsEnd(byte[] line, int from, int length) {
        int i = from;
        while (i < length && i - from < 10 && line[i] >= '0' && line[i] <= '9') {
            i++;
        }
        return i;
    }

    private static long oid(byte[] line, int from, int to) {
        return Long.parseLong(new String(line, from, to - from, StandardCharsets.US_ASCII));
    }

    private static boolean startsWith(byte[] line, int length, byte[] prefix) {
        return isAt(line, length, 0, prefix);
    }

    private static boolean isAt(byte[] line, int length, int at, byte[] part) {
        return at >= 0 && length - at >= part.length && Arrays.equals(line, at, at + part.length, part, 0, part.length);
    }

    private static int indexOf(byte[] line, int from, int length, byte[] part) {
        for (int i = from; i + part.length <= length; i++) {
            if (isAt(line, length, i, part)) {
                return i;
            }
        }
        return -1;
    }

    private static Unreadable unreadable(String problem, byte[] line, int length) {
        String start = new String(line, 0, Math.min(length, 80), StandardCharsets.UTF_8);
        return new Unreadable("A large-object line of the dump " + problem + " (" + start + (length > 80 ? "..." : "")
                + "); the large objects cannot be fingerprinted, so the backup is not taken.");
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
