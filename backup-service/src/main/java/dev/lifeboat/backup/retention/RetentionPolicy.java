package dev.lifeboat.backup.retention;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.time.Duration;
import java.time.ZoneId;

/**
 * One database's retention policy, resolved from {@code lifeboat.databases.<label>.retention.*} over
 * {@code lifeboat.retention.*}. Checked when built, so a policy the engine sees is always a sensible one: a policy
 * that is on must say what it keeps (max-age, keep-last or a calendar bucket), else it would keep only the
 * {@code min-keep} newest backups, which nobody asks for on purpose.
 *
 * @param maxAge   null when not set
 * @param keepLast null when not set
 */
@RegisterForReflection
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RetentionPolicy(boolean enabled, Duration maxAge, Integer keepLast, int daily, int weekly, int monthly,
                              int yearly, int minKeep, Duration safetyMaxAge, ZoneId timezone) {

    public RetentionPolicy {
        if (daily < 0 || weekly < 0 || monthly < 0 || yearly < 0) {
            throw new InvalidConfiguration("retention: daily, weekly, monthly and yearly are counts, 0 or more");
        }
        if (keepLast != null && keepLast < 1) {
            throw new InvalidConfiguration("retention.keep-last must be at least 1 (leave it unset to not use it)");
        }
        if (minKeep < 1) {
            throw new InvalidConfiguration("retention.min-keep must be at least 1");
        }
        if (maxAge != null && (maxAge.isNegative() || maxAge.isZero())) {
            throw new InvalidConfiguration("retention.max-age must be positive");
        }
        if (safetyMaxAge == null || safetyMaxAge.isNegative() || safetyMaxAge.isZero()) {
            throw new InvalidConfiguration("retention.safety-max-age must be positive");
        }
        if (timezone == null) {
            throw new InvalidConfiguration("lifeboat.retention.timezone must be set");
        }
        if (enabled && maxAge == null && keepLast == null && daily + weekly + monthly + yearly == 0) {
            throw new InvalidConfiguration("retention is enabled but keeps nothing: set max-age, keep-last, daily, "
                    + "weekly, monthly or yearly");
        }
    }

    /** A policy that deletes nothing (the default until the user sets one). */
    public static RetentionPolicy disabled() {
        return new RetentionPolicy(false, null, null, 0, 0, 0, 0, 3, Duration.ofDays(7), ZoneId.of("UTC"));
    }
}
