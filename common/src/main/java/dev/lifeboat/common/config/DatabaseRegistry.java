package dev.lifeboat.common.config;

import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.Integrity;
import io.micrometer.core.instrument.MeterRegistry;
import org.jboss.logging.Logger;
import dev.lifeboat.common.config.DatabasesConfig.Database;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.error.Errors.UnknownDatabase;
import dev.lifeboat.common.model.BackupIds;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.store.ObjectStore;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The configured databases ({@link DatabasesConfig}), the same in every service: labels checked once at start-up,
 * request labels resolved, connections, key prefixes and objectives per label. Produces the one
 * {@link BackupCatalog} of the service, laid out with the configured prefixes.
 */
@ApplicationScoped
public class DatabaseRegistry {
    private static final Logger LOG = Logger.getLogger(DatabaseRegistry.class);
    /** What PostgreSQL accepts as a replication slot name. */
    private static final java.util.regex.Pattern SLOT = java.util.regex.Pattern.compile("[a-z0-9_]{1,63}");
    private final DatabasesConfig config;

    public DatabaseRegistry(DatabasesConfig config) {
        this.config = config;
        for (String label : config.databases().keySet()) {
            if (!BackupIds.isLabel(label)) {
                throw new InvalidConfiguration("lifeboat.databases." + label + ": a database label is 1 to 63 letters, "
                        + "digits, '_' and '-'");
            }
            config.databases().get(label).pitr().slot().ifPresent(slot -> {
                if (!SLOT.matcher(slot).matches()) {
                    throw new InvalidConfiguration("lifeboat.databases." + label + ".pitr.slot: a replication slot name "
                            + "is 1 to 63 lowercase letters, digits and '_'; got '" + slot + "'");
                }
            });
        }
    }

    /** The configured labels, sorted. */
    public Set<String> labels() {
        return new TreeSet<>(config.databases().keySet());
    }

    /** Whether {@code label} is configured. */
    public boolean configured(String label) {
        return config.databases().containsKey(label);
    }

    /** The database for a request: the given label, or the only one configured when none is given. */
    public String resolve(String label) {
        if (label == null || label.isBlank()) {
            if (config.databases().size() == 1) {
                return config.databases().keySet().iterator().next();
            }
            throw new InvalidRequest("Several databases are configured; name one with \"database\": " + labels());
        }
        return require(label);
    }

    /** The label if configured, else {@link UnknownDatabase}. */
    public String require(String label) {
        BackupIds.validateLabel(label);
        if (!configured(label)) {
            throw new UnknownDatabase("No database labelled '" + label + "' is configured; configured: " + labels());
        }
        return label;
    }

    /** Key prefix of the database's backups, without trailing slash. */
    public String prefix(String label) {
        return database(label).flatMap(Database::prefix).map(p -> p.replaceAll("/+$", ""))
                .orElse(BackupCatalog.defaultPrefix(label));
    }

    /** Database name on the server: the configured one, else the label. */
    public String databaseName(String label) {
        return database(label).flatMap(Database::database).orElse(label);
    }

    /** How to connect; the password file is read now, so a rotated Secret is picked up without a restart. */
    public PgConnection connection(String label) {
        Database db = database(require(label)).orElseThrow();
        return new PgConnection(db.host(), db.port(), databaseName(label), db.user(),
                Secrets.read(db.password(), db.passwordFile(), "lifeboat.databases." + label + ".password-file"));
    }

    /** Whether point-in-time recovery is enabled for the database ({@code pitr.enabled}). */
    public boolean pitrEnabled(String label) {
        return database(label).map(d -> d.pitr().enabled()).orElse(false);
    }

    /** The database's PITR settings. */
    public DatabasesConfig.Pitr pitr(String label) {
        return database(require(label)).orElseThrow().pitr();
    }

    /**
     * How the replication role connects (pg_basebackup, the replication check): {@code pitr.user} with its password
     * ({@code pitr.password} / {@code pitr.password-file}); without {@code pitr.user}, the database's user and, when no
     * PITR password is set, its password. The password file is read now.
     */
    public PgConnection replicationConnection(String label) {
        Database db = database(require(label)).orElseThrow();
        DatabasesConfig.Pitr pitr = db.pitr();
        Optional<String> password = Secrets.read(pitr.password(), pitr.passwordFile(),
                "lifeboat.databases." + label + ".pitr.password-file");
        if (password.isEmpty() && pitr.user().isEmpty()) {
            password = Secrets.read(db.password(), db.passwordFile(), "lifeboat.databases." + label + ".password-file");
        }
        return new PgConnection(db.host(), db.port(), databaseName(label), pitr.user().orElse(db.user()), password);
    }

    /** The replication slot of the database's WAL archive: {@code pitr.slot}, else {@code lifeboat_<label>}. */
    public String slot(String label) {
        String fallback = "lifeboat_" + label.toLowerCase(java.util.Locale.ROOT).replace('-', '_');
        return database(require(label)).orElseThrow().pitr().slot()
                .orElse(fallback.substring(0, Math.min(fallback.length(), 63)));
    }

    /** The database's own RPO, if configured. */
    public Optional<Duration> rpo(String label) {
        return database(label).flatMap(Database::rpo);
    }

    /** The database's own RTO, if configured. */
    public Optional<Duration> rto(String label) {
        return database(label).flatMap(Database::rto);
    }

    /** The database's retention overrides ({@code lifeboat.databases.<label>.retention.*}), if configured. */
    public Optional<DatabasesConfig.Retention> retention(String label) {
        return database(label).map(Database::retention);
    }

    private Optional<Database> database(String label) {
        return Optional.ofNullable(config.databases().get(label));
    }

    /**
     * The catalog of completed backups, laid out with the configured prefixes, signing and checking records with the
     * integrity keys; {@code lifeboat_untrusted_records{database}} counts what it refused per configured database.
     */
    @Produces
    @Singleton
    BackupCatalog catalog(ObjectStore store, StoreConfig storeConfig, MeterRegistry registry) {
        Integrity integrity = Integrity.fromKeyFile(storeConfig.integrityKeyFile());
        if (!integrity.enabled()) {
            LOG.warn("lifeboat.store.integrity-key-file is not set: metadata and verification records are neither "
                    + "signed nor checked, so anyone who can write to the store can plant a backup or a verdict");
        }
        BackupCatalog catalog = new BackupCatalog(store, this::prefix, integrity, registry);
        labels().forEach(catalog::trackUntrusted);
        return catalog;
    }
}
