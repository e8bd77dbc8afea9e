package dev.lifeboat.common.pg;

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
import java.util.concurrent.TimeUnit;

/**
 * A running PostgreSQL client program, started from an argument array (never a shell), with the connection in
 * {@code PG*} environment variables of the child only. Its stderr is drained on a thread into a bounded tail
 * that failures quote, so a chatty program never blocks and a failure says what the program said.
 */
public final class PgProcess implements AutoCloseable {
    private static final int STDERR_TAIL = 16 * 1024;
    private final String name;
    private final Process process;
    private final Thread stderrPump;
    private final ByteArrayOutputStream stderr = new ByteArrayOutputStream();

    private PgProcess(String name, Process process) {
        this.name = name;
        this.process = process;
        this.stderrPump = Thread.ofVirtual().name(name + "-stderr").start(this::pumpStderr);
    }

    /**
     * Starts {@code program args...} connected to {@code connection}. Only the variables needed are passed:
     * the parent's PG* variables are removed so none leaks into the child by accident.
     */
    public static PgProcess start(Path program, List<String> args, PgConnection connection, Duration connectTimeout) {
        return start(program, args, connection, connectTimeout, false);
    }

    /**
     * As above; with {@code discardStdout} the program's stdout goes nowhere (psql loading a dump answers every
     * statement, and an unread pipe would stall it).
     */
    public static PgProcess start(Path program, List<String> args, PgConnection connection, Duration connectTimeout,
                                  boolean discardStdout) {
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
        env.put("PGAPPNAME", "lifeboat");
        if (connection != null && !connection.settings().isEmpty()) {
            env.put("PGOPTIONS", options(connection.settings()));
        }
        try {
            return new PgProcess(program.getFileName().toString(), builder.start());
        } catch (IOException e) {
            throw new PgToolFailed("Cannot start " + program + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@code PGOPTIONS} for session settings: {@code -c name=value ...}, with spaces and backslashes in values
     * escaped as libpq requires. Names are checked, so a value can never smuggle in another option.
     */
    static String options(java.util.Map<String, String> settings) {
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

    public InputStream stdout() {
        return process.getInputStream();
    }

    public OutputStream stdin() {
        return process.getOutputStream();
    }

    public long pid() {
        return process.pid();
    }

    /** Waits for the program to end; throws {@link PgToolFailed} with its stderr unless it exited 0. */
    public void waitSuccess(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new PgToolFailed(name + " did not finish within " + timeout + "; killed");
            }
            stderrPump.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new PgToolFailed(name + " was interrupted");
        }
        int exit = process.exitValue();
        if (exit != 0) {
            throw new PgToolFailed(name + " exited with code " + exit + describeStderr());
        }
    }

    /** What the program wrote on stderr (its last 16 KiB). */
    public String stderr() {
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
                    if (stderr.size() > 2 * STDERR_TAIL) {
                        byte[] all = stderr.toByteArray();
                        stderr.reset();
                        stderr.write(all, all.length - STDERR_TAIL, STDERR_TAIL);
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
    }
}
