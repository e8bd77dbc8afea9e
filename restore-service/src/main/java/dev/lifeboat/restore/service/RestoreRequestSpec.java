package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreMode;
import dev.lifeboat.common.api.RolesOption;

/**
 * A validated restore request: what to restore ({@code backup} is an id, {@code latest} or
 * {@code latest-verified}; null for a point-in-time restore), how, and which of the optional steps run. {@code roles}
 * null: the target's default ({@code create-missing} for scratch targets, {@code require} in place).
 * {@code pointInTime}: for a restore to a point in time of {@code database} (then {@code backup} is null).
 */
public record RestoreRequestSpec(String backup, String database, RestoreMode mode, boolean safetyBackup,
                                 boolean scaleDown, RolesOption roles, PointInTime pointInTime) {
    public static final String LATEST = "latest";
    public static final String LATEST_VERIFIED = "latest-verified";

    public RestoreRequestSpec(String backup, String database, RestoreMode mode, boolean safetyBackup, boolean scaleDown,
                              RolesOption roles) {
        this(backup, database, mode, safetyBackup, scaleDown, roles, null);
    }
}
