package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import com.dynatrace.hash4j.hashing.HashValue128;
import com.dynatrace.hash4j.hashing.Hashing;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.TableFingerprint;
import dev.lifeboat.common.testing.PostgresServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

class ContentFingerprintTest {

    static List<TableFingerprint> fingerprint(String dump) {
        return fingerprint(dump.getBytes(StandardCharsets.UTF_8));
    }

    static List<TableFingerprint> fingerprint(byte[] dump) {
        return fingerprint(dump, ContentFingerprint.XXH3_128);
    }

    static List<TableFingerprint> fingerprint(byte[] dump, String algorithm) {
        ContentFingerprint fp = new ContentFingerprint(algorithm);
        fp.write(dump, 0, dump.length);
        fp.close();
        return fp.result();
    }

    static List<TableFingerprint> legacy(String dump) {
        return fingerprint(dump.getBytes(StandardCharsets.UTF_8), BackupMetadata.LEGACY_FINGERPRINT);
    }

    static TableFingerprint only(List<TableFingerprint> result) {
        assertThat(result).hasSize(1);
        return result.get(0);
    }

    static String copy(String header, String... rows) {
        StringBuilder s = new StringBuilder("COPY ").append(header).append(" FROM stdin;\n");
        for (String r : rows) {
            s.append(r).append('\n');
        }
        return s.append("\\.\n").toString();
    }

    /** The documented hash, computed independently: sum of the first 128 bits of each row line's SHA-256, mod 2^128. */
    static String referenceHash(List<String> rows) throws Exception {
        BigInteger sum = BigInteger.ZERO;
        for (String r : rows) {
            byte[] sha = MessageDigest.getInstance("SHA-256").digest(r.getBytes(StandardCharsets.UTF_8));
            sum = sum.add(new BigInteger(1, java.util.Arrays.copyOf(sha, 16)));
        }
        String hex = sum.mod(BigInteger.ONE.shiftLeft(128)).toString(16);
        return "0".repeat(32 - hex.length()) + hex;
    }

    /** The same sum over each row line's XXH3-128 (hash4j's one-shot function, big-endian high:low), mod 2^128. */
    static String xxh3ReferenceHash(List<String> rows) {
        BigInteger sum = BigInteger.ZERO;
        for (String r : rows) {
            HashValue128 v = Hashing.xxh3_128().hashBytesTo128Bits(r.getBytes(StandardCharsets.UTF_8));
            sum = sum.add(new BigInteger(1, java.nio.ByteBuffer.allocate(16).putLong(v.getMostSignificantBits())
                    .putLong(v.getLeastSignificantBits()).array()));
        }
        String hex = sum.mod(BigInteger.ONE.shiftLeft(128)).toString(16);
        return "0".repeat(32 - hex.length()) + hex;
    }

    /** Line ends are found eight bytes at a time: the same answer as a byte-by-byte search, at every offset. */
    @Test
    void newlineSearchFindsTheFirstNewlineLikeAByteByByteSearch() {
        Random random = new Random(11);
        byte[] alphabet = {'\n', '\n' ^ (byte) 0x80, 0x0b, 0x09, 0x00, (byte) 0xff, 'a', 0x01, (byte) 0x8b};
        for (int round = 0; round < 2000; round++) {
            byte[] b = new byte[random.nextInt(0, 40)];
            for (int i = 0; i < b.length; i++) {
                b[i] = random.nextInt(4) == 0 ? alphabet[random.nextInt(alphabet.length)] : (byte) random.nextInt(256);
            }
            int from = b.length == 0 ? 0 : random.nextInt(b.length + 1);
            int to = from + (b.length == from ? 0 : random.nextInt(b.length - from + 1));
            int expected = -1;
            for (int i = from; i < to; i++) {
                if (b[i] == '\n') {
                    expected = i;
                    break;
                }
            }
            assertThat(CopyRow.indexOfNewline(b, from, to)).as("round %d", round).isEqualTo(expected);
        }
    }

