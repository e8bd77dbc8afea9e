package dev.lifeboat.restore.service;

import dev.lifeboat.common.api.RestoreFailure;
import dev.lifeboat.common.catalog.WalArchive;
import dev.lifeboat.common.error.Errors;
import dev.lifeboat.common.error.Errors.InvalidConfiguration;
import dev.lifeboat.common.model.BaseBackupMetadata;
import dev.lifeboat.common.model.WalObject;
import dev.lifeboat.common.model.WalObject.Kind;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.Measure;
import dev.lifeboat.common.pipeline.ReadChain;
import dev.lifeboat.common.store.ObjectStore;
import dev.lifeboat.common.wal.WalNames;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jboss.logging.Logger;

/**
 * The private PostgreSQL of a point-in-time restore: a base backup unpacked into {@code <spool>/<restore id>/data}
 * (0700), started without TCP on a socket in a 0700 folder of its own ({@code pg_hba.conf}: {@code local all all
 * trust}, so only the service's user reaches it), in archive recovery up to the target instant, its WAL served from
 * the store by {@link #serveWal} through a private exchange folder (see {@link #restoreCommand}), promoted at the
 * target, then dumped by the caller with pg_dump over the socket. {@link #close} stops it (fast shutdown) and removes
 * the whole folder, whatever happened.
 */
