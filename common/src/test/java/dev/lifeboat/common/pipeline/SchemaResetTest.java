package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.common.testing.PostgresServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

class SchemaResetTest {

    /** Writes {@code input} through a SchemaReset in chunks of the sizes given, then closes it. */
    static Result reset(byte[] input, IntSupplier chunkSizes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SchemaReset reset = new SchemaReset(out);
        int off = 0;
        while (off < input.length) {
            int n = Math.min(input.length - off, chunkSizes.getAsInt());
            if (n == 1) {
                reset.write(input[off]);
            } else {
                reset.write(input, off, n);
            }
            off += n;
        }
        reset.close();
        return new Result(out.toByteArray(), reset.schemas(), reset.replaced());
    }

    static Result reset(String input) throws IOException {
        byte[] bytes = input.getBytes(StandardCharsets.UTF_8);
        return reset(bytes, () -> bytes.length);
    }

    record Result(byte[] bytes, List<String> schemas, List<SchemaReset.Replaced> replaced) {
        String text() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    static String dropBefore(String dump, String identifier) {
        String create = "CREATE SCHEMA " + identifier + ";\n";
        assertThat(dump).contains(create);
        return dump.replace(create, "DROP SCHEMA IF EXISTS " + identifier + " CASCADE;\n" + create);
    }

    static String schemaHeader(String name) {
        return "--\n-- Name: " + name + "; Type: SCHEMA; Schema: -; Owner: postgres\n--\n\n";
    }

    /** What pg_dump 15 writes, trimmed; every kind of line the scanner must tell apart. */
    static final String DUMP = """
            --
            -- PostgreSQL database dump
            --

            \\restrict 0123456789abcdef

            -- Dumped from database version 15.18
            -- Dumped by pg_dump version 15.18

            SET statement_timeout = 0;
            SET client_encoding = 'UTF8';
            SELECT pg_catalog.set_config('search_path', '', false);

            --
            -- Name: We ird; Type: SCHEMA; Schema: -; Owner: postgres
            --

            CREATE SCHEMA "We ird";


            ALTER SCHEMA "We ird" OWNER TO postgres;

            --
            -- Name: a"b; Type: SCHEMA; Schema: -; Owner: postgres
            --

            CREATE SCHEMA "a""b";


            ALTER SCHEMA "a""b" OWNER TO postgres;

            --
            -- Name: public; Type: SCHEMA; Schema: -; Owner: pg_database_owner
            --

            -- *not* creating schema, since initdb creates it


            ALTER SCHEMA public OWNER TO pg_database_owner;

            --
            -- Name: s1; Type: SCHEMA; Schema: -; Owner: postgres
            --

            CREATE SCHEMA s1;


            ALTER SCHEMA s1 OWNER TO postgres;

            --
            -- Name: make(); Type: FUNCTION; Schema: s1; Owner: postgres
            --

            CREATE FUNCTION s1.make() RETURNS void
                LANGUAGE plpgsql
                AS $$
            BEGIN
            CREATE SCHEMA x;
            END $$;

            --
            -- Name: t; Type: TABLE; Schema: s1; Owner: postgres
            --

            CREATE TABLE s1.t (
                line text
            );

            --
            -- Data for Name: t; Type: TABLE DATA; Schema: s1; Owner: postgres
            --

            COPY s1.t (line) FROM stdin;
            -- Name: x; Type: SCHEMA; Schema: -; Owner: postgres
            CREATE SCHEMA x;
            \\\\.
            \\.


            --
            -- PostgreSQL database dump complete
            --

            \\unrestrict 0123456789abcdef

            """;

    @Test
    void putsADropRightBeforeEachDumpedSchemaAndChangesNothingElse() throws IOException {
        Result result = reset(DUMP);
        assertThat(result.text()).isEqualTo(dropBefore(dropBefore(dropBefore(DUMP, "\"We ird\""), "\"a\"\"b\""), "s1"));
        assertThat(result.schemas()).containsExactly("\"We ird\"", "\"a\"\"b\"", "s1");
    }

