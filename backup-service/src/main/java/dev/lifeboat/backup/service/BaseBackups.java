package dev.lifeboat.backup.service;

import dev.lifeboat.backup.config.BackupServiceConfig;
import dev.lifeboat.common.catalog.BackupCatalog;
import dev.lifeboat.common.catalog.BackupCatalog.PitrCheck;
import dev.lifeboat.common.config.DatabaseRegistry;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.Codec;
import dev.lifeboat.common.pipeline.TarWatch;
import dev.lifeboat.common.pipeline.WriteChain;
import dev.lifeboat.common.store.BucketLifecycle;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.store.ObjectStore.PendingObject;
import io.quarkus.runtime.annotations.RegisterForReflection;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jboss.logging.Logger;

/**
 * The first slice of point-in-time recovery in backup-service: what a database's server must offer (checked at
 * start-up and before each base backup, recorded for verify-service's status), and the base backup itself:
 * {@code pg_basebackup -Ft -D - -X none -c fast} of the server's major, its tar streamed through the same write chain
 * as a dump (compression, age, SHA-256, multipart upload; never a temporary file) into {@code <prefix>/base/<id>},
 * watched as it passes for {@code backup_label} (start LSN, timeline) and {@code backup_manifest} (its SHA-256). The
 * job bookkeeping (registry, Lease, journal) is {@link BackupService}'s, as for a logical backup.
 */
@ApplicationScoped
public class BaseBackups {
    private static final Logger LOG = Logger.getLogger(BaseBackups.class);
    static final String BACKUP_LABEL = "backup_label";
    static final String BACKUP_MANIFEST = "backup_manifest";
    private static final Pattern START = Pattern.compile("(?m)^START WAL LOCATION: ([0-9A-F]+/[0-9A-F]+)");
    private static final Pattern CHECKPOINT = Pattern.compile("(?m)^CHECKPOINT LOCATION: ([0-9A-F]+/[0-9A-F]+)");
    private static final Pattern TIMELINE = Pattern.compile("(?m)^START TIMELINE: (\\d+)");
    /** The manifest's WAL range (pg_basebackup prints none with {@code -X none}): the last one's end. */
    private static final Pattern END = Pattern.compile("\"End-LSN\": \"([0-9A-F]+/[0-9A-F]+)\"");
    private static final Pattern MANIFEST_CHECKSUM = Pattern.compile("\"Manifest-Checksum\": \"([0-9a-f]{64})\"");
    private static final Pattern LSN = Pattern.compile("[0-9A-F]{1,8}/[0-9A-F]{1,8}");

    private final DatabaseRegistry databases;
    private final BackupCatalog catalog;
    private final ObjectStore store;
    private final PgTools pgTools;
    private final BackupServiceConfig config;

    public BaseBackups(DatabaseRegistry databases, BackupCatalog catalog, ObjectStore store, PgTools pgTools,
                       BackupServiceConfig config) {
        this.databases = databases;
        this.catalog = catalog;
        this.store = store;
        this.pgTools = pgTools;
        this.config = config;
    }

    /** What the server and the PITR role look like, asked as the database's user (any role may read these). */
    @RegisterForReflection
    record ServerFacts(String walLevel, int maxWalSenders, int maxReplicationSlots, String maxSlotWalKeepSize,
                       Boolean roleExists, Boolean replication, Boolean superuser, Boolean login,
                       List<String> tablespaces) {
    }

    /** A check's outcome, with the cluster's identity when the replication connection answered. */
    record Checked(PitrCheck check, String systemIdentifier, int timeline) {
    }

