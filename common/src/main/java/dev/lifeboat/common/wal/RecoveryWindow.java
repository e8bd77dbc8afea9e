package dev.lifeboat.common.wal;

import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * What a database's base backups and WAL archive can restore: for each base backup, the unbroken run of archived WAL
 * from its start ("chain"), and so the instants a point-in-time restore can reach. Used by restore-service to choose
 * the base backup for a target and refuse targets outside the window, and by verify-service's status.
 *
 * <p>A chain walks segment numbers up from the base backup's start segment. At each number it takes the archived
 * complete segment of the current timeline, or of a later timeline whose history file is archived (a promotion:
 * PostgreSQL follows it with {@code recovery_target_timeline=latest}); failing that, the newest partial snapshot of
 * that segment ends the chain; failing that, the chain ends before it (a gap, or simply the archive's end). A base
 * backup is recoverable when its chain reaches its end LSN's segment. Its window runs from when it finished (it is
 * consistent by then) to the newest {@code reachableUntil} among its chain's files.
 */
public final class RecoveryWindow {
    private RecoveryWindow() {
    }

    /**
     * A base backup with the archived WAL after it: {@code files} from its start segment on, without a gap;
     * {@code endIndex} the index in it of the segment holding the base backup's end; {@code missing} the segment
     * where the chain stops (absent from the archive, or after a partial snapshot).
     */
    public record Chain(BaseBackupMetadata base, boolean recoverable, Instant from, Instant until,
                        String lastFile, List<WalObject> files, int endIndex, String missing) {

        /** How many of {@code files} replay needs to reach {@code target}: up to the first, at or after the end
         * segment, whose {@code reachableUntil} is not before it. */
        public int filesFor(Instant target) {
            for (int i = endIndex; i < files.size(); i++) {
                Instant reach = files.get(i).reachableUntil();
                if (reach != null && !reach.isBefore(target)) {
                    return i + 1;
                }
            }
            return files.size();
        }
    }

    /**
     * The database's recovery window: {@code oldest} and {@code newest} reachable instants (null when no base backup is
     * recoverable), the chains newest base first, and the segments missing between archived ones (gaps).
     */
    public record Window(Instant oldest, Instant newest, List<Chain> chains, List<String> gaps) {
        public boolean empty() {
            return oldest == null || newest == null;
        }

        /** The chain to restore {@code target} from: the newest recoverable base that finished before it and whose
         * chain reaches it. */
        public Optional<Chain> chainFor(Instant target) {
            return chains.stream().filter(Chain::recoverable)
                    .filter(c -> !c.from().isAfter(target) && c.until() != null && !c.until().isBefore(target))
                    .findFirst();
        }

        /** The chain for {@code latest} (replay everything archived): the newest recoverable base backup's. */
        public Optional<Chain> latest() {
            return chains.stream().filter(Chain::recoverable).findFirst();
        }
    }

    /** The window of {@code bases} over {@code wal} (as {@code WalArchive.list} returns it). */
    public static Window of(List<BaseBackupMetadata> bases, List<WalObject> wal) {
        long segmentSize = WalNames.segmentSize(wal);
        Set<Integer> historyKnown = new HashSet<>();
        Map<Long, TreeMap<Integer, WalObject>> segments = new HashMap<>();
        Map<Long, TreeMap<Integer, WalObject>> partials = new HashMap<>();
        for (WalObject o : wal) {
            switch (o.kind()) {
                case HISTORY -> historyKnown.add(o.timeline());
                case SEGMENT -> segments.computeIfAbsent(WalNames.segmentNumber(o.name(), segmentSize),
                        n -> new TreeMap<>()).put(o.timeline(), o);
                case PARTIAL -> partials.computeIfAbsent(WalNames.segmentNumber(o.name(), segmentSize),
                        n -> new TreeMap<>()).merge(o.timeline(), o,
                        (a, b) -> a.archivedAt().isAfter(b.archivedAt()) ? a : b);
            }
        }
        List<Chain> chains = new ArrayList<>();
        for (BaseBackupMetadata base : bases.stream()
                .sorted(Comparator.comparing(BaseBackupMetadata::finishedAt).reversed()).toList()) {
            chains.add(chain(base, segmentSize, segments, partials, historyKnown));
        }
        Instant oldest = chains.stream().filter(Chain::recoverable).map(Chain::from).min(Comparator.naturalOrder())
                .orElse(null);
        Instant newest = chains.stream().filter(Chain::recoverable).map(Chain::until).filter(u -> u != null)
                .max(Comparator.naturalOrder()).orElse(null);
        return new Window(oldest, newest, List.copyOf(chains), gaps(segments, segmentSize));
    }

