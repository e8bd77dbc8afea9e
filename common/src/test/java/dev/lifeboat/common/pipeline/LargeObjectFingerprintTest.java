package dev.lifeboat.common.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.model.BackupMetadata.LargeObjectsFingerprint;
import dev.lifeboat.common.testing.PostgresServer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The large-object fingerprint: the same objects give the same hash whichever way they are read (from a dump's lines
 * or object by object) and in whatever order; a changed byte or owner changes it; a large-object line that cannot be
 * read fails loudly. One case runs the real pg_dump, to pin down what it writes.
 */
class LargeObjectFingerprintTest {

    record Lo(long oid, String owner, byte[] data) {
    }

    static final HexFormat HEX = HexFormat.of();

    /** The lines pg_dump 15 writes for these objects: metadata entries, then one BLOBS section in 16 KiB writes. */
    static String dump(List<Lo> objects) {
        StringBuilder s = new StringBuilder("SET client_encoding = 'UTF8';\n\n");
        for (Lo lo : objects) {
            String owner = lo.owner().matches("[a-z_][a-z0-9_]*") ? lo.owner() : '"' + lo.owner().replace("\"", "\"\"") + '"';
            s.append("--\n-- Name: ").append(lo.oid()).append("; Type: BLOB; Schema: -; Owner: ").append(lo.owner())
                    .append("\n--\n\nSELECT pg_catalog.lo_create('").append(lo.oid()).append("');\n\n\n")
                    .append("ALTER LARGE OBJECT ").append(lo.oid()).append(" OWNER TO ").append(owner).append(";\n\n");
        }
        s.append("--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: postgres\n--\n\n")
                .append("COPY public.t (id, doc) FROM stdin;\n1\t16391\n")
                .append("SELECT pg_catalog.lowrite(0, '\\\\x00');\n\\.\n\n\n")
                .append("--\n-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -\n--\n\nBEGIN;\n\n");
        for (Lo lo : objects) {
            s.append("SELECT pg_catalog.lo_open('").append(lo.oid()).append("', 131072);\n");
            for (int off = 0; off < lo.data().length; off += 16384) {
                int n = Math.min(16384, lo.data().length - off);
                s.append("SELECT pg_catalog.lowrite(0, '\\x").append(HEX.formatHex(lo.data(), off, off + n)).append("');\n");
            }
            s.append("SELECT pg_catalog.lo_close(0);\n\n");
        }
        s.append("COMMIT;\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n");
        return s.toString();
    }

    static LargeObjectsFingerprint fromDump(String dump, int chunk) {
        ContentFingerprint f = new ContentFingerprint();
        byte[] bytes = dump.getBytes(StandardCharsets.UTF_8);
        for (int off = 0; off < bytes.length; off += chunk) {
            f.write(bytes, off, Math.min(chunk, bytes.length - off));
        }
        return f.largeObjects();
    }

    /** As verification reads them back: object by object, data in pieces of {@code piece} bytes. */
    static LargeObjectsFingerprint readBack(List<Lo> objects, int piece) {
        LargeObjectFingerprint f = new LargeObjectFingerprint();
        for (Lo lo : objects) {
            f.object(lo.oid(), lo.owner().getBytes(StandardCharsets.UTF_8));
            f.beginData(lo.oid());
            for (int off = 0; off < lo.data().length; off += piece) {
                f.data(lo.data(), off, Math.min(piece, lo.data().length - off));
            }
            f.endData();
        }
        return f.result();
    }

    static List<Lo> objects() {
        Random random = new Random(1);
        byte[] big = new byte[100_000];
        random.nextBytes(big);
        return List.of(new Lo(16391, "lo_owner", "hello".getBytes(StandardCharsets.UTF_8)),
                new Lo(16392, "postgres", big),
                new Lo(16393, "Lo \"Owner\" ü", new byte[0]),
                new Lo(4294967295L, "postgres", new byte[] {0, '\n', '\\', '\''}));
    }