    /**
     * Checks what PITR needs of the database's server, records the outcome in the store (verify-service shows it) and
     * logs it. Refusals (the {@code reasons} of "PITR unavailable: ..."): {@code wal_level} below replica,
     * {@code max_wal_senders} below 3, {@code max_replication_slots} below 1, a PITR role that does not exist or lacks
     * LOGIN or REPLICATION (a superuser needs no REPLICATION), user tablespaces (a tar on stdout holds one tablespace),
     * and a replication connection that fails (a {@code host replication} line missing from pg_hba.conf shows here).
     * A warning only: {@code max_slot_wal_keep_size} unset, which matters once the WAL archive holds a slot, not for a
     * base backup.
     */
    Checked check(String db) {
        List<String> reasons = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        PgConnection replication = databases.replicationConnection(db);
        String role = replication.user();
        PgTools.Program psql = pgTools.newest("psql");
        try {
            ServerFacts f = facts(psql, databases.connection(db), role);
            if (!"replica".equals(f.walLevel()) && !"logical".equals(f.walLevel())) {
                reasons.add("wal_level is " + f.walLevel() + " (needs replica or logical)");
            }
            if (f.maxWalSenders() < 3) {
                reasons.add("max_wal_senders is " + f.maxWalSenders() + " (needs at least 3: the WAL receiver, a base "
                        + "backup and one spare)");
            }
            if (f.maxReplicationSlots() < 1) {
                reasons.add("max_replication_slots is " + f.maxReplicationSlots() + " (needs at least 1, for the WAL "
                        + "archive's slot)");
            }
            if (!Boolean.TRUE.equals(f.roleExists())) {
                reasons.add("the PITR role '" + role + "' does not exist (lifeboat.databases." + db + ".pitr.user)");
            } else {
                if (!Boolean.TRUE.equals(f.replication()) && !Boolean.TRUE.equals(f.superuser())) {
                    reasons.add("the PITR role '" + role + "' lacks REPLICATION (ALTER ROLE ... REPLICATION)");
                }
                if (!Boolean.TRUE.equals(f.login())) {
                    reasons.add("the PITR role '" + role + "' lacks LOGIN");
                }
            }
            if (f.tablespaces() != null && !f.tablespaces().isEmpty()) {
                reasons.add("the cluster has user tablespaces " + f.tablespaces() + ": base backups are streamed as one "
                        + "tar, which holds only the default tablespace");
            }
            if ("-1".equals(f.maxSlotWalKeepSize())) {
                warnings.add("max_slot_wal_keep_size is not set (-1): a stalled WAL receiver's slot could fill the "
                        + "server's disk; set it before the WAL archive runs");
            }
        } catch (RuntimeException e) {
            reasons.add("cannot read the server's settings as '" + databases.connection(db).user() + "': "
                    + Errors.describe(e));
        }
        String systemIdentifier = null;
        int timeline = 0;
        try {
            String[] fields = pgTools.replicationCommand(psql, replication, "IDENTIFY_SYSTEM").strip().split("\\|");
            if (fields.length < 2 || !fields[0].matches("\\d+") || !fields[1].matches("\\d+")) {
                throw new PgToolFailed("unexpected answer to IDENTIFY_SYSTEM: " + String.join("|", fields));
            }
            systemIdentifier = fields[0];
            timeline = Integer.parseInt(fields[1]);
        } catch (RuntimeException e) {
            reasons.add("a replication connection as '" + role + "' fails (pg_hba.conf needs a 'host replication' line "
                    + "for the role; max_wal_senders above 0): " + Errors.describe(e));
        }
        String message = reasons.isEmpty() ? null : "PITR unavailable: " + String.join("; ", reasons);
        PitrCheck check = new PitrCheck(db, reasons.isEmpty(), List.copyOf(reasons), List.copyOf(warnings), message,
                Instant.now());
        if (message != null) {
            LOG.warnf("%s: %s (logical backups go on)", db, message);
        }
        warnings.forEach(w -> LOG.warnf("%s: PITR warning: %s", db, w));
        try {
            catalog.recordPitrCheck(check);
        } catch (IOException | RuntimeException e) {
            LOG.warnf("Cannot record the PITR check of %s in the store: %s", db, e.getMessage());
        }
        return new Checked(check, systemIdentifier, timeline);
    }

    private ServerFacts facts(PgTools.Program psql, PgConnection connection, String role) {
        // the role name as hex, decoded by the server: no quoting of a configured name in SQL
        String roleHex = HexFormat.of().formatHex(role.getBytes(StandardCharsets.UTF_8));
        String match = "FROM pg_roles r WHERE r.rolname = convert_from(decode('" + roleHex + "', 'hex'), 'UTF8')";
        String roleRow = "(SELECT r " + match + ")";
        String sql = "SELECT json_build_object("
                + "'walLevel', current_setting('wal_level'),"
                + "'maxWalSenders', current_setting('max_wal_senders')::int,"
                + "'maxReplicationSlots', current_setting('max_replication_slots')::int,"
                + "'maxSlotWalKeepSize', current_setting('max_slot_wal_keep_size'),"
                + "'roleExists', EXISTS (SELECT 1 " + match + "),"
                + "'replication', (" + roleRow + ").rolreplication,"
                + "'superuser', (" + roleRow + ").rolsuper,"
                + "'login', (" + roleRow + ").rolcanlogin,"
                + "'tablespaces', (SELECT coalesce(json_agg(spcname ORDER BY spcname), '[]') FROM pg_tablespace"
                + " WHERE spcname NOT IN ('pg_default', 'pg_global')))";
        String json = pgTools.psqlQuery(psql, connection, sql).strip();
        try {
            return Json.read(json.getBytes(StandardCharsets.UTF_8), ServerFacts.class);
        } catch (IOException e) {
            throw new PgToolFailed("Unexpected answer about the server's settings: " + e.getMessage(), e);
        }
    }

