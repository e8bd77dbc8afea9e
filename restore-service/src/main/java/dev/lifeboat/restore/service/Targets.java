package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreMode;
import dev.lifeboat.common.config.Secrets;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.UnknownTarget;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.restore.config.RestoreServiceConfig;
import dev.lifeboat.restore.config.RestoreServiceConfig.Target;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The configured restore targets (DESIGN §3, §10): names and labels checked once at start-up, connections per
 * target. A request names a target, never a host, so a restore can only go where the configuration allows.
 */
@ApplicationScoped
public class Targets {
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
    private final RestoreServiceConfig config;

    public Targets(RestoreServiceConfig config) {
        this.config = config;
        config.targets().forEach((name, target) -> {
            if (!NAME.matcher(name).matches()) {
                throw new InvalidConfiguration("lifeboat.targets." + name + ": a target name is 1 to 63 lower-case "
                        + "letters, digits and '-'");
            }
            target.databaseLabel().ifPresent(label -> {
                if (!BackupIds.isLabel(label)) {
                    throw new InvalidConfiguration("lifeboat.targets." + name + ".database-label: '" + label
                            + "' is not a database label (letters, digits, '_' and '-')");
                }
            });
            if (!target.scratch() && target.modes().contains(RestoreMode.RECREATE_DATABASE)
                    && target.maintenanceDatabase().equals(target.database())) {
                throw new InvalidConfiguration("lifeboat.targets." + name + ": recreate-database needs a "
                        + "maintenance-database other than the target database '" + target.database() + "'");
            }
        });
    }

    public Set<String> names() {
        return new TreeSet<>(config.targets().keySet());
    }

    /** The target's configuration, else {@link UnknownTarget}. */
    public Target require(String name) {
        Target target = name == null ? null : config.targets().get(name);
        if (target == null) {
            throw new UnknownTarget("No restore target named '" + printable(name) + "' is configured; configured: "
                    + names() + ".");
        }
        return target;
    }

    /** Connection to {@code database} on the target's server; the password file is read now (rotation). */
    public PgConnection connection(String name, String database) {
        Target t = require(name);
        return new PgConnection(t.host(), t.port(), database, t.user(),
                Secrets.read(t.password(), t.passwordFile(), "lifeboat.targets." + name + ".password-file"));
    }

    private static String printable(String s) {
        if (s == null) {
            return "";
        }
        String cut = s.length() > 60 ? s.substring(0, 60) + "..." : s;
        return cut.replaceAll("\\p{Cntrl}", "?");
    }
}