    /** The algorithms: the current one (XXH3-128), and the legacy one that old backups are verified with. */
    @Nested
    class Algorithms {
        /** A fixture whose fingerprint the implementation before XXH3 (commit d94ed2e) computed; values copied from it. */
        static String fixture() {
            StringBuilder s = new StringBuilder("SET client_encoding = 'UTF8';\nCOPY public.t (id, name) FROM stdin;\n");
            for (int i = 0; i < 1000; i++) {
                s.append(i).append("\tname ").append(i % 7).append("\t\\N\n");
            }
            s.append("1\tname 1\t\\N\n\\.\n\nCOPY \"My Schema\".\"Tab.le\" (v) FROM stdin;\n\n\tä ö 日本\n\\.\n");
            return s.toString();
        }

        @Test
        void theLegacyAlgorithmGivesWhatTheOldImplementationGaveOnTheFixture() {
            assertThat(legacy(fixture())).containsExactly(
                    new TableFingerprint("public.t", "id, name", 1001, "c52b8b92a30c98a45da90c0f08b7f841"),
                    new TableFingerprint("\"My Schema\".\"Tab.le\"", "v", 2, "80d8dad548e98e780bae775451a99715"));
        }

        @Test
        void nullNamesTheLegacyAlgorithmAsInOldMetadata() {
            ContentFingerprint fp = new ContentFingerprint(null);
            assertThat(fp.algorithm()).isEqualTo(BackupMetadata.LEGACY_FINGERPRINT);
            byte[] b = fixture().getBytes(StandardCharsets.UTF_8);
            fp.write(b, 0, b.length);
            assertThat(fp.result()).isEqualTo(legacy(fixture()));
        }

        @Test
        void theSumOfTheFingerprintsOfPartsOfATableIsTheTablesFingerprintWithEitherAlgorithm() {
            StringBuilder all = new StringBuilder();
            StringBuilder first = new StringBuilder();
            StringBuilder second = new StringBuilder();
            Random random = new Random(5);
            for (int i = 0; i < 3000; i++) {
                // values whose hashes carry between the two 64-bit halves of the sum somewhere along the way
                String row = i + "\t" + Long.toHexString(random.nextLong()) + "\n";
                all.append(row);
                (random.nextBoolean() ? first : second).append(row);
            }
            for (String algorithm : List.of(ContentFingerprint.XXH3_128, BackupMetadata.LEGACY_FINGERPRINT)) {
                TableFingerprint whole = part(algorithm, all);
                TableFingerprint summed = ContentFingerprint.sum(List.of(part(algorithm, first), part(algorithm, second)));
                assertThat(summed).isEqualTo(whole);
                assertThat(ContentFingerprint.sum(List.of(part(algorithm, first)))).isNotEqualTo(whole);
            }
        }

        private static TableFingerprint part(String algorithm, CharSequence rows) {
            ContentFingerprint fp = new ContentFingerprint(algorithm);
            fp.beginTable("public.t", "id, v");
            byte[] b = rows.toString().getBytes(StandardCharsets.UTF_8);
            fp.write(b, 0, b.length);
            fp.endTable();
            return fp.result().get(0);
        }

        @Test
        void xxh3OfOneEmptyRowIsThePublishedXxh128OfTheEmptyInput() {
            // XXH3_128bits("") with seed 0, as published by the xxHash project (xxhsum -H2 of an empty file)
            assertThat(only(fingerprint(copy("public.t (v)", ""))).hash()).isEqualTo("99aa06d3014798d86001c324468d497f");
        }

        @Test
        void xxh3HasAStableValueForTheFixtureAndDiffersFromLegacy() {
            List<TableFingerprint> now = fingerprint(fixture());
            assertThat(now).extracting(TableFingerprint::rows).containsExactly(1001L, 2L);
            assertThat(now.get(0).hash()).isEqualTo(xxh3ReferenceHash(fixtureRows()));
            assertThat(now.get(0).hash()).isNotEqualTo(legacy(fixture()).get(0).hash());
        }

        static List<String> fixtureRows() {
            List<String> rows = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                rows.add(i + "\tname " + (i % 7) + "\t\\N");
            }
            rows.add("1\tname 1\t\\N");
            return rows;
        }

