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
    /** The dump's CREATE EXTENSION refused for the role (42501), with the server's HINT when there is one. */
    private static final Pattern EXTENSION_DENIED = Pattern.compile("(?m)ERROR:\\s+42501:\\s+(permission denied to create "
            + "extension \"((?:[^\"\\n]|\"\")+)\")[^\\n]*(?:\\n(?:DETAIL|HINT):\\s+([^\\n]*))?");
    /** The extension's files are not on the target server: 58P01 up to PostgreSQL 15, 0A000 from 16. */
    private static final Pattern EXTENSION_MISSING = Pattern.compile("(?m)ERROR:\\s+(?:58P01:\\s+(could not open extension "
            + "control file \"[^\"\\n]*/([^/\"\\n]+)\\.control\"[^\\n]*)|0A000:\\s+(extension \"((?:[^\"\\n]|\"\")+)\" "
            + "is not available))");
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
     * The fault of a load that psql ended with {@code stderr}: an extension the target cannot create (named, with
     * what to do), else a SQL error of the dump or a failure of the server (see {@link #ofPsqlError}), described by
     * {@code message}. {@code role} is the role the restore connects as.
     */
    static RestoreFault ofPsql(String stderr, String role, String message) {
        String said = stderr == null ? "" : stderr;
        Matcher denied = EXTENSION_DENIED.matcher(said);
        if (denied.find()) {
            String hint = denied.group(3) == null ? "" : " (" + denied.group(3).strip() + ")";
            return new RestoreFault(RestoreFailure.TARGET_ERROR, "Extension " + denied.group(2).replace("\"\"", "\"")
                    + " could not be created by role " + role + ": " + denied.group(1) + hint + ". The dump creates "
                    + "the extensions of the schemas it replaces (a backup holds their objects and data, not the right "
                    + "to create them): restore as a superuser, or as a role that may create it (a trusted extension "
                    + "needs CREATE on the database). The load was rolled back; the target is unchanged.");
        }
        Matcher missing = EXTENSION_MISSING.matcher(said);
        if (missing.find()) {
            String name = missing.group(2) != null ? missing.group(2) : missing.group(4).replace("\"\"", "\"");
            String error = missing.group(1) != null ? missing.group(1) : missing.group(3);
            return new RestoreFault(RestoreFailure.TARGET_ERROR, "Extension " + name + " is not installed on the target "
                    + "server (" + error + "): a backup holds the extension's objects and data, not its binaries; "
                    + "install the extension's package for the server's PostgreSQL version on the target server "
                    + "(e.g. postgresql-15-postgis-3 for PostGIS on Debian). The load was rolled back; the target is "
                    + "unchanged.");
        }
        return new RestoreFault(ofPsqlError(said), message);
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
