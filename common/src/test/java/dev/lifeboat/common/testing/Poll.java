package dev.lifeboat.common.testing;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;

/**
 * Waiting in tests for a condition, never for a fixed time: the condition is checked again every
 * {@value #INTERVAL_MILLIS} ms until it holds or the deadline passes, then the test fails naming what it waited for.
 */
public final class Poll {
    private static final long INTERVAL_MILLIS = 100;

    private Poll() {
    }

    /** Returns once {@code condition} holds; fails after {@code timeout}. */
    public static void until(String what, Duration timeout, BooleanSupplier condition) {
        value(what, timeout, () -> condition.getAsBoolean() ? Boolean.TRUE : null);
    }

    /** Returns the first non-null answer of {@code probe}; fails after {@code timeout}. */
    public static <T> T value(String what, Duration timeout, Callable<T> probe) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            T value;
            try {
                value = probe.call();
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("Polling for " + what + " failed", e);
            }
            if (value != null) {
                return value;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("Not within " + timeout + ": " + what);
            }
            try {
                Thread.sleep(INTERVAL_MILLIS); // between two checks of the condition, bounded by the deadline above
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("Interrupted while waiting for " + what, e);
            }
        }
    }
}