        @Test
        void xxh3RowsSplitAcrossWritesHashAsWholeRows() {
            byte[] dump = fixture().getBytes(StandardCharsets.UTF_8);
            List<TableFingerprint> whole = fingerprint(dump);
            for (int chunk : new int[] {1, 2, 3, 7, 16, 17, 64, 255, 4096}) {
                ContentFingerprint fp = new ContentFingerprint();
                for (int off = 0; off < dump.length; off += chunk) {
                    fp.write(dump, off, Math.min(chunk, dump.length - off));
                }
                assertThat(fp.result()).as("chunks of %d", chunk).isEqualTo(whole);
            }
        }

        @Test
        void longRowsOverTheStreamingPathHashLikeTheOneShotFunction() {
            List<String> rows = List.of("x".repeat(100_000), "y".repeat(241), "z".repeat(1 << 17));
            byte[] dump = copy("public.t (v)", rows.toArray(String[]::new)).getBytes(StandardCharsets.UTF_8);
            ContentFingerprint fp = new ContentFingerprint();
            for (int off = 0; off < dump.length; off += 1000) {
                fp.write(dump, off, Math.min(1000, dump.length - off));
            }
            assertThat(only(fp.result()).hash()).isEqualTo(xxh3ReferenceHash(rows));
        }

        @Test
        void bothAlgorithmsAreOrderIndependentAndDuplicatesDoNotCancel() {
            for (String algorithm : List.of(ContentFingerprint.XXH3_128, BackupMetadata.LEGACY_FINGERPRINT)) {
                byte[] ab = copy("public.t (v)", "a", "b", "a").getBytes(StandardCharsets.UTF_8);
                byte[] ba = copy("public.t (v)", "a", "a", "b").getBytes(StandardCharsets.UTF_8);
                byte[] b = copy("public.t (v)", "b").getBytes(StandardCharsets.UTF_8);
                assertThat(fingerprint(ab, algorithm)).as(algorithm).isEqualTo(fingerprint(ba, algorithm));
                assertThat(only(fingerprint(ab, algorithm)).hash()).as(algorithm)
                        .isNotEqualTo(only(fingerprint(b, algorithm)).hash());
            }
        }

        @Test
        void anUnknownAlgorithmIsRefused() {
            assertThat(ContentFingerprint.knows("md5-sum")).isFalse();
            assertThat(ContentFingerprint.knows(null)).isTrue();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ContentFingerprint("md5-sum"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("md5-sum");
        }
    }

    @Nested
    class OnSyntheticDumps {
        static final String DUMP = """
                --
                -- PostgreSQL database dump
                --
                SET statement_timeout = 0;
                CREATE TABLE public.t (id integer, name text);
                CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ COPY x TO '/tmp/x' $$;

                COPY public.t (id, name) FROM stdin;
                1\talpha
                2\t\\N
                3\tback\\\\slash
                4\ttab\\there
                5\tline\\nbreak
                6\t\\\\.
                \\.


                COPY public.empty (id) FROM stdin;
                \\.


                COPY "My Schema"."Tab.le ""x""\" (id, "Na me") FROM stdin;
                1\tä ö ü 日本
                1\tä ö ü 日本
                \\.

                SELECT pg_catalog.setval('public.t_id_seq', 6, true);
                2\tnot a row, after the block
                """;

        @Test
        void copyBlockRowsAreCountedAndTerminatorEndsTheBlock() {
            List<TableFingerprint> result = fingerprint(DUMP);
            assertThat(result).extracting(TableFingerprint::table)
                    .containsExactly("public.t", "public.empty", "\"My Schema\".\"Tab.le \"\"x\"\"\"");
            assertThat(result).extracting(TableFingerprint::rows).containsExactly(6L, 0L, 2L);
        }

        @Test
        void theDumpsClientEncodingIsRecordedAndAnEncodingInsideCopyDataIsNot() {
            ContentFingerprint none = new ContentFingerprint();
            none.write(DUMP.getBytes(StandardCharsets.UTF_8), 0, DUMP.length());
            assertThat(none.encoding()).isNull();

            String dump = "SET client_encoding = 'LATIN1';\n" + copy("public.t (v)", "SET client_encoding = 'SJIS';");
            ContentFingerprint latin1 = new ContentFingerprint();
            byte[] bytes = dump.getBytes(StandardCharsets.UTF_8);
            latin1.write(bytes, 0, bytes.length);
            assertThat(latin1.encoding()).isEqualTo("LATIN1");
            assertThat(only(latin1.result()).rows()).isEqualTo(1);
        }

