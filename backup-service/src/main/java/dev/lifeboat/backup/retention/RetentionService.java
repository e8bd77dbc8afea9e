package dev.lifeboat.backup.retention;

import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.wal.RecoveryWindow;
import dev.lifeboat.common.wal.WalNames;
import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.backup.retention.RetentionPlan.Candidate;
import dev.lifeboat.backup.retention.RetentionPlan.Condition;
import dev.lifeboat.backup.retention.RetentionPlan.Entry;
import dev.lifeboat.backup.retention.RetentionPlan.Reason;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.config.DatabasesConfig;
import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.BackupProtected;
import dev.lifeboat.common.error.Errors.ClockBehind;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.error.LifeboatException;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.store.ObjectStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.jboss.logging.Logger;

/**
 * Retention and deletion of backups (DESIGN §5): reads a database's backups from the catalog, asks the pure
 * {@link RetentionEngine} what to keep, and deletes in the catalog's delete order (metadata first, so the backup
 * leaves every listing at once; then data, verification records, label sidecars, roles object). Every deletion is an
 * audit event (category {@code lifeboat.audit}: who, which backup, why) and counted in
 * {@code lifeboat_retention_deleted_total{database,reason}}. One database's plan and deletions run one at a time.
 */
@ApplicationScoped
public class RetentionService {
    private static final Logger LOG = Logger.getLogger(RetentionService.class);
    private static final Logger AUDIT = Logger.getLogger("lifeboat.audit");

    private final BackupCatalog catalog;
    private final ObjectStore store;
    private final DatabaseRegistry databases;
    private final BackupServiceConfig config;
    private final MeterRegistry meters;
    private final Map<String, Object> locks = new ConcurrentHashMap<>();
    private final WalArchive walArchive;

    public RetentionService(BackupCatalog catalog, ObjectStore store, DatabaseRegistry databases,
                            BackupServiceConfig config, MeterRegistry meters, WalArchive walArchive) {
        this.walArchive = walArchive;
        this.catalog = catalog;
        this.store = store;
        this.databases = databases;
        this.config = config;
        this.meters = meters;
    }

    /** The policy of a configured database: its own keys over {@code lifeboat.retention.*}. */
    public RetentionPolicy policy(String label) {
        BackupServiceConfig.Retention d = config.retention();
        Optional<DatabasesConfig.Retention> own = databases.retention(label);
        ZoneId zone;
        try {
            zone = ZoneId.of(d.timezone());
        } catch (DateTimeException e) {
            throw new InvalidConfiguration("lifeboat.retention.timezone: unknown time zone '" + d.timezone() + "'");
        }
        try {
            return new RetentionPolicy(
                    own.flatMap(DatabasesConfig.Retention::enabled).orElse(d.enabled()),
                    own.flatMap(DatabasesConfig.Retention::maxAge).or(d::maxAge).orElse(null),
                    own.flatMap(DatabasesConfig.Retention::keepLast).or(d::keepLast).orElse(null),
                    own.flatMap(DatabasesConfig.Retention::daily).orElse(d.daily()),
                    own.flatMap(DatabasesConfig.Retention::weekly).orElse(d.weekly()),
                    own.flatMap(DatabasesConfig.Retention::monthly).orElse(d.monthly()),
                    own.flatMap(DatabasesConfig.Retention::yearly).orElse(d.yearly()),
                    own.flatMap(DatabasesConfig.Retention::minKeep).orElse(d.minKeep()),
                    own.flatMap(DatabasesConfig.Retention::safetyMaxAge).orElse(d.safetyMaxAge()),
                    zone);
        } catch (InvalidConfiguration e) {
            throw new InvalidConfiguration("Database '" + label + "' (lifeboat.databases." + label
                    + ".retention.* over lifeboat.retention.*): " + e.getMessage());
        }
    }

    /** The cron of a database's retention runs ({@code off}: none). */
    public String schedule(String label) {
        return databases.retention(label).flatMap(DatabasesConfig.Retention::schedule)
                .orElse(config.retention().schedule()).strip();
    }

    /** The time zone of calendar buckets and schedules. */
    public String timezone() {
        return config.retention().timezone();
    }

    /** The plan for a database now. */
    public RetentionPlan plan(String label) {
        return plan(label, Instant.now());
    }

    /** The plan for a database at {@code now}. */
    public RetentionPlan plan(String label, Instant now) {
        synchronized (lock(label)) {
            return engine(label, now);
        }
    }

