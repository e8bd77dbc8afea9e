package dev.lifeboat.common.pipeline;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;

/**
 * Watches a tar archive as it streams past (pg_basebackup's {@code -Ft -D -} output on its way into the write chain)
 * and keeps what the base backup's metadata needs, in bounded memory: the contents of the small members asked for
 * ({@code backup_label}, at most {@value #MAX_KEPT} bytes each), the SHA-256 and the last {@value #TAIL} bytes of
 * the members to digest ({@code backup_manifest}, whose WAL range and own checksum are at its end), and the member
 * count. Bytes are passed on unchanged; only 512-byte ustar headers
 * (and base-256 sizes, which pg_basebackup writes for members over 8 GiB) are parsed.
 */
public final class TarWatch extends FilterInputStream {
    static final int BLOCK = 512;
    /** The most bytes kept of one member's contents. */
    public static final int MAX_KEPT = 64 << 10;
    /** The most bytes kept of the end of a digested member. */
    public static final int TAIL = 8 << 10;

    private final Set<String> keep;
    private final Set<String> digest;
    private final byte[] header = new byte[BLOCK];
    private int headerFill;
    /** Bytes of the current member's data still to come, then its padding. */
    private long dataLeft;
    private long paddingLeft;
    private String member;
    private byte[] kept;
    private int keptFill;
    private MessageDigest sha;
    private byte[] tail;
    private int tailFill;
    private final java.util.Map<String, String> tails = new java.util.HashMap<>();
    private int members;
    private boolean ended;
    private final java.util.Map<String, byte[]> contents = new java.util.HashMap<>();
    private final java.util.Map<String, String> digests = new java.util.HashMap<>();

    /**
     * @param keep   member names whose contents are kept
     * @param digest member names whose SHA-256 and last bytes are kept
     */
    public TarWatch(InputStream in, Set<String> keep, Set<String> digest) {
        super(in);
        this.keep = keep;
        this.digest = digest;
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            observe(new byte[] {(byte) b}, 0, 1);
        }
        return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
            observe(b, off, n);
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        throw new IOException("TarWatch must see every byte; skip is not supported");
    }

    private void observe(byte[] b, int off, int len) throws IOException {
        int i = off;
        int end = off + len;
        while (i < end) {
            if (dataLeft > 0) {
                int n = (int) Math.min(dataLeft, end - i);
                memberData(b, i, n);
                dataLeft -= n;
                i += n;
                if (dataLeft == 0) {
                    memberEnd();
                }
            } else if (paddingLeft > 0) {
                int n = (int) Math.min(paddingLeft, end - i);
                paddingLeft -= n;
                i += n;
            } else if (ended) {
                return; // the end-of-archive blocks and any trailing zeros
            } else {
                int n = Math.min(BLOCK - headerFill, end - i);
                System.arraycopy(b, i, header, headerFill, n);
                headerFill += n;
                i += n;
                if (headerFill == BLOCK) {
                    headerFill = 0;
                    header();
                }
            }
        }
    }

    private void header() throws IOException {
        boolean zero = true;
        for (byte x : header) {
            if (x != 0) {
                zero = false;
                break;
            }
        }
        if (zero) {
            ended = true;
            return;
        }
        String name = text(0, 100);
        String prefix = text(345, 155);
        if (!prefix.isEmpty()) {
            name = prefix + "/" + name;
        }
        long size = size();
        byte type = header[156];
        members++;
        member = name;
        // only regular files carry data in pg_basebackup's tars ('0' or NUL); directories and links have size 0
        boolean regular = type == '0' || type == 0;
        kept = regular && keep.contains(name) ? new byte[(int) Math.min(size, MAX_KEPT)] : null;
        keptFill = 0;
        sha = regular && digest.contains(name) ? newSha() : null;
        tail = sha == null ? null : new byte[TAIL];
        tailFill = 0;
        dataLeft = size;
        paddingLeft = (BLOCK - size % BLOCK) % BLOCK;
        if (size == 0) {
            memberEnd();
        }
    }

    private void memberData(byte[] b, int off, int n) {
        if (kept != null && keptFill < kept.length) {
            int k = Math.min(n, kept.length - keptFill);
            System.arraycopy(b, off, kept, keptFill, k);
            keptFill += k;
        }
        if (sha != null) {
            sha.update(b, off, n);
            if (n >= TAIL) {
                System.arraycopy(b, off + n - TAIL, tail, 0, TAIL);
                tailFill = TAIL;
            } else {
                int drop = Math.max(0, tailFill + n - TAIL);
                System.arraycopy(tail, drop, tail, 0, tailFill - drop);
                System.arraycopy(b, off, tail, tailFill - drop, n);
                tailFill = tailFill - drop + n;
            }
        }
    }

    private void memberEnd() {
        if (kept != null) {
            contents.put(member, kept);
            kept = null;
        }
        if (sha != null) {
            digests.put(member, HexFormat.of().formatHex(sha.digest()));
            tails.put(member, new String(tail, 0, tailFill, StandardCharsets.UTF_8));
            sha = null;
            tail = null;
        }
    }

    private String text(int at, int len) {
        int n = 0;
        while (n < len && header[at + n] != 0) {
            n++;
        }
        return new String(header, at, n, StandardCharsets.UTF_8).strip();
    }

    /** The size field: octal text, or base-256 (high bit of the first byte set) for large members. */
    private long size() throws IOException {
        if ((header[124] & 0x80) != 0) {
            long v = 0;
            for (int i = 125; i < 136; i++) {
                v = (v << 8) | (header[i] & 0xff);
            }
            return v;
        }
        String octal = text(124, 12);
        try {
            return octal.isEmpty() ? 0 : Long.parseLong(octal, 8);
        } catch (NumberFormatException e) {
            throw new IOException("Not a tar archive: member size '" + octal + "' after " + members + " member(s)");
        }
    }

    private static MessageDigest newSha() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The kept contents of a member as UTF-8 text, or null when the archive had no such member. */
    public String text(String name) {
        byte[] b = contents.get(name);
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    /** The SHA-256 (hex) of a digested member, or null when the archive had none. */
    public String sha256(String name) {
        return digests.get(name);
    }

    /** The last bytes (at most {@value #TAIL}) of a digested member as UTF-8 text, or null when there was none. */
    public String tail(String name) {
        return tails.get(name);
    }

    /** How many members went past. */
    public int members() {
        return members;
    }

    /** Whether the end-of-archive marker went past (a complete archive). */
    public boolean complete() {
        return ended;
    }
}
