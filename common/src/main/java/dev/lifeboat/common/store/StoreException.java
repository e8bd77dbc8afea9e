package dev.lifeboat.common.store;

import java.io.IOException;
import java.time.Duration;
import java.util.Locale;

/**
 * Why a store request failed, as a closed family of {@link IOException}s: the caller and the retry policy decide on
 * the type, people act on the message. Every instance names the {@link StoreOperation} and the key (or prefix) it
 * concerns, and its message says what to check.
 *
 * <ul>
 *   <li>{@link NotFound}: nothing there ({@link ObjectStore.ObjectNotFoundException} for a key, or a missing bucket).
 *       Never retried.</li>
 *   <li>{@link AccessDenied}: the store refused the credentials or the permission (S3 403, InvalidAccessKeyId,
 *       SignatureDoesNotMatch; a folder the service may not write). Never retried.</li>
 *   <li>{@link Archived}: the object is in an archive storage class and must be restored before it can be read
 *       (S3 403 InvalidObjectState). Never retried.</li>
 *   <li>{@link Conflict}: someone else changed the same thing ({@link ObjectStore.ObjectExistsException}; 409/412;
 *       an upload aborted meanwhile). Never retried.</li>
 *   <li>{@link Transient}: may succeed if tried again (5xx, 429, SlowDown, connection reset or refused, timeouts,
 *       a body cut short). The only kind {@link RetryPolicy} retries.</li>
 *   <li>{@link Failed}: anything else the store rejected (a malformed request, a full disk). Never retried.</li>
 * </ul>
 */
public abstract sealed class StoreException extends IOException
        permits StoreException.NotFound, StoreException.AccessDenied, StoreException.Archived,
        StoreException.Conflict, StoreException.Transient, StoreException.Failed {
    private final StoreOperation operation;
    private final String key;

    StoreException(StoreOperation operation, String key, String message, Throwable cause) {
        super(message, cause);
        this.operation = operation;
        this.key = key;
    }

    /** The request that failed. */
    public StoreOperation operation() {
        return operation;
    }

    /** The key (or, for listings, the prefix) the request concerned. */
    public String key() {
        return key;
    }

    /** The {@code outcome} label of the store metrics for this failure. */
    public abstract Outcome outcome();

    /** How a store request ended: the {@code outcome} label of {@code lifeboat_store_requests_total}. */
    public enum Outcome {
        OK, NOT_FOUND, ACCESS_DENIED, ARCHIVED, CONFLICT, TRANSIENT, FAILED;

        /** The metric label value, e.g. {@code access_denied}. */
        public String tag() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The outcome of a request that threw {@code e}. */
        public static Outcome of(Throwable e) {
            return e instanceof StoreException s ? s.outcome() : FAILED;
        }
    }

    /** Nothing at the key, or no such bucket. */
    public static non-sealed class NotFound extends StoreException {
        public NotFound(StoreOperation operation, String key, String message, Throwable cause) {
            super(operation, key, message, cause);
        }

        @Override
        public Outcome outcome() {
            return Outcome.NOT_FOUND;
        }
    }

    /** The store refused the credentials or the permission; fixing them is a person's job. */
    public static final class AccessDenied extends StoreException {
        public AccessDenied(StoreOperation operation, String key, String message, Throwable cause) {
            super(operation, key, message, cause);
        }

        @Override
        public Outcome outcome() {
            return Outcome.ACCESS_DENIED;
        }
    }

    /** The object is in an archive tier (S3 GLACIER, DEEP_ARCHIVE) and cannot be read until it is restored. */
    public static final class Archived extends StoreException {
        public Archived(StoreOperation operation, String key, String message, Throwable cause) {
            super(operation, key, message, cause);
        }

        @Override
        public Outcome outcome() {
            return Outcome.ARCHIVED;
        }
    }

    /** A concurrent change got there first: the key was taken, a condition failed, the upload was aborted. */
    public static non-sealed class Conflict extends StoreException {
        public Conflict(StoreOperation operation, String key, String message, Throwable cause) {
            super(operation, key, message, cause);
        }

        @Override
        public Outcome outcome() {
            return Outcome.CONFLICT;
        }
    }

    /** A failure that may go away: the store was busy or unreachable, or an answer was cut short. */
    public static final class Transient extends StoreException {
        public Transient(StoreOperation operation, String key, String message, Throwable cause) {
            super(operation, key, message, cause);
        }

        @Override
        public Outcome outcome() {
            return Outcome.TRANSIENT;
        }

        /** The same failure, saying that the retries are spent. */
        Transient gaveUp(int attempts, Duration elapsed) {
            return new Transient(operation(), key(), getMessage() + "; gave up after " + attempts
                    + (attempts == 1 ? " attempt" : " attempts") + " in " + String.format(Locale.ROOT, "%.1f s",
                    elapsed.toMillis() / 1000.0) + " (lifeboat.store.retry.*)", this);
        }
    }

    /** Any other refusal or failure of the store; retrying would not change it. */
    public static final class Failed extends StoreException {
        public Failed(StoreOperation operation, String key, String message, Throwable cause) {
            super(operation, key, message, cause);
        }

        @Override
        public Outcome outcome() {
            return Outcome.FAILED;
        }
    }
}