    /**
     * The engine's plan; a refusal for a clock behind the newest backup is also an error log line. Base backups follow
     * the same policy as logical ones, among themselves; the newest one that the archived WAL can restore counts as
     * the "newest verified" (kept whatever the policy), and WAL is kept from the start of the oldest one kept.
     */
    private RetentionPlan engine(String label, Instant now) {
        try {
            RetentionPolicy policy = policy(label);
            RetentionPlan plan = RetentionEngine.plan(label, candidates(label), policy, now);
            List<BaseBackupMetadata> bases = catalog.listBase(label);
            List<WalObject> wal = walArchive.list(label);
            if (bases.isEmpty()) {
                return wal.isEmpty() ? plan : plan.withPitr(List.of(), new RetentionPlan.WalRetention(null, 0, 0));
            }
            RetentionPlan basePlan = RetentionEngine.plan(label, baseCandidates(label, bases, wal), policy, now);
            List<BaseBackupMetadata> kept = bases.stream().filter(b -> basePlan.backups().stream().anyMatch(
                    e -> e.id().equals(b.id()) && e.decision() == RetentionPlan.Decision.KEEP)).toList();
            List<WalObject> doomed = walToDelete(kept, wal);
            return plan.withPitr(basePlan.backups(), new RetentionPlan.WalRetention(keepFrom(kept, wal),
                    doomed.size(), doomed.stream().mapToLong(WalObject::storedSizeBytes).sum()));
        } catch (ClockBehind e) {
            LOG.error(e.getMessage());
            throw e;
        }
    }

    /**
     * Base backups as retention sees them: "verified" = restorable with the archived WAL (its chain reaches its end)
     * and no failed point-in-time drill (verify-service); one whose drill failed is PROVEN_BAD, as a logical backup
     * whose full verification failed.
     */
    private List<Candidate> baseCandidates(String label, List<BaseBackupMetadata> bases, List<WalObject> wal) {
        Map<String, List<VerificationRecord>> drills = catalog.verifications(label);
        RecoveryWindow.Window window = RecoveryWindow.of(bases, wal);
        return bases.stream().map(b -> {
            boolean bad = BackupCatalog.provenBad(drills.getOrDefault(b.id(), List.of()));
            return new Candidate(b.id(), b.trigger(), b.startedAt(), b.finishedAt(),
                    bad ? Condition.PROVEN_BAD : Condition.GOOD, !bad && window.chains().stream()
                    .anyMatch(c -> c.base().id().equals(b.id()) && c.recoverable()), false);
        }).toList();
    }

    /** The segment number (16 MiB segments unless the archive says otherwise) where the kept WAL starts. */
    private static long firstNeeded(List<BaseBackupMetadata> kept, List<WalObject> wal) {
        long segmentSize = segmentSize(wal);
        return kept.stream().mapToLong(b -> WalNames.segmentOf(WalNames.lsn(b.startLsn()), segmentSize)).min()
                .orElse(Long.MIN_VALUE);
    }

    private static String keepFrom(List<BaseBackupMetadata> kept, List<WalObject> wal) {
        return kept.stream().min(java.util.Comparator.comparing(b -> WalNames.lsn(b.startLsn())))
                .map(b -> WalNames.segmentName(b.timeline(), firstNeeded(kept, wal), segmentSize(wal))).orElse(null);
    }

    /** Segments and snapshots before the oldest kept base backup's start segment; never history files. */
    private static List<WalObject> walToDelete(List<BaseBackupMetadata> kept, List<WalObject> wal) {
        if (kept.isEmpty()) {
            return List.of();
        }
        long first = firstNeeded(kept, wal);
        long segmentSize = segmentSize(wal);
        return wal.stream().filter(o -> o.kind() != WalObject.Kind.HISTORY)
                .filter(o -> WalNames.segmentNumber(o.name(), segmentSize) < first).toList();
    }

    private static long segmentSize(List<WalObject> wal) {
        return WalNames.segmentSize(wal);
    }

    /**
     * Computes the plan now and deletes its DELETE entries, each recorded as done by {@code actor}. Returns the plan
     * that was applied. A deletion that fails stops the run (what is left is retried next time; the janitor removes
     * the objects of a delete interrupted between its steps).
     */
    public RetentionPlan apply(String label, String actor) {
        return apply(label, actor, Instant.now());
    }

