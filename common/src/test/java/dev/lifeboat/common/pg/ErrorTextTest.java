package dev.lifeboat.common.pg;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which lines of a program's stderr reach an error message; the real programs' output is in PgTimeLimitTest. */
class ErrorTextTest {

    @Test
    void detailAndContextAreLeftOutWithTheLinesTheyRunOnTo() {
        String stderr = """
                psql:<stdin>:12: ERROR:  new row for relation "t" violates check constraint "t_n_check"
                DETAIL:  Failing row contains (-1, first line
                second line of the value).
                HINT:  a hint stays
                CONTEXT:  COPY t, line 3: "1	alice@example.com"
                PL/pgSQL function f() line 3 at SQL statement
                psql:<stdin>:40: ERROR:  division by zero""";
        assertThat(ErrorText.redact(stderr, false)).isEqualTo("""
                psql:<stdin>:12: ERROR:  new row for relation "t" violates check constraint "t_n_check"
                DETAIL: (left out: it may quote row values)
                HINT:  a hint stays
                CONTEXT: (left out: it may quote row values)
                psql:<stdin>:40: ERROR:  division by zero""");
    }

    @Test
    void programMessagesAndTheirContinuationLinesStay() {
        String stderr = """
                psql: error: connection to server at "127.0.0.1", port 1 failed: Connection refused
                	Is the server running on that host and accepting TCP/IP connections?
                pg_dump: error: Dumping the contents of table "t" failed: PQgetResult() failed.
                pg_dump: detail: Error message from server: ERROR:  permission denied for table t
                pg_dump: detail: Command was: COPY public.t (a) TO stdout;
                LINE 1: SELECT nope
                               ^""";
        assertThat(ErrorText.redact(stderr, false)).isEqualTo(stderr);
    }

    @Test
    void detailInsideAProgramMessageIsLeftOutUntilTheNextMessage() {
        String stderr = """
                pg_dump: detail: Error message from server: ERROR:  duplicate key value violates unique constraint "k"
                DETAIL:  Key (email)=(alice@example.com) already exists.
                pg_dump: detail: Command was: COPY public.t (a) TO stdout;""";
        assertThat(ErrorText.redact(stderr, false)).doesNotContain("alice").contains("Command was", "constraint \"k\"");
    }

    @Test
    void aTailCutInsideAFieldStartsLeftOut() {
        String tail = """
                ue that continues alice@example.com)
                ERROR:  the last error""";
        assertThat(ErrorText.redact(tail, true)).isEqualTo("""
                (earlier output left out)
                ERROR:  the last error""");
    }
}
