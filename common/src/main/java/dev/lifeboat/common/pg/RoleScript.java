package dev.lifeboat.common.pg;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The role definitions of a backup: {@code pg_dumpall --roles-only} output, cut into statements and told apart by
 * what they are about. At backup time {@link #filter} streams pg_dumpall's output and keeps only the statements about
 * the roles the database refers to (pg_dumpall has no such option); at restore time {@link #parse} reads the stored
 * text back and {@link #createMissing} writes the SQL that creates the roles a target lacks.
 *
 * <p>Why a small lexer instead of lines: a role name, a comment or a setting value may hold newlines and semicolons
 * inside quotes. pg_dumpall writes only the statement shapes below, with standard-conforming strings, so quotes
 * ({@code '...'}, {@code "..."}, doubled to escape), {@code --} and block comments, and psql meta-commands at the start
 * of a statement ({@code \restrict}) are all there is to know. Anything not recognised is dropped, never kept blind.
 */
public final class RoleScript {
    /** The longest statement accepted: a role statement is short; this bounds memory whatever pg_dumpall writes. */
    static final int MAX_STATEMENT = 1 << 20;

    private RoleScript() {
    }

    /** What a statement is about. */
    public enum Kind {
        /** {@code SET name = value}: a session setting of the script (encoding, quoting). */
        SETTING,
        /** {@code CREATE ROLE r}. */
        CREATE,
        /** {@code ALTER ROLE r WITH ...}: the role's attributes (login, limits, password). */
        ATTRIBUTES,
        /** {@code ALTER ROLE r SET ...} / {@code RESET}: a per-role default setting. */
        CONFIG,
        /** {@code COMMENT ON ROLE r IS ...}. */
        COMMENT,
        /** {@code SECURITY LABEL ... ON ROLE r IS ...}. */
        SECURITY_LABEL,
        /** {@code GRANT g TO m ...}: membership of {@code member} in {@code role}. */
        MEMBERSHIP,
        /** {@code GRANT ... ON PARAMETER p TO r}: a privilege on a configuration parameter (15+). */
        PARAMETER_GRANT,
        /** Anything else (never kept). */
        OTHER
    }

    /** A token of a statement, with its place in the statement's text. */
    record Token(Type type, String text, int start, int end) {
        enum Type { WORD, QUOTED, STRING, SYMBOL }

        boolean is(String keyword) {
            return type == Type.WORD && text.equalsIgnoreCase(keyword);
        }

        /** The identifier this token names: unquoted ones fold to lower case, as PostgreSQL does. */
        String identifier() {
            return switch (type) {
                case QUOTED -> text.substring(1, text.length() - 1).replace("\"\"", "\"");
                case WORD -> text.toLowerCase(Locale.ROOT);
                default -> null;
            };
        }
    }

    /**
     * One statement, ending with its {@code ;}.
     *
     * @param role   the role it is about (for a membership, the role granted); null for settings and others
     * @param member for a membership, the role that becomes a member
     */
    public record Statement(String text, Kind kind, String role, String member, List<Token> tokens) {
    }

    /**
     * The roles the current database's objects refer to, as a JSON array of names: owners and grantees (and grantors)
     * of its objects, of default privileges and of policies (pg_shdepend records them per database), the database's
     * owner and the roles in its ACL. Not the bootstrap superuser (oid 10, which pg_shdepend does not record anyway:
     * every server has one) and not the predefined {@code pg_*} roles, which every server of the major has.
     */
    public static final String REFERENCED_ROLES_SQL = "SELECT coalesce(json_agg(r.rolname ORDER BY r.rolname), '[]') "
            + "FROM pg_roles r WHERE r.oid <> 10 AND r.rolname !~ '^pg_' AND r.oid IN ("
            + "SELECT refobjid FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass"
            + " AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            + " UNION SELECT datdba FROM pg_database WHERE datname = current_database()"
            + " UNION SELECT a.grantee FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database()"
            + " UNION SELECT a.grantor FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = current_database())";

    /**
     * Streams {@code dumpall} (pg_dumpall's output) to {@code out}, keeping the session settings and the statements
     * about the roles in {@code keep}: their CREATE, attributes, settings, comment and security labels, their
     * memberships in each other and in predefined ({@code pg_*}) roles, and their privileges on parameters. Comments and
     * psql meta-commands are dropped, so the result is plain SQL psql runs as is. Returns the names whose CREATE was kept,
     * in pg_dumpall's order. One statement at a time is held, never the whole output.
     */
    public static List<String> filter(Reader dumpall, Collection<String> keep, Writer out) throws IOException {
        Set<String> wanted = Set.copyOf(keep);
        Set<String> created = new LinkedHashSet<>();
        IOException[] failed = new IOException[1];
        out.write("--\n-- Roles the database refers to (Lifeboat: pg_dumpall --roles-only, filtered)\n--\n\n");
        split(dumpall, s -> {
            if (failed[0] != null || !kept(s, wanted)) {
                return;
            }
            if (s.kind() == Kind.CREATE) {
                created.add(s.role());
            }
            try {
                out.write(s.text());
                out.write('\n');
            } catch (IOException e) {
                failed[0] = e;
            }
        });
        if (failed[0] != null) {
            throw failed[0];
        }
        return List.copyOf(created);
    }

    private static boolean kept(Statement s, Set<String> wanted) {
        return switch (s.kind()) {
            case SETTING -> true;
            case CREATE, ATTRIBUTES, CONFIG, COMMENT, SECURITY_LABEL, PARAMETER_GRANT -> wanted.contains(s.role());
            case MEMBERSHIP -> wanted.contains(s.member()) && (wanted.contains(s.role()) || s.role().startsWith("pg_"));
            case OTHER -> false;
        };
    }

    /** The statements of a stored roles object. */
    public static List<Statement> parse(Reader script) throws IOException {
        List<Statement> out = new ArrayList<>();
        split(script, out::add);
        return out;
    }

    /**
     * The SQL that creates the roles of {@code missing} from their stored definitions, for a restore transaction:
     * each CREATE, then the attributes ({@code NOLOGIN} instead of {@code LOGIN} unless {@code passwords}: a role
     * without its password must not become a way in; the superuser-only defaults left out), per-role settings, comments, the memberships of the created roles
     * (in created or existing roles; an existing role never gains a membership, and the grantor is the restoring user,
     * as the backup's grantor may not exist here) and their privileges on parameters. Security labels are left out:
     * they need the label provider loaded on the target. Empty when nothing is missing.
     */
    public static String createMissing(List<Statement> statements, Collection<String> missing, boolean passwords) {
        Set<String> create = Set.copyOf(missing);
        if (create.isEmpty()) {
            return "";
        }
        StringBuilder sql = new StringBuilder("SET client_encoding = 'UTF8';\n");
        for (Kind kind : List.of(Kind.CREATE, Kind.ATTRIBUTES, Kind.CONFIG, Kind.COMMENT, Kind.MEMBERSHIP,
                Kind.PARAMETER_GRANT)) {
            for (Statement s : statements) {
                if (s.kind() != kind) {
                    continue;
                }
                String role = kind == Kind.MEMBERSHIP ? s.member() : s.role();
                if (!create.contains(role)) {
                    continue;
                }
                String text = switch (kind) {
                    case ATTRIBUTES -> withoutDefaults(passwords ? s.text() : replaceWord(s, "LOGIN", "NOLOGIN"));
                    case MEMBERSHIP -> withoutGrantor(s);
                    default -> s.text();
                };
                sql.append(text).append('\n');
            }
        }
        return sql.toString();
    }

    /** The statement with each {@code word} token (a keyword, never inside quotes) replaced. */
    private static String replaceWord(Statement s, String word, String replacement) {
        StringBuilder out = new StringBuilder(s.text());
        List<Token> tokens = s.tokens();
        for (int i = tokens.size() - 1; i >= 0; i--) {
            Token t = tokens.get(i);
            if (t.is(word)) {
                out.replace(t.start(), t.end(), replacement);
            }
        }
        return out.toString();
    }

    /**
     * Attributes without the ones CREATE ROLE gives anyway ({@code NOSUPERUSER}, {@code NOREPLICATION},
     * {@code NOBYPASSRLS}): PostgreSQL lets only a superuser name those, even to say "no", so a restoring user with
     * CREATEROLE could not otherwise create an ordinary role.
     */
    private static String withoutDefaults(String attributes) {
        Statement s = classify(attributes);
        StringBuilder out = new StringBuilder(attributes);
        List<Token> tokens = s.tokens();
        for (int i = tokens.size() - 1; i >= 0; i--) {
            Token t = tokens.get(i);
            if (t.is("NOSUPERUSER") || t.is("NOREPLICATION") || t.is("NOBYPASSRLS")) {
                int start = t.start() > 0 && out.charAt(t.start() - 1) == ' ' ? t.start() - 1 : t.start();
                out.delete(start, t.end());
            }
        }
        return out.toString();
    }

    /** A membership grant without its {@code GRANTED BY} clause. */
    private static String withoutGrantor(Statement s) {
        for (Token t : s.tokens()) {
            if (t.is("GRANTED")) {
                return s.text().substring(0, t.start()).stripTrailing() + ";";
            }
        }
        return s.text();
    }

    // ---- lexing ----

    /** Cuts {@code in} into statements and hands each to {@code sink}; comments and meta-commands are skipped. */
    static void split(Reader source, Consumer<Statement> sink) throws IOException {
        Reader in = source.markSupported() ? source : new BufferedReader(source);
        StringBuilder current = new StringBuilder();
        int c;
        int quote = 0; // the open quote character, or 0
        boolean lineStart = true;
        while ((c = in.read()) >= 0) {
            if (current.length() > MAX_STATEMENT) {
                throw new IOException("A statement of pg_dumpall's output is longer than " + MAX_STATEMENT + " characters");
            }
            if (quote != 0) {
                current.append((char) c);
                if (c == quote) {
                    if (peek(in) == quote) {
                        current.append((char) in.read()); // a doubled quote stands for itself
                    } else {
                        quote = 0;
                    }
                }
                continue;
            }
            if (c == '\'' || c == '"') {
                quote = c;
                current.append((char) c);
                lineStart = false;
            } else if (c == '-' && peek(in) == '-') {
                skipLine(in);
                lineStart = true;
                current.append('\n');
            } else if (c == '/' && peek(in) == '*') {
                skipBlockComment(in);
                current.append(' ');
            } else if (c == '\\' && lineStart && current.toString().isBlank()) {
                skipLine(in); // a psql meta-command (\restrict, \connect): not SQL
                lineStart = true;
            } else if (c == ';') {
                current.append(';');
                String text = current.toString().strip();
                if (!text.equals(";")) {
                    sink.accept(classify(text));
                }
                current.setLength(0);
                lineStart = false;
            } else {
                current.append((char) c);
                lineStart = c == '\n' || (lineStart && Character.isWhitespace(c));
            }
        }
        if (quote != 0 || !current.toString().isBlank()) {
            throw new IOException("pg_dumpall's output ends inside a statement");
        }
    }

    private static int peek(Reader in) throws IOException {
        in.mark(1);
        int c = in.read();
        in.reset();
        return c;
    }

    private static void skipLine(Reader in) throws IOException {
        for (int c; (c = in.read()) >= 0 && c != '\n'; ) {
            // skipped
        }
    }

    private static void skipBlockComment(Reader in) throws IOException {
        in.read(); // the '*'
        int depth = 1;
        int prev = 0;
        for (int c; depth > 0 && (c = in.read()) >= 0; ) {
            if (prev == '*' && c == '/') {
                depth--;
                c = 0;
            } else if (prev == '/' && c == '*') {
                depth++;
                c = 0;
            }
            prev = c;
        }
    }

    static List<Token> tokens(String text) {
        List<Token> out = new ArrayList<>();
        int i = 0;
        int n = text.length();
        while (i < n) {
            char c = text.charAt(i);
            if (Character.isWhitespace(c)) {
                i++;
            } else if (c == '\'' || c == '"') {
                int j = i + 1;
                while (j < n) {
                    if (text.charAt(j) == c) {
                        if (j + 1 < n && text.charAt(j + 1) == c) {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j++;
                }
                int end = Math.min(n, j + 1);
                out.add(new Token(c == '"' ? Token.Type.QUOTED : Token.Type.STRING, text.substring(i, end), i, end));
                i = end;
            } else if (Character.isLetterOrDigit(c) || c == '_' || c >= 0x80) {
                int j = i + 1;
                while (j < n && (Character.isLetterOrDigit(text.charAt(j)) || text.charAt(j) == '_'
                        || text.charAt(j) == '$' || text.charAt(j) >= 0x80)) {
                    j++;
                }
                out.add(new Token(Token.Type.WORD, text.substring(i, j), i, j));
                i = j;
            } else {
                out.add(new Token(Token.Type.SYMBOL, String.valueOf(c), i, i + 1));
                i++;
            }
        }
        return out;
    }

    static Statement classify(String text) {
        List<Token> t = tokens(text);
        Kind kind = Kind.OTHER;
        String role = null;
        String member = null;
        if (t.size() >= 2 && t.get(0).is("SET")) {
            kind = Kind.SETTING;
        } else if (t.size() >= 3 && t.get(0).is("CREATE") && t.get(1).is("ROLE")) {
            kind = Kind.CREATE;
            role = t.get(2).identifier();
        } else if (t.size() >= 4 && t.get(0).is("ALTER") && t.get(1).is("ROLE")) {
            role = t.get(2).identifier();
            Token next = t.get(3);
            kind = next.is("WITH") ? Kind.ATTRIBUTES : next.is("SET") || next.is("RESET") ? Kind.CONFIG : Kind.OTHER;
        } else if (t.size() >= 5 && t.get(0).is("COMMENT") && t.get(1).is("ON") && t.get(2).is("ROLE")) {
            kind = Kind.COMMENT;
            role = t.get(3).identifier();
        } else if (t.size() >= 4 && t.get(0).is("SECURITY") && t.get(1).is("LABEL")) {
            for (int i = 2; i + 2 < t.size(); i++) {
                if (t.get(i).is("ON") && t.get(i + 1).is("ROLE")) {
                    kind = Kind.SECURITY_LABEL;
                    role = t.get(i + 2).identifier();
                    break;
                }
            }
        } else if (t.size() >= 4 && t.get(0).is("GRANT")) {
            int on = indexOf(t, "ON");
            int to = indexOf(t, "TO");
            if (to > 0 && to + 1 < t.size() && singleGrantee(t, to)) {
                if (on > 0 && on < to && on + 1 < to && t.get(on + 1).is("PARAMETER")) {
                    kind = Kind.PARAMETER_GRANT;
                    role = t.get(to + 1).identifier();
                } else if (on < 0 && to == 2) {
                    kind = Kind.MEMBERSHIP;
                    role = t.get(1).identifier();
                    member = t.get(to + 1).identifier();
                }
            }
        }
        if (kind != Kind.OTHER && kind != Kind.SETTING && role == null) {
            kind = Kind.OTHER;
        }
        return new Statement(text, kind, role, member, t);
    }

    /** Whether exactly one role follows {@code TO} (pg_dumpall writes one per statement; a list is not kept). */
    private static boolean singleGrantee(List<Token> t, int to) {
        int after = to + 2;
        return after >= t.size() || !t.get(after).text().equals(",");
    }

    private static int indexOf(List<Token> t, String keyword) {
        for (int i = 0; i < t.size(); i++) {
            if (t.get(i).is(keyword)) {
                return i;
            }
        }
        return -1;
    }
}