    @Test
    void theSameObjectsGiveTheSameFingerprintHoweverTheyAreRead() {
        List<Lo> objects = objects();
        LargeObjectsFingerprint dumped = fromDump(dump(objects), 1 << 16);
        assertThat(dumped.count()).isEqualTo(4);
        assertThat(dumped.bytes()).isEqualTo(5 + 100_000 + 0 + 4);
        assertThat(dumped.hash()).hasSize(32).isNotEqualTo("0".repeat(32));
        assertThat(fromDump(dump(objects), 7)).isEqualTo(dumped);
        assertThat(fromDump(dump(objects), 1)).isEqualTo(dumped);
        assertThat(readBack(objects, 256 * 1024)).isEqualTo(dumped);
        assertThat(readBack(objects, 3)).isEqualTo(dumped);
        List<Lo> reversed = new ArrayList<>(objects).reversed();
        assertThat(fromDump(dump(reversed), 1 << 16)).isEqualTo(dumped);
        assertThat(readBack(reversed, 1000)).isEqualTo(dumped);
    }

    @Test
    void noLargeObjectsIsAFingerprintToo() {
        LargeObjectsFingerprint none = fromDump(dump(List.of()), 1 << 16);
        assertThat(none).isEqualTo(new LargeObjectsFingerprint(0, 0, "0".repeat(32)));
        assertThat(readBack(List.of(), 1)).isEqualTo(none);
    }

    @Test
    void aChangedByteOwnerOrOidChangesTheHash() {
        List<Lo> objects = objects();
        LargeObjectsFingerprint original = readBack(objects, 1000);
        byte[] flipped = objects.get(1).data().clone();
        flipped[99_999] ^= 1;
        List<List<Lo>> changed = List.of(
                replace(objects, 1, new Lo(16392, "postgres", flipped)),
                replace(objects, 0, new Lo(16391, "postgres", objects.get(0).data())),
                replace(objects, 0, new Lo(16390, "lo_owner", objects.get(0).data())),
                // owners swapped between two objects: same multiset of owners and data, other pairing
                replace(replace(objects, 0, new Lo(16391, "postgres", objects.get(0).data())), 1,
                        new Lo(16392, "lo_owner", objects.get(1).data())),
                // data moved from one object to the other
                replace(replace(objects, 0, new Lo(16391, "lo_owner", objects.get(1).data())), 1,
                        new Lo(16392, "postgres", objects.get(0).data())));
        for (List<Lo> other : changed) {
            LargeObjectsFingerprint got = readBack(other, 1000);
            assertThat(got.count()).isEqualTo(original.count());
            assertThat(got.bytes()).isEqualTo(original.bytes());
            assertThat(got.hash()).isNotEqualTo(original.hash());
            assertThat(fromDump(dump(other), 1 << 16)).isEqualTo(got);
        }
        // two equal objects still count twice (a sum, not XOR)
        Lo a = new Lo(1, "r", new byte[] {1});
        assertThat(readBack(List.of(a, a), 1).hash()).isNotEqualTo(readBack(List.of(), 1).hash());
    }

    private static List<Lo> replace(List<Lo> objects, int index, Lo lo) {
        List<Lo> out = new ArrayList<>(objects);
        out.set(index, lo);
        return out;
    }

    @Test
    void largeObjectTextOutsideTheirEntriesIsNotALargeObject() {
        String body = "--\n-- Name: f(); Type: FUNCTION; Schema: public; Owner: postgres\n--\n\n"
                + "CREATE FUNCTION public.f() RETURNS void LANGUAGE sql AS $$\n"
                + "SELECT pg_catalog.lo_create('1');\nALTER LARGE OBJECT 1 OWNER TO x;\n"
                + "SELECT pg_catalog.lo_open('1', 131072);\nSELECT pg_catalog.lowrite(0, 'zz');\n$$;\n\n"
                // a table named like a BLOBS entry is still a table
                + "--\n-- Name: BLOBS; Type: BLOBS; Schema: -; Owner: x; Type: TABLE; Schema: public; Owner: postgres\n--\n\n"
                + "CREATE TABLE public.\"BLOBS; Type: BLOBS; Schema: -; Owner: x\" (id int);\n";
        assertThat(fromDump(body + dump(objects()), 1 << 16)).isEqualTo(readBack(objects(), 1000));
    }

