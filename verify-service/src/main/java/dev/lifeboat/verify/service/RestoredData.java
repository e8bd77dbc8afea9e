package dev.lifeboat.verify.service;

import dev.lifeboat.common.error.Errors.PgToolFailed;
import dev.lifeboat.common.model.BackupMetadata;
import dev.lifeboat.common.model.TableFingerprint;
import dev.lifeboat.common.model.VerificationRecord.StepName;
import dev.lifeboat.common.model.VerificationRecord.TableMismatch;
import dev.lifeboat.common.pg.CopyText;
import dev.lifeboat.common.pg.PgConnection;
import dev.lifeboat.common.pg.PgProcess;
import dev.lifeboat.common.pg.PgTools;
import dev.lifeboat.common.pg.TimeLimit;
import dev.lifeboat.common.pipeline.ContentFingerprint;
import dev.lifeboat.common.pipeline.LargeObjectFingerprint;
import dev.lifeboat.verify.config.VerifyServiceConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Comparator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * What verification reads out of a restored scratch database (DESIGN §4): each table's data read back with
 * {@code COPY ... TO STDOUT} and fingerprinted by the same code that fingerprinted the dump, amcheck's index checks,
 * and the configured SQL checks.
 */
@ApplicationScoped
public class RestoredData {
    /** Marks amcheck's corruption report in the error of the DO block that runs the checks. */
    private static final String CORRUPT = "LIFEBOAT-INDEX-CORRUPT";
    private static final int BUFFER = 1 << 16;
    /** An identifier as pg_dump writes it: plain lower-case, or double-quoted with quotes doubled. */
    private static final String IDENT = "(?:[a-z_][a-z0-9_]*|\"(?:[^\"\\x00]|\"\")+\")";
    private static final Pattern TABLE = Pattern.compile(IDENT + "(?:\\." + IDENT + ")?");
    private static final Pattern COLUMNS = Pattern.compile("(?:" + IDENT + "(?:, " + IDENT + ")*)?");
    /**
     * The tables the restore holds data in, named as pg_dump names them (quote_ident follows the same rules as
     * pg_dump's quoting): ordinary tables outside the system schemas that no extension owns, and the extension
     * configuration tables ({@code pg_extension_config_dump}, e.g. PostGIS's spatial_ref_sys), whose data pg_dump
     * dumps. Partitioned tables hold no rows themselves (their partitions are listed), views, materialized views
     * (dumped as REFRESH) and foreign tables are not dumped as data.
     */
    private static final String TABLES_SQL = "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
            + "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
            + "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
            + "AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
            + "WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e' AND NOT EXISTS ("
            + "SELECT 1 FROM pg_extension e WHERE e.oid = d.refobjid AND c.oid = ANY (e.extconfig))) ORDER BY 1";
    /**
     * The extension configuration tables with the condition their extension registered
     * ({@code pg_extension.extcondition}, e.g. {@code WHERE NOT (srid BETWEEN 2000 AND 2217 OR ...)}: the rows the
     * extension's script creates are left out), one a line as {@code <table> x<hex of the condition>}, since a
     * condition spans lines.
     */
    private static final String CONFIG_TABLES_SQL = "SELECT format('%I.%I', n.nspname, c.relname) || ' x' || "
            + "encode(convert_to(coalesce(x.cond, ''), 'UTF8'), 'hex') FROM pg_extension e "
            + "CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS x(relid, cond) "
            + "JOIN pg_class c ON c.oid = x.relid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'";