        @Test
        void escapedValuesCountAsOneRowEach() throws Exception {
            List<String> rows = List.of("1\t\\N", "2\t\\\\", "3\ta\\tb", "4\ta\\nb", "5\t\\r\\n", "6\t\\\\.", "7\t\\\\N");
            TableFingerprint t = only(fingerprint(copy("public.t (id, v)", rows.toArray(String[]::new))));
            assertThat(t.rows()).isEqualTo(7);
            assertThat(t.hash()).isEqualTo(xxh3ReferenceHash(rows));
            assertThat(only(legacy(copy("public.t (id, v)", rows.toArray(String[]::new)))).hash())
                    .isEqualTo(referenceHash(rows));
        }

        @Test
        void linesAfterTheTerminatorAreNotRows() {
            String dump = copy("public.t (id)", "1", "2") + "3\n4\nCOPY public.u (id) FROM stdin;\n5\n\\.\n";
            List<TableFingerprint> result = fingerprint(dump);
            assertThat(result).extracting(TableFingerprint::table).containsExactly("public.t", "public.u");
            assertThat(result).extracting(TableFingerprint::rows).containsExactly(2L, 1L);
        }

        @Test
        void quotedIdentifiersGiveTableNameAndColumnsAsWritten() {
            TableFingerprint t = only(fingerprint(copy("\"My Schema\".\"Tab.le \"\"x\"\"\" (id, \"Na me\")", "1\ta")));
            assertThat(t.table()).isEqualTo("\"My Schema\".\"Tab.le \"\"x\"\"\"");
            assertThat(t.columns()).isEqualTo("id, \"Na me\"");
            assertThat(t.rows()).isEqualTo(1);
        }

        @Test
        void tableWithoutColumnListHasEmptyColumns() {
            TableFingerprint t = only(fingerprint("COPY public.nocols  FROM stdin;\n\n\n\\.\n"));
            assertThat(t.table()).isEqualTo("public.nocols");
            assertThat(t.columns()).isEmpty();
            assertThat(t.rows()).isEqualTo(2);
        }

        @Test
        void rowOrderDoesNotChangeTheHash() {
            List<String> rows = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                rows.add(i + "\tvalue " + i + "\t\\N");
            }
            TableFingerprint ordered = only(fingerprint(copy("public.t (a, b, c)", rows.toArray(String[]::new))));
            Collections.shuffle(rows, new Random(3));
            TableFingerprint shuffled = only(fingerprint(copy("public.t (a, b, c)", rows.toArray(String[]::new))));
            assertThat(shuffled).isEqualTo(ordered);
            assertThat(ordered.hash()).hasSize(32).matches("[0-9a-f]{32}");
        }

        @Test
        void hashIsTheSumOfRowDigestsModulo2To128() throws Exception {
            List<String> rows = new ArrayList<>();
            for (int i = 0; i < 2000; i++) { // enough rows for many carries between the 64-bit halves
                rows.add("row " + i);
            }
            assertThat(only(fingerprint(copy("public.t (v)", rows.toArray(String[]::new)))).hash())
                    .isEqualTo(xxh3ReferenceHash(rows));
            assertThat(only(legacy(copy("public.t (v)", rows.toArray(String[]::new)))).hash())
                    .isEqualTo(referenceHash(rows));
        }

        @Test
        void duplicateRowsChangeTheHashComparedToASingleRow() {
            TableFingerprint single = only(fingerprint(copy("public.t (v)", "same")));
            TableFingerprint twice = only(fingerprint(copy("public.t (v)", "same", "same")));
            TableFingerprint empty = only(fingerprint(copy("public.t (v)")));
            assertThat(twice.rows()).isEqualTo(2);
            assertThat(twice.hash()).isNotEqualTo(single.hash()).isNotEqualTo(empty.hash());
        }

        @Test
        void differentValueChangesTheHash() {
            assertThat(only(fingerprint(copy("public.t (v)", "a", "b"))).hash())
                    .isNotEqualTo(only(fingerprint(copy("public.t (v)", "a", "c"))).hash());
        }

