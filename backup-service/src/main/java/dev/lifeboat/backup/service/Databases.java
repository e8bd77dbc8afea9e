package dev.lifeboat.backup.service;

import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.backup.config.BackupServiceConfig.Database;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.UnknownDatabase;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.store.ObjectStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** The configured databases: labels checked once at start-up, connections and key prefixes per label. */
@ApplicationScoped
public class Databases {
    private final BackupServiceConfig config;

    public Databases(BackupServiceConfig config) {
        this.config = config;
        for (String label : config.databases().keySet()) {
            try {
                BackupIds.validateLabel(label);
            } catch (RuntimeException e) {
                throw new InvalidConfiguration("lifeboat.databases." + label + ": " + e.getMessage());
            }
        }
    }

    public Set<String> labels() {
        return new TreeSet<>(config.databases().keySet());
    }

    /** The database for a request: the given label, or the only one configured when none is given. */
    public String resolve(String label) {
        if (label == null || label.isBlank()) {
            if (config.databases().size() == 1) {
                return config.databases().keySet().iterator().next();
            }
            throw new dev.lifeboat.common.error.Errors.InvalidRequest(
                    "Several databases are configured; name one with \"database\": " + labels());
        }
        return require(label);
    }

    /** The label if configured, else {@link UnknownDatabase}. */
    public String require(String label) {
        if (!config.databases().containsKey(label)) {
            throw new UnknownDatabase("No database labelled '" + label + "' is configured; configured: " + labels());
        }
        return label;
    }

    /** Key prefix of the database's backups, without trailing slash. */
    public String prefix(String label) {
        Database db = config.databases().get(label);
        return (db == null ? Optional.<String>empty() : db.prefix()).map(p -> p.replaceAll("/+$", ""))
                .orElse(BackupCatalog.defaultPrefix(label));
    }

    /** The catalog of completed backups, laid out with the configured prefixes. */
    @Produces
    @Singleton
    BackupCatalog catalog(ObjectStore store) {
        return new BackupCatalog(store, this::prefix);
    }

    /** How to connect; the password file is read now, so a rotated Secret is picked up without a restart. */
    public PgConnection connection(String label) {
        Database db = config.databases().get(label);
        Optional<String> password = db.password();
        if (db.passwordFile().isPresent()) {
            try {
                password = Optional.of(Files.readString(db.passwordFile().get(), StandardCharsets.UTF_8).strip());
            } catch (IOException e) {
                throw new InvalidConfiguration("Cannot read lifeboat.databases." + label + ".password-file: " + e.getMessage());
            }
        }
        return new PgConnection(db.host(), db.port(), db.database(), db.user(), password);
    }

    /** Database name on the server. */
    public String databaseName(String label) {
        return config.databases().get(label).database();
    }
}
