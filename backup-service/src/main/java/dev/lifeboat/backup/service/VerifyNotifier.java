package dev.lifeboat.backup.service;

import dev.lifeboat.common.api.VerificationView;
import dev.lifeboat.common.model.VerificationRecord;
import dev.lifeboat.common.model.VerificationRecord.Level;
import dev.lifeboat.common.client.VerifyServiceClient;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.DumpFormat;
import dev.lifeboat.common.model.Trigger;
import jakarta.enterprise.context.ApplicationScoped;
import org.jboss.logging.Logger;

/**
 * Tells verify-service about each new backup (DESIGN §1, §4) so it gets a full verification at once. Best effort and
 * off the backup's thread: a failed notification is logged and never fails the backup; verify-service's own sweep
 * finds every backup that was not announced. Safety backups are not announced: they are taken in the middle of an
 * in-place restore, whose load should not share the server with a verification restore; the sweep verifies them
 * a little later.
 */
@ApplicationScoped
public class VerifyNotifier {
    private static final Logger LOG = Logger.getLogger(VerifyNotifier.class);
    private final VerifyServiceClient verify;

    public VerifyNotifier(VerifyServiceClient verify) {
        this.verify = verify;
    }

    void backupCompleted(BackupMetadata backup) {
        if (!verify.configured() || backup.trigger() == Trigger.PRE_RESTORE) {
            return;
        }
        // a custom-format dump cannot be restored by restore-service yet, so only its stored bytes can be proven
        Level level = backup.format() == DumpFormat.PLAIN ? Level.FULL : Level.CHECKSUM;
        announce(backup.id(), level);
    }

    /** A new base backup: its full verification recovers it with its WAL (a point-in-time drill). */
    void baseCompleted(BaseBackupMetadata base) {
        if (verify.configured()) {
            announce(base.id(), Level.FULL);
        }
    }

    private void announce(String id, Level level) {
        Thread.ofVirtual().name("notify-verify-service").start(() -> {
            try {
                VerificationView v = verify.request(id, level, VerificationRecord.Trigger.NEW_BACKUP);
                LOG.infof("verify-service queued %s verification %s of backup %s", level, v.id(), id);
            } catch (RuntimeException e) {
                LOG.warnf("verify-service was not told about backup %s (%s); its sweep will find the backup",
                        id, e.getMessage());
            }
        });
    }
}
