package dev.lifeboat.common.pg;

import dev.lifeboat.common.config.PgConfig;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.error.Errors.PgVersionUnsupported;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds PostgreSQL client programs and the server's version, and runs quick queries with psql. pg_dump refuses
 * servers newer than itself and a dump from an older pg_dump may miss features, so for a server of major N the
 * {@code pg_dump} of major N is used, else the oldest newer one; only older ones → refused up front
 * ({@link PgVersionUnsupported}, naming both versions and the package to install). The same rule picks
 * {@code pg_dumpall} (the role definitions stored with each backup). psql and pg_restore only send SQL, so a server
 * newer than every copy (a restore into a newer major: an upgrade rehearsal) gets the newest.
 * Every query runs under a {@link TimeLimit} (by default {@code lifeboat.pg.query-timeout}) and its answer is
 * read with a size cap, so neither a stalled server nor a huge answer can hold or exhaust the caller.
 */
@ApplicationScoped
public class PgTools {
    private static final Pattern VERSION = Pattern.compile("\\(PostgreSQL\\)\\s+(\\d+)(?:\\.(\\d+))?");
    /** The programs that read the server's catalogs themselves and so refuse a server newer than they are. */
    /** Programs that refuse a server newer than themselves (the physical ones too: base backup, WAL receiver). */
    private static final java.util.Set<String> DUMPERS = java.util.Set.of("pg_dump", "pg_dumpall", "pg_basebackup",
            "pg_receivewal");
    /** The configuration key of {@link #queryLimit()}. */
    public static final String QUERY_TIMEOUT = "lifeboat.pg.query-timeout";
    /** The largest answer {@link #psqlQuery} reads: a list of every table of a large database fits. */
    static final int MAX_ANSWER = 16 << 20;
    private static final int MAX_VERSION_OUTPUT = 64 << 10;
    /** The server-side limit outlasts the client's by this, so the client's kill and its message come first. */
    private static final Duration STATEMENT_MARGIN = Duration.ofSeconds(1);
    private final List<Path> searchDirs;
    private final Duration connectTimeout;
    private final TimeLimit queryLimit;
    /** {@code --version} output per program path, asked once. */
    private final Map<Path, Optional<String>> versions = new ConcurrentHashMap<>();

    @jakarta.inject.Inject
    public PgTools(PgConfig config) {
        this(config.binDirs().orElseGet(PgTools::defaultDirs), config.connectTimeout(), config.queryTimeout());
    }

    public PgTools(List<Path> searchDirs, Duration connectTimeout, Duration queryTimeout) {
        this.searchDirs = List.copyOf(searchDirs);
        this.connectTimeout = connectTimeout;
        this.queryLimit = new TimeLimit(queryTimeout, QUERY_TIMEOUT);
    }