    /** The name large objects are reported under among the tables that differ. */
    static final String LARGE_OBJECTS = "large objects";
    /** Bytes of a large object read per row: one row of hex stays under about 512 KiB. */
    private static final int LO_CHUNK = 256 * 1024;
    /**
     * Every large object, in oid order, as rows of (oid, owner, offset, data) with the data in chunks of
     * {@link #LO_CHUNK} bytes in offset order (an empty object gives one empty chunk). {@code lo_get} with an offset
     * keeps each row small, so neither the server nor Lifeboat holds an object whole; the size comes from seeking to
     * the end of a descriptor that is closed right away. The owner is the role's name in the client encoding (the
     * dump's), and owner and data are hex, so no COPY escaping is involved. Reading needs SELECT on each object
     * (owner, grant, or superuser); pg_largeobject_metadata is readable by everyone.
     */
    private static final String LARGE_OBJECTS_SQL = "COPY (SELECT m.oid, pg_catalog.encode(pg_catalog.convert_to("
            + "pg_catalog.pg_get_userbyid(m.lomowner), pg_catalog.pg_client_encoding()), 'hex'), c.off, "
            + "pg_catalog.encode(pg_catalog.lo_get(m.oid, c.off, " + LO_CHUNK + "), 'hex') "
            + "FROM (SELECT oid, lomowner FROM pg_catalog.pg_largeobject_metadata ORDER BY oid) m "
            + "CROSS JOIN LATERAL (SELECT pg_catalog.lo_lseek64(d.fd, 0, 2) AS size, pg_catalog.lo_close(d.fd) "
            + "FROM (SELECT pg_catalog.lo_open(m.oid, 262144) AS fd) d) s "
            + "CROSS JOIN LATERAL pg_catalog.generate_series(0, greatest(s.size - 1, 0), " + LO_CHUNK + ") c(off)) "
            + "TO STDOUT";

    private final PgTools pgTools;
    private final VerifyServiceConfig config;

    public RestoredData(PgTools pgTools, VerifyServiceConfig config) {
        this.pgTools = pgTools;
        this.config = config;
    }

    private TimeLimit queryLimit() {
        return new TimeLimit(config.verify().queryTimeout(), "lifeboat.verify.query-timeout");
    }

    /**
     * FINGERPRINT: the same tables, and for each the same row count and hash as the metadata recorded at backup
     * time. Every difference is collected, so one failure names all the tables that differ.
     */
    String compareFingerprint(VerificationJob job, BackupMetadata backup, PgTools.Program psql, PgConnection scratch) {
        List<TableFingerprint> expected = backup.fingerprint() == null ? List.of() : backup.fingerprint();
        job.tables(expected.size());
        TimeLimit timeout = queryLimit();
        Set<String> restoredTables = new LinkedHashSet<>(pgTools.psqlQuery(psql, scratch, TABLES_SQL, timeout).lines()
                .map(String::strip).filter(l -> !l.isEmpty()).toList());
        Map<String, String> conditions = configTables(psql, scratch, timeout);
        PgConnection readback = scratch.withSettings(CopyText.forReadback(backup.encoding()));
        String algorithm = backup.fingerprintAlgorithm();
        if (!ContentFingerprint.knows(algorithm)) {
            throw new IllegalStateException("The backup's fingerprint was computed with '" + algorithm + "', which this "
                    + "version of verify-service does not know; verify it with the version that wrote it or a newer one");
        }
        List<TableMismatch> mismatches = new ArrayList<>();
        List<TableFingerprint> present = new ArrayList<>();
        for (TableFingerprint want : expected) {
            if (!TABLE.matcher(want.table()).matches() || !COLUMNS.matcher(want.columns()).matches()) {
                throw new Verifier.Defect(StepName.FINGERPRINT, "The metadata names table " + want.table()
                        + " (columns " + want.columns() + ") in a form pg_dump never writes; it was altered.",
                        want.table(), List.of());
            }
            if (restoredTables.contains(want.table())) {
                present.add(want);
            }
        }
        ReadBack readBackAll = readBackAll(psql, readback, present, algorithm, conditions, job);
        Map<String, TableFingerprint> readBack = readBackAll.tables();
        long rows = 0;
        for (TableFingerprint want : expected) {
            if (!restoredTables.contains(want.table())) {
                mismatches.add(new TableMismatch(want.table(), "in the backup but missing from the restored database",
                        want.rows(), null, want.hash(), null));
                continue;
            }
            TableFingerprint got = readBack.get(want.table());
            rows += got.rows();
            if (got.rows() != want.rows()) {
                mismatches.add(new TableMismatch(want.table(), "row count differs", want.rows(), got.rows(),
                        want.hash(), got.hash()));
            } else if (!got.hash().equals(want.hash())) {
                mismatches.add(new TableMismatch(want.table(), "content differs", want.rows(), got.rows(),
                        want.hash(), got.hash()));
            }
        }
        Set<String> fingerprinted = expected.stream().map(TableFingerprint::table).collect(Collectors.toSet());
        for (String table : restoredTables) {
            if (!fingerprinted.contains(table)) {
                mismatches.add(new TableMismatch(table, "in the restored database but not in the backup's fingerprint",
                        null, null, null, null));
            }
        }
        // backups from before large objects were fingerprinted record none: nothing to compare them with
        BackupMetadata.LargeObjectsFingerprint wantObjects = backup.largeObjects();
        String objects = "";
        if (wantObjects != null) {
            BackupMetadata.LargeObjectsFingerprint got = readLargeObjects(psql, readback);
            TableMismatch mismatch = compare(wantObjects, got);
            if (mismatch != null) {
                mismatches.add(mismatch);
            }
            objects = ", " + got.count() + " large objects (" + got.bytes() + " bytes)";
        }
        if (!mismatches.isEmpty()) {
            String list = mismatches.stream().limit(10).map(RestoredData::describe).collect(Collectors.joining("; "));
            throw new Verifier.Defect(StepName.FINGERPRINT, "The restored data differs from what was dumped in "
                    + mismatches.size() + " table(s): " + list + (mismatches.size() > 10 ? "; ..." : ""),
                    mismatches.get(0).table(), mismatches);
        }
        return expected.size() + " tables, " + rows + " rows" + objects
                + ": same tables, row counts and content as at backup time" + readBackAll.detail();
    }

