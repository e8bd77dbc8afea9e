package dev.lifeboat.verify.service;

import dev.lifeboat.common.model.VerificationRecord;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** Lets tests call the sweep's decision rule, which is package-private. */
public final class VerificationServiceAccess {
    private VerificationServiceAccess() {
    }

    public static boolean needsFull(List<VerificationRecord> records, Instant now, Duration retryDelay) {
        return VerificationService.needsFull(records, now, retryDelay);
    }
}
