package dev.lifeboat.common.store;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Waits until an archived object can be read: requests its restore when needed, then polls its state every
 * {@code interval} until it is readable or {@code timeout} has passed. Shared by restore-service (before LOAD) and
 * verify-service (before the CHECKSUM read). The listener hears every state change, so a job can show
 * {@code WAITING_FOR_ARCHIVE} with the expected time.
 */
public final class ArchiveWait {
    private final ArchiveRetrieval archive;
    private final Duration interval;
    private final Duration timeout;
    private final Clock clock;

    /** Told each state the object goes through, with the store's expected restore time. */
    @FunctionalInterface
    public interface Listener {
        void state(ArchiveState state, ArchiveRetrieval.Observation seen, Duration expected);
    }

    /** The object did not become readable in time. */
    public static final class TimedOut extends IOException {
        public TimedOut(String message) {
            super(message);
        }
    }

    public ArchiveWait(ArchiveRetrieval archive, Duration interval, Duration timeout, Clock clock) {
        if (interval.isNegative() || interval.isZero() || timeout.isNegative()) {
            throw new IllegalArgumentException("archive poll interval must be > 0 and timeout >= 0");
        }
        this.archive = archive;
        this.interval = interval;
        this.timeout = timeout;
        this.clock = clock;
    }

    /** The wait of {@code store}'s archive with {@code lifeboat.store.s3.archive.poll-interval} and {@code timeout}. */
    public static ArchiveWait of(ObjectStore store, dev.lifeboat.common.config.StoreConfig config) {
        return new ArchiveWait(store.archive(), config.s3().archive().pollInterval(), config.s3().archive().timeout(),
                Clock.systemUTC());
    }

    /** The archive this waits on. */
    public ArchiveRetrieval archive() {
        return archive;
    }

    /** The state of the object at {@code key} now, without asking for anything. */
    public ArchiveState state(String key) throws IOException {
        return ArchiveState.initial(archive.observe(key), clock.instant());
    }

    /**
     * Returns once the object at {@code key} is readable (at once when it is not archived); the final state is
     * {@link ArchiveState#NOT_ARCHIVED} or {@link ArchiveState#READABLE}.
     *
     * @throws TimedOut when it is still not readable after the timeout
     */
    public ArchiveState awaitReadable(String key, Listener listener) throws IOException {
        Instant deadline = clock.instant().plus(timeout);
        ArchiveRetrieval.Observation seen = archive.observe(key);
        ArchiveState state = ArchiveState.initial(seen, clock.instant());
        ArchiveState told = null;
        while (true) {
            if (state.needsRequest()) {
                archive.request(key);
                state = state.requested();
            }
            if (state != told) {
                listener.state(state, seen, archive.expectedTime(seen.storageClass()));
                told = state;
            }
            if (state.readable()) {
                return state;
            }
            if (!clock.instant().isBefore(deadline)) {
                throw new TimedOut("The archived object " + key + " (" + seen.storageClass() + ") was not restored "
                        + "within " + timeout + " (state " + state + "; a " + archive.tier() + " retrieval takes up "
                        + "to " + archive.expectedTime(seen.storageClass()) + "); lifeboat.store.s3.archive.timeout");
            }
            try {
                Thread.sleep(interval.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("Interrupted while waiting for the restore of " + key);
            }
            seen = archive.observe(key);
            state = state.observed(seen, clock.instant());
        }
    }
}
