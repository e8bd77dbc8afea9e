package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreFailure;
import dev.lifeboat.common.error.Errors.ChecksumMismatch;
import dev.lifeboat.common.error.Errors.PeerFailed;
import dev.lifeboat.common.error.Errors.PgTimeout;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A restore step failed for a known reason; {@link #kind()} is what the job reports as its {@link RestoreFailure}. */
final class RestoreFault extends RuntimeException {
    /** psql with {@code VERBOSITY=verbose} prints {@code ERROR:  <SQLSTATE>: <message>}. */
    private static final Pattern SQLSTATE = Pattern.compile("(?m)^(?:psql:[^\\n]*?)?ERROR:\\s+([0-9A-Z]{5}):");
    private final RestoreFailure kind;

    RestoreFault(RestoreFailure kind, String message) {
        super(message);
        this.kind = kind;
    }

    RestoreFailure kind() {
        return kind;
    }

    /** The failure kind of any exception that ended a restore. */
    static RestoreFailure classify(Throwable e) {
        if (e instanceof RestoreFault f) {
            return f.kind();
        }
        if (e instanceof ChecksumMismatch) {
            return RestoreFailure.BACKUP_DAMAGED;
        }
        if (e instanceof StoreUnavailable) {
            return RestoreFailure.STORE_ERROR;
        }
        if (e instanceof PeerFailed || e.getClass().getName().startsWith("io.fabric8.kubernetes")) {
            return RestoreFailure.PEER_ERROR;
        }
        if (e instanceof PgTimeout) {
            return RestoreFailure.TIMEOUT;
        }
        if (e instanceof PgToolFailed) {
            return RestoreFailure.TARGET_ERROR;
        }
        return RestoreFailure.OTHER;
    }

    /**
     * What psql's error output says about a load that stopped: a SQL error of the dump itself (the backup does not
     * load into this server) or the server failing (connection, resources, shutdown, internal error).
     */
    static RestoreFailure ofPsqlError(String stderr) {
        Matcher m = SQLSTATE.matcher(stderr == null ? "" : stderr);
        if (!m.find()) {
            return RestoreFailure.TARGET_ERROR; // no SQL error: the connection or the server went away
        }
        String sqlClass = m.group(1).substring(0, 2);
        return switch (sqlClass) {
            // connection exception, insufficient resources, operator intervention, system error, internal error
            case "08", "53", "57", "58", "XX" -> RestoreFailure.TARGET_ERROR;
            default -> RestoreFailure.DUMP_REJECTED;
        };
    }
}