    RetentionPlan apply(String label, String actor, Instant now) {
        synchronized (lock(label)) {
            RetentionPlan plan = engine(label, now);
            for (Entry e : plan.deletions()) {
                remove(label, e.id(), actor, e.reason());
            }
            if (plan.baseBackups() != null) {
                for (Entry e : plan.baseBackups()) {
                    if (e.decision() == RetentionPlan.Decision.DELETE) {
                        removeBase(label, e.id(), actor, e.reason());
                    }
                }
                pruneWal(label, actor);
            }
            if (plan.delete() > 0) {
                LOG.infof("Retention of %s by %s: %d backups deleted, %d kept", label, actor, plan.delete(), plan.keep());
            }
            return plan;
        }
    }

    /**
     * {@code DELETE /api/v1/backups/{id}}: the newest good, the newest verified and a {@code keep=true} backup only
     * with {@code force}. Untrusted backups can be deleted this way (and only this way).
     */
    public void delete(String id, boolean force, String actor) {
        if (BackupIds.isBase(id)) {
            deleteBase(id, force, actor);
            return;
        }
        String label = BackupIds.labelOf(BackupIds.validate(id));
        if (!BackupIds.isLabel(label)) {
            throw new BackupNotFound("No completed backup with id '" + id + "'.");
        }
        synchronized (lock(label)) {
            List<Candidate> all = candidates(label);
            if (all.stream().noneMatch(c -> c.id().equals(id))) {
                throw new BackupNotFound("No completed backup with id '" + id + "'.");
            }
            List<Reason> protection = RetentionEngine.protection(id, all);
            if (!protection.isEmpty() && !force) {
                throw new BackupProtected("Backup " + id + " is protected (" + protection + "): it is "
                        + describe(protection) + ". Delete it anyway with ?force=true.");
            }
            remove(label, id, actor, Reason.REQUESTED);
            if (!protection.isEmpty()) {
                AUDIT.warnf("FORCED deletion of protected backup %s (%s) by %s", id, protection, actor);
            }
        }
    }

    /**
     * {@code DELETE} of a base backup: the newest one the archived WAL can restore only with {@code force}; then the
     * WAL that no remaining base backup needs goes too (never WAL that one needs).
     */
    private void deleteBase(String id, boolean force, String actor) {
        String label = BackupIds.labelOfBase(id);
        synchronized (lock(label)) {
            List<BaseBackupMetadata> bases = catalog.listBase(label);
            if (bases.stream().noneMatch(b -> b.id().equals(id))) {
                throw new BackupNotFound("No completed base backup with id '" + id + "'.");
            }
            List<Reason> protection = RetentionEngine.protection(id, baseCandidates(label, bases, walArchive.list(label)));
            if (!protection.isEmpty() && !force) {
                throw new BackupProtected("Base backup " + id + " is protected (" + protection + "): it is "
                        + describe(protection).replace("proven restorable", "restorable with the archived WAL")
                        + ". Delete it anyway with ?force=true.");
            }
            removeBase(label, id, actor, Reason.REQUESTED);
            if (!protection.isEmpty()) {
                AUDIT.warnf("FORCED deletion of protected base backup %s (%s) by %s", id, protection, actor);
            }
            pruneWal(label, actor);
        }
    }

    /** Deletes a base backup: its metadata first (it leaves every listing), then its data, then its drills' records. */
    private void removeBase(String label, String id, String actor, Reason reason) {
        try {
            store.delete(catalog.baseMetadataKey(label, id));
            store.delete(catalog.baseDataKey(label, id));
            for (ObjectStore.ObjectInfo record : store.list(catalog.verificationsPrefix(label) + id + "/")) {
                store.delete(record.key());
            }
        } catch (IOException e) {
            AUDIT.errorf("deletion of base backup %s (database %s, reason %s) by %s FAILED midway: %s", id, label,
                    reason, actor, e.getMessage());
            throw new StoreUnavailable("Deleting base backup " + id + " failed: " + e.getMessage(), e);
        }
        AUDIT.infof("deleted base backup %s (database %s) by %s, reason %s", id, label, actor, reason);
        Counter.builder("lifeboat.retention.deleted")
                .description("Backups deleted, by database and reason (retention rules; REQUESTED: DELETE by the API)")
                .tag("database", label).tag("reason", reason.name()).register(meters).increment();
    }