    /** Every {@code /usr/lib/postgresql/<major>/bin}, newest first, then the folders of {@code PATH}. */
    static List<Path> defaultDirs() {
        List<Path> dirs = new ArrayList<>();
        Path base = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(base)) {
            try (Stream<Path> s = Files.list(base)) {
                s.map(p -> p.resolve("bin")).filter(Files::isDirectory)
                        .sorted(Comparator.comparing((Path p) -> majorFromDirName(p)).reversed())
                        .forEach(dirs::add);
            } catch (IOException ignored) {
                // fall through to PATH
            }
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(":")) {
                if (!d.isBlank()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        return dirs;
    }

    private static int majorFromDirName(Path bin) {
        try {
            return Integer.parseInt(bin.getParent().getFileName().toString());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    public Duration connectTimeout() {
        return connectTimeout;
    }

    /** The time limit of quick queries ({@code lifeboat.pg.query-timeout}). */
    public TimeLimit queryLimit() {
        return queryLimit;
    }

    /** A found program and its major version. */
    public record Program(Path path, int major, String version) {
        /** The release number alone, e.g. {@code 15.18} (from {@code pg_dump (PostgreSQL) 15.18 (Debian ...)}). */
        public String release() {
            Matcher m = VERSION.matcher(version);
            return !m.find() ? Integer.toString(major) : m.group(1) + (m.group(2) == null ? "" : "." + m.group(2));
        }
    }

    /** Every copy of {@code name} in the search folders, with its version. */
    public List<Program> find(String name) {
        List<Program> out = new ArrayList<>();
        for (Path dir : searchDirs) {
            Path p = dir.resolve(name);
            if (Files.isExecutable(p) && out.stream().noneMatch(o -> samePath(o.path(), p))) {
                versionOf(p).ifPresent(v -> out.add(new Program(p, parseMajor(v).orElse(0), v)));
            }
        }
        return out;
    }

    private static boolean samePath(Path a, Path b) {
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            return a.equals(b);
        }
    }

    /**
     * {@code name} for a server of {@code serverMajor}: the same major, else the oldest newer one; else, for psql
     * and pg_restore, the newest older one, and for pg_dump, pg_dumpall, pg_basebackup and pg_receivewal
     * {@link PgVersionUnsupported}.
     */
    public Program forServer(String name, int serverMajor) {
        return choose(name, find(name), serverMajor, Integer.toString(serverMajor));
    }

    /** As {@link #forServer(String, int)}, for a server's {@code server_version_num}; a refusal names its release. */
    public Program forServerVersion(String name, int serverVersionNum) {
        return choose(name, find(name), serverVersionNum / 10000, release(serverVersionNum));
    }

    static Program choose(String name, List<Program> candidates, int serverMajor) {
        return choose(name, candidates, serverMajor, Integer.toString(serverMajor));
    }

    static Program choose(String name, List<Program> candidates, int serverMajor, String serverRelease) {
        if (candidates.isEmpty()) {
            throw new PgToolFailed("No " + name + " found; install the PostgreSQL client programs or set lifeboat.pg.bin-dirs");
        }
        Comparator<Program> byMajor = Comparator.comparingInt(Program::major);
        Optional<Program> fitting = candidates.stream().filter(p -> p.major() == serverMajor).findFirst()
                .or(() -> candidates.stream().filter(p -> p.major() > serverMajor).min(byMajor));
        if (fitting.isPresent()) {
            return fitting.get();
        }
        Program newest = candidates.stream().max(byMajor).orElseThrow();
        if (!DUMPERS.contains(name)) {
            return newest;
        }
        throw new PgVersionUnsupported("The server is PostgreSQL " + serverRelease + " but the newest " + name
                + " here is " + newest.release() + " (" + newest.path() + "): " + name + " cannot dump a server newer "
                + "than itself. Install postgresql-client-" + serverMajor + " in the image (the runtime image's build "
                + "argument PG_MAJORS), or list a folder holding " + name + " " + serverMajor
                + " or newer in lifeboat.pg.bin-dirs.");
    }

    /** A {@code server_version_num} as people write it: {@code 170005} → 17.5, {@code 90624} → 9.6.24. */
    public static String release(int serverVersionNum) {
        int n = serverVersionNum;
        return n >= 100000 ? (n / 10000) + "." + (n % 10000) : (n / 10000) + "." + (n / 100 % 100) + "." + (n % 100);
    }

    /** The newest copy of {@code name}, for talking to a server whose version is not known yet. */
    public Program newest(String name) {
        return find(name).stream().max(Comparator.comparingInt(Program::major)).orElseThrow(() ->
                new PgToolFailed("No " + name + " found; install the PostgreSQL client programs or set lifeboat.pg.bin-dirs"));
    }

    /** The server's version as {@code server_version_num} (e.g. 150018), asked with psql. */
    public int serverVersionNum(PgConnection connection) {
        String out = psqlQuery(newest("psql"), connection, "SHOW server_version_num");
        try {
            return Integer.parseInt(out.strip());
        } catch (NumberFormatException e) {
            throw new PgToolFailed("Unexpected answer to SHOW server_version_num: " + out);
        }
    }

    /** Runs one quick query with psql and returns its unaligned, tuples-only output ({@code lifeboat.pg.query-timeout}). */
    public String psqlQuery(Program psql, PgConnection connection, String sql) {
        return psqlQuery(psql, connection, sql, queryLimit);
    }

    /**
     * Runs one query with psql within {@code limit}, connecting and reading included, and returns its unaligned,
     * tuples-only output (at most 16 MiB). The server is told too ({@code statement_timeout}, unless the
     * connection sets one), so a statement does not keep running there after psql was killed.
     */
    public String psqlQuery(Program psql, PgConnection connection, String sql, TimeLimit limit) {
        return psql(psql, connection, List.of("-X", "--no-password", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-c", sql), limit);
    }

    /**
     * Runs one replication command (e.g. {@code IDENTIFY_SYSTEM}) on a replication connection
     * ({@code replication=database}, so {@code pg_hba.conf} must allow the role a {@code replication} line) and
     * returns its unaligned, tuples-only output, fields separated by {@code |} ({@code lifeboat.pg.query-timeout}).
     */
    public String replicationCommand(Program psql, PgConnection connection, String command) {
        // the database name comes from PGDATABASE: only the replication flag is in the connection string
        return psql(psql, connection, List.of("-X", "--no-password", "-A", "-t", "-c", command, "-d",
                "replication=database"), queryLimit);
    }

    private String psql(Program psql, PgConnection connection, List<String> args, TimeLimit limit) {
        try (PgProcess p = PgProcess.start(psql.path(), args,
                withStatementTimeout(connection, limit), connectTimeout, limit)) {
            p.stdin().close();
            String out = p.readStdout(MAX_ANSWER);
            p.waitSuccess();
            return out;
        } catch (IOException e) {
            throw new PgToolFailed("psql failed: " + e.getMessage(), e);
        }
    }

    private static PgConnection withStatementTimeout(PgConnection connection, TimeLimit limit) {
        if (connection.settings().containsKey("statement_timeout")) {
            return connection;
        }
        long millis = Math.min(Integer.MAX_VALUE, limit.duration().plus(STATEMENT_MARGIN).toMillis());
        Map<String, String> settings = new LinkedHashMap<>(connection.settings());
        settings.put("statement_timeout", Long.toString(millis));
        return connection.withSettings(settings);
    }

    private Optional<String> versionOf(Path program) {
        return versions.computeIfAbsent(program, this::runVersion);
    }

    private Optional<String> runVersion(Path program) {
        try (PgProcess p = PgProcess.start(program, List.of("--version"), null, connectTimeout, queryLimit)) {
            p.stdin().close();
            String out = p.readStdout(MAX_VERSION_OUTPUT).strip();
            p.waitSuccess();
            return parseMajor(out).isPresent() ? Optional.of(out) : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    static Optional<Integer> parseMajor(String versionOutput) {
        Matcher m = VERSION.matcher(versionOutput);
        return m.find() ? Optional.of(Integer.parseInt(m.group(1))) : Optional.empty();
    }
}