    @Test
    void givesTheSameOutputHoweverTheInputIsChunked() throws IOException {
        byte[] dump = DUMP.getBytes(StandardCharsets.UTF_8);
        Result whole = reset(dump, () -> dump.length);
        assertThat(reset(dump, () -> 1).bytes()).isEqualTo(whole.bytes());
        for (int at = 0; at <= dump.length; at++) {
            int[] sizes = {at, dump.length};
            int[] next = {0};
            assertThat(reset(dump, () -> sizes[next[0]++]).bytes()).as("split at %d", at).isEqualTo(whole.bytes());
        }
        for (long seed = 0; seed < 200; seed++) {
            Random random = new Random(seed);
            Result chunked = reset(dump, () -> random.nextInt(1, 40));
            assertThat(chunked.bytes()).as("seed %d", seed).isEqualTo(whole.bytes());
            assertThat(chunked.schemas()).as("seed %d", seed).isEqualTo(whole.schemas());
        }
    }

    @Test
    void copyDataIsNeverRewrittenAndRewritingResumesAfterTheEndOfData() throws IOException {
        String dump = "COPY s1.t (line) FROM stdin;\n"
                + "CREATE SCHEMA x;\n"
                + schemaHeader("x")
                + "CREATE SCHEMA x;\n"
                + "\\.\n"
                + schemaHeader("y")
                + "CREATE SCHEMA y;\n";
        Result result = reset(dump);
        assertThat(result.text()).isEqualTo(dump.replace("CREATE SCHEMA y;\n",
                "DROP SCHEMA IF EXISTS y CASCADE;\nCREATE SCHEMA y;\n"));
        assertThat(result.schemas()).containsExactly("y");
    }

    @Test
    void createSchemaWithoutASchemaHeaderRightBeforeItIsLeftAlone() throws IOException {
        String dump = "--\n-- Name: make(); Type: FUNCTION; Schema: s1; Owner: postgres\n--\n\n"
                + "CREATE FUNCTION s1.make() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\nCREATE SCHEMA x;\nEND $$;\n"
                + "CREATE SCHEMA y;\n"
                + schemaHeader("z")
                + "SET search_path = '';\n"
                + "CREATE SCHEMA z;\n"
                + "--\n-- Name: SCHEMA z; Type: COMMENT; Schema: -; Owner: postgres\n--\n\n"
                + "CREATE SCHEMA z;\n";
        Result result = reset(dump);
        assertThat(result.text()).isEqualTo(dump);
        assertThat(result.schemas()).isEmpty();
    }

    @Test
    void onlyTheExactStatementIsRewritten() throws IOException {
        for (String line : List.of("CREATE SCHEMA s1 AUTHORIZATION bob;", "CREATE SCHEMA s1; ", " CREATE SCHEMA s1;",
                "CREATE SCHEMA \"\";", "CREATE SCHEMA \"s1;", "CREATE SCHEMA 1s;", "CREATE SCHEMA s-1;",
                "create schema s1;", "CREATE SCHEMA;")) {
            String dump = schemaHeader("s1") + line + "\n";
            assertThat(reset(dump).text()).as(line).isEqualTo(dump);
        }
        String dump = schemaHeader("s$1") + "CREATE SCHEMA _S$1;\n";
        assertThat(reset(dump).schemas()).containsExactly("_S$1");
    }