        @Test
        void emptyTableHasZeroRows() {
            TableFingerprint t = only(fingerprint(copy("public.empty_table (id)")));
            assertThat(t.table()).isEqualTo("public.empty_table");
            assertThat(t.columns()).isEqualTo("id");
            assertThat(t.rows()).isZero();
        }

        @Test
        void splittingTheInputAtEveryByteBoundaryGivesTheSameResult() {
            byte[] dump = DUMP.getBytes(StandardCharsets.UTF_8);
            List<TableFingerprint> whole = fingerprint(dump);
            for (int at = 0; at <= dump.length; at++) {
                ContentFingerprint fp = new ContentFingerprint();
                fp.write(dump, 0, at);
                fp.write(dump, at, dump.length - at);
                assertThat(fp.result()).as("split at %d", at).isEqualTo(whole);
            }
        }

        @Test
        void writingOneByteAtATimeGivesTheSameResult() {
            byte[] dump = DUMP.getBytes(StandardCharsets.UTF_8);
            ContentFingerprint fp = new ContentFingerprint();
            for (byte b : dump) {
                fp.write(b);
            }
            assertThat(fp.result()).isEqualTo(fingerprint(dump));
        }

        @Test
        void writingInRandomChunksGivesTheSameResult() {
            byte[] dump = DUMP.getBytes(StandardCharsets.UTF_8);
            List<TableFingerprint> whole = fingerprint(dump);
            for (long seed = 0; seed < 200; seed++) {
                Random random = new Random(seed);
                ContentFingerprint fp = new ContentFingerprint();
                int off = 0;
                while (off < dump.length) {
                    int n = Math.min(dump.length - off, random.nextInt(1, 40));
                    fp.write(dump, off, n);
                    off += n;
                }
                assertThat(fp.result()).as("seed %d", seed).isEqualTo(whole);
            }
        }

        @Test
        void overlongStatementLineIsSkippedAndTheNextCopyBlockStillCounts() {
            String huge = "COMMENT ON TABLE x IS '" + "y".repeat(ContentFingerprint.MAX_STATEMENT_LINE + 10) + "';\n";
            List<TableFingerprint> result = fingerprint(huge + copy("public.t (id)", "1", "2"));
            assertThat(result).extracting(TableFingerprint::table).containsExactly("public.t");
            assertThat(result.get(0).rows()).isEqualTo(2);
        }

