package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreMode;

/**
 * A validated restore request: what to restore ({@code backup} is an id, {@code latest} or
 * {@code latest-verified}), how, and which of the optional steps run.
 */
public record RestoreRequestSpec(String backup, String database, RestoreMode mode, boolean safetyBackup,
                                 boolean scaleDown) {
    public static final String LATEST = "latest";
    public static final String LATEST_VERIFIED = "latest-verified";
}
