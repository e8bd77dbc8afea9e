package dev.lifeboat.common.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.error.Errors.PgTimeout;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.pg.PgTools.Program;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Time limits and error text of PostgreSQL programs against a real server: a sleeping query, a server that stops
 * answering (SIGSTOP), endless output and blocked pipes all end at their limit with a message naming it, and the
 * server's DETAIL and CONTEXT fields, which quote row values, stay out of error messages.
 */
class PgTimeLimitTest {
    private static final Duration SHORT = Duration.ofSeconds(2);
    /** Generous for a loaded 2-core CI machine; what matters is that the call ends, near its limit. */
    private static final Duration BOUND = Duration.ofSeconds(20);
    private static PostgresServer server;

    @BeforeAll
    static void startServer() {
        server = PostgresServer.start();
        server.psql("postgres", "CREATE TABLE people (email text UNIQUE); INSERT INTO people VALUES ('alice@example.com');"
                + "CREATE TABLE readings (n int CHECK (n > 0), note text)");
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    private static PgConnection connection() {
        return new PgConnection(server.host(), server.port(), "postgres", PostgresServer.USER,
                Optional.of(PostgresServer.PASSWORD));
    }

    /** Quick queries limited to {@code queryTimeout}; connecting may take long, so the query limit is what ends them. */
    private static PgTools tools(Duration queryTimeout) {
        return new PgTools(List.of(server.bin()), Duration.ofSeconds(60), queryTimeout);
    }

    private static Program psql() {
        return tools(SHORT).newest("psql");
    }

    private static Duration since(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }

    private static void await(String what, BooleanSupplier condition) {
        Poll.until(what, BOUND, condition);
    }

    private static boolean noPsqlChildren() {
        return ProcessHandle.current().descendants()
                .noneMatch(h -> h.info().command().map(c -> c.endsWith("/psql")).orElse(false));
    }

    /** Server processes still running a statement containing {@code text} (other than this question). */
    private static int runningStatements(String text) {
        return Integer.parseInt(server.psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                + " AND state = 'active' AND position('" + text + "' in query) > 0"));
    }

    // --- deadlines ---

    @Test
    void sleepingQueryEndsAtTheQueryTimeoutAndNoLongerRunsOnTheServer() {
        PgTools tools = tools(SHORT);
        long start = System.nanoTime();
        assertThatThrownBy(() -> tools.psqlQuery(tools.newest("psql"), connection(), "SELECT pg_sleep(60)"))
                .isInstanceOf(PgTimeout.class)
                .hasMessage("psql timed out after 2s running \"SELECT pg_sleep(60)\" against postgres@127.0.0.1:"
                        + server.port() + "/postgres (lifeboat.pg.query-timeout); it was killed")
                .hasMessageNotContaining(PostgresServer.PASSWORD);
        assertThat(since(start)).isBetween(SHORT, BOUND);
        await("psql is gone", PgTimeLimitTest::noPsqlChildren);
        // statement_timeout, one second after the client's limit, ends the statement the killed psql left behind
        await("pg_sleep(60) no longer runs on the server", () -> runningStatements("pg_sleep(60)") == 0);
    }

    @Test
    void callerLimitNamesItsOwnSettingAndLongSqlIsShortened() {
        String sql = "SELECT pg_sleep(60) /* " + "x".repeat(400) + " */";
        assertThatThrownBy(() -> tools(Duration.ofSeconds(30)).psqlQuery(psql(), connection(), sql,
                new TimeLimit(Duration.ofSeconds(1), "lifeboat.verify.query-timeout")))
                .isInstanceOf(PgTimeout.class)
                .hasMessageContaining("psql timed out after 1s running \"SELECT pg_sleep(60) /* xxx")
                .hasMessageContaining("x...\" against")
                .hasMessageEndingWith("(lifeboat.verify.query-timeout); it was killed")
                .hasMessageNotContaining("x".repeat(200));
        await("pg_sleep(60) no longer runs on the server", () -> runningStatements("pg_sleep(60)") == 0);
    }