    @Test
    void aLargeObjectLineThatCannotBeReadFailsLoudly() {
        String good = dump(objects());
        String lowrite = "SELECT pg_catalog.lowrite(0, '\\x68656c6c6f');\n";
        assertThat(good).contains(lowrite);
        List<String> broken = List.of(
                good.replace(lowrite, "SELECT pg_catalog.lowrite(0, '\\x68656c6c6');\n"), // odd hex
                good.replace(lowrite, "SELECT pg_catalog.lowrite(0, '\\x68656c6c6g');\n"), // not hex
                good.replace(lowrite, "SELECT pg_catalog.lowrite(0, '\\x68656c6c6f')\n"), // not pg_dump's end
                good.replace(lowrite, lowrite + "SELECT 1;\n"), // something else amid the data
                good.replace(lowrite, "SELECT pg_catalog.lowrite(0, '\\x"
                        + "00".repeat(ContentFingerprint.MAX_STATEMENT_LINE) + "');\n"), // longer than read
                good.replace("SELECT pg_catalog.lo_open('16391', 131072);\n", ""), // data without its object
                good.replace("SELECT pg_catalog.lo_create('16391');\n", "SELECT pg_catalog.lo_create('16391', 1);\n"),
                good.replace("ALTER LARGE OBJECT 16391 OWNER TO lo_owner;\n", ""), // an object without owner
                good.replace("ALTER LARGE OBJECT 16391 OWNER TO lo_owner;\n", "ALTER LARGE OBJECT 16391 OWNER TO \"lo;\n"),
                good.replace("SELECT pg_catalog.lo_close(0);\n\nCOMMIT;", "COMMIT;")); // the last object never closed
        for (String dump : broken) {
            assertThat(dump).isNotEqualTo(good);
            assertThatThrownBy(() -> fromDump(dump, 1 << 16)).as(dump.length() > 2000 ? "long line" : dump)
                    .isInstanceOf(LargeObjectFingerprint.Unreadable.class)
                    .hasMessageContaining("large object");
        }
    }

    /** What the real pg_dump writes for large objects is read whole, and agrees with the objects read one by one. */
    @Test
    void readsWhatPgDumpWrites() {
        try (PostgresServer server = PostgresServer.start()) {
            server.createDatabase("lo_fp");
            server.psql("lo_fp", """
                    CREATE ROLE "Lo ""Owner"" ü";
                    SELECT lo_from_bytea(20001, 'hello');
                    SELECT lo_from_bytea(20002, '');
                    SELECT lo_from_bytea(20003, decode(repeat('00ff5c0a27', 20000), 'hex'));
                    ALTER LARGE OBJECT 20001 OWNER TO "Lo ""Owner"" ü";
                    CREATE TABLE t (id int, doc oid);
                    INSERT INTO t VALUES (1, 20001), (2, 20001), (3, 20003);
                    """);
            byte[] dump = PostgresServer.run(List.of(server.bin().resolve("pg_dump").toString(), "-d", "lo_fp"),
                    server.env(), null);
            assertThat(new String(dump, StandardCharsets.UTF_8)).contains("ALTER LARGE OBJECT 20001 OWNER TO \"Lo \"\"Owner\"\" ü\";",
                    "SELECT pg_catalog.lowrite(0, '\\x");
            ContentFingerprint f = new ContentFingerprint();
            f.write(dump, 0, dump.length);
            LargeObjectsFingerprint dumped = f.largeObjects();
            List<Lo> objects = new ArrayList<>();
            for (String row : server.psql("lo_fp", "SELECT oid || '|' || pg_get_userbyid(lomowner) || '|' "
                    + "|| encode(lo_get(oid), 'hex') FROM pg_largeobject_metadata ORDER BY oid").split("\n")) {
                String[] p = row.split("\\|", -1);
                objects.add(new Lo(Long.parseLong(p[0]), p[1], HEX.parseHex(p[2])));
            }
            assertThat(objects).extracting(Lo::owner).containsExactly("Lo \"Owner\" ü", "postgres", "postgres");
            assertThat(dumped).isEqualTo(readBack(objects, 4096));
            assertThat(dumped.count()).isEqualTo(3);
            assertThat(dumped.bytes()).isEqualTo(5 + 0 + 100_000);
        }
    }
}
