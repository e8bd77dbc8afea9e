package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreMode;
import dev.lifeboat.common.api.RolesOption;

/**
 * A validated restore request: what to restore ({@code backup} is an id, {@code latest} or
 * {@code latest-verified}), how, and which of the optional steps run. {@code roles} null: the target's default
 * ({@code create-missing} for scratch targets, {@code require} in place).
 */
public record RestoreRequestSpec(String backup, String database, RestoreMode mode, boolean safetyBackup,
                                 boolean scaleDown, RolesOption roles) {
    public static final String LATEST = "latest";
    public static final String LATEST_VERIFIED = "latest-verified";
}
