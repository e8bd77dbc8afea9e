package dev.lifeboat.common.pg;

import dev.lifeboat.common.error.Errors.PgTimeout;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jboss.logging.Logger;

/**
 * A running PostgreSQL client program, started from an argument array (never a shell), with the connection in
 * {@code PG*} environment variables of the child only. Its stderr is drained on a thread into a bounded tail
 * that failures quote, so a chatty program never blocks and a failure says what the program said, without the
 * server's DETAIL and CONTEXT fields, which may quote row values (see {@link ErrorText}).
 *
 * <p>Every run has a {@link TimeLimit} from its start: when it is reached the program (and anything it started)
 * is sent SIGTERM, then SIGKILL after a short grace, from a shared watchdog thread. Killing it closes its pipes,
 * so a caller blocked reading its output or writing its input is released too; that read or write, and
 * {@link #waitSuccess()}, then throw {@link PgTimeout} naming the program, what it ran, the time allowed and
 * the setting that allows it. A stalled server can therefore hold no caller longer than its limit.
 */
public final class PgProcess implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(PgProcess.class);
    private static final int STDERR_TAIL = 16 * 1024;
    /** Between SIGTERM and SIGKILL: psql and pg_dump end at once on SIGTERM; this only covers a stuck one. */
    private static final Duration GRACE = Duration.ofSeconds(2);
    private static final int SQL_SHOWN = 200;
    private static final ScheduledThreadPoolExecutor WATCHDOG = watchdog();

    private final String name;
    private final String operation;
    private final PgConnection connection;
    private final TimeLimit limit;
    private final long deadlineNanos;
    private final Process process;
    private final Thread stderrPump;
    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    /** Guarded by {@link #stderr}: the tail no longer holds the start of what the program wrote. */
    private boolean stderrCut;
    private final AtomicBoolean timedOut = new AtomicBoolean();
    private final ScheduledFuture<?> deadline;
    private final InputStream stdout;
    private final OutputStream stdin;

    private PgProcess(String name, String operation, PgConnection connection, TimeLimit limit, Process process) {
        this.name = name;
        this.operation = operation;
        this.connection = connection;
        this.limit = limit;
        this.process = process;
        this.deadlineNanos = System.nanoTime() + limit.duration().toNanos();
        this.stdout = new Output(process.getInputStream());
        this.stdin = new Input(process.getOutputStream());
        this.stderrPump = Thread.ofVirtual().name(name + "-stderr").start(this::pumpStderr);
        this.deadline = WATCHDOG.schedule(this::expire, limit.duration().toNanos(), TimeUnit.NANOSECONDS);
        process.onExit().thenRun(() -> deadline.cancel(false));
    }

    private static ScheduledThreadPoolExecutor watchdog() {
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1,
                Thread.ofPlatform().name("lifeboat-pg-deadline").daemon().factory());
        // a finished query cancels its hour-long deadline: drop it at once rather than hold it for the hour
        executor.setRemoveOnCancelPolicy(true);
        return executor;
    }

    /**
     * Starts {@code program args...} connected to {@code connection} ({@code null}: none), to be ended within
     * {@code limit}. Only the variables needed are passed: the parent's PG* variables are removed so none leaks
     * into the child by accident.
     */
    public static PgProcess start(Path program, List<String> args, PgConnection connection, Duration connectTimeout,
                                  TimeLimit limit) {
        return start(program, args, connection, connectTimeout, limit, false);
    }

    /**
     * As above; with {@code discardStdout} the program's stdout goes nowhere (psql loading a dump answers every
     * statement, and an unread pipe would stall it).
     */
    public static PgProcess start(Path program, List<String> args, PgConnection connection, Duration connectTimeout,
                                  TimeLimit limit, boolean discardStdout) {
        return start(program, args, connection, connectTimeout, limit, discardStdout, "lifeboat");
    }

    /**
     * As above, with the {@code application_name} the server shows for the connection ({@code PGAPPNAME}), e.g. the
     * WAL receiver's {@code lifeboat_<label>}, which {@code pg_stat_replication} is asked about.
     */
    public static PgProcess start(Path program, List<String> args, PgConnection connection, Duration connectTimeout,
                                  TimeLimit limit, boolean discardStdout, String applicationName) {
        if (!applicationName.matches("[A-Za-z0-9_.-]{1,63}")) {
            throw new IllegalArgumentException("Not an application name: " + applicationName);
        }
        List<String> command = new ArrayList<>(args.size() + 1);
        command.add(program.toString());
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command);
        if (discardStdout) {
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        Map<String, String> env = builder.environment();
        env.keySet().removeIf(k -> k.startsWith("PG"));
        if (connection != null) {
            env.put("PGHOST", connection.host());
            env.put("PGPORT", Integer.toString(connection.port()));
            env.put("PGUSER", connection.user());
            env.put("PGDATABASE", connection.database());
            connection.password().ifPresent(p -> env.put("PGPASSWORD", p));
        }
        env.put("PGCONNECT_TIMEOUT", Long.toString(Math.max(1, connectTimeout.toSeconds())));
        env.put("PGAPPNAME", applicationName);
        if (connection != null && !connection.settings().isEmpty()) {
            env.put("PGOPTIONS", options(connection.settings()));
        }
        englishMessages(env);
        try {
            return new PgProcess(program.getFileName().toString(), operation(args), connection, limit, builder.start());
        } catch (IOException e) {
            throw new PgToolFailed("Cannot start " + program + ": " + e.getMessage(), e);
        }
    }

    /**
     * Messages in English, so the field labels {@link ErrorText} hides are recognised in any locale. Only the
     * language changes: {@code LC_ALL} would override it, so it is spread over the other categories, and the
     * character type (which sets psql's client encoding) stays as it was.
     */
    private static void englishMessages(Map<String, String> env) {
        String all = env.remove("LC_ALL");
        if (all != null && !all.isEmpty()) {
            for (String category : List.of("LC_CTYPE", "LC_COLLATE", "LC_NUMERIC", "LC_TIME", "LC_MONETARY")) {
                env.put(category, all);
            }
        }
        env.put("LC_MESSAGES", "C");
    }

    /** What the program runs, for messages: the SQL of {@code -c}, shortened, or nothing. */
    static String operation(List<String> args) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            String sql = (a.equals("-c") || a.equals("--command")) && i + 1 < args.size() ? args.get(i + 1)
                    : a.startsWith("--command=") ? a.substring("--command=".length()) : null;
            if (sql != null) {
                String oneLine = sql.strip().replaceAll("\\s+", " ");
                return " running \"" + (oneLine.length() > SQL_SHOWN ? oneLine.substring(0, SQL_SHOWN) + "..." : oneLine) + "\"";
            }
        }
        return "";
    }

    /**
     * {@code PGOPTIONS} for session settings: {@code -c name=value ...}, with spaces and backslashes in values
     * escaped as libpq requires. Names are checked, so a value can never smuggle in another option.
     */
    static String options(Map<String, String> settings) {
        StringBuilder out = new StringBuilder();
        settings.forEach((name, value) -> {
            if (!name.matches("[A-Za-z_][A-Za-z0-9_.]*")) {
                throw new IllegalArgumentException("Not a setting name: " + name);
            }
            if (!out.isEmpty()) {
                out.append(' ');
            }
            out.append("-c ").append(name).append('=').append(value.replace("\\", "\\\\").replace(" ", "\\ "));
        });
        return out.toString();
    }

    /** The program's stdout; a read failing or ending because the time limit was reached throws {@link PgTimeout}. */
    public InputStream stdout() {
        return stdout;
    }

    /** The program's stdin; a write failing because the time limit was reached throws {@link PgTimeout}. */
    public OutputStream stdin() {
        return stdin;
    }

    public long pid() {
        return process.pid();
    }

    /**
     * Reads all of stdout, at most {@code maxBytes} of it: more is a {@link PgToolFailed} (and the program is
     * killed), so an unexpectedly large answer costs bounded memory. Stdout is closed afterwards.
     */
    public String readStdout(int maxBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try (InputStream in = stdout) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                if (out.size() + n > maxBytes) {
                    process.destroyForcibly();
                    throw new PgToolFailed(name + " wrote more than " + bytes(maxBytes) + operation + describeTarget()
                            + "; only small answers are read this way, so it was stopped");
                }
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            throw new PgToolFailed("Reading the output of " + name + operation + " failed: " + e.getMessage(), e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String bytes(int n) {
        return n % (1 << 20) == 0 ? (n >> 20) + " MiB" : n % 1024 == 0 ? (n >> 10) + " KiB" : n + " bytes";
    }

    /**
     * Waits for the program to end, at the latest at its time limit; throws {@link PgTimeout} if that was reached,
     * {@link PgToolFailed} with its stderr unless it exited 0.
     */
    public void waitSuccess() {
        try {
            long left = Math.max(0, deadlineNanos - System.nanoTime());
            // the watchdog kills it at the deadline; the margin only matters if even SIGKILL did not end it
            if (!process.waitFor(left + GRACE.toNanos() * 2 + TimeUnit.SECONDS.toNanos(5), TimeUnit.NANOSECONDS)) {
                timedOut.set(true);
                process.destroyForcibly();
                throw timeout();
            }
            stderrPump.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new PgToolFailed(name + " was interrupted");
        }
        if (timedOut.get()) {
            throw timeout();
        }
        int exit = process.exitValue();
        if (exit != 0) {
            LOG.debugf("%s%s exited with code %d; its stderr, unredacted: %s", name, operation, exit, rawStderr());
            throw new PgToolFailed(name + " exited with code " + exit + describeStderr());
        }
    }

    /** Whether the program was killed because it reached its time limit. */
    public boolean timedOut() {
        return timedOut.get();
    }

    /** Whether the deadline was called off because the program ended (or was closed) before it. */
    boolean deadlineCancelled() {
        return deadline.isCancelled();
    }

    /** The error for a program stopped at its time limit. */
    private PgTimeout timeout() {
        return new PgTimeout(name + " timed out after " + limit.human() + operation + describeTarget() + " ("
                + limit.setting() + "); it was killed");
    }

    private String describeTarget() {
        return connection == null ? "" : " against " + connection;
    }

    /** The time limit is reached: SIGTERM to the program and what it started, SIGKILL after the grace period. */
    private void expire() {
        if (!process.isAlive()) {
            return;
        }
        timedOut.set(true);
        LOG.debugf("%s%s reached its time limit (%s); killing it. Its stderr so far, unredacted: %s", name, operation,
                limit, rawStderr());
        // taken now: once the program is gone its children are no longer its descendants
        List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
        tree.add(process.toHandle());
        tree.forEach(ProcessHandle::destroy);
        WATCHDOG.schedule(() -> tree.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly),
                GRACE.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** What the program wrote on stderr (its last 16 KiB), without DETAIL and CONTEXT fields. */
    public String stderr() {
        synchronized (stderr) {
            return ErrorText.redact(stderr.toString(StandardCharsets.UTF_8), stderrCut).strip();
        }
    }

    /**
     * Whether the program's stderr (its last 16 KiB, unredacted) contains {@code text}: for recognising a server error
     * that {@link #stderr()} leaves out, e.g. pg_receivewal's "has already been removed", without showing the text.
     */
    public boolean stderrContains(String text) {
        return rawStderr().contains(text);
    }

    private String rawStderr() {
        synchronized (stderr) {
            return stderr.toString(StandardCharsets.UTF_8).strip();
        }
    }

    private String describeStderr() {
        String err = stderr();
        return err.isEmpty() ? "" : ": " + err;
    }

    private void pumpStderr() {
        byte[] buf = new byte[4096];
        try (InputStream err = process.getErrorStream()) {
            int n;
            while ((n = err.read(buf)) >= 0) {
                synchronized (stderr) {
                    stderr.write(buf, 0, n);
                    // cut below 2 * STDERR_TAIL by the room of the "(earlier output left out)" line that stderr()
                    // puts first, so what it returns stays within 32 KiB whenever the cut happened
                    if (stderr.size() > 2 * STDERR_TAIL - 64) {
                        byte[] all = stderr.toByteArray();
                        stderr.reset();
                        stderr.write(all, all.length - STDERR_TAIL, STDERR_TAIL);
                        stderrCut = true;
                    }
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }

    /** Kills the program at once (SIGKILL): nothing more it would do, e.g. a COMMIT at end of input, happens. */
    public void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits up to {@code timeout} for the program to end by itself, and for its stderr to be read; true if it
     * ended. Used when its input broke, to quote what the program said rather than "Broken pipe".
     */
    public boolean awaitExit(Duration timeout) {
        try {
            if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                stderrPump.join(2_000);
                return true;
            }
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Whether the program still runs. */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Kills the program if it still runs. */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroy();
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
        deadline.cancel(false);
    }

    /** An I/O failure on a pipe of a program killed at its time limit is that timeout. */
    private IOException orTimeout(IOException e) {
        if (timedOut.get()) {
            throw timeout();
        }
        return e;
    }

    /** The program's stdout: its end, or a failure, after the time limit was reached is the timeout. */
    private final class Output extends InputStream {
        private final InputStream in;

        Output(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            int b;
            try {
                b = in.read();
            } catch (IOException e) {
                throw orTimeout(e);
            }
            if (b < 0 && timedOut.get()) {
                throw timeout();
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n;
            try {
                n = in.read(b, off, len);
            } catch (IOException e) {
                throw orTimeout(e);
            }
            if (n < 0 && timedOut.get()) {
                throw timeout();
            }
            return n;
        }

        @Override
        public int available() throws IOException {
            return in.available();
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** The program's stdin: a write that fails after the time limit was reached is the timeout. */
    private final class Input extends OutputStream {
        private final OutputStream out;

        Input(OutputStream out) {
            this.out = out;
        }

        @Override
        public void write(int b) throws IOException {
            try {
                out.write(b);
            } catch (IOException e) {
                throw orTimeout(e);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            try {
                out.write(b, off, len);
            } catch (IOException e) {
                throw orTimeout(e);
            }
        }

        @Override
        public void flush() throws IOException {
            try {
                out.flush();
            } catch (IOException e) {
                throw orTimeout(e);
            }
        }

        @Override
        public void close() throws IOException {
            try {
                out.close();
            } catch (IOException e) {
                throw orTimeout(e);
            }
        }
    }
}
