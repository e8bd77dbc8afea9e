package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RolesOption;
import dev.lifeboat.common.error.Errors.ChecksumMismatch;
import dev.lifeboat.common.error.Errors.RolesMissing;
import dev.lifeboat.common.error.Errors.StoreUnavailable;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.RoleScript;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.TimeLimit;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.StringWriter;
import java.io.Writer;
import java.time.Duration;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The roles a backup refers to, against a target server (DESIGN §3 step 1): the backup's roles object is read through
 * the read chain (size, SHA-256, decryption) and the target asked which of its roles it lacks, before anything is
 * touched. {@code require} refuses then and there; {@code create-missing} yields the SQL that creates them, which the
 * load runs inside its transaction (CREATE ROLE is transactional: a rollback removes them again).
 */
final class TargetRoles {
    /** A roles object larger than this is refused: role definitions are small, and the plan is held in memory. */
    static final int MAX_ROLES_BYTES = 32 << 20;

    private TargetRoles() {
    }

    /**
     * What the load does about roles. {@code createSql} may hold password hashes: it goes to psql only, never to a log,
     * a job or a response.
     */
    record Plan(List<String> inBackup, List<String> missing, String createSql) {
        static final Plan NONE = new Plan(List.of(), List.of(), "");

        /** For the step detail: names only. */
        String describe() {
            if (inBackup.isEmpty()) {
                return "no roles stored with the backup";
            }
            return inBackup.size() + " roles referred to" + (missing.isEmpty() ? ", all present on the target"
                    : ", missing on the target (created in the load): " + missing);
        }
    }

    /**
     * Reads the roles object of {@code backup} and compares it with the roles of the server {@code connection} points
     * at. A backup without a roles object (written before they were stored) gets {@link Plan#NONE}: it restores as
     * before.
     *
     * @throws RolesMissing     with {@link RolesOption#REQUIRE} when the target lacks any, naming them
     * @throws ChecksumMismatch when the roles object is missing, damaged or does not decrypt
     */
    static Plan plan(ObjectStore store, BackupMetadata backup, List<String> identities, PgTools pgTools,
                     PgConnection connection, RolesOption option, String targetName) {
        BackupMetadata.RolesObject roles = backup.roles();
        if (roles == null) {
            return Plan.NONE;
        }
        String text = read(store, backup, identities);
        List<String> missing = missing(pgTools, connection, roles.names());
        if (option == RolesOption.REQUIRE && !missing.isEmpty()) {
            throw new RolesMissing("Target '" + targetName + "' lacks roles that backup " + backup.id() + " refers to: "
                    + missing + ". Nothing was changed. Create them first, or send \"roles\": \"create-missing\" to create "
                    + "them in the restore (" + (roles.passwords() ? "with the backup's passwords" : "NOLOGIN: the backup "
                    + "holds no passwords") + ").");
        }
        if (missing.isEmpty()) {
            return new Plan(roles.names(), missing, "");
        }
        try {
            List<RoleScript.Statement> statements = RoleScript.parse(new StringReader(text));
            List<String> defined = statements.stream().filter(s -> s.kind() == RoleScript.Kind.CREATE)
                    .map(RoleScript.Statement::role).toList();
            List<String> undefined = missing.stream().filter(r -> !defined.contains(r)).toList();
            if (!undefined.isEmpty()) {
                throw new ChecksumMismatch("The roles object of backup " + backup.id() + " does not define " + undefined
                        + ", which its metadata lists.");
            }
            return new Plan(roles.names(), missing, RoleScript.createMissing(statements, missing, roles.passwords()));
        } catch (IOException e) {
            throw new ChecksumMismatch("The roles object of backup " + backup.id() + " is not readable SQL: "
                    + e.getMessage());
        }
    }

