package dev.lifeboat.common.pg;

import java.time.Duration;
import java.util.Objects;

/**
 * How long one run of a PostgreSQL program may take from start to end, reading its output included, and the
 * setting that decides it, so that a timeout message tells the operator which key to change.
 *
 * @param duration the time allowed; positive
 * @param setting  the configuration key it comes from, e.g. {@code lifeboat.pg.query-timeout}
 */
public record TimeLimit(Duration duration, String setting) {

    public TimeLimit {
        Objects.requireNonNull(duration, "duration");
        Objects.requireNonNull(setting, "setting");
        if (duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException(setting + " must be positive, not " + duration);
        }
    }

    /** The duration as people write it: {@code 30s}, {@code 1h30m}, {@code 0.5s}. */
    public String human() {
        return duration.toString().substring(2).toLowerCase(java.util.Locale.ROOT);
    }

    @Override
    public String toString() {
        return human() + " (" + setting + ")";
    }
}