    /**
     * The BASE_BACKUP step: pg_basebackup's tar through {@code chain}'s stages into {@code <prefix>/base/<id>}, the
     * data object committed once pg_basebackup exited 0 and every stage finished. Returns the metadata to commit;
     * any failure leaves no object and no pending upload.
     */
    BaseBackupMetadata copy(BackupJob job, Checked checked, Codec codec, List<String> recipients) throws IOException {
        String db = job.database();
        PgConnection connection = databases.replicationConnection(db);
        int serverVersion = pgTools.serverVersionNum(databases.connection(db));
        PgTools.Program pgBasebackup = pgTools.forServerVersion("pg_basebackup", serverVersion);
        String key = catalog.baseDataKey(db, job.id());
        List<String> args = List.of("--no-password", "--format=tar", "--pgdata=-", "--wal-method=none",
                "--checkpoint=fast", "--label=lifeboat " + job.id());
        WriteChain chain;
        TarWatch tar;
        try (PendingObject pending = store.create(key, BucketLifecycle.DATA_TAGS);
             PgProcess basebackup = PgProcess.start(pgBasebackup.path(), args, connection, pgTools.connectTimeout(),
                     new TimeLimit(config.backup().timeout(), "lifeboat.backup.timeout"))) {
            basebackup.stdin().close();
            job.dump = basebackup;
            if (job.interruption() != null) {
                basebackup.kill();
            }
            chain = new WriteChain(pending, codec, null, job.stored);
            job.chain = chain;
            tar = new TarWatch(basebackup.stdout(), Set.of(BACKUP_LABEL), Set.of(BACKUP_MANIFEST));
            try {
                chain.transferFrom(config.backup().maxRate().isPresent()
                        ? new ReadRate(tar, config.backup().maxRate().getAsLong()) : tar);
                basebackup.waitSuccess();
                chain.finish();
            } finally {
                chain.discard();
            }
            if (!tar.complete()) {
                throw new IOException("pg_basebackup's tar has no end-of-archive marker after " + tar.members()
                        + " member(s)");
            }
            String label = tar.text(BACKUP_LABEL);
            if (label == null) {
                throw new IOException("pg_basebackup's tar has no backup_label (" + tar.members() + " members)");
            }
            String startLsn = group(START, label, "START WAL LOCATION in backup_label");
            String checkpointLsn = group(CHECKPOINT, label, "CHECKPOINT LOCATION in backup_label");
            int timeline = Integer.parseInt(group(TIMELINE, label, "START TIMELINE in backup_label"));
            String manifest = tar.tail(BACKUP_MANIFEST);
            if (manifest == null) {
                throw new IOException("pg_basebackup's tar has no backup_manifest (" + tar.members() + " members)");
            }
            String endLsn = last(END, manifest, "End-LSN in backup_manifest's WAL-Ranges");
            String manifestChecksum = group(MANIFEST_CHECKSUM, manifest, "Manifest-Checksum in backup_manifest");
            if (!LSN.matcher(startLsn).matches() || !LSN.matcher(endLsn).matches()) {
                throw new IOException("Unexpected LSNs from pg_basebackup: start " + startLsn + ", end " + endLsn);
            }
            pending.commit();
            return new BaseBackupMetadata(BaseBackupMetadata.SCHEMA_VERSION, job.id(), db, key,
                    PgTools.release(serverVersion), pgBasebackup.version(), checked.systemIdentifier(), timeline,
                    startLsn, checkpointLsn, endLsn, tar.sha256(BACKUP_MANIFEST), manifestChecksum,
                    config.backup().compression(),
                    recipients, job.trigger(), job.labels(), job.startedAt(), Instant.now(), job.elapsedSeconds(),
                    chain.rawBytes(), job.bytesStored(), job.stored.sha256Hex(), null);
        } finally {
            job.dump = null;
        }
    }

    private static String last(Pattern pattern, String text, String what) throws IOException {
        Matcher m = pattern.matcher(text);
        String found = null;
        while (m.find()) {
            found = m.group(1);
        }
        if (found == null) {
            throw new IOException("No " + what);
        }
        return found;
    }

    private static String group(Pattern pattern, String text, String what) throws IOException {
        Matcher m = pattern.matcher(text);
        if (!m.find()) {
            throw new IOException("No " + what);
        }
        return m.group(1);
    }
}