    /**
     * FINGERPRINT of a restore without a dump-time fingerprint (a base backup's drill): every table of the restored
     * database and its large objects read whole through the content fingerprint, as the comparison reads them. What
     * it proves is that every row reads back (a damaged page or TOAST value fails the read); the counts are recorded.
     */
    String readAll(VerificationJob job, PgTools.Program psql, PgConnection scratch) {
        TimeLimit timeout = queryLimit();
        List<TableFingerprint> tables = pgTools.psqlQuery(psql, scratch, TABLES_SQL, timeout).lines()
                .map(String::strip).filter(l -> !l.isEmpty()).map(t -> new TableFingerprint(t, "", 0, null)).toList();
        job.tables(tables.size());
        Map<String, String> conditions = configTables(psql, scratch, timeout);
        PgConnection readback = scratch.withSettings(CopyText.forReadback(null));
        Map<String, TableFingerprint> read = readBackAll(psql, readback, tables, ContentFingerprint.XXH3_128,
                conditions, job).tables();
        long rows = read.values().stream().mapToLong(TableFingerprint::rows).sum();
        BackupMetadata.LargeObjectsFingerprint objects = readLargeObjects(psql, readback);
        return tables.size() + " tables, " + rows + " rows and " + objects.count() + " large objects ("
                + objects.bytes() + " bytes) read back whole";
    }

    /**
     * The large objects' difference, reported as a table named {@value #LARGE_OBJECTS} (rows: the number of
     * objects), or null when count, size and hash agree.
     */
    static TableMismatch compare(BackupMetadata.LargeObjectsFingerprint want, BackupMetadata.LargeObjectsFingerprint got) {
        String problem;
        if (want.count() != got.count()) {
            problem = "count differs: " + want.count() + " in the backup, " + got.count() + " restored";
        } else if (want.bytes() != got.bytes()) {
            problem = "total size differs: " + want.bytes() + " bytes in the backup, " + got.bytes() + " restored";
        } else if (!want.hash().equals(got.hash())) {
            problem = "content differs: the oid, owner or data of at least one of " + want.count() + " objects";
        } else {
            return null;
        }
        return new TableMismatch(LARGE_OBJECTS, problem, want.count(), got.count(), want.hash(), got.hash());
    }