    /** Deletes the WAL older than what the remaining base backups need (read again: what is in the store now). */
    private void pruneWal(String label, String actor) {
        List<BaseBackupMetadata> bases = catalog.listBase(label);
        List<WalObject> wal = walArchive.list(label);
        List<WalObject> doomed = walToDelete(bases, wal);
        try {
            for (WalObject o : doomed) {
                walArchive.delete(o);
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Deleting WAL of " + label + " failed: " + e.getMessage(), e);
        }
        if (!doomed.isEmpty()) {
            AUDIT.infof("deleted %d WAL file(s) of database %s before %s (%s to %s) by %s: no retained base backup "
                    + "needs them", doomed.size(), label, keepFrom(bases, wal), doomed.get(0).name(),
                    doomed.get(doomed.size() - 1).name(), actor);
        }
    }

    /** A database's backups as retention sees them: trusted ones with their state, then untrusted ones. */
    List<Candidate> candidates(String label) {
        Map<String, List<VerificationRecord>> records = catalog.verifications(label);
        Map<String, Map<String, String>> labels = catalog.labelOverrides(label);
        List<Candidate> out = new ArrayList<>();
        for (BackupMetadata listed : catalog.list(label)) {
            BackupMetadata m = labels.containsKey(listed.id()) ? listed.withLabels(labels.get(listed.id())) : listed;
            List<VerificationRecord> rs = records.getOrDefault(m.id(), List.of());
            out.add(new Candidate(m.id(), m.trigger(), m.startedAt(), finished(m), condition(m, rs),
                    BackupCatalog.provenRestorable(rs), m.keep()));
        }
        for (BackupMetadata m : catalog.listUntrusted(label)) {
            Instant started = m.startedAt() != null ? m.startedAt() : BackupIds.startedAt(m.id()).orElse(Instant.EPOCH);
            out.add(new Candidate(m.id(), m.trigger(), started, m.finishedAt() != null ? m.finishedAt() : started,
                    Condition.UNTRUSTED, false, false));
        }
        return out;
    }

    private static Instant finished(BackupMetadata m) {
        return m.finishedAt() != null ? m.finishedAt() : m.startedAt();
    }

    private static Condition condition(BackupMetadata m, List<VerificationRecord> records) {
        if (BackupCatalog.provenBad(records)) {
            // the newest failure says what is wrong: a failed full verification, or damaged stored bytes
            VerificationRecord failed = records.stream().filter(r -> r.result() == VerificationRecord.Result.FAILED)
                    .reduce((a, b) -> b).orElseThrow();
            return failed.level() == VerificationRecord.Level.FULL ? Condition.PROVEN_BAD : Condition.DAMAGED;
        }
        if (m.storedSizeBytes() <= 0 || m.rawSizeBytes() <= 0) {
            return Condition.EMPTY;
        }
        return Condition.GOOD;
    }

    /** Deletes every object of a backup in the catalog's delete order; one audit line and one count. */
    private void remove(String label, String id, String actor, Reason reason) {
        try {
            for (String key : catalog.deleteOrder(label, id)) {
                store.delete(key);
            }
        } catch (IOException | LifeboatException e) {
            AUDIT.errorf("deletion of backup %s (database %s, reason %s) by %s FAILED midway: %s; the janitor removes "
                    + "what is left", id, label, reason, actor, e.getMessage());
            if (e instanceof LifeboatException l) {
                throw l;
            }
            throw new StoreUnavailable("Deleting backup " + id + " failed: " + e.getMessage(), e);
        }
        AUDIT.infof("deleted backup %s (database %s) by %s, reason %s", id, label, actor, reason);
        Counter.builder("lifeboat.retention.deleted")
                .description("Backups deleted, by database and reason (retention rules; REQUESTED: DELETE by the API)")
                .tag("database", label).tag("reason", reason.name()).register(meters).increment();
    }

    private static String describe(List<Reason> protection) {
        List<String> words = new ArrayList<>();
        for (Reason r : protection) {
            words.add(switch (r) {
                case NEWEST_GOOD -> "the newest good backup of its database";
                case NEWEST_VERIFIED -> "the newest backup proven restorable";
                case KEEP_LABEL -> "labelled keep=true";
                default -> r.name();
            });
        }
        return String.join(" and ", words);
    }

    private Object lock(String label) {
        return locks.computeIfAbsent(label, l -> new Object());
    }
}
