package dev.lifeboat.verify.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.config.Secrets;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.UnknownDatabase;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.verify.config.VerifyServiceConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The databases verify-service reports on: those configured ({@code lifeboat.databases.<label>}, the shared
 * {@link DatabaseRegistry}) and those with backups in the store; their objectives; the SQL checks that apply to
 * each; and the connection to the scratch databases restores are made into. Checked once at start-up.
 */
@ApplicationScoped
public class Databases {
    private static final Pattern CHECK_NAME = Pattern.compile("[A-Za-z0-9_-]{1,63}");
    private final VerifyServiceConfig config;
    private final DatabaseRegistry registry;
    private final BackupCatalog catalog;

    public Databases(VerifyServiceConfig config, DatabaseRegistry registry, BackupCatalog catalog) {
        this.config = config;
        this.registry = registry;
        this.catalog = catalog;
        config.verify().checks().forEach((name, check) -> {
            if (!CHECK_NAME.matcher(name).matches()) {
                throw new InvalidConfiguration("lifeboat.verify.checks." + name + ": a check name is 1 to 63 letters, "
                        + "digits, '_' and '-'");
            }
            if (check.sql().isBlank()) {
                throw new InvalidConfiguration("lifeboat.verify.checks." + name + ".sql is empty");
            }
            check.databases().orElse(java.util.List.of()).forEach(label -> {
                if (!BackupIds.isLabel(label)) {
                    throw new InvalidConfiguration("lifeboat.verify.checks." + name + ".databases: '" + label
                            + "' is not a database label");
                }
            });
        });
        if (config.objectives().rpo().isNegative() || config.objectives().rpo().isZero()
                || config.objectives().rto().isNegative() || config.objectives().rto().isZero()) {
            throw new InvalidConfiguration("lifeboat.objectives.rpo and .rto must be positive durations");
        }
    }

    /** Every database to report on: the configured ones and those found in the store, sorted. */
    public Set<String> labels() {
        Set<String> labels = new TreeSet<>(registry.labels());
        labels.addAll(catalog.labelsInStore());
        return labels;
    }

    /** {@code label} when it is a valid label of a known database, else 400 or {@link UnknownDatabase} (404). */
    public String require(String label) {
        BackupIds.validateLabel(label);
        Set<String> known = labels();
        if (!known.contains(label)) {
            throw new UnknownDatabase("No database labelled '" + label + "' has backups or is configured; known: "
                    + known + ".");
        }
        return label;
    }

    /** The recovery point objective of a database. */
    public Duration rpo(String label) {
        return registry.rpo(label).orElse(config.objectives().rpo());
    }

    /** Whether point-in-time recovery is enabled for a configured database ({@code pitr.enabled}). */
    public boolean pitrEnabled(String label) {
        return registry.pitrEnabled(label);
    }

    /** The recovery time objective of a database. */
    public Duration rto(String label) {
        return registry.rto(label).orElse(config.objectives().rto());
    }

    /** Connection to a scratch database; the password file is read now (rotation). */
    public PgConnection scratch(String database) {
        VerifyServiceConfig.Scratch s = config.verify().scratch();
        return new PgConnection(s.host(), s.port(), database, s.user(),
                Secrets.read(s.password(), s.passwordFile(), "lifeboat.verify.scratch.password-file"), Map.of());
    }

    /** The SQL checks that apply to a database, by name. */
    public Map<String, String> checks(String label) {
        Map<String, String> out = new java.util.TreeMap<>();
        config.verify().checks().forEach((name, check) -> {
            if (check.databases().map(l -> l.contains(label)).orElse(true)) {
                out.put(name, check.sql());
            }
        });
        return out;
    }
}