    /**
     * The restored database's large objects, streamed through {@link LargeObjectFingerprint} (see
     * {@link #LARGE_OBJECTS_SQL}); rows out of order are an error, not a verdict.
     */
    private BackupMetadata.LargeObjectsFingerprint readLargeObjects(PgTools.Program psql, PgConnection connection) {
        LargeObjectFingerprint fingerprint = new LargeObjectFingerprint();
        HexFormat hex = HexFormat.of();
        try (PgProcess p = PgProcess.start(psql.path(), List.of("-X", "--no-password", "-q", "-v", "ON_ERROR_STOP=1",
                "-c", LARGE_OBJECTS_SQL), connection, pgTools.connectTimeout(), queryLimit())) {
            p.stdin().close();
            try (InputStream in = p.stdout()) {
                Lines lines = new Lines(in);
                byte[] line = new byte[2 * LO_CHUNK + 256];
                long current = -1;
                long expectedOffset = 0;
                for (int n; (n = lines.next(line)) >= 0; ) {
                    String[] f = new String(line, 0, n, java.nio.charset.StandardCharsets.US_ASCII).split("\t", -1);
                    if (f.length != 4) {
                        throw new IllegalStateException("Reading the large objects back gave a row of " + f.length
                                + " fields, not 4");
                    }
                    long oid = Long.parseLong(f[0]);
                    long offset = Long.parseLong(f[2]);
                    if (oid != current) {
                        if (oid < current || offset != 0) {
                            throw new IllegalStateException("Reading the large objects back gave large object " + oid
                                    + " out of order");
                        }
                        if (current >= 0) {
                            fingerprint.endData();
                        }
                        fingerprint.object(oid, hex.parseHex(f[1]));
                        fingerprint.beginData(oid);
                        current = oid;
                        expectedOffset = 0;
                    }
                    if (offset != expectedOffset) {
                        throw new IllegalStateException("Reading large object " + oid + " back gave offset " + offset
                                + " where " + expectedOffset + " was due");
                    }
                    byte[] data = hex.parseHex(f[3]);
                    fingerprint.data(data, 0, data.length);
                    expectedOffset += LO_CHUNK;
                }
                if (current >= 0) {
                    fingerprint.endData();
                }
            }
            p.waitSuccess();
        } catch (IOException e) {
            throw new PgToolFailed("Reading the large objects back failed: " + e.getMessage(), e);
        }
        return fingerprint.result();
    }

    /** Lines of a stream, each into a caller's array of bounded size. */
    private static final class Lines {
        private final InputStream in;
        private final byte[] buffer = new byte[BUFFER];
        private int pos;
        private int limit;

        Lines(InputStream in) {
            this.in = in;
        }

        /** The next line into {@code line} without its newline; its length, or -1 at the end. Too long: an error. */
        int next(byte[] line) throws IOException {
            int n = 0;
            while (true) {
                if (pos == limit) {
                    limit = in.read(buffer);
                    pos = 0;
                    if (limit < 0) {
                        limit = 0;
                        return n == 0 ? -1 : n;
                    }
                }
                int end = pos;
                while (end < limit && buffer[end] != '\n') {
                    end++;
                }
                if (n + end - pos > line.length) {
                    throw new IOException("a row of more than " + line.length + " bytes");
                }
                System.arraycopy(buffer, pos, line, n, end - pos);
                n += end - pos;
                if (end < limit) {
                    pos = end + 1;
                    return n;
                }
                pos = limit;
            }
        }
    }

    private static String describe(TableMismatch m) {
        if (LARGE_OBJECTS.equals(m.table())) {
            return LARGE_OBJECTS + " (" + m.problem() + ")";
        }
        String counts = "row count differs".equals(m.problem())
                ? ": " + m.backupRows() + " in the backup, " + m.restoredRows() + " restored"
                : "content differs".equals(m.problem()) ? ", " + m.backupRows() + " rows" : "";
        return m.table() + " (" + m.problem() + counts + ")";
    }

