package dev.lifeboat.restore.service;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.testing.Poll;
import dev.lifeboat.common.testing.PostgresServer;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The lanes of a parallel load against a real PostgreSQL: they wait for the main connection's commit, however late. */
class LoadLanesTest {
    private static final String TABLE = "public.\"Odd \"\"t\"\"\"";
    private static PostgresServer pg;
    private static PgConnection connection;
    private static PgTools.Program psql;

    @BeforeAll
    static void start() {
        pg = PostgresServer.start();
        pg.createDatabase("lanes");
        pg.psql("lanes", "CREATE TABLE blocker (x int)");
        connection = new PgConnection(pg.host(), pg.port(), "lanes", PostgresServer.USER,
                Optional.of(PostgresServer.PASSWORD));
        psql = new PgTools.Program(pg.bin().resolve("psql"), Integer.parseInt(pg.version().split("\\.")[0]), "psql");
    }

    @AfterAll
    static void stop() {
        if (pg != null) {
            pg.close();
        }
    }

    private static PgProcess psql() {
        return PgProcess.start(psql.path(), List.of("-X", "-q", "-v", "ON_ERROR_STOP=1"), connection,
                Duration.ofSeconds(10), new TimeLimit(Duration.ofMinutes(2), "test"), true);
    }

    private static void send(OutputStream out, String sql) throws IOException {
        out.write(sql.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void await(String what, String sql, String expected) {
        Poll.until(what, Duration.ofSeconds(60), () -> pg.psql("lanes", sql).equals(expected));
    }

    @Test
    @Timeout(120)
    void lanesStartedBeforeTheMainConnectionCommitsWaitForItAndLoadEveryRow() throws Exception {
        // a session holds a lock the main connection is about to need: its COMMIT comes only when the test says
        PgProcess holder = psql();
        OutputStream holderIn = new BufferedOutputStream(holder.stdin());
        send(holderIn, "BEGIN;\nLOCK TABLE blocker IN ACCESS EXCLUSIVE MODE;\n");
        await("the holder's lock", "SELECT count(*) FROM pg_locks WHERE relation = 'blocker'::regclass AND granted", "1");
        PgProcess main = psql();
        OutputStream mainIn = new BufferedOutputStream(main.stdin());
        send(mainIn, "BEGIN;\nCREATE TABLE " + TABLE + " (a int, b text);\nLOCK TABLE blocker IN ACCESS SHARE MODE;\n");

        LoadLanes lanes = new LoadLanes(2, psql, connection, Duration.ofSeconds(10), Duration.ofMinutes(2),
                "SET LOCAL synchronous_commit = 'off';\n", mainIn, main);
        try {
            List<OutputStream> out = lanes.open(TABLE, "SET client_encoding = 'UTF8';\n".getBytes(StandardCharsets.UTF_8),
                    ("COPY " + TABLE + " (a, b) FROM stdin;\n").getBytes(StandardCharsets.UTF_8));
            // both lanes wait: the table exists only in the main connection's transaction, which cannot commit yet
            await("both lanes waiting for the table", "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
                    + "'lifeboat-restore-lane-%' AND state = 'active' AND query LIKE 'DO $lifeboat_wait$%'", "2");
            for (int lane = 0; lane < 2; lane++) {
                StringBuilder rows = new StringBuilder();
                for (int i = 1; i <= 1000; i++) {
                    rows.append(lane * 1000 + i).append("\trow \\t").append(i).append('\n');
                }
                send(out.get(lane), rows.toString());
            }
            send(holderIn, "COMMIT;\n"); // the main connection commits its table now
            lanes.close();
            send(mainIn, "COMMIT;\n");
            mainIn.close();
            main.waitSuccess();
            lanes.finish();
        } finally {
            lanes.kill();
            holder.kill();
            holder.close();
            main.close();
        }
        assertThat(pg.psql("lanes", "SELECT count(*), sum(a), count(DISTINCT xmin::text) FROM " + TABLE))
                .as("every row, committed by the two lanes").isEqualTo("2000|2001000|2");
        assertThat(pg.psql("lanes", "SELECT b FROM " + TABLE + " WHERE a = 1001")).isEqualTo("row \t1");
    }

    @Test
    void tableNamesAreSplitAndUnquoted() {
        assertThat(LoadLanes.identifiers("public.orders")).containsExactly("public", "orders");
        assertThat(LoadLanes.identifiers("\"My \"\"S\"\".x\".\"a.b\"")).containsExactly("My \"S\".x", "a.b");
        assertThat(LoadLanes.visibleWait("s.\"it's\\\"")).contains("n.nspname = E's'").contains("c.relname = E'it''s\\\\'");
    }
}
