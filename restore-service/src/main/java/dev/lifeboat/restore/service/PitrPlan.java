package dev.lifeboat.restore.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.error.Errors.PointInTimeUnreachable;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.wal.WalNames;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What a point-in-time restore recovers from, chosen before anything is touched: the newest trusted base backup of
 * the database that finished before the target instant and whose WAL is archived without a gap from its start
 * segment through its end LSN and on to the target. The archive's end is the newest {@link WalObject#reachableUntil};
 * {@code latest} is that end.
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

    /** Chooses, or refuses with {@link PointInTimeUnreachable} naming the instants. */
    static PitrPlan choose(BackupCatalog catalog, WalArchive archive, String label, PointInTime pointInTime) {
        List<BaseBackupMetadata> bases = catalog.listBase(label); // trusted ones, newest first
        if (bases.isEmpty()) {
            throw new PointInTimeUnreachable("Database '" + label + "' has no base backup: a point-in-time restore "
                    + "starts from one (POST /api/v1/backups {\"database\": \"" + label + "\", \"kind\": \"base\"}).");
        }
        List<WalObject> wal = archive.list(label);
        Instant end = wal.stream().map(WalObject::reachableUntil).filter(Objects::nonNull).max(Comparator.naturalOrder())
                .orElseThrow(() -> new PointInTimeUnreachable("The WAL archive of '" + label + "' is empty: no instant "
                        + "after a base backup can be reached yet."));
        Instant target = pointInTime.latest() ? end : pointInTime.at();
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
        String gap = null;
        for (BaseBackupMetadata base : before) {
            String missing = continuity(wal, base, target);
            if (missing == null) {
                return new PitrPlan(base, target, end, count(wal, base, target));
            }
            gap = gap == null ? missing : gap;
        }
        throw new PointInTimeUnreachable("No base backup of '" + label + "' before " + target + " has its WAL archived "
                + "without a gap up to the target: " + gap);
    }

    /** Null when the WAL from {@code base}'s start to {@code target} is archived without a gap; else what is missing. */
    private static String continuity(List<WalObject> wal, BaseBackupMetadata base, Instant target) {
        Map<Long, WalObject> byNumber = files(wal, base);
        if (byNumber.isEmpty()) {
            return "the archive holds no WAL of base backup " + base.id() + "'s cluster on timeline " + base.timeline() + ".";
        }
        long size = segmentSize(byNumber.values());
        long number = WalNames.segmentOf(WalNames.lsn(base.startLsn()), size);
        long endNumber = WalNames.segmentOf(WalNames.lsn(base.endLsn()), size);
        for (; ; number++) {
            WalObject o = byNumber.get(number);
            if (o == null) {
                return "segment " + WalNames.segmentName(base.timeline(), number, size) + " is missing (base backup "
                        + base.id() + " needs it from its start " + base.startLsn() + ").";
            }
            boolean covers = number >= endNumber && o.reachableUntil() != null && !o.reachableUntil().isBefore(target);
            if (covers) {
                return null;
            }
            if (o.kind() == Kind.PARTIAL) {
                return "the archive ends with a partial segment " + o.name() + " reaching " + o.reachableUntil()
                        + ", before " + target + ".";
            }
        }
    }

    private static int count(List<WalObject> wal, BaseBackupMetadata base, Instant target) {
        Map<Long, WalObject> byNumber = files(wal, base);
        long size = segmentSize(byNumber.values());
        long first = WalNames.segmentOf(WalNames.lsn(base.startLsn()), size);
        long endNumber = WalNames.segmentOf(WalNames.lsn(base.endLsn()), size);
        int n = 0;
        for (long number = first; byNumber.containsKey(number); number++) {
            n++;
            WalObject o = byNumber.get(number);
            if (number >= endNumber && o.reachableUntil() != null && !o.reachableUntil().isBefore(target)) {
                break;
            }
        }
        return n;
    }

    /** The base backup's cluster's segments on its timeline by number: a complete one, else the newest snapshot. */
    private static Map<Long, WalObject> files(List<WalObject> wal, BaseBackupMetadata base) {
        List<WalObject> mine = wal.stream().filter(o -> o.kind() != Kind.HISTORY && o.timeline() == base.timeline())
                .filter(o -> base.systemIdentifier() == null || o.systemIdentifier() == null
                        || base.systemIdentifier().equals(o.systemIdentifier())).toList();
        long size = segmentSize(mine);
        Map<Long, WalObject> out = new HashMap<>();
        for (WalObject o : mine) { // in WalArchive.ORDER: snapshots oldest first, then the complete segment
            out.put(WalNames.segmentNumber(o.name(), size), o);
        }
        return out;
    }

    private static long segmentSize(java.util.Collection<WalObject> files) {
        return files.stream().filter(o -> o.kind() == Kind.SEGMENT).map(WalObject::rawSizeBytes)
                .filter(s -> s >= (1 << 20) && Long.bitCount(s) == 1).findFirst().orElse(WalNames.DEFAULT_SEGMENT_SIZE);
    }
}