    @Test
    void publicationsEventTriggersAndServersAreDroppedBeforeTheDumpCreatesThemAgain() throws IOException {
        String dump = "--\n-- Name: veröffentlichung; Type: PUBLICATION; Schema: -; Owner: postgres\n--\n\n"
                + "CREATE PUBLICATION \"veröffentlichung\" WITH (publish = 'insert, update, delete, truncate');\n"
                + "--\n-- Name: pub_all; Type: PUBLICATION; Schema: -; Owner: postgres\n--\n\n"
                + "CREATE PUBLICATION pub_all FOR ALL TABLES WITH (publish = 'insert');\n"
                + "--\n-- Name: pub_all t; Type: PUBLICATION TABLE; Schema: s1; Owner: postgres\n--\n\n"
                + "ALTER PUBLICATION pub_all ADD TABLE ONLY s1.t;\n"
                + "--\n-- Name: no_ddl; Type: EVENT TRIGGER; Schema: -; Owner: postgres\n--\n\n"
                + "CREATE EVENT TRIGGER no_ddl ON ddl_command_start\n   EXECUTE FUNCTION public.no_ddl();\n"
                + "--\n-- Name: remote; Type: SERVER; Schema: -; Owner: postgres\n--\n\n"
                + "CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (\n    host 'db'\n);\n"
                + "--\n-- Name: pub2; Type: PUBLICATION; Schema: -; Owner: postgres\n--\n\n"
                + "CREATE PUBLICATION pub2;\n";
        Result result = reset(dump);
        assertThat(result.text()).isEqualTo(dump
                .replace("CREATE PUBLICATION \"ver", "DROP PUBLICATION IF EXISTS \"veröffentlichung\";\nCREATE PUBLICATION \"ver")
                .replace("CREATE PUBLICATION pub_all", "DROP PUBLICATION IF EXISTS pub_all;\nCREATE PUBLICATION pub_all")
                .replace("CREATE EVENT TRIGGER", "DROP EVENT TRIGGER IF EXISTS no_ddl;\nCREATE EVENT TRIGGER")
                .replace("CREATE SERVER", "DROP SERVER IF EXISTS remote CASCADE;\nCREATE SERVER")
                .replace("CREATE PUBLICATION pub2;", "DROP PUBLICATION IF EXISTS pub2;\nCREATE PUBLICATION pub2;"));
        assertThat(result.replaced()).extracting(SchemaReset.Replaced::kind).containsExactly(SchemaReset.Kind.PUBLICATION,
                SchemaReset.Kind.PUBLICATION, SchemaReset.Kind.EVENT_TRIGGER, SchemaReset.Kind.SERVER,
                SchemaReset.Kind.PUBLICATION);
        assertThat(result.schemas()).isEmpty();
        byte[] bytes = dump.getBytes(StandardCharsets.UTF_8);
        for (long seed = 0; seed < 50; seed++) {
            Random random = new Random(seed);
            assertThat(reset(bytes, () -> random.nextInt(1, 20)).bytes()).as("seed %d", seed).isEqualTo(result.bytes());
        }
        // a header of one kind does not license a CREATE of another, nor a CREATE that is not the object's own
        for (String line : List.of("CREATE SCHEMA p;", "CREATE PUBLICATIONp;", "CREATE PUBLICATION \"\";",
                "CREATE PUBLICATION p-q;", " CREATE PUBLICATION p;")) {
            String other = "--\n-- Name: p; Type: PUBLICATION; Schema: -; Owner: postgres\n--\n\n" + line + "\n";
            assertThat(reset(other).text()).as(line).isEqualTo(other);
        }
    }

    @Test
    void linesLongerThanTheHoldLimitPassThroughIntact() throws IOException {
        String columns = String.join(", ", java.util.Collections.nCopies(SchemaReset.MAX_HELD_LINE / 8, "\"column\""));
        String dump = schemaHeader("big")
                + "CREATE SCHEMA " + "b".repeat(10 << 20) + ";\n" // held, then let go once past the limit
                + "CREATE SCHEMA big;\n" // the long statement line ended the header's entry
                + "COMMENT ON TABLE t IS '" + "x".repeat(10 << 20) + "';\n"
                + "COPY s1.t (" + columns + ") FROM stdin;\n" // a header longer than the limit still starts data
                + "r".repeat(10 << 20) + "\n"
                + schemaHeader("x")
                + "CREATE SCHEMA x;\n"
                + "\\.\n"
                + schemaHeader("after")
                + "CREATE SCHEMA after;\n";
        String expected = dump.replace("CREATE SCHEMA after;\n", "DROP SCHEMA IF EXISTS after CASCADE;\nCREATE SCHEMA after;\n");
        byte[] bytes = dump.getBytes(StandardCharsets.UTF_8);
        Result whole = reset(bytes, () -> bytes.length);
        assertThat(whole.text()).isEqualTo(expected);
        assertThat(whole.schemas()).containsExactly("after");
        Random random = new Random(7);
        assertThat(reset(bytes, () -> random.nextInt(1, 100_000)).bytes()).isEqualTo(whole.bytes());
        assertThat(reset(bytes, () -> 1).bytes()).isEqualTo(whole.bytes());
    }

