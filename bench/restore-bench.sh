#!/usr/bin/env bash
# bench/restore-bench.sh — measures Lifeboat restores of one backup of a database next to the baselines: a bare
# `psql -f dump.sql` into an empty database (what the seeds do), the same with --single-transaction, and the
# emergency pipeline `age -d | zstd -d | psql --single-transaction`. Lifeboat is timed twice: into a scratch
# database (fresh), and in place over a copy that already holds the data (clean-schema: every schema dropped
# and reloaded in one transaction). Prints times, ratios, peak RSS.
#
# Usage: bench/restore-bench.sh DATABASE   a database on an existing server: PGHOST, PGPORT, PGUSER (default
#                                          127.0.0.1, 5432, postgres) and PGPASSWORD or ~/.pgpass; the password
#                                          reaches the services through a 0600 file, never argv. The source
#                                          database is only read; databases lifeboat_bench_* are created, and
#                                          they and any lifeboat_scratch_* are dropped at the end.
#                                          Test data: psql -d DATABASE -f bench/bench-data.sql
#        bench/restore-bench.sh --rows N   a throwaway PostgreSQL holding bench/bench-data.sql at N rows
#                                          (--rows 2000 runs in seconds: a check that the benchmark works)
#   BENCH_JAVA_OPTS      JVM options for restore-service, e.g. -Xmx64m to show the restore streams in bounded memory
#   LIFEBOAT_PORT_BASE   ports as for deploy/local/run.sh; default 18080 (18081/19081, 18082/19082)
# Needs what deploy/local/run.sh needs (it builds the services if a jar is missing), and age and zstd; disk
# for one plain dump (the baselines) and one backup.
set -euo pipefail

LB_NAME=restore-bench.sh
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_setup "$@"

# fresh_db NAME: an empty database NAME on the server
fresh_db() { lb_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE template0"; }
# emergency_load: the stored backup through the stock tools into lifeboat_bench_copy
emergency_load() {
    age -d -i "$LB_KEY_FILE" "$LB_STORE/$stored_key" | zstd -q -d | lb_psql --single-transaction -o /dev/null -d lifeboat_bench_copy
}

{
    bench_restore_props
    lb_props_pg lifeboat.targets.copy lifeboat_bench_copy
    echo "lifeboat.targets.copy.safety-backup=false"
} | lb_write_config restore-service

lb_say "Setup: pg_dump to a file (for the baselines), one Lifeboat backup (zstd-3, age)"
lb_pg_run pg_dump -d "$BENCH_DB" -f "$LB_WORK/plain.sql"
raw_bytes=$(stat -c %s "$LB_WORK/plain.sql")
bench_backup_config
lb_start_service backup-service
bench_backup "$LB_WORK/backup.json"
lb_stop_services
facts=$(lb_json "$LB_WORK/backup.json" '.metadata | "\(.id) \(.key) \(.storedSizeBytes)"')
read -r backup_id stored_key stored_bytes <<<"$facts"
lb_info "plain dump $raw_bytes bytes; backup $backup_id, $stored_bytes bytes stored"

lb_say "Baseline A: psql -f dump.sql into an empty database (no transaction, as the seeds do)"
fresh_db lifeboat_bench_a
bench_time lb_psql -o /dev/null -d lifeboat_bench_a -f "$LB_WORK/plain.sql"
a_s=$BENCH_ELAPSED
lb_info "$a_s s"
lb_psql -d postgres -c "DROP DATABASE lifeboat_bench_a"

lb_say "Baseline B: the same with --single-transaction"
fresh_db lifeboat_bench_b
bench_time lb_psql -o /dev/null --single-transaction -d lifeboat_bench_b -f "$LB_WORK/plain.sql"
b_s=$BENCH_ELAPSED
lb_info "$b_s s"
lb_psql -d postgres -c "DROP DATABASE lifeboat_bench_b"

lb_say "Baseline C: age -d | zstd -d | psql --single-transaction, from the stored backup"
fresh_db lifeboat_bench_copy
bench_time emergency_load
c_s=$BENCH_ELAPSED
lb_info "$c_s s (lifeboat_bench_copy now holds the data, for the in-place run)"
rm -f "$LB_WORK/plain.sql"

lb_say "Lifeboat restore-service ${BENCH_JAVA_OPTS:-}"
bench_start_measured restore-service

lb_say "Into target scratch (a fresh database)"
bench_restore "$backup_id" scratch "$LB_WORK/scratch.json"
scratch_s=$BENCH_ELAPSED
lb_info "$scratch_s s"
bench_drop_scratch "$LB_WORK/scratch.json"

lb_say "In place into target copy (clean-schema over the same data: drop and reload in one transaction)"
bench_restore "$backup_id" copy "$LB_WORK/copy.json"
inplace_s=$BENCH_ELAPSED
lb_info "$inplace_s s"
peak_rss=$(bench_peak_rss "$BENCH_PID")
lb_info "peak RSS of restore-service: $((peak_rss / 1024)) MiB (after start-up: $((BENCH_IDLE_RSS / 1024)) MiB)"

lb_say "Summary ($((raw_bytes / 1048576)) MiB plain dump, $((stored_bytes / 1048576)) MiB stored)"
bench_report '
    printf "A  psql -f dump.sql (no transaction)           : %6.1f s  1.00x\n", a
    printf "B  psql --single-transaction -f dump.sql       : %6.1f s  %s\n", b, ratio(b, a)
    printf "C  age -d | zstd -d | psql --single-transaction: %6.1f s  %s\n", c, ratio(c, a)
    printf "Lifeboat, scratch (fresh database)             : %6.1f s  %s\n", s, ratio(s, a)
    printf "Lifeboat, in place over existing data          : %6.1f s  %s\n", i, ratio(i, a)
    printf "restore-service peak RSS                       : %.0f MiB (idle %.0f MiB)\n", peak / 1024, idle / 1024' \
    a="$a_s" b="$b_s" c="$c_s" s="$scratch_s" i="$inplace_s" peak="$peak_rss" idle="$BENCH_IDLE_RSS"
