package dev.lifeboat.common.error;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.error.Errors.RestoreInProgress;
import org.junit.jupiter.api.Test;

/** The 409 a busy target answers says what holds it: a restore to wait for, or a recovery that ends by itself. */
class RestoreInProgressTest {
    @Test
    void aRestoreIsNamedWithItsJobAndARecoveryWithoutAJobToLookUp() {
        RestoreInProgress restore = new RestoreInProgress("primary", "restore_20261202_101500_ab12cd", "restore-1");
        assertThat(restore.status()).isEqualTo(409);
        assertThat(restore.getMessage()).isEqualTo("A restore into target 'primary' is already running: "
                + "restore_20261202_101500_ab12cd on replica restore-1. Wait for it to finish "
                + "(GET /api/v1/restores/restore_20261202_101500_ab12cd).");
        RestoreInProgress recovery = new RestoreInProgress("primary", RestoreInProgress.RECOVERY + "restore-0",
                "restore-0");
        assertThat(recovery.getMessage()).startsWith("Target 'primary' is being recovered from a restore that did not "
                + "end").contains("on replica restore-0").doesNotContain("GET /api/v1/restores");
        assertThat(new RestoreInProgress("primary", RestoreInProgress.RECOVERY + "host-a", null).getMessage())
                .contains("records closed) by host-a. Try again");
    }
}
