package dev.lifeboat.common.pipeline;

import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.store.ObjectStore;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The one read chain (DESIGN §2 reversed; pgBackRest's verify): stored bytes → size and SHA-256 → age decryption →
 * decompression → a sink, in one streaming pass, and a closed outcome. restore-service loads what the sink gets and
 * commits only on {@link Outcome#OK}; verify-service's checksum step uses a counting sink. The outcome separates
 * proof about the backup's bytes (MISSING, SIZE_INVALID, CHECKSUM_MISMATCH, UNDECODABLE) from the store failing
 * (STORE_ERROR), which says nothing about the backup.
 */
public final class ReadChain {
    private static final int BUFFER = 1 << 16;

    private ReadChain() {
    }

    /** How reading a backup ended. */
    public enum Outcome {
        /** Every stored byte read, size and SHA-256 as recorded, decoded to the end, to the recorded dump size. */
        OK,
        /** The data object is not in the store. */
        MISSING,
        /** The stored object does not have the recorded size. */
        SIZE_INVALID,
        /** The stored bytes do not have the recorded SHA-256. */
        CHECKSUM_MISMATCH,
        /** The bytes are as stored but do not decrypt or decompress to the recorded dump: wrong key, damaged header
         * or payload. */
        UNDECODABLE,
        /** The store failed while the object was read (transient, denied, archived): no verdict about the backup. */
        STORE_ERROR
    }

    /**
     * What reading found.
     *
     * @param keyProblem for UNDECODABLE: the stored bytes are intact and no configured age identity opens them, so
     *                   the configuration rather than the backup is at fault
     */
    public record Result(Outcome outcome, String detail, long dumpBytes, boolean keyProblem) {
        public boolean ok() {
            return outcome == Outcome.OK;
        }
    }

    /** Where the decoded dump goes. Its failures are not the backup's: they propagate as {@link SinkFailed}. */
    public interface Sink {
        void write(byte[] b, int off, int len) throws IOException;
    }

    /** The sink failed (e.g. psql stopped reading); the cause is the sink's exception. */
    public static final class SinkFailed extends RuntimeException {
        public SinkFailed(IOException cause) {
            super(cause.getMessage(), cause);
        }

        @Override
        public synchronized IOException getCause() {
            return (IOException) super.getCause();
        }
    }

    /**
     * Reads {@code backup}'s data object through the chain into {@code sink}. {@code measure} counts the stored bytes
     * as they are read (progress) and holds their digest afterwards. Never throws for what the backup or the store
     * did; only the sink's failure escapes, as {@link SinkFailed}.
     */
    public static Result read(ObjectStore store, BackupMetadata backup, List<String> identities, Measure measure,
                              Sink sink) {
        return read(store, StoredObject.data(backup), identities, measure, sink);
    }

    /**
     * One stored object of a backup as the read chain checks it: where it is, what its metadata records, and the
     * backup id (its suffix names the codec).
     *
     * @param what "data object" or "roles object", for messages
     */
    public record StoredObject(String backupId, String what, String key, long storedSizeBytes, String sha256,
                               long rawSizeBytes, boolean encrypted) {
        /** The backup's data object. */
        public static StoredObject data(BackupMetadata backup) {
            return new StoredObject(backup.id(), "data object", backup.key(), backup.storedSizeBytes(), backup.sha256(),
                    backup.rawSizeBytes(), backup.encrypted());
        }

        /** The backup's roles object ({@link BackupMetadata#roles()} must be present). */
        public static StoredObject roles(BackupMetadata backup) {
            BackupMetadata.RolesObject r = backup.roles();
            return new StoredObject(backup.id(), "roles object", r.key(), r.storedSizeBytes(), r.sha256(),
                    r.rawSizeBytes(), backup.encrypted());
        }
    }

    /** Reads one stored object of a backup through the chain into {@code sink}; as {@link #read(ObjectStore,
     * BackupMetadata, List, Measure, Sink)}. */
    public static Result read(ObjectStore store, StoredObject backup, List<String> identities, Measure measure,
                              Sink sink) {
        InputStream raw;
        try {
            raw = store.open(backup.key());
        } catch (ObjectStore.ObjectNotFoundException e) {
            return new Result(Outcome.MISSING, "The " + backup.what() + " of backup " + backup.backupId() + " is missing ("
                    + store.locate(backup.key()) + ").", 0, false);
        } catch (IOException | RuntimeException e) {
            return storeError(store, backup, e);
        }
        long dumpBytes = 0;
        String decodeProblem = null;
        boolean keyProblem = false;
        try (InputStream measured = measure.inputStream(new StoreReads(raw))) {
            InputStream dump = null;
            try {
                dump = Codec.forReading(backup.backupId(), identities).decode(measured);
            } catch (AgeStage.DecryptionException e) {
                decodeProblem = Errors.describe(e);
                keyProblem = true;
            } catch (IOException | RuntimeException e) {
                if (StoreReads.causedBy(e)) {
                    return storeError(store, backup, e);
                }
                decodeProblem = Errors.describe(e);
            }
            if (dump != null) {
                byte[] buffer = new byte[BUFFER];
                try {
                    for (int n; (n = dump.read(buffer)) >= 0; ) {
                        dumpBytes += n;
                        try {
                            sink.write(buffer, 0, n);
                        } catch (IOException e) {
                            throw new SinkFailed(e);
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    if (e instanceof SinkFailed) {
                        throw e;
                    }
                    if (StoreReads.causedBy(e)) {
                        return storeError(store, backup, e);
                    }
                    decodeProblem = Errors.describe(e);
                }
            }
            // bytes after the end of the age/zstd stream are part of the object too, and when decoding failed the
            // rest is still read, so the result says whether the stored bytes changed as well
            try {
                measured.transferTo(OutputStream.nullOutputStream());
            } catch (IOException e) {
                return storeError(store, backup, e);
            }
        } catch (IOException e) {
            return storeError(store, backup, e); // closing the store's stream
        }
        return judge(backup, measure, dumpBytes, decodeProblem, keyProblem);
    }

    private static Result judge(StoredObject backup, Measure measure, long dumpBytes, String decodeProblem,
                                boolean keyProblem) {
        List<String> problems = new ArrayList<>();
        long size = measure.bytes();
        String sha = measure.sha256Hex();
        Outcome outcome = Outcome.OK;
        if (size != backup.storedSizeBytes()) {
            problems.add(size + " stored bytes read; the metadata records " + backup.storedSizeBytes());
            outcome = Outcome.SIZE_INVALID;
        }
        if (!sha.equalsIgnoreCase(backup.sha256())) {
            problems.add("SHA-256 of the stored bytes is " + sha + "; the metadata records " + backup.sha256());
            outcome = outcome == Outcome.OK ? Outcome.CHECKSUM_MISMATCH : outcome;
        }
        if (decodeProblem != null) {
            problems.add("it does not decrypt and decompress to the end: " + decodeProblem);
            outcome = outcome == Outcome.OK ? Outcome.UNDECODABLE : outcome;
        } else if (dumpBytes != backup.rawSizeBytes()) {
            problems.add("it decodes to " + dumpBytes + " bytes of dump; the metadata records " + backup.rawSizeBytes());
            outcome = outcome == Outcome.OK ? Outcome.UNDECODABLE : outcome;
        }
        if (outcome == Outcome.OK) {
            return new Result(outcome, size + " stored bytes, SHA-256 matches; " + (backup.encrypted() ? "decrypted and "
                    : "") + "decoded to " + dumpBytes + " bytes of dump", dumpBytes, false);
        }
        return new Result(outcome, "Backup " + backup.backupId() + " is damaged" + (backup.what().equals("data object")
                ? "" : " (its " + backup.what() + ")") + ": " + String.join("; ", problems) + ".",
                dumpBytes, outcome == Outcome.UNDECODABLE && keyProblem);
    }

    private static Result storeError(ObjectStore store, StoredObject backup, Exception e) {
        Throwable cause = StoreReads.storeCause(e);
        return new Result(Outcome.STORE_ERROR, "Reading " + store.locate(backup.key()) + " failed: "
                + Errors.describe(cause), 0, false);
    }

    /** Tags failures of the store's own stream, so they are told apart from the backup failing to decode. */
    private static final class StoreReads extends FilterInputStream {
        StoreReads(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (IOException e) {
                throw new StoreReadFailed(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                throw new StoreReadFailed(e);
            }
        }

        @Override
        public long skip(long n) throws IOException {
            try {
                return super.skip(n);
            } catch (IOException e) {
                throw new StoreReadFailed(e);
            }
        }

        static boolean causedBy(Throwable e) {
            return storeCause(e) != e || e instanceof StoreReadFailed;
        }

        /** The store's own exception behind {@code e}, or {@code e} itself. */
        static Throwable storeCause(Throwable e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof StoreReadFailed) {
                    return t.getCause();
                }
            }
            return e;
        }
    }

    private static final class StoreReadFailed extends IOException {
        StoreReadFailed(IOException cause) {
            super(cause.getMessage(), cause);
        }
    }
}
