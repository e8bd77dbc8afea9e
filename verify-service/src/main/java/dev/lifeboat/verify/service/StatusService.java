package dev.lifeboat.verify.service;

import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.wal.RecoveryWindow;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.store.ArchiveRetrieval;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.model.VerificationRecord.Result;
import dev.lifeboat.verify.service.DrStatus.BackupRef;
import dev.lifeboat.verify.service.DrStatus.DatabaseStatus;
import dev.lifeboat.verify.service.DrStatus.Finding;
import dev.lifeboat.verify.service.DrStatus.Health;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Computes the disaster-recovery status from what the store holds (backups and verification records), so it is
 * right after a restart and while any other service is down; and pushes it into the metrics.
 *
 * <p>Rules, per database (the worst wins):
 * <ul>
 *   <li>BREACHED: no completed backup; the newest backup not proven bad started longer ago than the RPO; the last
 *       measured restore took longer than the RTO; no backup is proven restorable and the newest one failed.</li>
 *   <li>AT_RISK: no backup proven restorable yet, or the newest proven one is older than the RPO; no restore time
 *       measured yet; a retained backup proven bad ({@link BackupCatalog#provenBad}); a size anomaly; a metadata
 *       object that cannot be parsed (a backup that may be good but can be neither listed as one nor restored); the
 *       server is newer than every pg_dump backup-service has, so backups are refused
 *       ({@link BackupCatalog#serverRefusal}); point-in-time recovery is enabled but its last check found it
 *       unavailable ({@link BackupCatalog#pitrCheck}), no base backup is restorable with the archived WAL, or the
 *       WAL archive has a gap ({@link RecoveryWindow}).</li>
 * </ul>
 */
@ApplicationScoped
public class StatusService {
    private static final Logger LOG = Logger.getLogger(StatusService.class);
    static final int ANOMALY_WINDOW = 7;
    static final int ANOMALY_MIN_HISTORY = 3;

    private final Databases databases;
    private final BackupCatalog catalog;
    private final VerifyMetrics metrics;
    private final ObjectStore store;
    private final WalArchive walArchive;

    public StatusService(Databases databases, BackupCatalog catalog, VerifyMetrics metrics, ObjectStore store,
                         WalArchive walArchive) {
        this.store = store;
        this.walArchive = walArchive;
        this.databases = databases;
        this.catalog = catalog;
        this.metrics = metrics;
    }

    void onStart(@Observes StartupEvent event) {
        refresh();
    }

    /** Recomputes the status and updates the metrics; a store that cannot be read leaves the metrics as they were. */
    public void refresh() {
        refresh(null);
    }

    /**
     * Recomputes the status metrics of one database ({@code label}; every database when null). After a verification
     * only its database's status can have changed: reading the whole store's catalog after each job made a daily
     * checksum pass over many databases spend more time on the status than on the checksums.
     */
    public void refresh(String label) {
        try {
            status(Instant.now(), label);
        } catch (RuntimeException e) {
            LOG.warnf("The status could not be computed: %s", e.getMessage());
        }
    }

    /** The status now, of every database or of one ({@code label}). */
    public DrStatus status(Instant now, String label) {
        List<DatabaseStatus> out = new ArrayList<>();
        List<String> labels = label != null ? List.of(label) : List.copyOf(databases.labels());
        Health overall = Health.OK;
        List<Finding> findings = new ArrayList<>();
        for (String l : labels) {
            DatabaseStatus s = database(l, now);
            out.add(s);
            overall = overall.worst(s.status());
            s.findings().forEach(f -> findings.add(new Finding(f.severity(), l + ": " + f.message())));
        }
        if (labels.isEmpty()) {
            overall = Health.AT_RISK;
            findings.add(new Finding(Health.AT_RISK, "No database is known: no backup is in the store yet and none is "
                    + "configured (lifeboat.databases.<label>.rpo or .prefix)."));
        }
        return new DrStatus(overall, now, findings, out);
    }

    /**
     * AT_RISK when every backup proven restorable has its data in an archive storage class (GLACIER, DEEP_ARCHIVE):
     * a restore must first wait for the retrieval, so the RTO the measured restore suggests is not what a restore
     * would take. Proven backups are looked at newest first (one HEAD each) and the first readable one ends the
     * search, so usually one HEAD per database is made.
     */
    public Optional<Finding> archivedOnly(List<BackupMetadata> backups, Map<String, List<VerificationRecord>> records,
                                   Double measuredSeconds) {
        String storageClass = null;
        int archived = 0;
        for (BackupMetadata b : backups) {
            if (!BackupCatalog.provenRestorable(records.getOrDefault(b.id(), List.of()))) {
                continue;
            }
            Optional<ObjectStore.ObjectInfo> info;
            try {
                info = store.stat(b.key());
            } catch (java.io.IOException e) {
                return Optional.empty(); // the store cannot say: no finding rather than a wrong one
            }
            if (info.isEmpty() || !ArchiveRetrieval.archiveClass(info.get().storageClass())) {
                return Optional.empty();
            }
            archived++;
            storageClass = storageClass == null ? info.get().storageClass() : storageClass;
        }
        if (archived == 0) {
            return Optional.empty();
        }
        long retrieval = store.archive().expectedTime(storageClass).toSeconds();
        return Optional.of(new Finding(Health.AT_RISK, "every backup proven restorable is archived (" + storageClass
                + "): a restore first waits for its retrieval, up to " + human(retrieval) + " at the "
                + store.archive().tier() + " tier" + (measuredSeconds == null ? "" : ", so about "
                + human(retrieval + measuredSeconds.longValue()) + " in all with the measured restore")));
    }

    DatabaseStatus database(String label, Instant now) {
        long read = metrics.beginRead();
        List<BackupMetadata> backups = catalog.list(label); // newest first
        Map<String, List<VerificationRecord>> records = catalog.verifications(label);
        Duration rpoObjective = databases.rpo(label);
        Duration rtoObjective = databases.rto(label);
        List<Finding> findings = new ArrayList<>();

        BackupMetadata newest = backups.isEmpty() ? null : backups.get(0);
        Optional<BackupMetadata> good = backups.stream()
                .filter(b -> !BackupCatalog.provenBad(records.getOrDefault(b.id(), List.of()))).findFirst();
        Optional<BackupMetadata> proven = backups.stream()
                .filter(b -> BackupCatalog.provenRestorable(records.getOrDefault(b.id(), List.of()))).findFirst();
        List<String> failed = backups.stream()
                .filter(b -> BackupCatalog.provenBad(records.getOrDefault(b.id(), List.of()))).map(BackupMetadata::id).toList();
        List<VerificationRecord> all = records.values().stream().flatMap(List::stream)
                .sorted(Comparator.comparing(VerificationRecord::finishedAt).reversed()).toList();
        // the logical backups' RTO; a base backup's drill has its own (pitr.lastDrill)
        Optional<VerificationRecord> lastRestore = all.stream().filter(r -> !BackupIds.isBase(r.backupId()))
                .filter(r -> r.level() == Level.FULL && r.restoreSeconds() != null).findFirst();

        // RPO: how much would be lost restoring the newest backup not known to be bad
        Long current = good.map(b -> seconds(b.startedAt(), now)).orElse(null);
        Long provenAge = proven.map(b -> seconds(b.startedAt(), now)).orElse(null);
        boolean rpoMet = current != null && current <= rpoObjective.toSeconds();
        if (newest == null) {
            findings.add(new Finding(Health.BREACHED, "no completed backup"));
        } else if (current == null) {
            findings.add(new Finding(Health.BREACHED, "every backup failed verification (" + failed.size() + ")"));
        } else if (!rpoMet) {
            findings.add(new Finding(Health.BREACHED, "the newest good backup (" + good.get().id() + ") started "
                    + human(current) + " ago, over the RPO of " + human(rpoObjective.toSeconds())));
        }
        if (newest != null && proven.isEmpty()) {
            boolean newestFailed = failed.contains(newest.id());
            findings.add(new Finding(newestFailed ? Health.BREACHED : Health.AT_RISK, "no backup is proven restorable "
                    + "yet (a passed full verification)" + (newestFailed ? " and the newest one failed verification" : "")));
        } else if (provenAge != null && provenAge > rpoObjective.toSeconds()) {
            findings.add(new Finding(Health.AT_RISK, "the newest backup proven restorable (" + proven.get().id()
                    + ") started " + human(provenAge) + " ago, over the RPO of " + human(rpoObjective.toSeconds())));
        }
        if (!failed.isEmpty() && newest != null) {
            findings.add(new Finding(Health.AT_RISK, failed.size() + " retained backup(s) failed verification: "
                    + String.join(", ", failed.stream().limit(5).toList()) + (failed.size() > 5 ? ", ..." : "")));
        }

        // RTO: the last measured restore
        DrStatus.Rto rto;
        if (lastRestore.isPresent()) {
            double measured = lastRestore.get().restoreSeconds();
            boolean met = measured <= rtoObjective.toSeconds();
            rto = new DrStatus.Rto(measured, rtoObjective.toSeconds(), lastRestore.get().finishedAt(),
                    lastRestore.get().id(), met);
            if (!met) {
                findings.add(new Finding(Health.BREACHED, "the last measured restore took " + human((long) measured)
                        + ", over the RTO of " + human(rtoObjective.toSeconds())));
            }
        } else {
            rto = new DrStatus.Rto(null, rtoObjective.toSeconds(), null, null, null);
            if (newest != null) {
                findings.add(new Finding(Health.AT_RISK, "no restore time measured yet (the first full verification "
                        + "measures it)"));
            }
        }

        archivedOnly(backups, records, lastRestore.map(VerificationRecord::restoreSeconds).orElse(null))
                .ifPresent(findings::add);

        List<BackupCatalog.DamagedMetadata> damaged = catalog.damagedAsListed(label); // as catalog.list just read them
        if (!damaged.isEmpty()) {
            findings.add(new Finding(Health.AT_RISK, damaged.size() + " backup metadata object(s) cannot be parsed, so "
                    + "their backups are never restored or verified: " + String.join(", ", damaged.stream().limit(5)
                    .map(d -> d.key() + " (" + d.error() + ")").toList()) + (damaged.size() > 5 ? ", ..." : "")));
        }
        catalog.serverRefusal(label).ifPresent(refusal -> findings.add(new Finding(Health.AT_RISK,
                "backups are refused (last checked " + refusal.checkedAt() + "): " + refusal.message())));

        DrStatus.Pitr pitr = databases.pitrEnabled(label) ? pitr(label, now, records, findings) : null;

        DrStatus.SizeAnomaly anomaly = sizeAnomaly(backups);
        if (anomaly.flagged()) {
            findings.add(new Finding(Health.AT_RISK, "size anomaly: the newest backup stores " + anomaly.storedSizeBytes()
                    + " bytes, " + anomaly.ratio() + "x the median of the " + anomaly.comparedWith()
                    + " before it (" + anomaly.medianBytes() + " bytes)"));
        }

        Health health = findings.stream().map(Finding::severity).reduce(Health.OK, Health::worst);
        DrStatus.LastVerification last = all.stream().findFirst().map(r -> new DrStatus.LastVerification(r.id(),
                r.backupId(), r.level(), r.result(), r.finishedAt(), r.failedStep(), r.error())).orElse(null);
        DatabaseStatus status = new DatabaseStatus(label, health, findings, newest == null ? null : ref(newest, now),
                proven.map(b -> ref(b, now)).orElse(null), last,
                new DrStatus.Rpo(current, rpoObjective.toSeconds(), provenAge, rpoMet), rto, anomaly,
                failed.isEmpty() ? null : failed, damaged.isEmpty() ? null : damaged, pitr);
        metrics.status(label, read, status, good.map(BackupMetadata::startedAt).orElse(null), lastPassed(all));
        return status;
    }

    /**
     * The point-in-time recovery part of a database's status, with its findings: PITR unavailable (backup-service's
     * check), no base backup restorable with the archived WAL yet, segments missing from the archive.
     */
    private DrStatus.Pitr pitr(String label, Instant now, Map<String, List<VerificationRecord>> records,
                               List<Finding> findings) {
        BackupCatalog.PitrCheck check = catalog.pitrCheck(label).orElse(null);
        if (check != null && !check.available()) {
            findings.add(new Finding(Health.AT_RISK, check.message() + " (checked " + check.checkedAt()
                    + "; logical backups go on)"));
        }
        List<WalObject> wal = walArchive.list(label);
        // a base backup whose drill failed (damaged, or a WAL file it needs is) is not counted on
        List<BaseBackupMetadata> bases = catalog.listBase(label);
        List<String> failedDrills = bases.stream().map(BaseBackupMetadata::id)
                .filter(id -> BackupCatalog.provenBad(records.getOrDefault(id, List.of()))).toList();
        RecoveryWindow.Window window = RecoveryWindow.of(bases.stream().filter(b -> !failedDrills.contains(b.id()))
                .toList(), wal);
        DrStatus.Drill drill = records.entrySet().stream().filter(e -> BackupIds.isBase(e.getKey()))
                .flatMap(e -> e.getValue().stream()).filter(r -> r.level() == Level.FULL)
                .max(Comparator.comparing(VerificationRecord::finishedAt)).map(r -> new DrStatus.Drill(r.id(),
                        r.backupId(), r.result(), r.finishedAt(), r.restoreSeconds(), r.failedStep(), r.error()))
                .orElse(null);
        if (!failedDrills.isEmpty()) {
            findings.add(new Finding(Health.AT_RISK, failedDrills.size() + " base backup(s) failed their point-in-time "
                    + "drill and are not counted on: " + String.join(", ", failedDrills.stream().limit(5).toList())
                    + (drill != null && drill.result() == Result.FAILED ? " (newest: " + drill.failedStep() + ": "
                    + drill.error() + ")" : "")));
        }
        Instant lastArchived = wal.stream().map(WalObject::archivedAt).max(Comparator.naturalOrder()).orElse(null);
        if (window.empty() && (check == null || check.available())) {
            findings.add(new Finding(Health.AT_RISK, "point-in-time recovery: no base backup can be restored with the "
                    + "archived WAL yet" + (lastArchived == null ? " (no WAL archived)" : "")));
        }
        dev.lifeboat.common.model.WalArchiveState state = catalog.walState(label).orElse(null);
        List<dev.lifeboat.common.model.WalArchiveState.Problem> open = state == null || state.problems() == null
                ? List.of() : state.problems().stream().filter(dev.lifeboat.common.model.WalArchiveState.Problem::open)
                .toList();
        for (dev.lifeboat.common.model.WalArchiveState.Problem problem : open) {
            findings.add(new Finding(Health.AT_RISK, "WAL archive " + problem.kind() + " (" + problem.detectedAt()
                    + "): " + problem.reason() + "; instants before it stay restorable up to it, later ones once the "
                    + "new base backup's WAL is archived"));
        }
        if (state != null && !state.receiverUp() && (check == null || check.available())) {
            findings.add(new Finding(Health.AT_RISK, "the WAL receiver was not streaming when last recorded ("
                    + state.recordedAt() + (state.holder() == null ? "" : ", replica " + state.holder())
                    + "): the point-in-time RPO grows"));
        }
        if (!window.gaps().isEmpty()) {
            findings.add(new Finding(Health.AT_RISK, "the WAL archive has a gap: " + window.gaps().size()
                    + " segment(s) missing from " + window.gaps().get(0) + "; instants in it cannot be restored "
                    + "(a newer base backup starts a new chain)"));
        }
        return new DrStatus.Pitr(check == null ? null : check.available(), check == null ? null : check.message(),
                check == null ? null : check.reasons(), check == null ? null : check.warnings(),
                check == null ? null : check.checkedAt(), window.oldest(), window.newest(),
                window.empty() ? null : seconds(window.oldest(), window.newest()),
                window.newest() == null ? null : seconds(window.newest(), now), lastArchived,
                (int) window.chains().stream().filter(RecoveryWindow.Chain::recoverable).count(),
                window.gaps().isEmpty() ? null : window.gaps(), state == null ? null : state.receiverUp(),
                state == null ? null : state.slotRetainedBytes(), open.isEmpty() ? null : open, drill);
    }

    /**
     * Finish time of the newest passed verification of a logical backup per level, to seed the metrics after a
     * restart (a base backup's drill is not counted there, as {@link VerifyMetrics#finished} does not count it).
     */
    private static Map<Level, Instant> lastPassed(List<VerificationRecord> newestFirst) {
        Map<Level, Instant> out = new java.util.EnumMap<>(Level.class);
        for (VerificationRecord r : newestFirst) {
            if (r.result() == Result.PASSED && !BackupIds.isBase(r.backupId())) {
                out.putIfAbsent(r.level(), r.finishedAt());
            }
        }
        return out;
    }

    static DrStatus.SizeAnomaly sizeAnomaly(List<BackupMetadata> newestFirst) {
        if (newestFirst.size() < 1 + ANOMALY_MIN_HISTORY) {
            return new DrStatus.SizeAnomaly(false, newestFirst.isEmpty() ? null : newestFirst.get(0).storedSizeBytes(),
                    null, Math.max(0, newestFirst.size() - 1), null);
        }
        long size = newestFirst.get(0).storedSizeBytes();
        List<Long> previous = newestFirst.subList(1, Math.min(newestFirst.size(), 1 + ANOMALY_WINDOW)).stream()
                .map(BackupMetadata::storedSizeBytes).sorted().toList();
        int n = previous.size();
        long median = n % 2 == 1 ? previous.get(n / 2) : (previous.get(n / 2 - 1) + previous.get(n / 2)) / 2;
        double ratio = median == 0 ? (size == 0 ? 1 : Double.POSITIVE_INFINITY) : (double) size / median;
        boolean flagged = size * 2 < median || size > median * 2;
        return new DrStatus.SizeAnomaly(flagged, size, median, n,
                Double.isInfinite(ratio) ? null : Math.round(ratio * 1000) / 1000.0);
    }

    private static BackupRef ref(BackupMetadata b, Instant now) {
        return new BackupRef(b.id(), b.trigger(), b.startedAt(), b.finishedAt(), seconds(b.startedAt(), now),
                b.storedSizeBytes());
    }

    private static long seconds(Instant from, Instant to) {
        return Math.max(0, Duration.between(from, to).toSeconds());
    }

    /** A duration for people: 90 s, 45 min, 26.5 h, 3.2 d. */
    static String human(long seconds) {
        if (seconds < 120) {
            return seconds + " s";
        }
        if (seconds < 2 * 3600) {
            return seconds / 60 + " min";
        }
        if (seconds < 2 * 86400) {
            return Math.round(seconds / 360.0) / 10.0 + " h";
        }
        return Math.round(seconds / 8640.0) / 10.0 + " d";
    }
}
