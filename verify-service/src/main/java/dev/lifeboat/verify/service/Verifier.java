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

    private final VerifyServiceConfig config;
    private final BackupCatalog catalog;
    private final ObjectStore store;
    private final EncryptionConfig encryption;
    private final RestoreServiceClient restores;
    private final Databases databases;
    private final PgTools pgTools;
    private final RestoredData restored;
    private final ArchiveWait archive;

    public Verifier(VerifyServiceConfig config, BackupCatalog catalog, ObjectStore store, EncryptionConfig encryption,
                    RestoreServiceClient restores, Databases databases, PgTools pgTools, RestoredData restored,
                    StoreConfig storeConfig) {
        this.config = config;
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
        String database = restore.get().database();
        try {
            step(job, StepName.CHECKSUM, backup.storedSizeBytes() + " stored bytes, read by the restore",
                    () -> checkedByRestore(job, backup, restore.get()) + roles.get());
            PgConnection scratch = databases.scratch(database);
            // one psql of the scratch server's major (or newer) for every read of the restore, found in the first
            AtomicReference<PgTools.Program> psql = new AtomicReference<>();
            step(job, StepName.FINGERPRINT, backup.fingerprint().size() + " tables", () -> {
                psql.set(pgTools.forServer("psql", pgTools.serverVersionNum(scratch) / 10000));
                return restored.compareFingerprint(job, backup, psql.get(), scratch);
            });
            if (config.verify().amcheck().enabled()) {
                step(job, StepName.AMCHECK, null, () -> restored.amcheck(psql.get(), scratch));
            } else {
                job.log().skip(StepName.AMCHECK, "lifeboat.verify.amcheck.enabled=false");
            }
            Map<String, String> checks = databases.checks(backup.database());
            if (checks.isEmpty()) {
                job.log().skip(StepName.SQL_CHECKS, "no check configured for database " + backup.database()
                        + " (lifeboat.verify.checks.*)");
            } else {
                step(job, StepName.SQL_CHECKS, checks.size() + " checks", () -> restored.sqlChecks(psql.get(), scratch, checks));
            }
        } finally {
            dropScratch(job, restore.get());
        }
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
        String expectedKey = catalog.dataKey(backup.database(), backup.id());
        if (backup.sha256() == null || backup.sha256().isBlank()) {
            throw new Defect(StepName.METADATA, "The metadata of " + backup.id() + " records no SHA-256.");
        }
        if (!expectedKey.equals(backup.key())) {
            throw new Defect(StepName.METADATA, "The metadata of " + backup.id() + " names the object " + backup.key()
                    + ", not " + expectedKey + ".");
        }
        if (backup.encrypted() && identities().isEmpty()) {
            throw new InvalidConfiguration("Backup " + backup.id() + " is encrypted but no age identity is configured "
                    + "(lifeboat.encryption.identity-files)");
        }
        Optional<ObjectStore.ObjectInfo> object = store.stat(backup.key());
        if (object.isEmpty()) {
            throw new Defect(StepName.METADATA, "The data object of " + backup.id() + " is missing ("
                    + store.locate(backup.key()) + ").");
        }
        if (object.get().size() != backup.storedSizeBytes()) {
            throw new Defect(StepName.METADATA, "The data object of " + backup.id() + " has " + object.get().size()
                    + " bytes; its metadata records " + backup.storedSizeBytes() + ". It is truncated or damaged.");
        }
        return "schema v" + backup.schemaVersion() + ", " + backup.format() + ", " + backup.compression()
                + (backup.encrypted() ? ", age-encrypted" : ", not encrypted") + "; object present with "
                + backup.storedSizeBytes() + " bytes";
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
        String target = config.verify().target();
        long deadline = System.nanoTime() + config.verify().restoreTimeout().toNanos();
        RestoreView status;
        while (true) {
            try {
                status = restores.start(backup.id(), target);
                break;
            } catch (PeerFailed e) {
                if (e.peerStatus() == 409 && System.nanoTime() < deadline) {
                    sleep(5_000); // another restore into the scratch target runs; one at a time per target
                    continue;
                }
                if (e.peerStatus() == 422) {
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
        if (status.status() == JobState.FAILED) {
            if (status.failedStep() == RestoreStep.LOAD && (status.failure() == RestoreFailure.BACKUP_DAMAGED
                    || status.failure() == RestoreFailure.STORE_ERROR)) {
                // the load's read of the stored object failed: a damaged object is a defect, an unreadable store not
                String what = "Restore " + status.id() + " stopped, as its read of the data object of " + backup.id()
                        + " (" + store.locate(backup.key()) + ") failed: " + status.error();
                throw new ReadFailed(status.failure() == RestoreFailure.BACKUP_DAMAGED ? new Defect(StepName.CHECKSUM,
                        what) : new StepError(StepName.CHECKSUM, what, null));
            }
            // only proof about the backup is a verdict; the store, a timeout or the scratch server failing is not
            if (status.failure() == RestoreFailure.BACKUP_DAMAGED || status.failure() == RestoreFailure.DUMP_REJECTED) {
                throw new Defect(StepName.RESTORE, "The backup does not restore (restore " + status.id() + ", "
                        + status.failure() + "): " + status.error());
            }
            throw new PeerFailed("Restore " + status.id() + " failed at " + status.failedStep() + " ("
                    + status.failure() + "): " + status.error());
        }
        if (status.database() == null || !status.database().startsWith(SCRATCH_PREFIX)) {
            throw new InvalidConfiguration("Target '" + target + "' restored into '" + status.database()
                    + "', not a scratch database: lifeboat.verify.target must name a scratch target");
        }
        out.set(status);
        double seconds = status.startedAt() != null && status.finishedAt() != null
                ? Duration.between(status.startedAt(), status.finishedAt()).toMillis() / 1000.0 : 0;
        job.restoreSeconds(Math.round(seconds * 10) / 10.0);
        job.restore(status.id(), 100);
        return waited + "restore " + status.id() + " into " + status.database() + " in " + Math.round(seconds * 10) / 10.0
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