    private static Chain chain(BaseBackupMetadata base, long segmentSize, Map<Long, TreeMap<Integer, WalObject>> segments,
                               Map<Long, TreeMap<Integer, WalObject>> partials, Set<Integer> historyKnown) {
        long start = WalNames.segmentOf(WalNames.lsn(base.startLsn()), segmentSize);
        long endLsn = WalNames.lsn(base.endLsn());
        // the record ending exactly at a segment boundary lies in the segment before it
        long end = WalNames.segmentOf(endLsn - (endLsn % segmentSize == 0 ? 1 : 0), segmentSize);
        int timeline = base.timeline();
        List<WalObject> files = new ArrayList<>();
        Instant until = null;
        long n = start;
        while (true) {
            WalObject next = fits(base, pick(segments.get(n), timeline, historyKnown));
            if (next == null) {
                // no complete segment: the newest snapshot of this one ends the chain, if it holds what is needed
                WalObject partial = fits(base, pick(partials.get(n), timeline, historyKnown));
                if (partial != null && (n > end || WalNames.lsn(partial.endLsn()) >= endLsn)) {
                    files.add(partial);
                    until = later(until, partial.reachableUntil());
                    n++;
                }
                break;
            }
            files.add(next);
            timeline = next.timeline();
            until = later(until, next.reachableUntil());
            n++;
        }
        boolean recoverable = n > end;
        String last = files.isEmpty() ? null : files.get(files.size() - 1).name();
        // consistent once finished; a target before that, or with no commit archived after it, cannot be named
        Instant from = base.finishedAt();
        if (until != null && until.isBefore(from)) {
            until = null;
        }
        return new Chain(base, recoverable, from, recoverable ? until : null, last, List.copyOf(files),
                (int) (end - start), WalNames.segmentName(timeline, n, segmentSize));
    }

    /** WAL of another cluster (another system identifier) never fits a base backup. */
    private static WalObject fits(BaseBackupMetadata base, WalObject o) {
        return o == null || o.systemIdentifier() == null || base.systemIdentifier() == null
                || o.systemIdentifier().equals(base.systemIdentifier()) ? o : null;
    }

    /** The file of the current timeline, else of the lowest later timeline whose history is archived. */
    private static WalObject pick(TreeMap<Integer, WalObject> byTimeline, int timeline, Set<Integer> historyKnown) {
        if (byTimeline == null) {
            return null;
        }
        WalObject same = byTimeline.get(timeline);
        if (same != null) {
            return same;
        }
        for (Map.Entry<Integer, WalObject> e : byTimeline.tailMap(timeline, false).entrySet()) {
            if (historyKnown.contains(e.getKey())) {
                return e.getValue();
            }
        }
        return null;
    }

    /** Segment numbers missing between the lowest and highest archived complete segments (any timeline). */
    private static List<String> gaps(Map<Long, TreeMap<Integer, WalObject>> segments, long segmentSize) {
        if (segments.isEmpty()) {
            return List.of();
        }
        long low = segments.keySet().stream().min(Long::compare).orElseThrow();
        long high = segments.keySet().stream().max(Long::compare).orElseThrow();
        List<String> gaps = new ArrayList<>();
        int timeline = segments.get(low).firstKey();
        for (long n = low; n <= high && gaps.size() < 100; n++) {
            TreeMap<Integer, WalObject> here = segments.get(n);
            if (here == null) {
                gaps.add(WalNames.segmentName(timeline, n, segmentSize));
            } else {
                timeline = here.lastKey();
            }
        }
        return List.copyOf(gaps);
    }

    private static Instant later(Instant a, Instant b) {
        return a == null ? b : b == null ? a : a.isAfter(b) ? a : b;
    }
}
