package dev.lifeboat.common.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real, throwaway PostgreSQL for tests: initdb into a temp folder, started with pg_ctl on a free 127.0.0.1
 * port, TCP only, password authentication (scram) so the tests also prove that passwords reach the programs.
 * initdb refuses root, so as root (CI) the server runs as the {@code postgres} user through {@code runuser}.
 * Also a client for the tests: psql, pg_dump and database creation against that server, always with the machine's
 * newest client programs. {@link #start()} runs the machine's newest server; {@link #start(int)} a server of another
 * major from {@link PostgresBinaries} (the client programs stay the machine's, as in production).
 */
public final class PostgresServer implements AutoCloseable {
    public static final String USER = "postgres";
    public static final String PASSWORD = "lifeboat-test-Pw'1";

    private final Path dir;
    private final int port;
    /** The client programs (psql, pg_dump): the machine's newest. */
    private final Path bin;
    /** The server programs (initdb, pg_ctl, postgres). */
    private final Path serverBin;

    private PostgresServer(Path dir, int port, Path bin, Path serverBin) {
        this.dir = dir;
        this.port = port;
        this.bin = bin;
        this.serverBin = serverBin;
    }

    /** A client for a server started elsewhere (e.g. by a Quarkus test resource). */
    public static PostgresServer client(int port) {
        return new PostgresServer(null, port, binDir(), binDir());
    }

    /** A server of the machine's newest major. */
    public static PostgresServer start() {
        return start(binDir());
    }

    /**
     * A server of the machine's newest major started with these extra settings ({@code -c name=value}), e.g.
     * {@code wal_level=minimal} for a server that cannot stream WAL. initdb's pg_hba.conf already allows
     * replication connections from 127.0.0.1 (scram-sha-256).
     */
    public static PostgresServer start(Map<String, String> settings) {
        return start(binDir(), settings);
    }

    /**
     * A server of {@code major}: the machine's own when it has that major, else unpacked from the Maven Central
     * binaries ({@link PostgresBinaries}; 13, 14, 16 and 17).
     */
    public static PostgresServer start(int major) {
        Path local = binDir().getParent().getParent().resolve(Integer.toString(major)).resolve("bin");
        return start(Files.isExecutable(local.resolve("initdb")) ? local : PostgresBinaries.bin(major));
    }

    private static PostgresServer start(Path serverBin) {
        return start(serverBin, Map.of());
    }

    private static PostgresServer start(Path serverBin, Map<String, String> settings) {
        Path bin = binDir();
        try {
            Path dir = Files.createTempDirectory("lifeboat-pg-");
            Path data = dir.resolve("data");
            Path pwfile = dir.resolve("pwfile");
            Files.writeString(pwfile, PASSWORD + "\n");
            boolean root = "root".equals(System.getProperty("user.name"));
            if (root) {
                UserPrincipal postgres = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
                Files.setOwner(dir, postgres);
                Files.setOwner(pwfile, postgres);
            }
            run(asServerUser(root, List.of(serverBin.resolve("initdb").toString(), "-D", data.toString(), "-U", USER,
                    "--auth=scram-sha-256", "--pwfile=" + pwfile, "--no-sync", "-E", "UTF8", "--locale=C")), Map.of(), null);
            int port = freePort();
            String options = options(port, settings);
            run(asServerUser(root, List.of(serverBin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l",
                    dir.resolve("server.log").toString(), "-w", "-t", "60", "-o", options, "start")), Map.of(), null);
            PostgresServer server = new PostgresServer(dir, port, bin, serverBin);
            Runtime.getRuntime().addShutdownHook(new Thread(server::close));
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> asServerUser(boolean root, List<String> command) {
        if (!root) {
            return command;
        }
        List<String> c = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        c.addAll(command);
        return c;
    }

    /** The folder of the newest installed PostgreSQL server binaries. */
    public static Path binDir() {
        Path base = Path.of("/usr/lib/postgresql");
        try (Stream<Path> s = Files.list(base)) {
            return s.map(p -> p.resolve("bin")).filter(p -> Files.isExecutable(p.resolve("initdb")))
                    .max(Comparator.comparingInt(p -> Integer.parseInt(p.getParent().getFileName().toString())))
                    .orElseThrow(() -> new IllegalStateException("No PostgreSQL server under /usr/lib/postgresql"));
        } catch (IOException e) {
            throw new IllegalStateException("No PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)", e);
        }
    }

    /** The first port of the blocks {@link #freePort} hands out: under Linux's ephemeral range (32768-60999). */
    static final int PORTS_FROM = 20_000;
    /** Test JVMs with blocks of their own (-Dtest.forks up to this; more would share blocks). */
    static final int FORKS = 8;
    /** Ports in each test JVM's block. */
    static final int PORTS_PER_JVM = 1_500;
    private static final AtomicInteger NEXT_PORT = new AtomicInteger();

    /**
     * A port nothing listens on, for a server this JVM is about to start (PostgreSQL, a service process). Not one the
     * kernel picks ({@code bind(0)} and every outgoing connection take theirs from the ephemeral range): a port picked
     * that way was free when asked, and could be taken by another test JVM's server or connection before the process
     * it was meant for bound it (a CI run failed so: a service's management port was taken at its start-up). So each
     * test JVM hands out ports of its own block under the ephemeral range, one after the other: the surefire/failsafe
     * fork number ({@code test.fork}, set in the root pom) chooses the block, and what is listening already is skipped.
     */
    public static int freePort() throws IOException {
        int fork;
        try {
            fork = Integer.parseInt(System.getProperty("test.fork", ""));
        } catch (NumberFormatException e) {
            fork = (int) (ProcessHandle.current().pid() % FORKS) + 1; // not run by surefire (an IDE): a block by pid
        }
        int base = PORTS_FROM + Math.floorMod(fork - 1, FORKS) * PORTS_PER_JVM;
        for (int tries = 0; tries < PORTS_PER_JVM; tries++) {
            int port = base + Math.floorMod(NEXT_PORT.getAndIncrement(), PORTS_PER_JVM);
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port), 1);
                return port;
            } catch (IOException inUse) {
                // listening already (a server of this JVM still up, or another program): the next
            }
        }
        throw new IOException("No free port in " + base + "-" + (base + PORTS_PER_JVM - 1));
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return port;
    }

    /** The folder of the client programs the tests use (the machine's newest). */
    public Path bin() {
        return bin;
    }

    /** The server's version, e.g. {@code 17.5}. */
    public String version() {
        return psql("postgres", "SHOW server_version").split(" ")[0];
    }

    /** Creates an empty database. */
    public void createDatabase(String name) {
        psql("postgres", "CREATE DATABASE \"" + name.replace("\"", "\"\"") + "\"");
    }

    /** Runs SQL (one or more statements, stopping at the first error) and returns psql's unaligned output. */
    public String psql(String database, String sql) {
        return new String(run(List.of(bin.resolve("psql").toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t",
                "-d", database), env(), sql.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8).strip();
    }

    /** Loads a plain SQL dump with psql, stopping at the first error. */
    public void load(String database, InputStream sql) {
        try {
            run(List.of(bin.resolve("psql").toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", database), env(), sql.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The plain pg_dump of a database, for comparing two databases. pg_dump 15.14+ brackets every dump with
     * backslash-restrict / backslash-unrestrict lines whose key is random per run; they are left out so two
     * dumps of equal databases compare equal.
     */
    public String pgDump(String database) {
        String dump = new String(run(List.of(bin.resolve("pg_dump").toString(), "-d", database), env(), null), StandardCharsets.UTF_8);
        return dump.lines().filter(l -> !l.startsWith("\\restrict ") && !l.startsWith("\\" + "unrestrict "))
                .collect(java.util.stream.Collectors.joining("\n"));
    }

    /** The environment for client programs: connection and password, never in argv. */
    public Map<String, String> env() {
        return Map.of("PGHOST", host(), "PGPORT", Integer.toString(port), "PGUSER", USER, "PGPASSWORD", PASSWORD);
    }

    /** Runs a command to completion; throws with its stderr when it exits non-zero. */
    public static byte[] run(List<String> command, Map<String, String> env, byte[] stdin) {
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(false);
            pb.environment().putAll(env);
            Process p = pb.start();
            Thread writer = Thread.ofVirtual().start(() -> {
                try (OutputStream in = p.getOutputStream()) {
                    if (stdin != null) {
                        in.write(stdin);
                    }
                } catch (IOException ignored) {
                    // the program ended early; its exit code tells
                }
            });
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread errPump = Thread.ofVirtual().start(() -> {
                try (InputStream e = p.getErrorStream()) {
                    e.transferTo(err);
                } catch (IOException ignored) {
                    // ended
                }
            });
            byte[] out;
            try (InputStream o = p.getInputStream()) {
                out = o.readAllBytes();
            }
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("Timed out: " + command);
            }
            writer.join();
            errPump.join();
            if (p.exitValue() != 0) {
                throw new IllegalStateException(command.get(0) + " exited " + p.exitValue() + ": " + err.toString(StandardCharsets.UTF_8));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * A failover in place, for timeline switches: a standby of this server ({@code pg_basebackup -R -X stream}) takes
     * its place on the same port, the primary stopped ({@code -m fast}), and is promoted, so the server answering on
     * this port is on the next timeline. The old data directory is removed. For a server started by {@link #start()}
     * elsewhere (a test resource): {@code data} is its {@code data_directory}.
     */
    public static void failOverInPlace(Path data, int port, Map<String, String> settings) {
        boolean root = "root".equals(System.getProperty("user.name"));
        Path dir = data.getParent();
        Path standby = dir.resolve("standby");
        Path bin = binDir();
        Path serverBin = bin;
        PostgresServer client = client(port);
        run(asServerUser(root, List.of(bin.resolve("pg_basebackup").toString(), "-D", standby.toString(), "-R", "-X",
                "stream", "-c", "fast", "-h", client.host(), "-p", Integer.toString(port), "-U", USER)), client.env(), null);
        run(asServerUser(root, List.of(serverBin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "fast",
                "-w", "stop")), Map.of(), null);
        try (Stream<Path> s = Files.walk(data)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            Files.move(standby, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        run(asServerUser(root, List.of(serverBin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l",
                dir.resolve("server.log").toString(), "-w", "-t", "60", "-o", options(port, settings), "start")),
                Map.of(), null);
        run(asServerUser(root, List.of(serverBin.resolve("pg_ctl").toString(), "-D", data.toString(), "-w",
                "promote")), Map.of(), null);
    }

    private static String options(int port, Map<String, String> settings) {
        return "-p " + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                + "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
                + settings.entrySet().stream().map(e -> " -c " + e.getKey() + "=" + e.getValue())
                .collect(java.util.stream.Collectors.joining());
    }

    /** Stops the server and removes its folder. */
    @Override
    public synchronized void close() {
        if (dir == null || !Files.isDirectory(dir)) {
            return;
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        try {
            run(asServerUser(root, List.of(serverBin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(),
                    "-m", "immediate", "-w", "stop")), Map.of(), null);
        } catch (RuntimeException ignored) {
            // already stopped
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // temp folder
        }
    }
}