    @Test
    void aLastLineWithoutNewlineIsWrittenOnClose() throws IOException {
        assertThat(reset(schemaHeader("s1") + "CREATE SCHEMA s1;").text())
                .isEqualTo(schemaHeader("s1") + "DROP SCHEMA IF EXISTS s1 CASCADE;\nCREATE SCHEMA s1;");
        assertThat(reset(schemaHeader("s1") + "CREATE SCH").text()).isEqualTo(schemaHeader("s1") + "CREATE SCH");
        assertThat(reset("SELECT 1;").text()).isEqualTo("SELECT 1;");
    }

    @Test
    void flushWritesEverythingButAnUndecidedLineStart() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SchemaReset reset = new SchemaReset(out);
        byte[] start = (schemaHeader("s1") + "CREATE SCHE").getBytes(StandardCharsets.UTF_8);
        reset.write(start, 0, start.length);
        reset.flush();
        assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo(schemaHeader("s1"));
        byte[] rest = "MA s1;\nSELECT 1;".getBytes(StandardCharsets.UTF_8);
        reset.write(rest, 0, rest.length);
        reset.flush();
        assertThat(out.toString(StandardCharsets.UTF_8))
                .isEqualTo(schemaHeader("s1") + "DROP SCHEMA IF EXISTS s1 CASCADE;\nCREATE SCHEMA s1;\nSELECT 1;");
    }

    /** Writes {@code input} through a SchemaReset without schema reset in chunks of the sizes given, then closes it. */
    static String dropTransactionControl(byte[] input, IntSupplier chunkSizes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SchemaReset reset = new SchemaReset(out, false);
        int off = 0;
        while (off < input.length) {
            int n = Math.min(input.length - off, chunkSizes.getAsInt());
            reset.write(input, off, n);
            off += n;
        }
        reset.close();
        return out.toString(StandardCharsets.UTF_8);
    }

    static String dropTransactionControl(String input) throws IOException {
        byte[] bytes = input.getBytes(StandardCharsets.UTF_8);
        return dropTransactionControl(bytes, () -> bytes.length);
    }

    static final String BLOBS_HEADER = "--\n-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -\n--\n\n";

    /** The large-object parts of what pg_dump 15 writes, with COPY rows and a procedure body that read alike. */
    static final String LO_DUMP = schemaHeader("s1")
            + "CREATE SCHEMA s1;\n\n"
            + "--\n-- Name: p(); Type: PROCEDURE; Schema: s1; Owner: postgres\n--\n\n"
            + "CREATE PROCEDURE s1.p()\n    LANGUAGE plpgsql\n    AS $$\nBEGIN;\nCOMMIT;\nEND $$;\n\n"
            + "--\n-- Name: 16391; Type: BLOB; Schema: -; Owner: lo_owner\n--\n\n"
            + "SELECT pg_catalog.lo_create('16391');\n\n\nALTER LARGE OBJECT 16391 OWNER TO lo_owner;\n\n"
            + "--\n-- Data for Name: t; Type: TABLE DATA; Schema: s1; Owner: postgres\n--\n\n"
            + "COPY s1.t (line) FROM stdin;\n"
            + "-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -\n"
            + "BEGIN;\nCOMMIT;\n\\.\n\n\n"
            + BLOBS_HEADER
            + "BEGIN;\n\n"
            + "SELECT pg_catalog.lo_open('16391', 131072);\n"
            + "SELECT pg_catalog.lowrite(0, '\\x" + "68".repeat(40_000) + "');\n"
            + "SELECT pg_catalog.lo_close(0);\n\n"
            + "COMMIT;\n\n"
            + "--\n-- Name: t t_pkey; Type: CONSTRAINT; Schema: s1; Owner: postgres\n--\n\n"
            + "COMMIT;\nBEGIN;\n";

