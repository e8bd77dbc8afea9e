package dev.lifeboat.verify.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.client.RestoreServiceClient;
import dev.lifeboat.common.api.RestoreFailure;
import dev.lifeboat.common.api.RestoreStep;
import dev.lifeboat.common.api.RestoreView;
import dev.lifeboat.common.job.JobState;
import dev.lifeboat.common.config.EncryptionConfig;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.PeerFailed;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.job.Step;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.wal.RecoveryWindow;
import dev.lifeboat.common.model.TableFingerprint;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import dev.lifeboat.common.model.VerificationRecord.TableMismatch;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pipeline.AgeKeys;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.config.StoreConfig;
import dev.lifeboat.common.model.VerificationRecord.Trigger;
import dev.lifeboat.common.store.ArchiveState;
import dev.lifeboat.common.store.ArchiveWait;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.verify.config.VerifyServiceConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The steps of a verification (DESIGN §4), in the order they run; a reader finds them all here. {@code checksum}:
 * METADATA, CHECKSUM. {@code full}: METADATA, RESTORE into a scratch database through restore-service, CHECKSUM
 * (the restore's read of the data object is its proof, so the object is read once; the roles object is read here),
 * FINGERPRINT (the restored data against the metadata's fingerprint), AMCHECK, SQL_CHECKS, and DROP_SCRATCH, which
 * also runs after a failure.
 *
 * <p>The outcome is a closed set: {@link #verify} returning means PASSED; a {@link Defect} means FAILED, the
 * backup is proven bad, and it names the step and, for data, the table; a {@link StepError} means ERROR, no
 * verdict, because something else failed (the store, restore-service, the scratch server, the configuration).
 */
@ApplicationScoped
public class Verifier {
    private static final int BUFFER = 1 << 16;
    private static final String SCRATCH_PREFIX = "lifeboat_scratch_";
    /**
     * How long a base backup's drill waits for the WAL through its end to be archived: the server switches segment at
     * the end of a base backup, so the receiver archives it within seconds (a partial snapshot within its interval).
     */
    static final Duration WAL_WAIT = Duration.ofMinutes(10);

    private final VerifyServiceConfig config;
    private final BackupCatalog catalog;
    private final ObjectStore store;
    private final EncryptionConfig encryption;
    private final RestoreServiceClient restores;
    private final Databases databases;
    private final PgTools pgTools;
    private final RestoredData restored;
    private final ArchiveWait archive;
    private final WalArchive walArchive;

    public Verifier(VerifyServiceConfig config, BackupCatalog catalog, ObjectStore store, EncryptionConfig encryption,
                    RestoreServiceClient restores, Databases databases, PgTools pgTools, RestoredData restored,
                    StoreConfig storeConfig, WalArchive walArchive) {
        this.config = config;
        this.walArchive = walArchive;
        this.archive = ArchiveWait.of(store, storeConfig);
        this.catalog = catalog;
        this.store = store;
        this.encryption = encryption;
        this.restores = restores;
        this.databases = databases;
        this.pgTools = pgTools;
        this.restored = restored;
    }

    /** The backup is proven bad; FAILED. */
    static final class Defect extends RuntimeException {
        private final StepName step;
        private final String table;
        private final List<TableMismatch> mismatches;

        Defect(StepName step, String message) {
            this(step, message, null, List.of());
        }

        Defect(StepName step, String message, String table, List<TableMismatch> mismatches) {
            super(message);
            this.step = step;
            this.table = table;
            this.mismatches = mismatches;
        }

        StepName step() {
            return step;
        }

        String table() {
            return table;
        }

        List<TableMismatch> mismatches() {
            return mismatches;
        }
    }

    /** A step could not be done for a reason other than the backup; ERROR. */
    static final class StepError extends RuntimeException {
        private final StepName step;

        StepError(StepName step, String message, Throwable cause) {
            super(message, cause);
            this.step = step;
        }

        StepName step() {
            return step;
        }
    }

    /**
     * The backup's data is archived and this verification does not restore it (the scheduled checksum pass): the step
     * is SKIPPED and the verification ends ARCHIVED, neither a verdict against the backup nor a pass.
     */
    static final class Archived extends RuntimeException {
        Archived(String reason) {
            super(reason);
        }
    }

    /** The step is not applicable here; it is recorded as SKIPPED with the reason. */
    static final class Skip extends RuntimeException {
        Skip(String reason) {
            super(reason);
        }
    }

    /** Runs every step of {@code job}'s level on {@code backup}; see the class comment for the outcomes. */
    void verify(VerificationJob job, BackupMetadata backup) {
        step(job, StepName.METADATA, null, () -> metadata(backup));
        if (job.level() != Level.FULL) {
            step(job, StepName.CHECKSUM, backup.storedSizeBytes() + " stored bytes", () -> checksum(job, backup));
            return;
        }
        // full: the restore's read of the data object is the CHECKSUM proof (one read of the object, not two)
        AtomicReference<RestoreView> restore = new AtomicReference<>();
        AtomicReference<String> roles = new AtomicReference<>();
        try {
            step(job, StepName.RESTORE, "into target " + config.verify().target() + "; its read of the data object is "
                    + "the checksum", () -> {
                // the roles object is read beside the restore (restore-service refuses a backup whose one is bad)
                CompletableFuture<String> rolesRead = CompletableFuture.supplyAsync(() -> rolesChecksum(backup),
                        r -> Thread.ofPlatform().name("verify-roles").start(r));
                try {
                    String done = restore(job, backup, restore);
                    roles.set(joinRoles(rolesRead));
                    return done;
                } catch (RuntimeException e) {
                    if (!(e instanceof ReadFailed)) {
                        joinRoles(rolesRead); // restore-service refused it for its roles object: that read's verdict
                    }
                    throw e;
                }
            });
        } catch (ReadFailed r) {
            // the restore stopped because its read of the stored object failed: that read's verdict is the CHECKSUM's
            job.log().begin(StepName.CHECKSUM, backup.storedSizeBytes() + " stored bytes, read by the restore");
            job.log().end(StepName.CHECKSUM, Step.Status.FAILED, r.verdict.getMessage());
            if (restore.get() != null) { // restored, but the roles object could not be proven
                dropScratch(job, restore.get());
            }
            throw r.verdict;
        }
        try {
            step(job, StepName.CHECKSUM, backup.storedSizeBytes() + " stored bytes, read by the restore",
                    () -> checkedByRestore(job, backup, restore.get()) + roles.get());
            checkRestored(job, backup.database(), restore.get().database(),
                    (psql, scratch) -> restored.compareFingerprint(job, backup, psql, scratch));
        } finally {
            dropScratch(job, restore.get());
        }
    }

    /**
     * The full verification of a base backup, a point-in-time drill: METADATA (the base backup's, its data object,
     * and the WAL from its start through its end LSN archived, waited for as a new base backup's last segment is
     * archived a moment after it), RESTORE (restore-service recovers it with that WAL in a private instance to its
     * end point and loads a pg_dump of it into a scratch database; its duration is the drill's RTO), CHECKSUM (that
     * restore read the base backup and every WAL file through the read chain: a segment that fails its checksum or
     * decryption fails the verification, named), FINGERPRINT (every table of the restored database read through the
     * content fingerprint: there is no dump-time fingerprint to compare with, so what it proves is that every row
     * reads back), AMCHECK, SQL_CHECKS and DROP_SCRATCH, as for a logical backup.
     */
    void verifyBase(VerificationJob job, BaseBackupMetadata base) {
        AtomicInteger walFiles = new AtomicInteger();
        step(job, StepName.METADATA, null, () -> baseMetadata(job, base, walFiles));
        AtomicReference<RestoreView> restore = new AtomicReference<>();
        try {
            step(job, StepName.RESTORE, "point-in-time drill: recover to the end of " + base.id() + " into target "
                    + config.verify().target() + "; its reads of the base backup and the WAL are the checksum", () -> {
                RestoreView status = runRestore(job, base.id());
                if (status.status() == JobState.FAILED) {
                    if ((status.failedStep() == RestoreStep.FETCH_BASE || status.failedStep() == RestoreStep.REPLAY_WAL)
                            && (status.failure() == RestoreFailure.BACKUP_DAMAGED
                            || status.failure() == RestoreFailure.STORE_ERROR)) {
                        throw readFailed(status, status.failedStep() == RestoreStep.FETCH_BASE
                                ? "its read of base backup " + base.id() + " (" + store.locate(base.key()) + ") failed"
                                : "its read of a WAL file failed");
                    }
                    throw notRestored(status);
                }
                return restored(job, status, restore);
            });
        } catch (ReadFailed r) {
            job.log().begin(StepName.CHECKSUM, base.storedSizeBytes() + " stored bytes and " + walFiles.get()
                    + " WAL file(s), read by the restore");
            job.log().end(StepName.CHECKSUM, Step.Status.FAILED, r.verdict.getMessage());
            throw r.verdict;
        }
        try {
            step(job, StepName.CHECKSUM, base.storedSizeBytes() + " stored bytes and " + walFiles.get()
                    + " WAL file(s), read by the restore", () -> {
                job.checkedByRestore(base.storedSizeBytes());
                return "base backup (" + base.storedSizeBytes() + " stored bytes) and " + walFiles.get() + " WAL "
                        + "file(s) read by restore " + restore.get().id() + " through the read chain: sizes and SHA-256 "
                        + "match, " + (base.encryptionRecipients() == null || base.encryptionRecipients().isEmpty() ? ""
                        : "decrypted (age authenticated every chunk) and ") + "decoded to the end";
            });
            checkRestored(job, base.database(), restore.get().database(),
                    (psql, scratch) -> restored.readAll(job, psql, scratch));
        } finally {
            dropScratch(job, restore.get());
        }
    }

    /** FINGERPRINT's work on the scratch database, with the psql of its server. */
    interface Fingerprint {
        String run(PgTools.Program psql, PgConnection scratch) throws IOException;
    }

    /** FINGERPRINT, AMCHECK and SQL_CHECKS on the restored scratch database {@code database}. */
    private void checkRestored(VerificationJob job, String label, String database, Fingerprint fingerprint) {
        PgConnection scratch = databases.scratch(database);
        // one psql of the scratch server's major (or newer) for every read of the restore, found in the first
        AtomicReference<PgTools.Program> psql = new AtomicReference<>();
        step(job, StepName.FINGERPRINT, null, () -> {
            psql.set(pgTools.forServer("psql", pgTools.serverVersionNum(scratch) / 10000));
            return fingerprint.run(psql.get(), scratch);
        });
        if (config.verify().amcheck().enabled()) {
            step(job, StepName.AMCHECK, null, () -> restored.amcheck(psql.get(), scratch));
        } else {
            job.log().skip(StepName.AMCHECK, "lifeboat.verify.amcheck.enabled=false");
        }
        Map<String, String> checks = databases.checks(label);
        if (checks.isEmpty()) {
            job.log().skip(StepName.SQL_CHECKS, "no check configured for database " + label
                    + " (lifeboat.verify.checks.*)");
        } else {
            step(job, StepName.SQL_CHECKS, checks.size() + " checks", () -> restored.sqlChecks(psql.get(), scratch, checks));
        }
    }

    /**
     * METADATA of a base backup: consistent, its data object there with the recorded size, a key for it, and the WAL
     * its recovery needs archived (waited for up to {@link #WAL_WAIT}, or {@code lifeboat.verify.restore-timeout} if
     * shorter: the one verification worker is not held for hours by a stopped WAL receiver; still missing then is an
     * ERROR, tried again by the sweep). Counts that WAL into {@code walFiles}.
     */
    private String baseMetadata(VerificationJob job, BaseBackupMetadata base, AtomicInteger walFiles) throws IOException {
        if (base.schemaVersion() != BaseBackupMetadata.SCHEMA_VERSION) {
            throw new IllegalStateException("Base backup metadata schema version " + base.schemaVersion()
                    + " is not one this verify-service reads (" + BaseBackupMetadata.SCHEMA_VERSION + "); upgrade it");
        }
        boolean encrypted = base.encryptionRecipients() != null && !base.encryptionRecipients().isEmpty();
        dataObject(base.id(), base.key(), catalog.baseDataKey(base.database(), base.id()), base.sha256(), encrypted,
                base.storedSizeBytes());
        Duration wait = config.verify().restoreTimeout().compareTo(WAL_WAIT) < 0 ? config.verify().restoreTimeout()
                : WAL_WAIT;
        long deadline = System.nanoTime() + wait.toNanos();
        RecoveryWindow.Chain chain;
        while (true) {
            chain = RecoveryWindow.of(List.of(base), walArchive.list(base.database())).chains().get(0);
            if (chain.recoverable()) {
                break;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("WAL segment " + chain.missing() + ", which recovering " + base.id()
                        + " to its end (" + base.endLsn() + ") needs, was not archived within " + wait + "; is the "
                        + "WAL receiver of '" + base.database() + "' running? The sweep tries again later.");
            }
            job.log().detail(StepName.METADATA, "waiting for WAL segment " + chain.missing() + " (the base backup ends "
                    + "at " + base.endLsn() + ") to be archived");
            sleep(1_000);
        }
        walFiles.set(chain.endIndex() + 1);
        return "base backup schema v" + base.schemaVersion() + ", PostgreSQL " + base.serverVersion() + ", timeline "
                + base.timeline() + ", " + base.startLsn() + " to " + base.endLsn() + ", " + base.compression()
                + (encrypted ? ", age-encrypted" : ", not encrypted") + "; object present with " + base.storedSizeBytes()
                + " bytes; the " + walFiles.get() + " WAL file(s) it needs are archived";
    }

    /** A step's work; returns what it found, for the record. */
    interface StepBody {
        String run() throws IOException;
    }

    /** Runs one step with its timing; a failure ends the step FAILED and becomes a {@link Defect} or {@link StepError}. */
    private void step(VerificationJob job, StepName name, String startDetail, StepBody body) {
        job.log().begin(name, startDetail);
        job.stepBegan();
        try {
            job.log().end(name, Step.Status.DONE, body.run());
        } catch (Skip s) {
            job.log().end(name, Step.Status.SKIPPED, s.getMessage());
        } catch (Archived a) {
            job.log().end(name, Step.Status.SKIPPED, a.getMessage());
            throw a;
        } catch (Defect | ReadFailed d) {
            job.log().end(name, Step.Status.FAILED, d.getMessage());
            throw d;
        } catch (IOException | RuntimeException e) {
            String message = Errors.describe(e);
            job.log().end(name, Step.Status.FAILED, message);
            throw new StepError(name, message, e);
        }
    }

    /** METADATA: what the metadata says is consistent, and the data object is there with the recorded size. */
    private String metadata(BackupMetadata backup) throws IOException {
        if (backup.schemaVersion() != BackupMetadata.SCHEMA_VERSION) {
            throw new IllegalStateException("Metadata schema version " + backup.schemaVersion()
                    + " is not one this verify-service reads (" + BackupMetadata.SCHEMA_VERSION + "); upgrade it");
        }
        dataObject(backup.id(), backup.key(), catalog.dataKey(backup.database(), backup.id()), backup.sha256(),
                backup.encrypted(), backup.storedSizeBytes());
        return "schema v" + backup.schemaVersion() + ", " + backup.format() + ", " + backup.compression()
                + (backup.encrypted() ? ", age-encrypted" : ", not encrypted") + "; object present with "
                + backup.storedSizeBytes() + " bytes";
    }

    /**
     * What METADATA checks of any backup's data object: its metadata records a SHA-256 and names the object where it
     * belongs ({@code expectedKey}), a configured key can open it, and the object is there with the recorded size.
     */
    private void dataObject(String id, String key, String expectedKey, String sha256, boolean encrypted, long size)
            throws IOException {
        if (sha256 == null || sha256.isBlank()) {
            throw new Defect(StepName.METADATA, "The metadata of " + id + " records no SHA-256.");
        }
        if (!expectedKey.equals(key)) {
            throw new Defect(StepName.METADATA, "The metadata of " + id + " names the object " + key + ", not "
                    + expectedKey + ".");
        }
        if (encrypted && identities().isEmpty()) {
            throw new InvalidConfiguration("Backup " + id + " is encrypted but no age identity is configured "
                    + "(lifeboat.encryption.identity-files)");
        }
        Optional<ObjectStore.ObjectInfo> object = store.stat(key);
        if (object.isEmpty()) {
            throw new Defect(StepName.METADATA, "The data object of " + id + " is missing (" + store.locate(key) + ").");
        }
        if (object.get().size() != size) {
            throw new Defect(StepName.METADATA, "The data object of " + id + " has " + object.get().size()
                    + " bytes; its metadata records " + size + ". It is truncated or damaged.");
        }
    }

    /**
     * CHECKSUM: the whole object read once through the read chain: SHA-256 and size, age decryption (authenticating
     * every chunk and the end) and decompression (zstd frames carry their own checksum) to the end of the dump; then
     * the roles object the same way, when the backup has one. Only proof about the bytes is a defect; the store failing, or no configured key opening intact bytes, is an error.
     */
    private String checksum(VerificationJob job, BackupMetadata backup) throws IOException {
        String waited = awaitArchive(job, backup, StepName.CHECKSUM);
        String data = verdict(ReadChain.read(store, backup, identities(), job.stored, (b, off, len) -> { }));
        if (backup.roles() == null) {
            return waited + data;
        }
        return waited + data + rolesVerdict(backup);
    }

    /** The role definitions a restore into a rebuilt server needs: small, never archived (untagged), read whole too. */
    private String rolesVerdict(BackupMetadata backup) {
        return "; roles object: " + verdict(ReadChain.read(store, ReadChain.StoredObject.roles(backup), identities(),
                new dev.lifeboat.common.pipeline.Measure(), (b, off, len) -> { }));
    }

    /**
     * CHECKSUM of a full verification: the data object was read once, by the restore, through the same read chain
     * as {@link #checksum} (restore-service commits only after the last stored byte matched the recorded size and
     * SHA-256 and decoded to the end); the roles object's verdict is {@link #rolesChecksum}'s.
     */
    private String checkedByRestore(VerificationJob job, BackupMetadata backup, RestoreView restore) {
        job.checkedByRestore(backup.storedSizeBytes());
        return backup.storedSizeBytes() + " stored bytes read by restore " + restore.id() + ": size and SHA-256 match, "
                + (backup.encrypted() ? "decrypted (age authenticated every chunk) and " : "")
                + "decoded to the end before it committed";
    }

    /**
     * The roles object of a full verification, read whole as {@link #checksum} reads it (small; the load does not
     * read it): its verdict for the CHECKSUM step, or a {@link ReadFailed} with the defect or error it is.
     */
    private String rolesChecksum(BackupMetadata backup) {
        if (backup.roles() == null) {
            return "";
        }
        try {
            return rolesVerdict(backup);
        } catch (Defect d) {
            throw new ReadFailed(d);
        } catch (RuntimeException e) {
            throw new ReadFailed(new StepError(StepName.CHECKSUM, Errors.describe(e), e));
        }
    }

    /** What {@link #rolesChecksum} found, its {@link ReadFailed} thrown as it is. */
    private static String joinRoles(CompletableFuture<String> read) {
        try {
            return read.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    /** The restore of a full verification stopped because its read of the stored object failed; see {@link #verify}. */
    private static final class ReadFailed extends RuntimeException {
        private final RuntimeException verdict;

        ReadFailed(RuntimeException verdict) {
            super(verdict.getMessage(), verdict);
            this.verdict = verdict;
        }
    }

    /** What one read through the chain proves: its detail when OK, else the error or defect it is. */
    private static String verdict(ReadChain.Result read) {
        return switch (read.outcome()) {
            case OK -> read.detail();
            case STORE_ERROR -> throw new StoreUnavailable(read.detail(), null);
            case UNDECODABLE -> {
                if (read.keyProblem()) {
                    throw new InvalidConfiguration(read.detail() + " The stored bytes are intact: no configured age "
                            + "identity opens them (lifeboat.encryption.identity-files).");
                }
                throw new Defect(StepName.CHECKSUM, read.detail());
            }
            case MISSING, SIZE_INVALID, CHECKSUM_MISMATCH -> throw new Defect(StepName.CHECKSUM, read.detail());
        };
    }

    /**
     * Archived data (GLACIER, DEEP_ARCHIVE) before the CHECKSUM read ({@code step}; RESTORE in a full verification,
     * whose restore reads the data): the scheduled daily pass skips it (a restore
     * per backup per day would cost retrieval fees and hours) and the verification ends ARCHIVED; any other
     * verification requests the restore and waits for it ({@code lifeboat.store.s3.archive.*}), the step's detail
     * saying the state and the expected time. Returns what to prefix the step's result with.
     */
    private String awaitArchive(VerificationJob job, BackupMetadata backup, StepName step) throws IOException {
        ArchiveState now = archive.state(backup.key());
        if (now.readable()) {
            return now == ArchiveState.READABLE ? "restored copy of archived data; " : "";
        }
        if (job.trigger() == Trigger.SCHEDULED) {
            throw new Archived("The data of " + backup.id() + " is archived (" + store.locate(backup.key())
                    + "): the scheduled checksum pass does not restore archived data; verify it on demand to restore "
                    + "and check it");
        }
        try {
            archive.awaitReadable(backup.key(), (state, seen, expected) -> job.log().detail(step,
                    "waiting for archive: " + state + ", " + seen.storageClass() + ", " + archive.archive().tier()
                            + " retrieval, expected within " + expected));
        } catch (ArchiveWait.TimedOut e) {
            throw new StoreUnavailable(e.getMessage(), e);
        }
        return "archived data restored first; ";
    }

    /**
     * RESTORE: restore-service restores the backup into a fresh scratch database. A busy scratch target is waited
     * for; a backup that does not load is a defect; anything else (restore-service down, a scratch server that
     * cannot be reached) is an error, retried later.
     */
    private String restore(VerificationJob job, BackupMetadata backup, AtomicReference<RestoreView> out)
            throws IOException {
        String waited = awaitArchive(job, backup, StepName.RESTORE);
        RestoreView status = runRestore(job, backup.id());
        if (status.status() == JobState.FAILED) {
            if (status.failedStep() == RestoreStep.LOAD && (status.failure() == RestoreFailure.BACKUP_DAMAGED
                    || status.failure() == RestoreFailure.STORE_ERROR)) {
                // the load's read of the stored object failed: a damaged object is a defect, an unreadable store not
                throw readFailed(status, "its read of the data object of " + backup.id() + " ("
                        + store.locate(backup.key()) + ") failed");
            }
            throw notRestored(status);
        }
        return waited + restored(job, status, out);
    }

    /**
     * Starts the restore of {@code backupId} into the scratch target (waiting while another restore holds it) and
     * follows it to its end; returns its final view, failed or not.
     */
    private RestoreView runRestore(VerificationJob job, String backupId) {
        String target = config.verify().target();
        long deadline = System.nanoTime() + config.verify().restoreTimeout().toNanos();
        RestoreView status;
        while (true) {
            try {
                status = restores.start(backupId, target);
                break;
            } catch (PeerFailed e) {
                if (e.peerStatus() == 409 && System.nanoTime() < deadline) {
                    sleep(5_000); // another restore into the scratch target runs; one at a time per target
                    continue;
                }
                if (e.peerStatus() == 422 && !e.getMessage().contains("point-in-time-unreachable")) {
                    throw new Defect(StepName.RESTORE, "restore-service refused the backup: " + e.getMessage());
                }
                throw e;
            }
        }
        job.restore(status.id(), 0);
        while (!status.status().done()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Restore " + status.id() + " did not finish within "
                        + config.verify().restoreTimeout() + " (lifeboat.verify.restore-timeout)");
            }
            // answered as soon as the restore ends (or after 2 s, with its progress): no time lost to a poll interval
            long asked = System.nanoTime();
            status = restores.await(status.id(), 2);
            job.restore(status.id(), status.progress() == null ? 0 : status.progress().percent());
            job.checkedByRestore(status.progress() == null ? 0 : status.progress().bytesRestored());
            long answeredMillis = (System.nanoTime() - asked) / 1_000_000;
            if (!status.status().done() && answeredMillis < 500) {
                sleep(500 - answeredMillis); // a restore-service that does not wait (older): poll, not spin
            }
        }
        return status;
    }

    /** A restore stopped by its read of stored bytes: a damaged object is the CHECKSUM's defect, a store error not. */
    private static ReadFailed readFailed(RestoreView status, String what) {
        String message = "Restore " + status.id() + " stopped, as " + what + ": " + status.error();
        return new ReadFailed(status.failure() == RestoreFailure.BACKUP_DAMAGED
                ? new Defect(StepName.CHECKSUM, message) : new StepError(StepName.CHECKSUM, message, null));
    }

    /** A failed restore: only proof about the backup is a verdict; the store, a timeout or the scratch server not. */
    private static RuntimeException notRestored(RestoreView status) {
        if (status.failure() == RestoreFailure.BACKUP_DAMAGED || status.failure() == RestoreFailure.DUMP_REJECTED) {
            return new Defect(StepName.RESTORE, "The backup does not restore (restore " + status.id() + ", "
                    + status.failure() + "): " + status.error());
        }
        return new PeerFailed("Restore " + status.id() + " failed at " + status.failedStep() + " ("
                + status.failure() + "): " + status.error());
    }

    /** A completed restore: it went into a scratch database; its duration is the measured RTO. */
    private String restored(VerificationJob job, RestoreView status, AtomicReference<RestoreView> out) {
        String target = config.verify().target();
        if (status.database() == null || !status.database().startsWith(SCRATCH_PREFIX)) {
            throw new InvalidConfiguration("Target '" + target + "' restored into '" + status.database()
                    + "', not a scratch database: lifeboat.verify.target must name a scratch target");
        }
        out.set(status);
        double seconds = status.startedAt() != null && status.finishedAt() != null
                ? Duration.between(status.startedAt(), status.finishedAt()).toMillis() / 1000.0 : 0;
        job.restoreSeconds(Math.round(seconds * 10) / 10.0);
        job.restore(status.id(), 100);
        return "restore " + status.id() + " into " + status.database() + " in " + Math.round(seconds * 10) / 10.0
                + " s";
    }

    /** DROP_SCRATCH: also after a failure; restore-service's janitor drops whatever this leaves. */
    private void dropScratch(VerificationJob job, RestoreView restore) {
        job.log().begin(StepName.DROP_SCRATCH, restore.database());
        try {
            restores.dropDatabase(restore.id());
            job.log().end(StepName.DROP_SCRATCH, Step.Status.DONE, "dropped " + restore.database());
        } catch (RuntimeException e) {
            job.log().end(StepName.DROP_SCRATCH, Step.Status.FAILED, "not dropped (" + Errors.describe(e) + "); restore-service "
                    + "drops it after lifeboat.restore.scratch-ttl");
        }
    }

    private List<String> identities() {
        return AgeKeys.readIdentities(encryption.identityFiles().orElse(List.of()));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted (the service is stopping)", e);
        }
    }

    /** PgToolFailed whose program reported a server-side {@code ERROR:} (as opposed to not reaching the server). */
    static boolean serverError(PgToolFailed e) {
        return e.getMessage() != null && e.getMessage().contains("ERROR:");
    }
}