final class RecoveryInstance implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(RecoveryInstance.class);
    /** The spool path goes into restore_command, run by /bin/sh: nothing a shell or PostgreSQL's %-escapes read. */
    private static final Pattern SAFE_PATH = Pattern.compile("/[A-Za-z0-9/._-]*");
    private static final int PORT = 5432;
    private static final Duration POLL = Duration.ofMillis(100);
    private static final Pattern STOPPED = Pattern.compile("recovery stopping (?:before|after) (?:commit|abort) of "
            + "transaction \\d+, time [^\\n]+");
    private static final Pattern LAST = Pattern.compile("last completed transaction was at log time [^\\n]+");
    private static final Pattern REDO_DONE = Pattern.compile("redo done at [0-9A-F]+/[0-9A-F]+");
    static final String NOT_REACHED = "recovery ended before configured recovery target was reached";

    private final Path dir;
    private final Path data;
    private final Path socket;
    private final Path exchange;
    private final Path log;
    private final PgTools pgTools;
    private final PgTools.Program postgres;
    private final String superuser;
    private Process server;
    private volatile boolean serving;
    private volatile String walFailure;
    private Thread feeder;

    private RecoveryInstance(Path dir, PgTools pgTools, PgTools.Program postgres, String superuser) {
        this.dir = dir;
        this.data = dir.resolve("data");
        this.socket = dir.resolve("socket");
        this.exchange = dir.resolve("wal");
        this.log = dir.resolve("server.log");
        this.pgTools = pgTools;
        this.postgres = postgres;
        this.superuser = superuser;
    }

    /** The spool folder from configuration, checked: it is written into restore_command. */
    static Path spool(String configured) {
        if (configured == null || !SAFE_PATH.matcher(configured).matches() || configured.contains("..")) {
            throw new InvalidConfiguration("lifeboat.restore.pitr.spool-dir must be an absolute path of letters, digits "
                    + "and / . _ - only (it goes into the private server's restore_command); got '"
                    + String.valueOf(configured).replaceAll("\\p{Cntrl}", "?") + "'.");
        }
        return Path.of(configured);
    }

    /**
     * Removes what restores that did not end (a crash, a kill) left in the spool, at start-up; a private server still
     * running there (its postmaster outlives a killed JVM) is stopped first (immediate shutdown).
     */
    static void cleanSpool(Path spool, PgTools pgTools) {
        if (!Files.isDirectory(spool)) {
            return;
        }
        try (Stream<Path> s = Files.list(spool)) {
            for (Path p : s.toList()) {
                LOG.infof("Removing %s, left in the point-in-time spool by a restore that did not end", p);
                stopLeftOver(p.resolve("data"), pgTools);
                delete(p);
            }
        } catch (IOException | UncheckedIOException e) {
            LOG.warnf("Cannot clean the point-in-time spool %s: %s", spool, e.getMessage());
        }
    }

    private static void stopLeftOver(Path data, PgTools pgTools) {
        if (!Files.exists(data.resolve("postmaster.pid"))) {
            return;
        }
        try {
            int major = Integer.parseInt(Files.readString(data.resolve("PG_VERSION")).strip());
            Optional<PgTools.Program> postgres = pgTools.find("postgres").stream().filter(p -> p.major() == major)
                    .findFirst();
            if (postgres.isPresent()) {
                Process stop = new ProcessBuilder(postgres.get().path().resolveSibling("pg_ctl").toString(), "-D",
                        data.toString(), "-m", "immediate", "-w", "-t", "30", "stop").redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                stop.waitFor(40, java.util.concurrent.TimeUnit.SECONDS);
            }
        } catch (IOException | NumberFormatException e) {
            LOG.warnf("Cannot stop a private server left in %s: %s", data, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Creates the private folders of restore {@code id} in {@code spool} (0700) for a server of {@code major}
     * ({@code postgres} from the server binaries next to the client programs {@link PgTools} finds).
     */
    static RecoveryInstance create(Path spool, String id, int major, PgTools pgTools, String superuser) {
        PgTools.Program postgres = pgTools.find("postgres").stream().filter(p -> p.major() == major).findFirst()
                .orElseThrow(() -> new RestoreFault(RestoreFailure.OTHER, "No PostgreSQL " + major + " server (postgres) "
                        + "found next to the client programs: a point-in-time restore runs the base backup's major. Install "
                        + "the server package of PostgreSQL " + major + " in the image, or list its bin folder in "
                        + "lifeboat.pg.bin-dirs."));
        try {
            Files.createDirectories(spool);
            Path dir = spool.resolve(id);
            for (Path p : List.of(dir, dir.resolve("data"), dir.resolve("socket"), dir.resolve("wal"))) {
                Files.createDirectory(p, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------")); // whatever the umask
            }
            return new RecoveryInstance(dir, pgTools, postgres, superuser);
        } catch (IOException e) {
            throw new RestoreFault(RestoreFailure.OTHER, "Cannot create the private data directory in the point-in-time "
                    + "spool " + spool + " (lifeboat.restore.pitr.spool-dir): " + e.getMessage());
        }
    }

    /** The server's program, for the step detail. */
    PgTools.Program program() {
        return postgres;
    }

    /**
     * FETCH_BASE: the base backup's object through the read chain (size, SHA-256, age, zstd) straight into
     * {@code tar -x} in the data directory; no copy of the tar is kept.
     */
    void fetchBase(ObjectStore store, BaseBackupMetadata base, List<String> identities, Measure measure,
                   Duration connectTimeout, TimeLimit limit) {
        ReadChain.StoredObject object = new ReadChain.StoredObject(base.id(), "data object", base.key(),
                base.storedSizeBytes(), base.sha256(), base.rawSizeBytes(),
                base.encryptionRecipients() != null && !base.encryptionRecipients().isEmpty());
        try (PgProcess tar = PgProcess.start(Path.of("tar"), List.of("--extract", "--file=-", "--no-same-owner",
                "--directory=" + data), null, connectTimeout, limit, true)) {
            OutputStream in = tar.stdin();
            ReadChain.Result read;
            try {
                read = ReadChain.read(store, object, identities, measure, in::write);
                in.close();
            } catch (ReadChain.SinkFailed | IOException e) {
                tar.awaitExit(Duration.ofSeconds(5));
                throw new RestoreFault(RestoreFailure.OTHER, "tar stopped unpacking base backup " + base.id() + " into "
                        + data + ": " + tar.stderr().strip() + " (" + e.getMessage() + ")");
            }
            if (!read.ok()) {
                tar.kill();
                throw new RestoreFault(read.outcome() == ReadChain.Outcome.STORE_ERROR ? RestoreFailure.STORE_ERROR
                        : RestoreFailure.BACKUP_DAMAGED, read.detail() + " Nothing was touched; the target is unchanged.");
            }
            tar.waitSuccess();
        }
        try {
            // what the source's own run left must not steer this one
            for (String stale : List.of("postmaster.pid", "postmaster.opts", "standby.signal")) {
                Files.deleteIfExists(data.resolve(stale));
            }
            Files.createDirectories(data.resolve("pg_wal").resolve("archive_status"));
            Files.writeString(data.resolve("recovery.signal"), "");
            Files.writeString(data.resolve("pg_hba.conf"), "# Lifeboat point-in-time restore: the socket folder is 0700\n"
                    + "local all all trust\n");
            Files.writeString(data.resolve("pg_ident.conf"), "");
            if (!Files.exists(data.resolve("postgresql.conf"))) { // kept outside the data directory (Debian)
                Files.writeString(data.resolve("postgresql.conf"), "");
            }
        } catch (IOException e) {
            throw new RestoreFault(RestoreFailure.OTHER, "Cannot prepare the private data directory " + data + ": "
                    + e.getMessage());
        }
    }

    /**
     * The restore_command: a fixed POSIX snippet over the exchange folder. It asks for {@code %f} by creating
     * {@code <x>/%f.want} (unless Lifeboat fetched it ahead already) and waits until Lifeboat renames the checked,
     * decrypted file to {@code <x>/%f.ready} (moved to {@code %p}: exit 0), creates {@code <x>/%f.none} (exit 1: not in
     * the archive) or {@code <x>/%f.fail} (exit 255, above 125: PostgreSQL stops recovery instead of taking the file as
     * missing).
     */
    String restoreCommand() {
        String x = exchange.toString();
        return "x='" + x + "'; f='%f'; [ -e \"$x/$f.ready\" ] || : > \"$x/$f.want\"; while :; do "
                + "if [ -e \"$x/$f.ready\" ]; then rm -f \"$x/$f.want\"; mv -f \"$x/$f.ready\" \"%p\"; exit $?; fi; "
                + "if [ -e \"$x/$f.none\" ]; then rm -f \"$x/$f.want\" \"$x/$f.none\"; exit 1; fi; "
                + "if [ -e \"$x/$f.fail\" ]; then exit 255; fi; sleep 0.1; done";
    }

    /** Starts the server in archive recovery to {@code target} (latest: to the end of the archive). */
    void start(PointInTime target) {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("config_file", data.resolve("postgresql.conf").toString());
        settings.put("hba_file", data.resolve("pg_hba.conf").toString());
        settings.put("ident_file", data.resolve("pg_ident.conf").toString());
        settings.put("listen_addresses", "");
        settings.put("unix_socket_directories", socket.toString());
        settings.put("unix_socket_permissions", "0700");
        settings.put("port", Integer.toString(PORT));
        settings.put("external_pid_file", "");
        settings.put("ssl", "off");
        settings.put("archive_mode", "off");
        settings.put("primary_conninfo", "");
        settings.put("primary_slot_name", "");
        settings.put("hot_standby", "on");
        settings.put("restore_command", restoreCommand());
        settings.put("recovery_target_timeline", "latest");
        settings.put("recovery_target_action", "promote");
        if (target.endOfBackup()) {
            settings.put("recovery_target", "immediate"); // the base backup's consistent point, no further
        } else if (!target.latest()) {
            settings.put("recovery_target_time", target.recoveryTargetTime());
        }
        settings.put("shared_preload_libraries", preloadLibraries());
        // a throwaway instance: no durability needed, and the primary's memory sizing need not fit this pod
        settings.put("fsync", "off");
        settings.put("shared_buffers", "128MB");
        settings.put("huge_pages", "off");
        settings.put("logging_collector", "off");
        settings.put("log_destination", "stderr");
        settings.put("log_line_prefix", "%m [%p] ");
        settings.put("cluster_name", "lifeboat-pitr");
        List<String> command = new ArrayList<>(List.of(postgres.path().toString(), "-D", data.toString()));
        settings.forEach((k, v) -> {
            command.add("-c");
            command.add(k + "=" + v);
        });
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().keySet().removeIf(k -> k.startsWith("PG"));
        builder.environment().put("LC_MESSAGES", "C"); // the log lines are read below
        try {
            server = builder.start();
        } catch (IOException e) {
            throw new RestoreFault(RestoreFailure.OTHER, "Cannot start " + postgres.path() + ": " + e.getMessage());
        }
    }

    /**
     * {@code shared_preload_libraries} as the source had it, less the libraries this machine lacks (a library that
     * cannot be loaded stops the server); the dump still names their extensions, which the target must have.
     */
    private String preloadLibraries() {
        String configured;
        try {
            List<String> command = List.of(postgres.path().toString(), "-D", data.toString(), "-c", "config_file="
                    + data.resolve("postgresql.conf"), "-C", "shared_preload_libraries");
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            configured = new String(p.getInputStream().readNBytes(4096), StandardCharsets.UTF_8).strip();
            if (p.waitFor() != 0) {
                LOG.warnf("Cannot read shared_preload_libraries of the base backup (%s); starting without", configured);
                return "";
            }
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
        Path libdir = postgres.path().getParent().getParent().resolve("lib");
        List<String> kept = new ArrayList<>();
        for (String raw : configured.split(",")) {
            String name = raw.strip().replace("\"", "");
            if (name.isEmpty()) {
                continue;
            }
            String file = name.replace("$libdir/", "");
            if (file.matches("[A-Za-z0-9_.-]+") && (Files.exists(libdir.resolve(file + ".so"))
                    || Files.exists(libdir.resolve(file)))) {
                kept.add(name);
            } else {
                LOG.warnf("The private server starts without shared_preload_libraries entry '%s': not installed in %s",
                        name, libdir);
            }
        }
        return String.join(",", kept);
    }

    /** A connection to the private server over its socket, as the configured superuser. */
    PgConnection connection(String database) {
        return new PgConnection(socket.toString(), PORT, database, superuser, Optional.empty());
    }

    /**
     * Serves the WAL files the server asks for, on a thread of its own, until {@link #close}: a complete segment, else
     * the newest partial snapshot of it, a history file, else "not in the archive"; and the next {@code prefetch}
     * segments ahead. A file failing its check is {@link #walFailure}.
     */
    void serveWal(WalArchive archive, ObjectStore store, String label, String systemIdentifier, List<String> identities,
                  int prefetch) {
        serving = true;
        feeder = Thread.ofPlatform().name("pitr-wal-" + dir.getFileName()).daemon().start(() -> {
            try {
                while (serving && walFailure == null) {
                    List<String> wanted;
                    try (Stream<Path> s = Files.list(exchange)) {
                        wanted = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".want"))
                                .map(n -> n.substring(0, n.length() - ".want".length())).sorted().toList();
                    }
                    for (String name : wanted) {
                        if (!Files.exists(exchange.resolve(name + ".ready")) && !Files.exists(exchange.resolve(name + ".none"))) {
                            serve(archive, store, label, systemIdentifier, identities, name, prefetch);
                        }
                    }
                    Thread.sleep(POLL);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException | RuntimeException e) {
                walFailure = "Serving WAL to the private server failed: " + Errors.describe(e);
            }
        });
    }

    private void serve(WalArchive archive, ObjectStore store, String label, String systemIdentifier,
                       List<String> identities, String name, int prefetch) throws IOException {
        Optional<WalObject> found = lookup(archive, label, systemIdentifier, name);
        if (found.isEmpty()) {
            Files.writeString(exchange.resolve(name + ".none"), "");
            return;
        }
        if (!fetch(store, identities, found.get(), name)) {
            return;
        }
        if (found.get().kind() != Kind.SEGMENT) {
            return;
        }
        long size = segmentSize(found.get());
        int timeline = WalNames.timeline(name);
        long number = WalNames.segmentNumber(name, size);
        for (int i = 1; i <= prefetch && serving && walFailure == null; i++) {
            String next = WalNames.segmentName(timeline, number + i, size);
            if (Files.exists(exchange.resolve(next + ".ready"))) {
                continue;
            }
            Optional<WalObject> ahead = lookup(archive, label, systemIdentifier, next);
            if (ahead.isEmpty() || ahead.get().kind() != Kind.SEGMENT || !fetch(store, identities, ahead.get(), next)) {
                return; // a snapshot is served when asked for: a newer one may be stored by then
            }
        }
    }

    private static Optional<WalObject> lookup(WalArchive archive, String label, String systemIdentifier, String name) {
        Optional<WalObject> found = WalNames.isSegment(name)
                ? archive.find(label, name, Kind.SEGMENT).or(() -> archive.find(label, name, Kind.PARTIAL))
                : WalNames.isHistory(name) ? archive.find(label, name, Kind.HISTORY) : Optional.empty();
        return found.filter(o -> systemIdentifier == null || o.systemIdentifier() == null
                || systemIdentifier.equals(o.systemIdentifier()));
    }

    private static long segmentSize(WalObject o) {
        long size = o.rawSizeBytes();
        return size >= (1 << 20) && Long.bitCount(size) == 1 ? size : WalNames.DEFAULT_SEGMENT_SIZE;
    }

    /** Reads one archived file through the chain into {@code <name>.ready}; false (and a failure) when it fails its check. */
    private boolean fetch(ObjectStore store, List<String> identities, WalObject o, String name) throws IOException {
        Path part = exchange.resolve(name + ".part");
        ReadChain.Result read;
        try (OutputStream out = Files.newOutputStream(part)) {
            read = ReadChain.read(store, WalArchive.stored(o), identities, new Measure(), out::write);
        }
        if (!read.ok()) {
            Files.deleteIfExists(part);
            String what = WalArchive.stored(o).what();
            walFailure = (read.outcome() == ReadChain.Outcome.STORE_ERROR ? "Reading " + what + " failed: "
                    : "The archived " + what + " failed its check: ") + read.detail();
            Files.writeString(exchange.resolve(name + ".fail"), "");
            return false;
        }
        Files.move(part, exchange.resolve(name + ".ready"), StandardCopyOption.ATOMIC_MOVE);
        return true;
    }

    /**
     * Waits until the server is promoted (the target reached), reporting its replay position to {@code progress};
     * throws when it stops first (the archive ends before the target: {@link #NOT_REACHED}), a WAL file fails its
     * check, or {@code limit} passes. Returns where recovery stopped, from the server's log.
     */
    String awaitPromoted(PointInTime target, TimeLimit limit, java.util.function.Supplier<String> stop,
                         Consumer<String> progress) {
        long deadline = System.nanoTime() + limit.duration().toNanos();
        PgTools.Program psql = pgTools.forServer("psql", postgres.major());
        TimeLimit query = new TimeLimit(Duration.ofSeconds(10), "lifeboat.restore.pitr.replay-timeout");
        while (true) {
            if (stop.get() != null) {
                throw new RestoreFault(RestoreFailure.OTHER, stop.get() + " during recovery; nothing was loaded, the "
                        + "target is unchanged");
            }
            if (walFailure != null) {
                throw new RestoreFault(RestoreFailure.BACKUP_DAMAGED, walFailure + " The restore stopped; nothing was "
                        + "loaded, the target is unchanged.");
            }
            if (!server.isAlive()) {
                String said = logText();
                if (said.contains(NOT_REACHED)) {
                    throw new RestoreFault(RestoreFailure.OTHER, "The WAL archive ends before " + target + ": PostgreSQL "
                            + "replayed all of it (" + stoppedAt(said) + ") without reaching the target. Nothing was "
                            + "loaded; the target is unchanged.");
                }
                throw new RestoreFault(RestoreFailure.OTHER, "The private PostgreSQL stopped during recovery: "
                        + lastErrors(said) + " Nothing was loaded; the target is unchanged.");
            }
            if (System.nanoTime() > deadline) {
                throw new RestoreFault(RestoreFailure.TIMEOUT, "Recovery to " + target + " did not end within "
                        + limit.human() + " (" + limit.setting() + "). Nothing was loaded; the target is unchanged.");
            }
            try {
                String[] row = pgTools.psqlQuery(psql, connection("postgres"), "SELECT pg_is_in_recovery(), "
                        + "coalesce(pg_last_wal_replay_lsn()::text, ''), coalesce(pg_last_xact_replay_timestamp()::text, '')",
                        query).strip().split("\\|", -1);
                if (row.length == 3) {
                    if ("f".equals(row[0])) {
                        return stoppedAt(logText());
                    }
                    progress.accept("replayed to " + row[1] + (row[2].isEmpty() ? "" : ", last transaction of " + row[2]));
                }
            } catch (RuntimeException e) {
                // not accepting connections yet (before the consistent point), or promoting right now
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new RestoreFault(RestoreFailure.OTHER, "Interrupted while the private server recovered");
            }
        }
    }

    /** Where recovery stopped, as the server logged it. */
    static String stoppedAt(String log) {
        List<String> found = new ArrayList<>();
        for (Pattern p : List.of(STOPPED, REDO_DONE, LAST)) {
            Matcher m = p.matcher(log);
            String last = null;
            while (m.find()) {
                last = m.group().strip();
            }
            if (last != null) {
                found.add(last);
            }
        }
        return found.isEmpty() ? "the server logged no stop point" : String.join("; ", found);
    }

    private static String lastErrors(String log) {
        List<String> lines = log.lines().filter(l -> l.contains("FATAL:") || l.contains("PANIC:") || l.contains("ERROR:"))
                .toList();
        List<String> tail = lines.subList(Math.max(0, lines.size() - 3), lines.size());
        return tail.isEmpty() ? "(no error in its log)" : String.join(" / ", tail);
    }

    /** The server's log (at most its last 1 MiB). */
    String logText() {
        try {
            long size = Files.size(log);
            try (var in = Files.newInputStream(log)) {
                in.skipNBytes(Math.max(0, size - (1 << 20)));
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            return "";
        }
    }

    /** Stops the server (fast shutdown: pg_ctl, then a kill if it hangs) and removes the folder. Never throws. */
    @Override
    public void close() {
        serving = false;
        if (feeder != null) {
            feeder.interrupt();
        }
        if (server != null && server.isAlive()) {
            Path pgCtl = postgres.path().resolveSibling("pg_ctl");
            try {
                Process stop = new ProcessBuilder(pgCtl.toString(), "-D", data.toString(), "-m", "fast", "-w", "-t", "60",
                        "stop").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                stop.waitFor(70, java.util.concurrent.TimeUnit.SECONDS);
            } catch (IOException e) {
                LOG.warnf("Cannot run %s to stop the private server: %s", pgCtl, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                if (!server.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                    server.destroyForcibly();
                    server.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                server.destroyForcibly();
            }
        }
        try {
            delete(dir);
        } catch (IOException | UncheckedIOException e) {
            LOG.warnf("Cannot remove the private data directory %s: %s (removed at the next start)", dir, e.getMessage());
        }
    }

    private static void delete(Path path) throws IOException {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(path)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