    @Test
    void serverThatStopsAnsweringFailsAtTheTimeoutNamingIt() throws Exception {
        // the checkpointer lives as long as the server; its parent is the postmaster
        long checkpointer = Long.parseLong(server.psql("postgres",
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"));
        ProcessHandle postmaster = ProcessHandle.of(checkpointer).flatMap(ProcessHandle::parent).orElseThrow();
        List<ProcessHandle> serverProcesses = new ArrayList<>(postmaster.descendants().toList());
        serverProcesses.add(postmaster);
        PgTools tools = tools(SHORT);
        Program psql = tools.newest("psql"); // asked before the server stops: finding it runs psql --version
        signal("-STOP", serverProcesses);
        try {
            long start = System.nanoTime();
            assertThatThrownBy(() -> tools.psqlQuery(psql, connection(), "SELECT 1"))
                    .isInstanceOf(PgTimeout.class)
                    .hasMessageContaining("psql timed out after 2s running \"SELECT 1\" against postgres@127.0.0.1:")
                    .hasMessageContaining("(lifeboat.pg.query-timeout)");
            assertThat(since(start)).isBetween(SHORT, BOUND);

            start = System.nanoTime();
            assertThatThrownBy(() -> tools.serverVersionNum(connection()))
                    .isInstanceOf(PgTimeout.class)
                    .hasMessageContaining("running \"SHOW server_version_num\"")
                    .hasMessageContaining("(lifeboat.pg.query-timeout)");
            assertThat(since(start)).isBetween(SHORT, BOUND);
            await("psql is gone", PgTimeLimitTest::noPsqlChildren);
        } finally {
            signal("-CONT", serverProcesses);
        }
        assertThat(tools.serverVersionNum(connection())).isBetween(150000, 159999);
    }

    /**
     * Signals each process on its own: a backend that was ending when the list was taken may be gone by now, and
     * one missing pid must not keep the others (the postmaster above all) from being resumed.
     */
    private static void signal(String signal, List<ProcessHandle> processes) throws IOException, InterruptedException {
        for (ProcessHandle p : processes) {
            Process kill = new ProcessBuilder("kill", signal, Long.toString(p.pid()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            int exit = kill.waitFor();
            assertThat(exit == 0 || !p.isAlive()).as("kill %s %d", signal, p.pid()).isTrue();
        }
    }

    @Test
    void endlessAnswerIsCutAtTheCapInsteadOfFillingMemory() {
        // generate_series in the select list streams its rows (in FROM it would be materialised first)
        long start = System.nanoTime();
        assertThatThrownBy(() -> tools(BOUND).psqlQuery(psql(), connection(),
                "COPY (SELECT generate_series(1, 1000000000000)) TO STDOUT"))
                .isInstanceOf(PgToolFailed.class)
                .isNotInstanceOf(PgTimeout.class)
                .hasMessageContaining("psql wrote more than 16 MiB running \"COPY (SELECT generate_series(1, 1000000000000)) TO STDOUT\"");
        assertThat(since(start)).isLessThan(BOUND);
        await("psql is gone", PgTimeLimitTest::noPsqlChildren);
        await("the COPY no longer runs on the server", () -> runningStatements("1000000000000") == 0);
    }

    @Test
    void streamingReadEndsAtTheLimitWhenTheProgramNeverStops() throws IOException {
        long start = System.nanoTime();
        try (PgProcess p = PgProcess.start(Path.of("/usr/bin/yes"), List.of("row"), null, Duration.ofSeconds(5),
                new TimeLimit(SHORT, "lifeboat.backup.timeout"))) {
            InputStream in = p.stdout();
            byte[] buffer = new byte[1 << 16];
            assertThatThrownBy(() -> {
                while (in.read(buffer) >= 0) {
                    // a consumer that keeps up: only the limit can end this
                }
            }).isInstanceOf(PgTimeout.class)
                    .hasMessage("yes timed out after 2s (lifeboat.backup.timeout); it was killed");
            assertThatThrownBy(p::waitSuccess).isInstanceOf(PgTimeout.class);
        }
        assertThat(since(start)).isBetween(SHORT, BOUND);
    }

    @Test
    void blockedWriteEndsAtTheLimitWhenTheProgramStopsReading() throws IOException {
        long start = System.nanoTime();
        try (PgProcess p = PgProcess.start(Path.of("/bin/sleep"), List.of("60"), null, Duration.ofSeconds(5),
                new TimeLimit(SHORT, "lifeboat.restore.timeout"))) {
            OutputStream out = p.stdin();
            byte[] chunk = new byte[1 << 16];
            assertThatThrownBy(() -> {
                while (true) {
                    out.write(chunk); // the pipe fills, then the write blocks until the program is killed
                }
            }).isInstanceOf(PgTimeout.class)
                    .hasMessage("sleep timed out after 2s (lifeboat.restore.timeout); it was killed");
        }
        assertThat(since(start)).isBetween(SHORT, BOUND);
    }

    @Test
    void deadlineOfAFinishedProgramIsDropped() {
        try (PgProcess p = PgProcess.start(Path.of("/bin/sh"), List.of("-c", "echo done"), null, Duration.ofSeconds(5),
                new TimeLimit(Duration.ofHours(1), "test.limit"))) {
            assertThat(p.readStdout(1024)).isEqualTo("done\n");
            p.waitSuccess();
            // an hour-long limit per quick query must not pile up in the watchdog's queue
            await("the deadline is cancelled once the program ended", p::deadlineCancelled);
            assertThat(p.timedOut()).isFalse();
        }
    }

    @Test
    void answerOverTheCapFailsAndStopsTheProgram() {
        try (PgProcess p = PgProcess.start(Path.of("/usr/bin/yes"), List.of("0123456789"), null,
                Duration.ofSeconds(5), new TimeLimit(BOUND, "test.limit"))) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> p.readStdout(8)).isInstanceOf(PgToolFailed.class)
                    .hasMessage("yes wrote more than 8 bytes; only small answers are read this way, so it was stopped");
            await("yes is stopped", () -> !p.isAlive());
            assertThat(since(start)).isLessThan(BOUND);
        }
    }

    // --- what a failure says ---

    @Test
    void uniqueViolationNamesTheConstraintButNotTheValue() {
        assertThatThrownBy(() -> tools(Duration.ofSeconds(30)).psqlQuery(psql(), connection(),
                "INSERT INTO people VALUES ('alice@example.com')"))
                .isInstanceOf(PgToolFailed.class)
                .hasMessageContaining("duplicate key value violates unique constraint \"people_email_key\"")
                .hasMessageContaining("DETAIL: (left out: it may quote row values)")
                .hasMessageNotContaining("alice");
    }

    @Test
    void failingRowOverSeveralLinesIsLeftOutWhole() {
        assertThatThrownBy(() -> tools(Duration.ofSeconds(30)).psqlQuery(psql(), connection(),
                "INSERT INTO readings VALUES (-1, 'first-secret' || chr(10) || 'second-secret' || chr(10) || 'third-secret')"))
                .isInstanceOf(PgToolFailed.class)
                .hasMessageContaining("violates check constraint \"readings_n_check\"")
                .hasMessageNotContaining("-secret")
                .hasMessageNotContaining("Failing row");
    }

    @Test
    void copyErrorContextWithTheInputLineIsLeftOut() throws IOException {
        try (PgProcess p = PgProcess.start(server.bin().resolve("psql"), List.of("-X", "--no-password", "-q", "-v",
                "ON_ERROR_STOP=1"), connection(), Duration.ofSeconds(10), new TimeLimit(BOUND, "test.limit"), true)) {
            try (OutputStream in = p.stdin()) {
                in.write("COPY people FROM STDIN;\nbob@example.com\tsecret-extra-column\n\\.\n".getBytes(StandardCharsets.UTF_8));
            }
            assertThatThrownBy(p::waitSuccess)
                    .isInstanceOf(PgToolFailed.class)
                    .hasMessageContaining("ERROR:  extra data after last expected column")
                    .hasMessageContaining("CONTEXT: (left out: it may quote row values)")
                    .hasMessageNotContaining("bob@")
                    .hasMessageNotContaining("secret-extra-column");
            assertThat(p.stderr()).contains("extra data after last expected column").doesNotContain("bob@");
        }
    }
}
