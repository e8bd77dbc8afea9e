package dev.lifeboat.common.store;

import dev.lifeboat.common.store.StoreException.Outcome;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * The one retry policy of the store: only {@link StoreException.Transient} failures are retried, with exponential
 * backoff and full jitter (the wait before retry {@code n} is uniformly random in {@code [0, min(maxBackoff,
 * initialBackoff * 2^(n-1))]}), for at most {@code maxAttempts} attempts and {@code maxTotal} of time per request,
 * waits included: no retry starts whose wait would end past that. Every attempt is reported to the
 * {@link Listener} (the metrics) with its outcome, and every retry as one.
 *
 * <p>One instance is shared by {@link RetryingObjectStore}, which retries whole operations, and by the stores
 * themselves for what only they can repeat: an S3 part upload (the part's bytes are still in its buffer), the
 * completion of an upload, and a read resumed from the byte it reached.
 */
public final class RetryPolicy {
    private static final RetryPolicy NONE = new RetryPolicy(
            new Settings(1, Duration.ofMillis(1), Duration.ofMillis(1), Duration.ofMillis(1)), Listener.NONE);

    private final Settings settings;
    private final Listener listener;
    private final Sleeper sleeper;
    private final LongSupplier nanoTime;
    private final DoubleSupplier random;

    public RetryPolicy(Settings settings, Listener listener) {
        this(settings, listener, Thread::sleep, System::nanoTime, () -> ThreadLocalRandom.current().nextDouble());
    }

    /** With a clock, a sleeper and a random source of the test's choosing. */
    RetryPolicy(Settings settings, Listener listener, Sleeper sleeper, LongSupplier nanoTime, DoubleSupplier random) {
        this.settings = settings;
        this.listener = listener;
        this.sleeper = sleeper;
        this.nanoTime = nanoTime;
        this.random = random;
    }

    /** One attempt per request, nothing reported: a store used without the decorator. */
    public static RetryPolicy none() {
        return NONE;
    }

    public Settings settings() {
        return settings;
    }

    /**
     * Limits of the policy.
     *
     * @param maxAttempts    attempts per request, the first included (1: no retries)
     * @param initialBackoff bound of the wait before the first retry; doubled for each further retry
     * @param maxBackoff     largest bound of one wait
     * @param maxTotal       longest time one request may take, attempts and waits included
     */
    public record Settings(int maxAttempts, Duration initialBackoff, Duration maxBackoff, Duration maxTotal) {
        public Settings {
            if (maxAttempts < 1) {
                throw new IllegalArgumentException("lifeboat.store.retry.max-attempts must be at least 1; got " + maxAttempts);
            }
            if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
                throw new IllegalArgumentException("lifeboat.store.retry.initial-backoff must be positive and at most "
                        + "max-backoff; got " + initialBackoff + " and " + maxBackoff);
            }
            if (maxTotal.isNegative() || maxTotal.isZero()) {
                throw new IllegalArgumentException("lifeboat.store.retry.max-total must be positive; got " + maxTotal);
            }
        }
    }

    /** Where attempts and retries are reported (the metrics). Called from many threads. */
    public interface Listener {
        Listener NONE = new Listener() {
            @Override
            public void attempted(StoreOperation operation, Outcome outcome) {
            }

            @Override
            public void retrying(StoreOperation operation) {
            }
        };

        /** One request was made and ended so. */
        void attempted(StoreOperation operation, Outcome outcome);

        /** A failed request is about to be tried again. */
        void retrying(StoreOperation operation);
    }

    /** One attempt of a request. */
    @FunctionalInterface
    public interface Attempt<T> {
        T run() throws IOException;
    }

    /** Waits; {@link Thread#sleep(long)} outside tests. */
    @FunctionalInterface
    interface Sleeper {
        void sleep(long millis) throws InterruptedException;
    }

    /** Runs {@code attempt}, retrying it while it fails transiently and the limits allow. */
    public <T> T call(StoreOperation operation, Attempt<T> attempt) throws IOException {
        Run run = start(operation);
        while (true) {
            try {
                T result = attempt.run();
                run.succeeded();
                return result;
            } catch (IOException e) {
                run.failed(e);
            }
        }
    }

    /** Runs {@code attempt} once, reporting its outcome: for readiness checks, which must answer quickly. */
    public <T> T once(StoreOperation operation, Attempt<T> attempt) throws IOException {
        try {
            T result = attempt.run();
            listener.attempted(operation, Outcome.OK);
            return result;
        } catch (IOException e) {
            listener.attempted(operation, Outcome.of(e));
            throw e;
        }
    }

    /** Starts the attempts of one request, for callers that cannot put an attempt in a lambda (resumed reads). */
    public Run start(StoreOperation operation) {
        return new Run(operation);
    }

    /** The attempts of one request so far, and its budget. Not thread-safe: one request runs on one thread. */
    public final class Run {
        private final StoreOperation operation;
        private final long startedNanos = nanoTime.getAsLong();
        /** Failed attempts: each one is followed by a retry while the limits allow. */
        private int attempts;

        private Run(StoreOperation operation) {
            this.operation = operation;
        }

        /** The attempt that was running succeeded (for a resumed read: the reopening did; the run goes on). */
        public void succeeded() {
            listener.attempted(operation, Outcome.OK);
        }

        /**
         * The attempt that was running failed with {@code e}. Returns after the backoff when the caller should try
         * again; otherwise throws: {@code e} itself when it is not transient, the transient failure with a note that
         * the retries are spent when the limits are reached.
         */
        public void failed(IOException e) throws IOException {
            attempts++;
            listener.attempted(operation, Outcome.of(e));
            if (!(e instanceof StoreException.Transient transientFailure)) {
                throw e;
            }
            Duration elapsed = Duration.ofNanos(nanoTime.getAsLong() - startedNanos);
            if (attempts >= settings.maxAttempts()) {
                throw transientFailure.gaveUp(attempts, elapsed);
            }
            long waitMillis = backoffMillis(attempts);
            if (elapsed.toMillis() + waitMillis > settings.maxTotal().toMillis()) {
                throw transientFailure.gaveUp(attempts, elapsed);
            }
            listener.retrying(operation);
            try {
                sleeper.sleep(waitMillis);
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                InterruptedIOException stop = new InterruptedIOException("Interrupted while waiting to retry "
                        + operation.tag() + " of " + transientFailure.key());
                stop.initCause(e);
                throw stop;
            }
        }
    }

    /** The wait before retry number {@code retry} (1 for the first): full jitter under the doubled bound. */
    long backoffMillis(int retry) {
        long bound = settings.initialBackoff().toMillis();
        for (int i = 1; i < retry && bound < settings.maxBackoff().toMillis(); i++) {
            bound *= 2;
        }
        bound = Math.min(bound, settings.maxBackoff().toMillis());
        return (long) (random.getAsDouble() * (bound + 1));
    }
}
