package dev.lifeboat.verify.service;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.error.Errors.UnknownDatabase;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.ObjectInfo;
import dev.lifeboat.verify.config.VerifyServiceConfig;
import dev.lifeboat.verify.config.VerifyServiceConfig.Database;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The databases verify-service reports on: those configured ({@code lifeboat.databases.<label>}) and those with
 * backups in the store, found under the default layout ({@code database/<label>/metadata/}); their objectives; and
 * the connection to the scratch databases restores are made into. Configuration is checked once at start-up.
 */
@ApplicationScoped
public class Databases {
    private static final Pattern CHECK_NAME = Pattern.compile("[A-Za-z0-9_-]{1,63}");
    private final VerifyServiceConfig config;
    private final ObjectStore store;

    public Databases(VerifyServiceConfig config, ObjectStore store) {
        this.config = config;
        this.store = store;
        config.databases().keySet().forEach(label -> {
            if (!BackupIds.isLabel(label)) {
                throw new InvalidConfiguration("lifeboat.databases." + label + ": a database label is 1 to 63 letters, "
                        + "digits, '_' and '-'");
            }
        });
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
        Set<String> labels = new TreeSet<>(config.databases().keySet());
        String base = BackupCatalog.defaultPrefix("x");
        base = base.substring(0, base.length() - 1); // "database/"
        try {
            for (ObjectInfo info : store.list(base)) {
                String[] parts = info.key().substring(base.length()).split("/");
                // database/<label>/metadata/<label>_backup_....json
                if (parts.length == 3 && parts[1].equals("metadata") && parts[2].endsWith(".json")
                        && BackupIds.isLabel(parts[0]) && parts[2].startsWith(parts[0] + "_backup_")) {
                    labels.add(parts[0]);
                }
            }
        } catch (IOException e) {
            throw new StoreUnavailable("Cannot list the store to find databases: " + e.getMessage(), e);
        }
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
        return database(label).flatMap(Database::rpo).orElse(config.objectives().rpo());
    }

    /** The recovery time objective of a database. */
    public Duration rto(String label) {
        return database(label).flatMap(Database::rto).orElse(config.objectives().rto());
    }

    private Optional<Database> database(String label) {
        return Optional.ofNullable(config.databases().get(label));
    }

    /** The backups and their verification records, laid out with the configured prefixes. */
    @Produces
    @Singleton
    BackupCatalog catalog() {
        return new BackupCatalog(store, label -> database(label).flatMap(Database::prefix)
                .orElse(BackupCatalog.defaultPrefix(label)));
    }

    /** Connection to a scratch database; the password file is read now (rotation). */
    public PgConnection scratch(String database) {
        VerifyServiceConfig.Scratch s = config.verify().scratch();
        Optional<String> password = s.password();
        if (s.passwordFile().isPresent()) {
            try {
                password = Optional.of(Files.readString(s.passwordFile().get(), StandardCharsets.UTF_8).strip());
            } catch (IOException e) {
                throw new InvalidConfiguration("Cannot read lifeboat.verify.scratch.password-file: " + e.getMessage());
            }
        }
        return new PgConnection(s.host(), s.port(), database, s.user(), password, Map.of());
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
