package dev.lifeboat.restore.service;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.lifeboat.common.error.Errors.InvalidRequest;
import dev.lifeboat.common.model.Json;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgTools;
import io.quarkus.runtime.annotations.RegisterForReflection;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What a database carries outside its own dump: a plain {@code pg_dump} without {@code --create} (what Lifeboat
 * stores) holds none of it, so recreate-database reads it from the live database it replaces and gives it to the
 * new one. The list is what {@code pg_dump --create} emits for the database itself: owner, encoding, locale and
 * locale provider, {@code ALTER DATABASE ... SET} and {@code ALTER ROLE ... IN DATABASE ... SET}
 * (pg_db_role_setting), the ACL (datacl: {@code REVOKE CONNECT ... FROM PUBLIC}, {@code GRANT CONNECT ... TO app}),
 * {@code CONNECTION LIMIT}, the comment and security labels; plus {@code IS_TEMPLATE} and {@code ALLOW_CONNECTIONS}.
 * The tablespace is not carried: the new database is created in the server's default one.
 *
 * <p>The catalog is read as one JSON document built by the server, so no name or value is ever split from psql's
 * text output.
 */
@RegisterForReflection
@JsonIgnoreProperties(ignoreUnknown = true)
record DatabaseSettings(String name, String owner, String encoding, String collate, String ctype,
                        String localeProvider, String locale, int connectionLimit, boolean allowConnections,
                        boolean isTemplate, String comment, List<Grant> grants, List<RoleSetting> settings,
                        List<SecurityLabel> securityLabels) {

    /** One aclitem of datacl, exploded; {@code grantee} null = PUBLIC. {@code grants} null = the default ACL. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    record Grant(String grantee, String privilege, boolean grantable) {
    }

    /** One pg_db_role_setting row of the database: {@code role} null = database-wide; {@code config} name=value. */
    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    record RoleSetting(String role, List<String> config) {
    }

    @RegisterForReflection
    @JsonIgnoreProperties(ignoreUnknown = true)
    record SecurityLabel(String provider, String label) {
    }

    /**
     * Settings whose value is a list that the server stores already quoted (pg_dump's
     * {@code variable_is_guc_list_quote}): they are split and each element written as a literal, as pg_dump does;
     * {@code SET search_path = 'a, public'} would otherwise name one schema called "a, public".
     */
    static final Set<String> LIST_QUOTE = Set.of("local_preload_libraries", "search_path", "session_preload_libraries",
            "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories");

    /** Reads {@code database}'s settings over {@code maintenance}; empty when it does not exist. */
    static java.util.Optional<DatabaseSettings> read(PgTools pgTools, PgConnection maintenance, String database) {
        int version = pgTools.serverVersionNum(maintenance);
        String provider;
        String locale;
        if (version >= 170000) {
            provider = "d.datlocprovider::text";
            locale = "d.datlocale";
        } else if (version >= 150000) {
            provider = "d.datlocprovider::text";
            locale = "d.daticulocale";
        } else {
            provider = "NULL::text";
            locale = "NULL::text";
        }
        String json = pgTools.psqlQuery(pgTools.newest("psql"), maintenance, "SELECT json_build_object("
                + "'name', d.datname, 'owner', pg_get_userbyid(d.datdba), 'encoding', pg_encoding_to_char(d.encoding), "
                + "'collate', d.datcollate, 'ctype', d.datctype, 'localeProvider', " + provider + ", 'locale', " + locale + ", "
                + "'connectionLimit', d.datconnlimit, 'allowConnections', d.datallowconn, 'isTemplate', d.datistemplate, "
                + "'comment', shobj_description(d.oid, 'pg_database'), "
                + "'grants', CASE WHEN d.datacl IS NULL THEN NULL ELSE coalesce((SELECT json_agg(json_build_object("
                + "'grantee', CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, "
                + "'privilege', a.privilege_type, 'grantable', a.is_grantable) ORDER BY a.grantee, a.privilege_type) "
                + "FROM aclexplode(d.datacl) a), '[]'::json) END, "
                + "'settings', coalesce((SELECT json_agg(json_build_object('role', CASE WHEN s.setrole = 0 THEN NULL "
                + "ELSE pg_get_userbyid(s.setrole) END, 'config', s.setconfig) ORDER BY s.setrole) "
                + "FROM pg_db_role_setting s WHERE s.setdatabase = d.oid), '[]'::json), "
                + "'securityLabels', coalesce((SELECT json_agg(json_build_object('provider', l.provider, 'label', l.label) "
                + "ORDER BY l.provider) FROM pg_shseclabel l WHERE l.objoid = d.oid "
                + "AND l.classoid = 'pg_database'::regclass), '[]'::json))::text "
                + "FROM pg_database d WHERE d.datname = " + Sql.literal(database)).strip();
        if (json.isEmpty()) {
            return java.util.Optional.empty();
        }
        try {
            return java.util.Optional.of(Json.read(json.getBytes(StandardCharsets.UTF_8), DatabaseSettings.class));
        } catch (IOException e) {
            throw new IllegalStateException("Unexpected description of database " + database + ": " + e.getMessage(), e);
        }
    }

    /** Reads them, else {@link InvalidRequest} naming the database and the target. */
    static DatabaseSettings require(PgTools pgTools, PgConnection maintenance, String database, String targetName) {
        return read(pgTools, maintenance, database).orElseThrow(() -> new InvalidRequest("Database '" + database
                + "' does not exist on target '" + targetName + "'."));
    }

    /** The options of a {@code CREATE DATABASE ... TEMPLATE template0} that looks like this one. */
    String createOptions() {
        StringBuilder sql = new StringBuilder(" OWNER ").append(Sql.identifier(owner))
                .append(" ENCODING ").append(Sql.literal(encoding))
                .append(" LC_COLLATE ").append(Sql.literal(collate))
                .append(" LC_CTYPE ").append(Sql.literal(ctype));
        if ("i".equals(localeProvider)) {
            sql.append(" LOCALE_PROVIDER icu");
            if (locale != null) {
                sql.append(" ICU_LOCALE ").append(Sql.literal(locale));
            }
        } else if ("b".equals(localeProvider)) {
            sql.append(" LOCALE_PROVIDER builtin");
            if (locale != null) {
                sql.append(" BUILTIN_LOCALE ").append(Sql.literal(locale));
            }
        } else if ("c".equals(localeProvider)) {
            sql.append(" LOCALE_PROVIDER libc");
        }
        return sql.toString();
    }

    /**
     * The statements that give {@code target} (a database just created with {@link #createOptions()}) this
     * database's settings, ACL, connection limit and security labels. Run in one transaction. The comment,
     * {@code IS_TEMPLATE} and {@code ALLOW_CONNECTIONS} are not here: they change with the swap (see
     * {@link #swapStatements}).
     */
    List<String> copyStatements(String target) {
        String db = Sql.identifier(target);
        List<String> out = new ArrayList<>();
        for (RoleSetting s : settings == null ? List.<RoleSetting>of() : settings) {
            String alter = s.role() == null ? "ALTER DATABASE " + db
                    : "ALTER ROLE " + Sql.identifier(s.role()) + " IN DATABASE " + db;
            for (String item : s.config() == null ? List.<String>of() : s.config()) {
                int eq = item.indexOf('=');
                if (eq <= 0) {
                    continue;
                }
                out.add(alter + " SET " + Sql.identifier(item.substring(0, eq)) + " TO " + value(item.substring(0, eq),
                        item.substring(eq + 1)));
            }
        }
        if (grants != null) {
            // from the default ACL to exactly the recorded one: the owner's own entry is in the list if it has one
            out.add("REVOKE ALL ON DATABASE " + db + " FROM PUBLIC");
            out.add("REVOKE ALL ON DATABASE " + db + " FROM " + Sql.identifier(owner));
            for (Grant g : grants) {
                out.add("GRANT " + privilege(g.privilege()) + " ON DATABASE " + db + " TO "
                        + (g.grantee() == null ? "PUBLIC" : Sql.identifier(g.grantee()))
                        + (g.grantable() ? " WITH GRANT OPTION" : ""));
            }
        }
        if (connectionLimit != -1) {
            out.add("ALTER DATABASE " + db + " CONNECTION LIMIT " + connectionLimit);
        }
        for (SecurityLabel l : securityLabels == null ? List.<SecurityLabel>of() : securityLabels) {
            out.add("SECURITY LABEL FOR " + Sql.identifier(l.provider()) + " ON DATABASE " + db + " IS "
                    + Sql.literal(l.label()));
        }
        return out;
    }

    /**
     * What changes in the swap transaction after the renames: {@code current} (the new database, now under this
     * one's name) gets this database's comment (replacing the swap marker), {@code IS_TEMPLATE} and
     * {@code ALLOW_CONNECTIONS}; {@code replaced} (this database, renamed) stops being a template, so it can be
     * dropped.
     */
    List<String> swapStatements(String current, String replaced) {
        List<String> out = new ArrayList<>();
        out.add("COMMENT ON DATABASE " + Sql.identifier(current) + " IS " + (comment == null ? "NULL" : Sql.literal(comment)));
        if (isTemplate) {
            out.add("ALTER DATABASE " + Sql.identifier(replaced) + " IS_TEMPLATE false");
            out.add("ALTER DATABASE " + Sql.identifier(current) + " IS_TEMPLATE true");
        }
        if (!allowConnections) {
            out.add("ALTER DATABASE " + Sql.identifier(current) + " ALLOW_CONNECTIONS false");
        }
        return out;
    }

    /** A short account for the job's step detail. */
    String summary() {
        int count = settings == null ? 0 : settings.stream().mapToInt(s -> s.config() == null ? 0 : s.config().size()).sum();
        return count + " setting(s), " + (grants == null ? "default privileges" : grants.size() + " privilege(s)")
                + (connectionLimit == -1 ? "" : ", connection limit " + connectionLimit)
                + (comment == null ? "" : ", comment") + (isTemplate ? ", template" : "")
                + (allowConnections ? "" : ", connections not allowed");
    }

    private static String privilege(String p) {
        return switch (p) {
            case "CONNECT", "CREATE", "TEMPORARY" -> p;
            default -> throw new IllegalStateException("Unknown database privilege " + p);
        };
    }

    /** A setting's stored value as SQL, as pg_dump's makeAlterConfigCommand writes it. */
    static String value(String name, String stored) {
        if (!LIST_QUOTE.contains(name.toLowerCase(java.util.Locale.ROOT))) {
            return Sql.literal(stored);
        }
        List<String> parts = splitGucList(stored);
        if (parts.isEmpty()) {
            return Sql.literal("");
        }
        return String.join(", ", parts.stream().map(Sql::literal).toList());
    }

    /**
     * PostgreSQL's SplitGUCList: comma-separated elements, surrounding white space dropped, an element in double
     * quotes taken literally (a doubled quote is one quote); unquoted elements are not case-folded.
     */
    static List<String> splitGucList(String value) {
        List<String> out = new ArrayList<>();
        int i = 0;
        int n = value.length();
        while (i < n && Character.isWhitespace(value.charAt(i))) {
            i++;
        }
        if (i == n) {
            return out;
        }
        while (true) {
            StringBuilder element = new StringBuilder();
            if (value.charAt(i) == '"') {
                i++;
                while (true) {
                    if (i >= n) {
                        throw new IllegalArgumentException("Unterminated quoted element in " + value);
                    }
                    char c = value.charAt(i++);
                    if (c == '"') {
                        if (i < n && value.charAt(i) == '"') {
                            element.append('"');
                            i++;
                        } else {
                            break;
                        }
                    } else {
                        element.append(c);
                    }
                }
            } else {
                int start = i;
                while (i < n && value.charAt(i) != ',' && !Character.isWhitespace(value.charAt(i))) {
                    i++;
                }
                element.append(value, start, i);
                if (element.isEmpty()) {
                    throw new IllegalArgumentException("Empty element in " + value);
                }
            }
            out.add(element.toString());
            while (i < n && Character.isWhitespace(value.charAt(i))) {
                i++;
            }
            if (i >= n) {
                return out;
            }
            if (value.charAt(i) != ',') {
                throw new IllegalArgumentException("Unexpected character in " + value);
            }
            i++;
            while (i < n && Character.isWhitespace(value.charAt(i))) {
                i++;
            }
        }
    }
}