    static String withoutBlobsTransaction(String dump) {
        String begin = BLOBS_HEADER + "BEGIN;\n";
        String commit = "SELECT pg_catalog.lo_close(0);\n\nCOMMIT;\n";
        assertThat(dump).contains(begin, commit);
        return dump.replace(begin, BLOBS_HEADER).replace(commit, "SELECT pg_catalog.lo_close(0);\n\n");
    }

    @Test
    void dropsOnlyTheBeginAndCommitOfTheLargeObjectSection() throws IOException {
        String expected = withoutBlobsTransaction(LO_DUMP);
        assertThat(dropTransactionControl(LO_DUMP)).isEqualTo(expected);
        // with schema reset, both rewrites
        assertThat(reset(LO_DUMP).text()).isEqualTo(dropBefore(expected, "s1"));
        // the procedure body, the COPY rows and statements outside the section pass
        assertThat(expected).contains("AS $$\nBEGIN;\nCOMMIT;\nEND $$;", "Owner: -\nBEGIN;\nCOMMIT;\n\\.\n",
                "Owner: postgres\n--\n\nCOMMIT;\nBEGIN;\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SchemaReset reset = new SchemaReset(out, false);
        reset.write(LO_DUMP.getBytes(StandardCharsets.UTF_8));
        reset.close();
        assertThat(reset.transactionLinesDropped()).isEqualTo(2);
        assertThat(reset.schemas()).isEmpty();
    }

    @Test
    void dropsTheSameLinesHoweverTheInputIsChunked() throws IOException {
        byte[] dump = LO_DUMP.getBytes(StandardCharsets.UTF_8);
        String whole = dropTransactionControl(dump, () -> dump.length);
        assertThat(dropTransactionControl(dump, () -> 1)).isEqualTo(whole);
        // every split point around the section's BEGIN and COMMIT (the long lowrite line between them in one piece)
        int begin = LO_DUMP.indexOf(BLOBS_HEADER);
        int commit = LO_DUMP.indexOf("SELECT pg_catalog.lo_close(0);\n\nCOMMIT;");
        for (int[] range : new int[][] {{begin, begin + BLOBS_HEADER.length() + 20}, {commit, commit + 45}}) {
            for (int at = range[0]; at <= range[1]; at++) {
                int[] sizes = {at, dump.length};
                int[] next = {0};
                assertThat(dropTransactionControl(dump, () -> sizes[next[0]++])).as("split at %d", at).isEqualTo(whole);
            }
        }
        for (long seed = 0; seed < 100; seed++) {
            Random random = new Random(seed);
            assertThat(dropTransactionControl(dump, () -> random.nextInt(1, 5000))).as("seed %d", seed).isEqualTo(whole);
        }
    }

    @Test
    void onlyTheExactLinesRightAfterTheHeaderAreDropped() throws IOException {
        for (String begin : List.of("BEGIN", "BEGIN; ", " BEGIN;", "begin;", "BEGIN;;", "START TRANSACTION;")) {
            String dump = BLOBS_HEADER + begin + "\nSELECT pg_catalog.lo_close(0);\nCOMMIT;\n";
            assertThat(dropTransactionControl(dump)).as(begin).isEqualTo(dump);
        }
        // a statement between header and BEGIN: not pg_dump's section start
        String dump = BLOBS_HEADER + "SET search_path = '';\nBEGIN;\nCOMMIT;\n";
        assertThat(dropTransactionControl(dump)).isEqualTo(dump);
        // a COMMIT that is not exact stays; the section goes on to the exact one
        dump = BLOBS_HEADER + "BEGIN;\nCOMMIT; \ncommit;\nCOMMIT;\nCOMMIT;\n";
        assertThat(dropTransactionControl(dump)).isEqualTo(BLOBS_HEADER + "COMMIT; \ncommit;\nCOMMIT;\n");
        // a TOC header ends the section: a later COMMIT belongs to something else
        dump = BLOBS_HEADER + "BEGIN;\n--\n-- Name: p(); Type: PROCEDURE; Schema: s1; Owner: postgres\n--\nCOMMIT;\n";
        assertThat(dropTransactionControl(dump)).isEqualTo(dump.replace(BLOBS_HEADER + "BEGIN;\n", BLOBS_HEADER));
        // a BEGIN after a COPY header that reads like the BLOBS header is data
        dump = "COPY s1.t (line) FROM stdin;\n" + BLOBS_HEADER + "BEGIN;\nCOMMIT;\n\\.\n";
        assertThat(dropTransactionControl(dump)).isEqualTo(dump);
    }

    @Test
    void aLastLineWithoutNewlineIsDecidedOnClose() throws IOException {
        assertThat(dropTransactionControl(BLOBS_HEADER + "BEGIN;")).isEqualTo(BLOBS_HEADER);
        assertThat(dropTransactionControl(BLOBS_HEADER + "BEGIN;\nCOMMIT;")).isEqualTo(BLOBS_HEADER);
        assertThat(dropTransactionControl(BLOBS_HEADER + "BEGIN;\nCOMM")).isEqualTo(BLOBS_HEADER + "COMM");
        assertThat(dropTransactionControl(BLOBS_HEADER + "BEG")).isEqualTo(BLOBS_HEADER + "BEG");
    }

    /** Against a real PostgreSQL: a dump restored over its own, changed, database gives that database back. */
    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class AgainstPostgres {
        static final String DB = "schema_reset_src";
        static final String SCHEMA = """
                CREATE SCHEMA s1;
                CREATE SCHEMA "We ird";
                CREATE TABLE s1.t (id int PRIMARY KEY, v text);
                INSERT INTO s1.t SELECT g, 'value ' || g FROM generate_series(1, 100) g;
                CREATE TABLE "We ird"."Li nes" (line text);
                INSERT INTO "We ird"."Li nes" VALUES ('-- Name: x; Type: SCHEMA; Schema: -; Owner: postgres'),
                    ('CREATE SCHEMA x;'), ('CREATE SCHEMA "We ird";');
                CREATE TABLE "We ird".refs (id serial PRIMARY KEY, t_id int REFERENCES s1.t);
                INSERT INTO "We ird".refs (t_id) SELECT g FROM generate_series(1, 50) g;
                CREATE VIEW s1.counts AS SELECT count(*) AS n FROM "We ird".refs;
                CREATE FUNCTION s1.make() RETURNS void LANGUAGE plpgsql AS $$
                BEGIN
                CREATE SCHEMA x;
                END $$;
                CREATE TABLE public.p (id int);
                INSERT INTO public.p VALUES (1), (2);
                """;
        /** PG15 initdb's public schema, recreated: pg_dump writes no CREATE for it. */
        static final String PREAMBLE = """
                BEGIN;
                DROP SCHEMA IF EXISTS public CASCADE;
                CREATE SCHEMA public AUTHORIZATION pg_database_owner;
                GRANT USAGE ON SCHEMA public TO PUBLIC;
                COMMENT ON SCHEMA public IS 'standard public schema';
                """;
        static final String CHANGES = """
                UPDATE s1.t SET v = 'changed' WHERE id % 2 = 0;
                DELETE FROM "We ird".refs WHERE id > 10;
                INSERT INTO "We ird"."Li nes" VALUES ('new');
                CREATE TABLE s1.extra (id int);
                CREATE TABLE public.extra (id int);
                INSERT INTO public.p VALUES (3);
                """;

        PostgresServer server;

        @BeforeAll
        void startServer() {
            server = PostgresServer.start();
            server.createDatabase(DB);
            server.psql(DB, SCHEMA);
        }

        @AfterAll
        void stopServer() {
            if (server != null) {
                server.close();
            }
        }

        record Psql(int exit, String stderr) {
        }

        /** Streams the preamble, the dump and COMMIT into psql, through a SchemaReset if {@code throughReset}. */
        Psql load(byte[] dump, boolean throughReset) throws Exception {
            ProcessBuilder pb = new ProcessBuilder(server.bin().resolve("psql").toString(), "-X", "-q",
                    "-v", "ON_ERROR_STOP=1", "-d", DB).redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().putAll(server.env());
            Process p = pb.start();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread pump = Thread.ofVirtual().start(() -> {
                try (InputStream e = p.getErrorStream()) {
                    e.transferTo(err);
                } catch (IOException ignored) {
                    // ended
                }
            });
            OutputStream stdin = throughReset ? new SchemaReset(p.getOutputStream()) : p.getOutputStream();
            try (stdin) {
                stdin.write(PREAMBLE.getBytes(StandardCharsets.UTF_8));
                for (int off = 0; off < dump.length; off += 7919) { // odd size: splits lines anywhere
                    stdin.write(dump, off, Math.min(7919, dump.length - off));
                }
                stdin.write("COMMIT;\n".getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // psql stopped reading at an error; its exit code and stderr tell
            }
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            pump.join();
            if (stdin instanceof SchemaReset reset) {
                assertThat(reset.schemas()).containsExactlyInAnyOrder("s1", "\"We ird\"");
            }
            return new Psql(p.exitValue(), err.toString(StandardCharsets.UTF_8));
        }

        /**
         * The dump of a database with large objects loaded in one outer transaction that then fails: passed through,
         * the BLOBS section's COMMIT commits everything before it; through SchemaReset nothing is left.
         */
        @Test
        void largeObjectDataNoLongerCommitsTheOuterTransaction() throws Exception {
            server.createDatabase("lo_src");
            server.psql("lo_src", "SELECT lo_from_bytea(30001, 'x'); CREATE TABLE t (id int, doc oid); "
                    + "INSERT INTO t VALUES (1, 30001);");
            byte[] dump = PostgresServer.run(List.of(server.bin().resolve("pg_dump").toString(), "-d", "lo_src"),
                    server.env(), null);
            assertThat(new String(dump, StandardCharsets.UTF_8)).contains("BEGIN;", "lo_close", "COMMIT;");
            for (boolean filtered : new boolean[] {false, true}) {
                String db = filtered ? "lo_filtered" : "lo_plain";
                server.createDatabase(db);
                ProcessBuilder pb = new ProcessBuilder(server.bin().resolve("psql").toString(), "-X", "-q",
                        "-v", "ON_ERROR_STOP=1", "-d", db).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .redirectError(ProcessBuilder.Redirect.DISCARD);
                pb.environment().putAll(server.env());
                Process p = pb.start();
                OutputStream stdin = filtered ? new SchemaReset(p.getOutputStream(), false) : p.getOutputStream();
                try (stdin) {
                    stdin.write("BEGIN;\n".getBytes(StandardCharsets.UTF_8));
                    stdin.write(dump);
                    stdin.write("SELECT 1/0;\nCOMMIT;\n".getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // psql stopped at the error
                }
                assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue()).isNotZero();
                String left = server.psql(db, "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = 30001");
                assertThat(left).as(filtered ? "through SchemaReset" : "passed through").isEqualTo(filtered ? "0" : "1");
            }
        }

        @Test
        void restoringOverTheChangedDatabaseGivesTheDumpedDatabaseBack() throws Exception {
            String original = server.pgDump(DB);
            byte[] dump = PostgresServer.run(List.of(server.bin().resolve("pg_dump").toString(), "-d", DB), server.env(), null);
            assertThat(original).contains("CREATE SCHEMA s1;", "CREATE SCHEMA \"We ird\";", "CREATE SCHEMA x;");
            server.psql(DB, CHANGES);
            String changed = server.pgDump(DB);
            assertThat(changed).isNotEqualTo(original);

            Psql plain = load(dump, false);
            assertThat(plain.exit()).isNotZero();
            assertThat(plain.stderr()).contains("already exists");
            assertThat(server.pgDump(DB)).as("the failed load rolled back").isEqualTo(changed);

            Psql reset = load(dump, true);
            assertThat(reset.exit()).as(reset.stderr()).isZero();
            assertThat(reset.stderr()).doesNotContain("ERROR", "WARNING"); // NOTICEs of the preamble's cascade only
            assertThat(server.pgDump(DB)).isEqualTo(original);
        }
    }
}
