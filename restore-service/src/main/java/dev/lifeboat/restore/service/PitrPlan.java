package dev.lifeboat.restore.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.error.Errors.BackupNotFound;
import dev.lifeboat.common.error.Errors.PointInTimeUnreachable;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.wal.RecoveryWindow;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a point-in-time restore recovers from, chosen before anything is touched: the newest trusted base backup of
 * the database (not one whose drill failed) that finished before the target instant and whose WAL is archived without a gap from its start
 * segment through its end LSN and on to the target ({@link RecoveryWindow}, which also follows a timeline switch whose
 * history file is archived). The archive's end is the newest {@link WalObject#reachableUntil}; {@code latest} is as far
 * as the newest restorable base backup's unbroken WAL goes.
 *
 * @param base       the base backup
 * @param target     the instant recovered to (for {@code latest}, the archive's end)
 * @param archiveEnd the newest instant the archive reaches
 * @param segments   the WAL files replay needs, counted from the base backup's start segment
 */
record PitrPlan(BaseBackupMetadata base, Instant target, Instant archiveEnd, int segments) {

    String describe() {
        return "base backup " + base.id() + " (finished " + base.finishedAt() + ", " + base.storedSizeBytes()
                + " bytes stored), " + segments + " WAL file(s) to replay to " + target + "; the archive reaches "
                + archiveEnd;
    }

    /**
     * The restore of base backup {@code id} itself, to its end ({@link PointInTime#END_OF_BACKUP}): the WAL from its
     * start segment through its end LSN must be archived; refused with {@link PointInTimeUnreachable} naming the
     * missing segment otherwise (it may not be archived yet: a base backup counts once it is).
     */
    static PitrPlan forBase(BackupCatalog catalog, WalArchive archive, String id) {
        BaseBackupMetadata base = catalog.findBase(id).orElseThrow(() -> new BackupNotFound("No completed base backup "
                + id + " (GET /api/v1/backups?database=" + BackupIds.labelOfBase(id) + " on backup-service lists them)."));
        List<WalObject> wal = archive.list(base.database());
        RecoveryWindow.Chain chain = RecoveryWindow.of(List.of(base), wal).chains().get(0);
        if (!chain.recoverable()) {
            throw new PointInTimeUnreachable("Base backup " + id + " cannot be recovered (yet): WAL segment "
                    + chain.missing() + " is not archived, and replay needs every segment from its start ("
                    + base.startLsn() + ") through its end (" + base.endLsn() + ").");
        }
        Instant end = wal.stream().map(WalObject::reachableUntil).filter(Objects::nonNull)
                .max(Comparator.naturalOrder()).orElse(base.finishedAt());
        return new PitrPlan(base, base.finishedAt(), end, chain.endIndex() + 1);
    }

    /** Chooses, or refuses with {@link PointInTimeUnreachable} naming the instants. */
    static PitrPlan choose(BackupCatalog catalog, WalArchive archive, String label, PointInTime pointInTime) {
        // trusted ones, newest first, less those whose drill (verify-service) proved them or their WAL bad
        java.util.Map<String, List<dev.lifeboat.common.model.VerificationRecord>> drills = catalog.verifications(label);
        List<BaseBackupMetadata> bases = catalog.listBase(label).stream()
                .filter(b -> !BackupCatalog.provenBad(drills.getOrDefault(b.id(), List.of()))).toList();
        if (bases.isEmpty()) {
            throw new PointInTimeUnreachable("Database '" + label + "' has no base backup: a point-in-time restore "
                    + "starts from one (POST /api/v1/backups {\"database\": \"" + label + "\", \"kind\": \"base\"}).");
        }
        List<WalObject> wal = archive.list(label);
        Instant end = wal.stream().map(WalObject::reachableUntil).filter(Objects::nonNull).max(Comparator.naturalOrder())
                .orElseThrow(() -> new PointInTimeUnreachable("The WAL archive of '" + label + "' is empty: no instant "
                        + "after a base backup can be reached yet."));
        RecoveryWindow.Window window = RecoveryWindow.of(bases, wal);
        if (pointInTime.latest()) { // as far as the newest restorable base backup's unbroken WAL goes
            RecoveryWindow.Chain latest = window.latest().orElseThrow(() -> new PointInTimeUnreachable("No base backup "
                    + "of '" + label + "' can be restored with the archived WAL yet" + (window.chains().isEmpty() ? ""
                    : ": segment " + window.chains().get(0).missing() + " is missing (base backup "
                    + window.chains().get(0).base().id() + " needs it).")));
            Instant reach = latest.until() != null ? latest.until() : latest.from();
            return new PitrPlan(latest.base(), reach, end, latest.files().size());
        }
        Instant target = pointInTime.at();
        if (target.isAfter(end)) {
            throw new PointInTimeUnreachable("The WAL archive of '" + label + "' reaches " + end + " (its newest "
                    + "reachable instant), before the target " + target + ". Choose an instant up to " + end
                    + ", or \"latest\".");
        }
        List<BaseBackupMetadata> before = bases.stream().filter(b -> b.finishedAt().isBefore(target)).toList();
        if (before.isEmpty()) {
            BaseBackupMetadata oldest = bases.get(bases.size() - 1);
            throw new PointInTimeUnreachable("The oldest base backup of '" + label + "' (" + oldest.id() + ") ends at "
                    + oldest.finishedAt() + ", after the target " + target + ": no instant before a base backup's end "
                    + "can be recovered.");
        }
        Optional<RecoveryWindow.Chain> chain = window.chainFor(target);
        if (chain.isPresent()) {
            return new PitrPlan(chain.get().base(), target, end, chain.get().filesFor(target));
        }
        // why the newest base backup before the target cannot reach it
        RecoveryWindow.Chain closest = window.chains().stream().filter(c -> c.base().finishedAt().isBefore(target))
                .findFirst().orElseThrow();
        throw new PointInTimeUnreachable("No base backup of '" + label + "' before " + target + " has its WAL archived "
                + "without a gap up to the target: segment " + closest.missing() + " is missing (base backup "
                + closest.base().id() + " needs it" + (closest.until() == null ? ""
                : "; its WAL reaches " + closest.until()) + ")" + (window.newest() == null ? "."
                : "; the restorable window is " + window.oldest() + " to " + window.newest() + "."));
    }
}