    /** The extension configuration tables of the restored database and the condition of each (see CONFIG_TABLES_SQL). */
    private Map<String, String> configTables(PgTools.Program psql, PgConnection scratch, TimeLimit timeout) {
        Map<String, String> conditions = new HashMap<>();
        for (String line : pgTools.psqlQuery(psql, scratch, CONFIG_TABLES_SQL, timeout).lines().toList()) {
            int at = line.lastIndexOf(" x");
            if (at > 0) {
                conditions.put(line.substring(0, at), new String(HexFormat.of().parseHex(line.substring(at + 2).strip()),
                        StandardCharsets.UTF_8));
            }
        }
        return conditions;
    }

    /** A table of at least this many blocks (2 MiB) is read back in as many block ranges as there are connections. */
    static final long SPLIT_BLOCKS = 256;
    /** A table of fewer bytes than this with its TOAST (2 MiB) shares a psql session with other small tables. */
    static final long SMALL_BYTES = 2L << 20;
    /**
     * Smaller tables share psql sessions, at most this many per session: a psql start and its authentication cost
     * about as much as reading a small table, so a database of a thousand small tables (partitions, one schema per
     * tenant) would otherwise spend most of its read-back starting programs.
     */
    static final int TABLES_PER_SESSION = 200;
    /**
     * ... and at most this many characters of SQL in one psql's arguments (Linux allows 2 MiB with the environment).
     */
    static final int SQL_PER_SESSION = 256 * 1024;
    /**
     * What frames each table's rows in a shared session's output, as a dump frames them: a COPY header line naming the
     * read's position, the rows, and the end-of-data line {@code \.}, which no row of COPY's text format can be (a
     * backslash in a value is written doubled). The content fingerprint reads that stream as it reads a dump.
     */
    private static final String READ_NAME = "lifeboat_read_";
    private static final String END_OF_DATA = "SELECT chr(92) || '.'";
    /**
     * Each ordinary table's size, one a line as {@code <table as pg_dump names it> <blocks> <bytes>}: its heap's blocks
     * (what a block range divides) and its bytes with TOAST (what reading it costs: a table of a few rows of large
     * documents has a small heap and a large TOAST table).
     */
    private static final String SIZES_SQL = "SELECT format('%I.%I', n.nspname, c.relname) || ' ' || "
            + "(pg_relation_size(c.oid) / current_setting('block_size')::int) || ' ' || pg_table_size(c.oid) "
            + "FROM pg_class c "
            + "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
            + "AND n.nspname NOT IN ('pg_catalog', 'information_schema')";

    /** A table's heap blocks and its bytes with TOAST. */
    private record Size(long blocks, long bytes) {
        static final Size UNKNOWN = new Size(0, 0);
    }

    /** One read: a table, or the block range [from, to) of one ({@code -1}: open end), of {@code parts} parts. */
    private record Part(TableFingerprint table, String condition, long from, long to, int parts) {
        /**
         * The COPY that reads it as pg_dump dumped it. An extension configuration table ({@code condition} not null)
         * is read as pg_dump dumps it: the same columns, only the rows its extension's condition selects.
         */
        String sql() {
            String range = from < 0 && to < 0 ? null : from < 0 ? "ctid < '(" + to + ",0)'::tid"
                    : to < 0 ? "ctid >= '(" + from + ",0)'::tid"
                    : "ctid >= '(" + from + ",0)'::tid AND ctid < '(" + to + ",0)'::tid";
            return range != null
                    ? "COPY (SELECT " + table.columns() + " FROM " + table.table() + " WHERE " + range + ") TO STDOUT"
                    : condition == null
                    ? "COPY " + table.table() + (table.columns().isEmpty() ? "" : " (" + table.columns() + ")")
                            + " TO STDOUT"
                    : "COPY (SELECT " + (table.columns().isEmpty() ? "*" : table.columns()) + " FROM " + table.table()
                            + (condition.isBlank() ? "" : " " + condition) + ") TO STDOUT";
        }
    }

    /** The tables read back, by name; how many of them were read in block ranges; how many psql sessions read them. */
    private record ReadBack(Map<String, TableFingerprint> tables, int ranged, int sessions) {
        String detail() {
            return (ranged == 0 ? "" : "; " + ranged + " large table(s) read back in block ranges over "
                    + "several connections") + "; " + sessions + (sessions == 1 ? " read session" : " read sessions");
        }
    }