        @Test
        void explicitTableBlocksMatchTheDumpBlock() {
            List<TableFingerprint> fromDump = fingerprint(copy("\"My Schema\".\"Tab.le \"\"x\"\"\" (id, \"Na me\")", "1\ta", "2\t\\N"));
            ContentFingerprint fp = new ContentFingerprint();
            fp.beginTable("\"My Schema\".\"Tab.le \"\"x\"\"\"", "id, \"Na me\"");
            byte[] rows = "2\t\\N\n1\ta\n".getBytes(StandardCharsets.UTF_8);
            fp.write(rows, 0, rows.length);
            fp.endTable();
            assertThat(fp.result()).isEqualTo(fromDump);
        }
    }

    /** Against a real PostgreSQL and its pg_dump. */
    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    class AgainstPostgres {
        static final String DB = "fingerprint_src";
        static final String SCHEMA = """
                CREATE SCHEMA sales;
                CREATE SCHEMA "My Schema";
                CREATE TABLE public.people (id serial PRIMARY KEY, name text, note text, tags text[], profile jsonb,
                    raw json, photo bytea);
                INSERT INTO public.people (name, note, tags, profile, raw, photo) VALUES
                    ('empty note', '', '{}', '{}', '{}', '\\x'),
                    ('null note', NULL, NULL, NULL, NULL, NULL),
                    ('back\\slash', 'C:\\temp\\new', '{"a\\\\b","c d"}', '{"k": "v\\\\n"}', '{"x": [1, 2]}', '\\x00ff10'),
                    (E'tab\\there', E'line1\\nline2\\r\\nline3', '{x,NULL,""}', '{"a": [1, null, true]}', '[]', '\\xdeadbeef'),
                    ('terminator', E'\\\\.', '{"\\\\."}', '{"k": "\\\\\\\\."}', 'null', '\\x5c2e0a'),
                    ('unicode ✓ 日本語 🚀', '\\N', '{"日本"}', '{"emoji": "🚀"}', '"s"', '\\x'),
                    ('dup', 'dup', NULL, NULL, NULL, NULL);
                INSERT INTO public.people (name, note) SELECT 'person ' || g, md5(g::text) FROM generate_series(1, 1000) g;
                CREATE TABLE sales.orders (id int PRIMARY KEY, amount numeric(10,2), status text);
                INSERT INTO sales.orders SELECT g, g * 1.5, CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN '' ELSE 'ok' END
                    FROM generate_series(1, 200) g;
                CREATE TABLE "My Schema"."Tab.le ""x""\" (id int, "Na me" text);
                INSERT INTO "My Schema"."Tab.le ""x""\" VALUES (1, 'a'), (2, 'dup'), (2, 'dup'), (3, NULL);
                CREATE TABLE public."Ünïcödé 表" (k text, v text);
                INSERT INTO public."Ünïcödé 表" VALUES ('日本', '🚀'), ('', NULL), (NULL, '');
                CREATE TABLE public.measurements (id int, at date NOT NULL, value real) PARTITION BY RANGE (at);
                CREATE TABLE public.measurements_2024 PARTITION OF public.measurements
                    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
                CREATE TABLE public.measurements_2025 PARTITION OF public.measurements
                    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
                INSERT INTO public.measurements SELECT g, date '2024-06-01' + g, g * 0.5 FROM generate_series(1, 400) g;
                CREATE TABLE public.empty_table (id int);
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

        record Dump(byte[] bytes, List<TableFingerprint> fingerprint) {
            Map<String, TableFingerprint> byTable() {
                return fingerprint.stream().collect(Collectors.toMap(TableFingerprint::table, Function.identity()));
            }

            /** The row lines of one table's COPY block, in dump order. */
            List<String> rowsOf(String table) {
                List<String> out = new ArrayList<>();
                boolean in = false;
                for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n", -1)) {
                    if (in && line.equals("\\.")) {
                        return out;
                    } else if (in) {
                        out.add(line);
                    } else if (line.startsWith("COPY " + table + " ")) {
                        in = true;
                    }
                }
                throw new AssertionError("No COPY block for " + table);
            }
        }

        /** Streams pg_dump's stdout through a fingerprint (and keeps a copy of the bytes for the assertions). */
        Dump dump(String database) throws Exception {
            ContentFingerprint fp = new ContentFingerprint();
            ByteArrayOutputStream copy = new ByteArrayOutputStream();
            byte[] err = run(List.of(server.bin().resolve("pg_dump").toString(), "-d", database), new OutputStream() {
                @Override
                public void write(int b) {
                    fp.write(b);
                    copy.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    fp.write(b, off, len);
                    copy.write(b, off, len);
                }
            });
            assertThat(err).isEmpty();
            return new Dump(copy.toByteArray(), fp.result());
        }

        /** Runs a client program with the server's environment, streaming stdout into {@code sink}; returns stderr. */
        byte[] run(List<String> command, OutputStream sink) throws Exception {
            ProcessBuilder pb = new ProcessBuilder(command);
            pb.environment().putAll(server.env());
            pb.environment().put("PGCLIENTENCODING", "UTF8");
            Process p = pb.start();
            p.getOutputStream().close();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Thread pump = Thread.ofVirtual().start(() -> {
                try (InputStream e = p.getErrorStream()) {
                    e.transferTo(err);
                } catch (IOException ignored) {
                    // ended
                }
            });
            try (InputStream out = p.getInputStream()) {
                byte[] buf = new byte[7919]; // odd size: reads split lines anywhere
                int n;
                while ((n = out.read(buf)) >= 0) {
                    sink.write(buf, 0, n);
                }
            }
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            pump.join();
            assertThat(p.exitValue()).as("%s: %s", command.get(0), err).isZero();
            return err.toByteArray();
        }

        long countOnly(String database, String table) {
            return Long.parseLong(server.psql(database, "SELECT count(*) FROM ONLY " + table));
        }

        @Test
        void rowCountsMatchTheDatabaseAndCopyToStdoutGivesTheSameHash() throws Exception {
            Dump dump = dump(DB);
            assertThat(dump.fingerprint()).extracting(TableFingerprint::table).containsExactlyInAnyOrder(
                    "public.people", "sales.orders", "\"My Schema\".\"Tab.le \"\"x\"\"\"", "public.\"Ünïcödé 表\"",
                    "public.measurements_2024", "public.measurements_2025", "public.empty_table");
            assertThat(dump.byTable().get("public.people").rows()).isEqualTo(1007);
            assertThat(dump.byTable().get("public.empty_table").rows()).isZero();
            assertThat(dump.byTable().get("public.measurements_2024").rows()
                    + dump.byTable().get("public.measurements_2025").rows()).isEqualTo(400);
            assertThat(dump.byTable().get("\"My Schema\".\"Tab.le \"\"x\"\"\"").columns()).isEqualTo("id, \"Na me\"");

            for (TableFingerprint t : dump.fingerprint()) {
                assertThat(t.rows()).as(t.table()).isEqualTo(countOnly(DB, t.table()));

                // what a verifier does after a test restore: COPY ... TO STDOUT, fingerprinted explicitly
                ContentFingerprint back = new ContentFingerprint();
                back.beginTable(t.table(), t.columns());
                run(List.of(server.bin().resolve("psql").toString(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB,
                        "-c", "COPY " + t.table() + " (" + t.columns() + ") TO STDOUT"), back);
                back.endTable();
                assertThat(back.result()).as(t.table()).containsExactly(t);
            }
        }

        @Test
        void changingOneValueChangesOnlyThatTablesHash() throws Exception {
            server.createDatabase("fingerprint_changed");
            server.load("fingerprint_changed", new java.io.ByteArrayInputStream(dump(DB).bytes()));
            Dump before = dump("fingerprint_changed");
            assertThat(before.fingerprint()).isEqualTo(dump(DB).fingerprint());

            server.psql("fingerprint_changed", "UPDATE sales.orders SET status = 'changed' WHERE id = 7");
            Dump after = dump("fingerprint_changed");

            assertThat(after.fingerprint()).extracting(TableFingerprint::table)
                    .containsExactlyElementsOf(before.fingerprint().stream().map(TableFingerprint::table).toList());
            for (TableFingerprint b : before.fingerprint()) {
                TableFingerprint a = after.byTable().get(b.table());
                assertThat(a.rows()).as(b.table()).isEqualTo(b.rows());
                if (b.table().equals("sales.orders")) {
                    assertThat(a.hash()).isNotEqualTo(b.hash());
                } else {
                    assertThat(a.hash()).as(b.table()).isEqualTo(b.hash());
                }
            }
        }

        @Test
        void sameContentInDifferentPhysicalOrderHasTheSameFingerprint() throws Exception {
            Dump original = dump(DB);
            server.createDatabase("fingerprint_reversed");
            server.load("fingerprint_reversed", new java.io.ByteArrayInputStream(original.bytes()));
            server.psql("fingerprint_reversed", """
                    CREATE TEMP TABLE p AS SELECT * FROM public.people ORDER BY id DESC;
                    TRUNCATE public.people;
                    INSERT INTO public.people SELECT * FROM p;
                    CREATE TEMP TABLE o AS SELECT * FROM sales.orders ORDER BY id DESC;
                    TRUNCATE sales.orders;
                    INSERT INTO sales.orders SELECT * FROM o;
                    CREATE TEMP TABLE u AS SELECT * FROM public."Ünïcödé 表";
                    TRUNCATE public."Ünïcödé 表";
                    INSERT INTO public."Ünïcödé 表" SELECT * FROM u ORDER BY k DESC NULLS FIRST;
                    """);
            Dump reversed = dump("fingerprint_reversed");

            for (String table : List.of("public.people", "sales.orders")) {
                assertThat(reversed.rowsOf(table)).as(table)
                        .isNotEqualTo(original.rowsOf(table))
                        .containsExactlyInAnyOrderElementsOf(original.rowsOf(table));
            }
            assertThat(reversed.fingerprint()).isEqualTo(original.fingerprint());
        }
    }
}
