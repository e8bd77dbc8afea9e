package dev.lifeboat.common.pg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.error.Errors.PgTimeout;
import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.error.Errors.PgVersionUnsupported;
import dev.lifeboat.common.pg.PgTools.Program;
import dev.lifeboat.common.testing.PostgresServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PgToolsTest {
    private static final TimeLimit LIMIT = new TimeLimit(Duration.ofSeconds(30), "test.limit");
    private static PostgresServer server;

    @TempDir
    Path dir;

    @BeforeAll
    static void startServer() {
        server = PostgresServer.start();
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    private static Program program(int major) {
        return new Program(Path.of("/opt/pg" + major + "/bin/pg_dump"), major, "pg_dump (PostgreSQL) " + major + ".1");
    }

    private PgConnection connection(Optional<String> password) {
        return new PgConnection(server.host(), server.port(), "postgres", PostgresServer.USER, password);
    }

    private Path script(String folder, String name, String body) throws IOException {
        Path d = Files.createDirectories(dir.resolve(folder));
        Path p = d.resolve(name);
        Files.writeString(p, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        return p;
    }

    // --- choosing a program for a server version ---

    @Test
    void choosePicksTheSameMajor() {
        assertThat(PgTools.choose("pg_dump", List.of(program(17), program(13), program(15), program(16)), 15).major())
                .isEqualTo(15);
    }

    @Test
    void choosePicksTheOldestNewerMajorWhenTheSameIsMissing() {
        assertThat(PgTools.choose("pg_dump", List.of(program(18), program(12), program(16), program(17)), 15).major())
                .isEqualTo(16);
    }

    @Test
    void chooseRefusesWhenOnlyOlderMajorsExistAndNamesBothVersions() {
        assertThatThrownBy(() -> PgTools.choose("pg_dump", List.of(program(12), program(13)), 17, "17.5"))
                .isInstanceOf(PgVersionUnsupported.class)
                .hasMessageContaining("The server is PostgreSQL 17.5 but the newest pg_dump here is 13.1 (/opt/pg13/bin/pg_dump)")
                .hasMessageContaining("Install postgresql-client-17 in the image");
        assertThatThrownBy(() -> PgTools.choose("pg_dumpall", List.of(program(13)), 15))
                .isInstanceOf(PgVersionUnsupported.class).hasMessageContaining("PostgreSQL 15 but the newest pg_dumpall");
    }

    @Test
    void psqlAndPgRestoreFallBackToTheNewestOlderMajorForANewerServer() {
        // they only send SQL: a restore into a newer major (an upgrade rehearsal) works with them
        assertThat(PgTools.choose("psql", List.of(program(13), program(15), program(14)), 17).major()).isEqualTo(15);
        assertThat(PgTools.choose("pg_restore", List.of(program(15)), 17).major()).isEqualTo(15);
        assertThat(PgTools.choose("psql", List.of(program(15), program(17)), 16).major()).isEqualTo(17);
    }

    @Test
    void releaseIsWrittenAsPeopleWriteIt() {
        assertThat(PgTools.release(170005)).isEqualTo("17.5");
        assertThat(PgTools.release(150018)).isEqualTo("15.18");
        assertThat(PgTools.release(90624)).isEqualTo("9.6.24");
        assertThat(program(15).release()).isEqualTo("15.1");
        assertThat(new PgTools.Program(Path.of("psql"), 17, "psql (PostgreSQL) 17beta1").release()).isEqualTo("17");
    }

    @Test
    void chooseRefusesWhenNoProgramExists() {
        assertThatThrownBy(() -> PgTools.choose("pg_dump", List.of(), 15))
                .isInstanceOf(PgToolFailed.class)
                .hasMessageContaining("No pg_dump found");
    }

    @Test
    void parseMajorReadsVersionOutput() {
        assertThat(PgTools.parseMajor("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")).contains(15);
        assertThat(PgTools.parseMajor("psql (PostgreSQL) 17beta1")).contains(17);
        assertThat(PgTools.parseMajor("something else 15.2")).isEmpty();
    }

    // --- finding programs on disk ---

    @Test
    void findReportsEveryCopyWithItsMajor() throws IOException {
        Path fake = script("fake", "pg_dump", "echo 'pg_dump (PostgreSQL) 13.4'").getParent();
        PgTools tools = new PgTools(List.of(fake, server.bin()), Duration.ofSeconds(5), Duration.ofSeconds(30));

        List<Program> found = tools.find("pg_dump");
        assertThat(found).extracting(Program::major).containsExactly(13, 15);
        assertThat(found.get(0).path()).isEqualTo(fake.resolve("pg_dump"));
        assertThat(found.get(0).version()).isEqualTo("pg_dump (PostgreSQL) 13.4");
        assertThat(found.get(1).path()).isEqualTo(server.bin().resolve("pg_dump"));

        assertThat(tools.forServer("pg_dump", 13).path()).isEqualTo(fake.resolve("pg_dump"));
        assertThat(tools.forServer("pg_dump", 14).major()).isEqualTo(15);
        assertThat(tools.forServer("pg_dump", 15).path()).isEqualTo(server.bin().resolve("pg_dump"));
        assertThatThrownBy(() -> tools.forServer("pg_dump", 16)).isInstanceOf(PgToolFailed.class)
                .hasMessageContaining("16").hasMessageContaining("15");
        assertThat(tools.newest("pg_dump").major()).isEqualTo(15);
    }

    @Test
    void findSkipsProgramsThatAreNotPostgresOrNotExecutable() throws IOException {
        Path liar = script("liar", "pg_dump", "echo 'I am not pg_dump'").getParent();
        Path failing = script("failing", "pg_dump", "echo 'pg_dump (PostgreSQL) 14.1'; exit 2").getParent();
        Path plain = Files.createDirectories(dir.resolve("plain"));
        Files.writeString(plain.resolve("pg_dump"), "echo 'pg_dump (PostgreSQL) 12.1'\n");
        PgTools tools = new PgTools(List.of(liar, failing, plain, dir.resolve("missing"), server.bin()), Duration.ofSeconds(5), Duration.ofSeconds(30));
        assertThat(tools.find("pg_dump")).extracting(Program::major).containsExactly(15);
        assertThatThrownBy(() -> tools.newest("no_such_program")).isInstanceOf(PgToolFailed.class);
    }

    // --- talking to a real server ---

    @Test
    void serverVersionNumIsReadWithThePasswordFromTheEnvironment() {
        PgTools tools = new PgTools(List.of(server.bin()), Duration.ofSeconds(5), Duration.ofSeconds(30));
        int version = tools.serverVersionNum(connection(Optional.of(PostgresServer.PASSWORD)));
        assertThat(version).isBetween(150000, 159999);
    }

    @Test
    void missingOrWrongPasswordFailsWithThePsqlError() {
        PgTools tools = new PgTools(List.of(server.bin()), Duration.ofSeconds(5), Duration.ofSeconds(30));
        assertThatThrownBy(() -> tools.serverVersionNum(connection(Optional.empty())))
                .isInstanceOf(PgToolFailed.class).hasMessageContaining("password");
        assertThatThrownBy(() -> tools.serverVersionNum(connection(Optional.of("wrong"))))
                .isInstanceOf(PgToolFailed.class).hasMessageContaining("password authentication failed");
    }

    @Test
    void psqlQueryReturnsUnalignedTuples() {
        PgTools tools = new PgTools(List.of(server.bin()), Duration.ofSeconds(5), Duration.ofSeconds(30));
        String out = tools.psqlQuery(tools.newest("psql"), connection(Optional.of(PostgresServer.PASSWORD)),
                "SELECT 'a|b', 2 UNION ALL SELECT 'c', 3");
        assertThat(out.strip()).isEqualTo("a|b|2\nc|3");
    }

    @Test
    void sessionSettingsReachTheServerThroughPgOptionsWithSpacesEscaped() {
        PgTools tools = new PgTools(List.of(server.bin()), Duration.ofSeconds(5), Duration.ofSeconds(30));
        PgConnection c = connection(Optional.of(PostgresServer.PASSWORD)).withSettings(java.util.Map.of(
                "TimeZone", "Pacific/Chatham", "lifeboat.note", "two words\\x"));
        String out = tools.psqlQuery(tools.newest("psql"), c,
                "SELECT current_setting('TimeZone') || '|' || current_setting('lifeboat.note')");
        assertThat(out.strip()).isEqualTo("Pacific/Chatham|two words\\x");
        assertThatThrownBy(() -> PgProcess.options(java.util.Map.of("x -c y", "1")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // --- PgProcess ---

    @Test
    void failingProgramReportsItsStderr() {
        PgProcess p = PgProcess.start(Path.of("/bin/sh"),
                List.of("-c", "echo 'pg_dump: error: connection to server failed: boom' >&2; exit 1"), null, Duration.ofSeconds(5), LIMIT);
        assertThatThrownBy(p::waitSuccess)
                .isInstanceOf(PgToolFailed.class)
                .hasMessageContaining("exited with code 1")
                .hasMessageContaining("pg_dump: error: connection to server failed: boom");
        p.close();
    }

    @Test
    void connectionGoesIntoTheChildEnvironmentOnly() throws IOException {
        PgConnection c = new PgConnection("db.example", 6543, "appdb", "backup", Optional.of("s3cr3t"));
        assertThat(c.toString()).doesNotContain("s3cr3t");
        try (PgProcess p = PgProcess.start(Path.of("/usr/bin/env"), List.of(), c, Duration.ofSeconds(7), LIMIT)) {
            String env;
            try (InputStream in = p.stdout()) {
                env = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            p.waitSuccess();
            assertThat(env.lines()).contains("PGHOST=db.example", "PGPORT=6543", "PGDATABASE=appdb", "PGUSER=backup",
                    "PGPASSWORD=s3cr3t", "PGCONNECT_TIMEOUT=7", "LC_MESSAGES=C");
            assertThat(env.lines()).noneMatch(l -> l.startsWith("LC_ALL="));
        }
    }

    @Test
    void chattyStderrDoesNotBlockAndFailureQuotesItsTail() {
        PgProcess p = PgProcess.start(Path.of("/bin/sh"), List.of("-c",
                "i=0; while [ $i -lt 5000 ]; do echo \"pg_dump: warning: noise line $i ..........\" >&2; i=$((i+1)); done;"
                        + " echo 'pg_dump: error: the last words' >&2; exit 3"), null, Duration.ofSeconds(5), LIMIT);
        assertThatThrownBy(p::waitSuccess)
                .isInstanceOf(PgToolFailed.class)
                .hasMessageContaining("exited with code 3")
                .hasMessageContaining("the last words")
                .hasMessageContaining("(earlier output left out)")
                .hasMessageNotContaining("noise line 0 ");
        assertThat(p.stderr().length()).isLessThanOrEqualTo(32 * 1024);
        p.close();
    }

    @Test
    void programRunningPastTheTimeoutIsKilled() {
        long start = System.nanoTime();
        PgProcess p = PgProcess.start(Path.of("/bin/sleep"), List.of("30"), null, Duration.ofSeconds(5),
                new TimeLimit(Duration.ofMillis(300), "test.sleep-limit"));
        assertThatThrownBy(p::waitSuccess)
                .isInstanceOf(PgTimeout.class)
                .hasMessage("sleep timed out after 0.3s (test.sleep-limit); it was killed");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(300), Duration.ofSeconds(10));
        assertThat(p.isAlive()).isFalse();
        assertThat(p.timedOut()).isTrue();
        p.close();
    }

    @Test
    void missingProgramFailsToStart() {
        assertThatThrownBy(() -> PgProcess.start(dir.resolve("nope"), List.of(), null, Duration.ofSeconds(5), LIMIT))
                .isInstanceOf(PgToolFailed.class).hasMessageContaining("Cannot start");
    }
}