    /**
     * Every table of {@code tables} read back, by name, over {@code lifeboat.verify.readback-connections} connections
     * at once, the largest tables (bytes with TOAST, then the backup's row counts) first, so the longest read starts
     * at once and the small ones fill the other connections around it. A large table (a heap of
     * {@link #SPLIT_BLOCKS}) is read in block ranges, one per connection
     * ({@code WHERE ctid >= '(a,0)' AND ctid < '(b,0)'}, a TID range scan from PostgreSQL 14 on),
     * so it no longer sets the time of the whole step; the fingerprint is a sum over rows, so the sums of the ranges
     * add up to the table's. Tables under {@link #SMALL_BYTES} with their TOAST are read several to a psql session
     * ({@link #TABLES_PER_SESSION}), spread over the connections. The first failure stops the rest and propagates.
     */
    private ReadBack readBackAll(PgTools.Program psql, PgConnection connection,
                                                      List<TableFingerprint> tables, String algorithm,
                                                      Map<String, String> conditions, VerificationJob job) {
        int parallel = Math.max(1, config.verify().readbackConnections());
        Map<String, TableFingerprint> out = new ConcurrentHashMap<>();
        if (tables.isEmpty()) {
            return new ReadBack(out, 0, 0);
        }
        Map<String, Size> sizes = sizes(psql, connection);
        List<TableFingerprint> largestFirst = new ArrayList<>(tables);
        largestFirst.sort(Comparator.comparingLong(
                (TableFingerprint t) -> sizes.getOrDefault(t.table(), Size.UNKNOWN).bytes())
                .thenComparingLong(TableFingerprint::rows).reversed());
        boolean ranges = parallel > 1 && pgTools.serverVersionNum(connection) >= 140000;
        List<List<Part>> sessions = new ArrayList<>();
        List<Part> small = new ArrayList<>();
        int ranged = 0;
        for (TableFingerprint table : largestFirst) {
            String condition = conditions.get(table.table());
            Size size = sizes.getOrDefault(table.table(), Size.UNKNOWN);
            if (size.bytes() < SMALL_BYTES) {
                small.add(new Part(table, condition, -1, -1, 1));
            } else if (!ranges || size.blocks() < SPLIT_BLOCKS || condition != null || table.columns().isEmpty()) {
                sessions.add(List.of(new Part(table, condition, -1, -1, 1)));
            } else {
                ranged++;
                for (int i = 0; i < parallel; i++) {
                    sessions.add(List.of(new Part(table, null, i == 0 ? -1 : size.blocks() * i / parallel,
                            i == parallel - 1 ? -1 : size.blocks() * (i + 1) / parallel, parallel)));
                }
            }
        }
        // the small tables after the large reads, in sessions of equal shares over the connections (capped)
        int share = Math.min(TABLES_PER_SESSION, (small.size() + parallel - 1) / parallel);
        List<Part> session = new ArrayList<>();
        int sql = 0;
        for (Part part : small) {
            int length = part.sql().length() + 64;
            if (!session.isEmpty() && (session.size() >= share || sql + length > SQL_PER_SESSION)) {
                sessions.add(session);
                session = new ArrayList<>();
                sql = 0;
            }
            session.add(part);
            sql += length;
        }
        if (!session.isEmpty()) {
            sessions.add(session);
        }
        Map<String, List<TableFingerprint>> partial = new HashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(parallel, sessions.size()),
                Thread.ofPlatform().name("verify-readback-", 1).factory());
        try {
            ExecutorCompletionService<List<TableFingerprint>> done = new ExecutorCompletionService<>(pool);
            Map<java.util.concurrent.Future<List<TableFingerprint>>, List<Part>> of = new HashMap<>();
            for (List<Part> parts : sessions) {
                of.put(done.submit(() -> readBack(psql, connection, parts, algorithm)), parts);
            }
            for (int i = 0; i < sessions.size(); i++) {
                java.util.concurrent.Future<List<TableFingerprint>> f = done.take();
                List<Part> parts = of.get(f);
                List<TableFingerprint> read = f.get();
                for (int j = 0; j < parts.size(); j++) {
                    Part part = parts.get(j);
                    List<TableFingerprint> got = partial.computeIfAbsent(part.table().table(), t -> new ArrayList<>());
                    got.add(read.get(j));
                    if (got.size() == part.parts()) {
                        out.put(part.table().table(), ContentFingerprint.sum(got));
                        job.tablesCompared.incrementAndGet();
                    }
                }
            }
            return new ReadBack(out, ranged, sessions.size());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while reading the restored tables back", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow(); // after a failure: the reads still running are killed with their psql (PgProcess.close)
            awaitQuietly(pool);
        }
    }

    private Map<String, Size> sizes(PgTools.Program psql, PgConnection connection) {
        Map<String, Size> out = new HashMap<>();
        String lines = pgTools.psqlQuery(psql, connection, SIZES_SQL, queryLimit());
        for (String line : lines.lines().map(String::strip).toList()) {
            int bytesAt = line.lastIndexOf(' ');
            int blocksAt = bytesAt > 0 ? line.lastIndexOf(' ', bytesAt - 1) : -1;
            if (blocksAt > 0) {
                out.put(line.substring(0, blocksAt), new Size(Long.parseLong(line.substring(blocksAt + 1, bytesAt)),
                        Long.parseLong(line.substring(bytesAt + 1))));
            }
        }
        return out;
    }

    private static void awaitQuietly(ExecutorService pool) {
        boolean interrupted = false;
        while (!pool.isTerminated()) {
            try {
                pool.awaitTermination(1, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The parts of one psql session read back with COPY ... TO STDOUT one after the other, in the dump's session
     * settings, through one content fingerprint of the backup's algorithm: each part's rows framed as a dump frames
     * a table's (header line, rows, {@code \.}), so the fingerprint tells them apart as it does in a dump. The
     * fingerprints come back in the parts' order, under their tables' names.
     */
    private List<TableFingerprint> readBack(PgTools.Program psql, PgConnection connection, List<Part> parts,
                                            String algorithm) {
        List<String> args = new ArrayList<>(List.of("-X", "--no-password", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"));
        for (int i = 0; i < parts.size(); i++) {
            args.addAll(List.of("-c", "SELECT 'COPY " + READ_NAME + i + " FROM stdin;'", "-c", parts.get(i).sql(),
                    "-c", END_OF_DATA));
        }
        String what = parts.size() == 1 ? parts.get(0).table().table()
                : parts.size() + " tables (" + parts.get(0).table().table() + " to "
                        + parts.get(parts.size() - 1).table().table() + ")";
        ContentFingerprint fingerprint = new ContentFingerprint(algorithm);
        try (PgProcess p = PgProcess.start(psql.path(), args, connection, pgTools.connectTimeout(), queryLimit())) {
            p.stdin().close();
            try (InputStream in = p.stdout()) {
                byte[] buffer = new byte[BUFFER];
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    fingerprint.write(buffer, 0, n);
                }
            }
            p.waitSuccess();
        } catch (IOException e) {
            throw new PgToolFailed("Reading " + what + " back failed: " + e.getMessage(), e);
        }
        List<TableFingerprint> read = fingerprint.result();
        if (read.size() != parts.size() || fingerprint.inTable()) {
            throw new PgToolFailed("Reading " + what + " back ended after " + read.size() + " of " + parts.size()
                    + " tables" + (fingerprint.inTable() ? ", inside the last one's rows" : "")
                    + ": psql's output was cut");
        }
        List<TableFingerprint> out = new ArrayList<>(parts.size());
        for (int i = 0; i < parts.size(); i++) {
            TableFingerprint r = read.get(i);
            if (!r.table().equals(READ_NAME + i)) {
                throw new PgToolFailed("Reading " + what + " back: psql's output is out of order (" + r.table() + ")");
            }
            TableFingerprint table = parts.get(i).table();
            out.add(new TableFingerprint(table.table(), table.columns(), r.rows(), r.hash()));
        }
        return out;
    }

    /**
     * AMCHECK: {@code bt_index_check} on every B-tree index of the restored database (with {@code heapallindexed},
     * every row must be found in each index). Skipped where the extension is not installed or may not be used.
     */
    String amcheck(PgTools.Program psql, PgConnection scratch) {
        if (!"1".equals(pgTools.psqlQuery(psql, scratch,
                "SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'").strip())) {
            throw new Verifier.Skip("the amcheck extension is not installed on the scratch server (PostgreSQL contrib)");
        }
        boolean heap = config.verify().amcheck().heapallindexed();
        // leaf B-tree indexes only: a partitioned index (relkind 'I') holds no data and bt_index_check refuses it
        String indexes = "SELECT c.oid::regclass AS idx FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                + "JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND c.relkind = 'i' "
                + "AND c.relpersistence <> 't' AND i.indisready AND i.indisvalid";
        try {
            pgTools.psqlQuery(psql, scratch, "CREATE EXTENSION IF NOT EXISTS amcheck");
            String checked = pgTools.psqlQuery(psql, scratch, "SELECT count(*) FROM (" + indexes + ") x").strip();
            // corruption (SQLSTATE XX001/XX002) is collected per index and reported under a marker; any other error
            // (a timeout, the server going away) propagates as it is and gives no verdict
            pgTools.psqlQuery(psql, scratch, "DO $lifeboat$ DECLARE r record; bad text := ''; BEGIN FOR r IN "
                    + indexes + " LOOP BEGIN PERFORM bt_index_check(r.idx, " + heap + "); EXCEPTION WHEN "
                    + "index_corrupted OR data_corrupted THEN bad := bad || r.idx::text || ': ' || SQLERRM || '; '; END; "
                    + "END LOOP; IF bad <> '' THEN RAISE EXCEPTION '" + CORRUPT + " %', bad; END IF; END $lifeboat$",
                    queryLimit());
            return checked + " B-tree indexes checked" + (heap ? ", every row found in its indexes" : "");
        } catch (PgToolFailed e) {
            if (e.getMessage() != null && e.getMessage().contains(CORRUPT)) {
                throw new Verifier.Defect(StepName.AMCHECK, "An index of the restored database is corrupt: "
                        + e.getMessage().substring(e.getMessage().indexOf(CORRUPT) + CORRUPT.length()).strip());
            }
            if (Verifier.serverError(e) && e.getMessage().contains("permission denied")) {
                throw new Verifier.Skip("amcheck may not be used by " + scratch.user() + " (needs superuser, or EXECUTE "
                        + "on bt_index_check and the right to create the extension): " + e.getMessage());
            }
            throw e;
        }
    }

    /** SQL_CHECKS: each configured query, read-only, must return exactly one row holding true. */
    String sqlChecks(PgTools.Program psql, PgConnection scratch, Map<String, String> checks) {
        TimeLimit timeout = queryLimit();
        PgConnection readOnly = scratch.withSettings(Map.of("default_transaction_read_only", "on",
                "statement_timeout", Long.toString(timeout.duration().toMillis())));
        List<String> failures = new ArrayList<>();
        checks.forEach((name, sql) -> {
            try {
                String out = pgTools.psqlQuery(psql, readOnly, sql, timeout).strip();
                if ("f".equals(out)) {
                    failures.add("check '" + name + "' returned false");
                } else if (!"t".equals(out)) {
                    failures.add("check '" + name + "' did not return one boolean row (got '"
                            + (out.length() > 80 ? out.substring(0, 80) + "..." : out) + "')");
                }
            } catch (PgToolFailed e) {
                // a check that could not run to its end (server gone, timeout) says nothing about the data
                if (!Verifier.serverError(e) || e.getMessage().contains("canceling statement")) {
                    throw e;
                }
                failures.add("check '" + name + "' failed: " + e.getMessage());
            }
        });
        if (!failures.isEmpty()) {
            throw new Verifier.Defect(StepName.SQL_CHECKS, "The restored data fails " + failures.size() + " of "
                    + checks.size() + " SQL checks: " + String.join("; ", failures));
        }
        return checks.size() + (checks.size() == 1 ? " check" : " checks") + " passed: " + String.join(", ", checks.keySet());
    }
}
