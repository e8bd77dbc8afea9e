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
import dev.lifeboat.verify.config.VerifyServiceConfig;
import jakarta.enterprise.context.ApplicationScoped;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
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
     * pg_dump's quoting): ordinary tables outside the system schemas that no extension owns. Partitioned tables
     * hold no rows themselves (their partitions are listed), views and foreign tables are not dumped as data.
     */
    private static final String TABLES_SQL = "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c "
            + "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
            + "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
            + "AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
            + "WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1";

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
        Map<String, TableFingerprint> readBack = readBackAll(psql, readback, present, algorithm, job);
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
        if (!mismatches.isEmpty()) {
            String list = mismatches.stream().limit(10).map(RestoredData::describe).collect(Collectors.joining("; "));
            throw new Verifier.Defect(StepName.FINGERPRINT, "The restored data differs from what was dumped in "
                    + mismatches.size() + " table(s): " + list + (mismatches.size() > 10 ? "; ..." : ""),
                    mismatches.get(0).table(), mismatches);
        }
        return expected.size() + " tables, " + rows + " rows: same tables, row counts and content as at backup time";
    }

    private static String describe(TableMismatch m) {
        String counts = "row count differs".equals(m.problem())
                ? ": " + m.backupRows() + " in the backup, " + m.restoredRows() + " restored"
                : "content differs".equals(m.problem()) ? ", " + m.backupRows() + " rows" : "";
        return m.table() + " (" + m.problem() + counts + ")";
    }

    /**
     * Every table of {@code tables} read back, by name, over {@code lifeboat.verify.readback-connections} connections
     * at once, the largest tables (by the backup's row counts) first, so the longest read starts at once and the
     * small ones fill the other connections around it. The first failure stops the rest and propagates.
     */
    private Map<String, TableFingerprint> readBackAll(PgTools.Program psql, PgConnection connection,
                                                      List<TableFingerprint> tables, String algorithm,
                                                      VerificationJob job) {
        List<TableFingerprint> largestFirst = new ArrayList<>(tables);
        largestFirst.sort(Comparator.comparingLong(TableFingerprint::rows).reversed());
        int parallel = Math.max(1, Math.min(config.verify().readbackConnections(), largestFirst.size()));
        Map<String, TableFingerprint> out = new ConcurrentHashMap<>();
        if (largestFirst.isEmpty()) {
            return out;
        }
        ExecutorService pool = Executors.newFixedThreadPool(parallel, Thread.ofPlatform().name("verify-readback-", 1)
                .factory());
        try {
            ExecutorCompletionService<TableFingerprint> done = new ExecutorCompletionService<>(pool);
            for (TableFingerprint table : largestFirst) {
                done.submit(() -> readBack(psql, connection, table, algorithm));
            }
            for (int i = 0; i < largestFirst.size(); i++) {
                TableFingerprint got = done.take().get();
                out.put(got.table(), got);
                job.tablesCompared.incrementAndGet();
            }
            return out;
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

    /** One table read back with COPY ... TO STDOUT, in the dump's session settings, through the fingerprint. */
    private TableFingerprint readBack(PgTools.Program psql, PgConnection connection, TableFingerprint table,
                                      String algorithm) {
        ContentFingerprint fingerprint = new ContentFingerprint(algorithm);
        fingerprint.beginTable(table.table(), table.columns());
        String sql = "COPY " + table.table() + (table.columns().isEmpty() ? "" : " (" + table.columns() + ")") + " TO STDOUT";
        try (PgProcess p = PgProcess.start(psql.path(), List.of("-X", "--no-password", "-q", "-v", "ON_ERROR_STOP=1",
                "-c", sql), connection, pgTools.connectTimeout(), queryLimit())) {
            p.stdin().close();
            try (InputStream in = p.stdout()) {
                byte[] buffer = new byte[BUFFER];
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    fingerprint.write(buffer, 0, n);
                }
            }
            p.waitSuccess();
        } catch (IOException e) {
            throw new PgToolFailed("Reading " + table.table() + " back failed: " + e.getMessage(), e);
        }
        fingerprint.endTable();
        return fingerprint.result().get(0);
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
