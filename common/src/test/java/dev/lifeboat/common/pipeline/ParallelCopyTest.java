package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ParallelCopyTest {
    private static final String PROLOGUE = "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
            + "SELECT pg_catalog.set_config('search_path', '', false);\nSET row_security = off;\n";

    /** A dump in parts: each part either goes to the main connection, or is a large table's block. */
    private static final class Dump {
        final StringBuilder all = new StringBuilder();
        final StringBuilder main = new StringBuilder();
        final List<Block> blocks = new ArrayList<>();

        Dump sql(String text) {
            all.append(text);
            main.append(text);
            return this;
        }

        /** A COPY block after a TABLE DATA header; {@code large}: its rows must go over the lanes. */
        Dump data(String table, List<String> rows, boolean large) {
            sql("--\n-- Data for Name: x; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n");
            String header = "COPY " + table + " (a, b) FROM stdin;\n";
            StringBuilder block = new StringBuilder(header);
            rows.forEach(r -> block.append(r).append('\n'));
            block.append("\\.\n");
            all.append(block);
            if (large) {
                blocks.add(new Block(table, header, rows, main.length()));
            } else {
                main.append(block);
            }
            return this;
        }

        byte[] bytes() {
            return all.toString().getBytes(StandardCharsets.UTF_8);
        }
    }

    private record Block(String table, String header, List<String> rows, int mainBefore) {
    }

    /** What the lanes saw of one block. */
    private record Seen(String table, String prologue, String header, String mainAtOpen, String mainAtClose,
                        List<String> laneText) {
    }

    /** In-memory lanes that record what reached them and what the main connection had at each open and close. */
    private static final class Recording implements ParallelCopy.Lanes {
        final int count;
        final ByteArrayOutputStream main;
        final List<Seen> seen = new ArrayList<>();
        final long failAfter;
        List<ByteArrayOutputStream> streams;
        String table;
        String prologue;
        String header;
        String mainAtOpen;

        Recording(int count, ByteArrayOutputStream main, long failAfter) {
            this.count = count;
            this.main = main;
            this.failAfter = failAfter;
        }

        @Override
        public int count() {
            return count;
        }

        @Override
        public List<OutputStream> open(String table, byte[] prologue, byte[] header) {
            this.table = table;
            this.prologue = new String(prologue, StandardCharsets.UTF_8);
            this.header = new String(header, StandardCharsets.UTF_8);
            this.mainAtOpen = main.toString(StandardCharsets.UTF_8);
            streams = new ArrayList<>();
            List<OutputStream> out = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ByteArrayOutputStream s = new ByteArrayOutputStream();
                streams.add(s);
                out.add(i == 1 && failAfter >= 0 ? failing(s, failAfter) : s);
            }
            return out;
        }

        @Override
        public void close() {
            seen.add(new Seen(table, prologue, header, mainAtOpen, main.toString(StandardCharsets.UTF_8),
                    streams.stream().map(s -> s.toString(StandardCharsets.UTF_8)).toList()));
        }

        @Override
        public boolean alive() {
            return true;
        }
    }

    private static OutputStream failing(ByteArrayOutputStream s, long after) {
        return new OutputStream() {
            long written;

            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (written + len > after) {
                    throw new IOException("Broken pipe");
                }
                written += len;
                s.write(b, off, len);
            }
        };
    }

    private static List<String> rows(Random random, int count, int longRowAt) {
        List<String> rows = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String b = i == longRowAt ? "L".repeat(ParallelCopy.CHUNK * 2 + 123)
                    : "v" + Integer.toString(random.nextInt(1 << 30), 36).repeat(1 + random.nextInt(20));
            // COPY escapes: a data backslash is doubled, so "\\." is a value, never the end of the block
            rows.add(i + "\t" + (i % 97 == 0 ? "\\\\." : i % 89 == 0 ? "tab\\there\\nnewline" : b));
        }
        return rows;
    }

    private static Dump dump(Random random) {
        return new Dump()
                .sql("--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\n\n" + PROLOGUE + "\n")
                .sql("CREATE TABLE public.t (a int, b text);\nCREATE TABLE \"Odd \"\"Name\"\"\".\"x y\" (a int, b text);\n")
                .sql("SET default_tablespace = '';\n") // after the first statement: not the prologue
                .data("public.small", rows(random, 50, -1), false)
                .data("public.t", rows(random, 40_000, 17_000), true)
                .sql("SELECT pg_catalog.setval('public.s', 42, true);\n")
                .data("\"Odd \"\"Name\"\"\".\"x y\"", rows(random, 30_000, -1), true)
                // COPY without a TABLE DATA header right before it: it stays on the main connection, however large
                .sql("--\n-- Name: s; Type: SEQUENCE SET\n--\n\nSELECT 1;\n")
                .sql("COPY public.u (a, b) FROM stdin;\n" + String.join("\n", rows(random, 20_000, -1)) + "\n\\.\n")
                .sql("\n--\n-- Name: t t_pkey; Type: CONSTRAINT\n--\n\nALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (a);\n")
                .sql("\\unrestrict abc\n");
    }

    private static ParallelCopy feed(ParallelCopy split, byte[] input, Random random) throws IOException {
        int off = 0;
        while (off < input.length) {
            int n = Math.min(input.length - off, random.nextInt(5) == 0 ? 1 + random.nextInt(3) : 1 + random.nextInt(70_000));
            if (n == 1) {
                split.write(input[off]);
            } else {
                split.write(input, off, n);
            }
            off += n;
        }
        split.close();
        return split;
    }

    @Test
    void largeTablesGoOverTheLanesWholeRowsAndEverythingElseToTheMainConnectionInOrder() throws IOException {
        for (long seed = 1; seed <= 4; seed++) {
            Random random = new Random(seed);
            Dump dump = dump(random);
            ByteArrayOutputStream main = new ByteArrayOutputStream();
            Recording lanes = new Recording(2 + (int) (seed % 2), main, -1);
            ParallelCopy split = feed(new ParallelCopy(main, lanes), dump.bytes(), random);

            assertThat(main.toString(StandardCharsets.UTF_8)).as("seed %d", seed).isEqualTo(dump.main.toString());
            assertThat(lanes.seen).hasSize(dump.blocks.size());
            long rowBytes = 0;
            for (int k = 0; k < dump.blocks.size(); k++) {
                Block block = dump.blocks.get(k);
                Seen seen = lanes.seen.get(k);
                assertThat(seen.table()).isEqualTo(block.table());
                assertThat(seen.header()).isEqualTo(block.header());
                assertThat(seen.prologue()).isEqualTo(PROLOGUE);
                // everything before the block reached the main connection before the lanes opened, nothing after
                // it before they closed: the tables exist for the lanes, and index builds see every row
                String before = dump.main.substring(0, block.mainBefore());
                assertThat(seen.mainAtOpen()).isEqualTo(before);
                assertThat(seen.mainAtClose()).isEqualTo(before);
                List<String> got = new ArrayList<>();
                for (String text : seen.laneText()) {
                    assertThat(text).as("each lane gets rows of the block").isNotEmpty().endsWith("\n");
                    got.addAll(Arrays.asList(text.substring(0, text.length() - 1).split("\n", -1)));
                    rowBytes += text.getBytes(StandardCharsets.UTF_8).length;
                }
                List<String> expected = new ArrayList<>(block.rows());
                got.sort(null);
                expected.sort(null);
                assertThat(got).as("the rows, each whole, each once").isEqualTo(expected);
            }
            assertThat(split.parallelTables()).isEqualTo(dump.blocks.size());
            assertThat(split.parallelBytes()).isEqualTo(rowBytes);
        }
    }

    @Test
    void aSmallTableStaysOnTheMainConnectionAndNoLaneIsOpened() throws IOException {
        Random random = new Random(7);
        Dump dump = new Dump().sql(PROLOGUE + "CREATE TABLE public.t (a int, b text);\n")
                .data("public.t", rows(random, 2000, -1), false).sql("SELECT 1;\n");
        ByteArrayOutputStream main = new ByteArrayOutputStream();
        Recording lanes = new Recording(2, main, -1);
        ParallelCopy split = feed(new ParallelCopy(main, lanes), dump.bytes(), random);
        assertThat(main.toString(StandardCharsets.UTF_8)).isEqualTo(dump.all.toString());
        assertThat(lanes.seen).isEmpty();
        assertThat(split.parallelTables()).isZero();
    }

    @Test
    void aLaneThatFailsStopsTheLoadNamingTheLane() throws IOException {
        Random random = new Random(3);
        Dump dump = dump(random);
        ByteArrayOutputStream main = new ByteArrayOutputStream();
        ParallelCopy split = new ParallelCopy(main, new Recording(2, main, 300_000));
        try {
            assertThatThrownBy(() -> feed(split, dump.bytes(), random))
                    .isInstanceOfSatisfying(ParallelCopy.LaneFailed.class, e -> assertThat(e.lane()).isEqualTo(1))
                    .hasMessageContaining("public.t").hasMessageContaining("Broken pipe");
        } finally {
            split.abort();
        }
    }

    @Test
    void tableNamesAreReadAsPgDumpWritesThem() {
        assertThat(table("COPY public.orders (id, note) FROM stdin;")).isEqualTo("public.orders");
        assertThat(table("COPY \"My \"\"Schema\"\"\".\"a (b\" (id) FROM stdin;")).isEqualTo("\"My \"\"Schema\"\"\".\"a (b\"");
        assertThat(table("COPY public.t FROM stdin;")).isEqualTo("public.t");
        assertThat(table("COPY orders (id) FROM stdin;")).as("not schema-qualified: not pg_dump's").isNull();
        assertThat(table("COPY \"unterminated (id) FROM stdin;")).isNull();
    }

    private static String table(String line) {
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        return ParallelCopy.tableOf(b, b.length);
    }
}