    /**
     * The roles database {@code source} of a recovered cluster (a point-in-time restore) refers to
     * ({@link RoleScript#REFERENCED_ROLES_SQL}), their definitions read from that cluster with pg_dumpall
     * {@code --roles-only}, against the target server, as {@link #plan} does for a logical backup's roles object.
     * Passwords are carried only into an in-place target ({@code passwords}); a scratch target gets the missing roles
     * NOLOGIN, as a roles object without passwords would.
     *
     * @throws RolesMissing with {@link RolesOption#REQUIRE} when the target lacks any, naming them
     */
    static Plan fromRecovered(PgTools pgTools, int major, PgConnection source, PgConnection target, RolesOption option,
                              boolean passwords, String targetName, Duration timeout) {
        String json = pgTools.psqlQuery(pgTools.forServer("psql", major), source.withSettings(
                java.util.Map.of("client_encoding", "UTF8")), RoleScript.REFERENCED_ROLES_SQL).strip();
        List<String> referenced;
        try {
            referenced = List.of(Json.read(json.getBytes(StandardCharsets.UTF_8), String[].class));
        } catch (IOException e) {
            throw new IllegalStateException("Unexpected answer about the recovered database's roles: " + e.getMessage(), e);
        }
        List<String> missing = missing(pgTools, target, referenced);
        if (option == RolesOption.REQUIRE && !missing.isEmpty()) {
            throw new RolesMissing("Target '" + targetName + "' lacks roles that the recovered database refers to: "
                    + missing + ". Nothing was changed. Create them first, or send \"roles\": \"create-missing\" to "
                    + "create them in the restore.");
        }
        if (missing.isEmpty()) {
            return new Plan(referenced, missing, "");
        }
        List<String> args = new java.util.ArrayList<>(List.of("--no-password", "--roles-only",
                "--database=" + source.database()));
        if (!passwords) {
            args.add("--no-role-passwords");
        }
        StringWriter text = new StringWriter();
        try (PgProcess dumpall = PgProcess.start(pgTools.forServer("pg_dumpall", major).path(), args,
                source.withSettings(java.util.Map.of("client_encoding", "UTF8")), pgTools.connectTimeout(),
                new TimeLimit(timeout, "lifeboat.restore.timeout"))) {
            dumpall.stdin().close();
            Writer bounded = new Writer() {
                @Override
                public void write(char[] c, int off, int len) throws IOException {
                    if (text.getBuffer().length() + len > MAX_ROLES_BYTES) {
                        throw new IOException("pg_dumpall --roles-only wrote more than " + MAX_ROLES_BYTES + " bytes");
                    }
                    text.write(c, off, len);
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            };
            RoleScript.filter(new BufferedReader(new InputStreamReader(dumpall.stdout(), StandardCharsets.UTF_8)),
                    referenced, bounded);
            dumpall.waitSuccess();
            List<RoleScript.Statement> statements = RoleScript.parse(new StringReader(text.toString()));
            return new Plan(referenced, missing, RoleScript.createMissing(statements, missing, passwords));
        } catch (IOException e) {
            throw new IllegalStateException("Cannot read the role definitions of the recovered cluster: "
                    + e.getMessage(), e);
        }
    }

    /** The roles of {@code names} the server lacks, asked in one query (the names travel as one JSON literal). */
    static List<String> missing(PgTools pgTools, PgConnection connection, List<String> names) {
        if (names.isEmpty()) {
            return List.of();
        }
        String sql = "SELECT coalesce(json_agg(n ORDER BY n), '[]') FROM json_array_elements_text("
                + Sql.literal(asciiJson(names)) + "::json) AS n"
                + " WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = n)";
        String json = pgTools.psqlQuery(pgTools.newest("psql"), connection.withSettings(
                java.util.Map.of("client_encoding", "UTF8")), sql).strip();
        try {
            return List.of(Json.read(json.getBytes(StandardCharsets.UTF_8), String[].class));
        } catch (IOException e) {
            throw new IllegalStateException("Unexpected answer about the target's roles: " + e.getMessage(), e);
        }
    }

    /** A JSON array of strings in ASCII only (\\u escapes), so the query survives any locale's argv encoding. */
    static String asciiJson(List<String> names) {
        StringBuilder out = new StringBuilder("[");
        for (String name : names) {
            if (out.length() > 1) {
                out.append(',');
            }
            out.append('"');
            for (char c : name.toCharArray()) {
                if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
                    out.append(String.format("\\u%04x", (int) c));
                } else {
                    out.append(c);
                }
            }
            out.append('"');
        }
        return out.append(']').toString();
    }

    private static String read(ObjectStore store, BackupMetadata backup, List<String> identities) {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        ReadChain.Result result;
        try {
            result = ReadChain.read(store, ReadChain.StoredObject.roles(backup), identities, new Measure(),
                    (b, off, len) -> {
                        if (text.size() + len > MAX_ROLES_BYTES) {
                            throw new IOException("the roles object decodes to more than " + MAX_ROLES_BYTES + " bytes");
                        }
                        text.write(b, off, len);
                    });
        } catch (ReadChain.SinkFailed e) {
            throw new ChecksumMismatch("The roles object of backup " + backup.id() + " cannot be used: "
                    + e.getMessage());
        }
        if (result.outcome() == ReadChain.Outcome.STORE_ERROR) {
            throw new StoreUnavailable(result.detail(), null);
        }
        if (!result.ok()) {
            throw new ChecksumMismatch(result.detail() + " Nothing was changed.");
        }
        return text.toString(StandardCharsets.UTF_8);
    }
}
