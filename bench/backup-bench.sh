#!/usr/bin/env bash
# bench/backup-bench.sh — measures a Lifeboat backup of a database next to the baselines:
# `pg_dump -f /dev/null` (the floor: nothing is faster than the dump itself) and the classic
# `pg_dump | zstd | age > file` pipeline. Prints times, sizes, the service's peak RSS and the ratios.
#
# Usage: bench/backup-bench.sh DATABASE   a database on an existing server: PGHOST, PGPORT, PGUSER (default
#                                         127.0.0.1, 5432, postgres) and PGPASSWORD or ~/.pgpass; the password
#                                         reaches backup-service through a 0600 file, never argv.
#                                         Test data: psql -d DATABASE -f bench/bench-data.sql (about 650 MB of
#                                         plain dump at its default 2,000,000 rows)
#        bench/backup-bench.sh --rows N   a throwaway PostgreSQL holding bench/bench-data.sql at N rows
#                                         (--rows 2000 runs in seconds: a check that the benchmark works)
#   BENCH_JAVA_OPTS      JVM options for the service, e.g. -Xmx64m to show the backup streams in bounded memory
#   LIFEBOAT_PORT_BASE   ports as for deploy/local/run.sh; default 18080 (API 18081, health 19081)
# Needs what deploy/local/run.sh needs (it builds the services if a jar is missing), and age and zstd.
set -euo pipefail

LB_NAME=backup-bench.sh
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_setup "$@"

# cli_pipeline: the classic backup, pg_dump | zstd | age > file
cli_pipeline() { lb_pg_run pg_dump -d "$BENCH_DB" | zstd -q -3 -T2 | age -r "$LB_AGE_RECIPIENT" >"$LB_WORK/cli.sql.zst.age"; }

lb_say "Baseline 1: pg_dump -f /dev/null"
bench_time lb_pg_run pg_dump -d "$BENCH_DB" -f /dev/null
dump_s=$BENCH_ELAPSED
raw_bytes=$(lb_pg_run pg_dump -d "$BENCH_DB" | wc -c)
lb_info "$dump_s s, $raw_bytes bytes of plain dump"

lb_say "Baseline 2: pg_dump | zstd -3 -T2 | age > file"
bench_time cli_pipeline
cli_s=$BENCH_ELAPSED
cli_bytes=$(stat -c %s "$LB_WORK/cli.sql.zst.age")
rm -f "$LB_WORK/cli.sql.zst.age"
lb_info "$cli_s s, $cli_bytes bytes stored"

lb_say "Lifeboat backup-service (filesystem store, zstd level 3 with 2 workers, age) ${BENCH_JAVA_OPTS:-}"
bench_backup_config
bench_start_measured backup-service
bench_backup "$LB_WORK/backup.json"
lb_s=$BENCH_ELAPSED
peak_rss=$(bench_peak_rss "$BENCH_PID")
facts=$(lb_json "$LB_WORK/backup.json" '.metadata | "\(.storedSizeBytes) \(.rawSizeBytes) \(.sha256[:16]) \(.fingerprint | length)"')
read -r stored raw sha tables <<<"$facts"
lb_info "$lb_s s, $raw bytes dumped, $stored bytes stored, sha256 $sha..., $tables tables fingerprinted"
lb_info "peak RSS of the service: $((peak_rss / 1024)) MiB (after start-up, before the backup: $((BENCH_IDLE_RSS / 1024)) MiB)"

lb_say "Summary"
bench_report '
    printf "backup time / pg_dump -f /dev/null     : %s  (%.1f s vs %.1f s)\n", ratio(lb, dump), lb, dump
    printf "backup time / pg_dump|zstd|age pipeline : %s  (%.1f s vs %.1f s)\n", ratio(lb, cli), lb, cli
    printf "stored / raw dump                       : %.3f  (%.0f MiB of %.0f MiB)\n", stored / raw, stored / 2^20, raw / 2^20
    printf "stored / CLI pipeline output            : %.3f\n", stored / cli_bytes
    printf "throughput                              : %s MiB/s of dump\n", (lb > 0 ? sprintf("%.0f", raw / 2^20 / lb) : "-")
    printf "peak RSS                                : %.0f MiB (idle %.0f MiB) for a %.0f MiB dump\n", peak / 1024, idle / 1024, raw / 2^20' \
    dump="$dump_s" cli="$cli_s" lb="$lb_s" raw="$raw" stored="$stored" cli_bytes="$cli_bytes" peak="$peak_rss" idle="$BENCH_IDLE_RSS"
