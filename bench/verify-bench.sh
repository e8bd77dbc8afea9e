#!/usr/bin/env bash
# bench/verify-bench.sh — measures what proving a backup costs: one backup of a database, then a bare scratch
# restore through restore-service (what the measured RTO is), a checksum verification and a full verification
# through verify-service (checksum, scratch restore, every table read back and fingerprinted, amcheck with
# heapallindexed, drop). Prints times, the full verification's steps, ratios and peak RSS.
#
# Usage: bench/verify-bench.sh DATABASE   a database on an existing server: PGHOST, PGPORT, PGUSER (default
#                                         127.0.0.1, 5432, postgres) and PGPASSWORD or ~/.pgpass; the password
#                                         reaches the services through a 0600 file, never argv. The source
#                                         database is only read; any lifeboat_scratch_* left is dropped at the end.
#                                         Test data: psql -d DATABASE -f bench/bench-data.sql
#        bench/verify-bench.sh --rows N   a throwaway PostgreSQL holding bench/bench-data.sql at N rows
#                                         (--rows 2000 runs in seconds: a check that the benchmark works)
#   BENCH_JAVA_OPTS      JVM options for verify-service, e.g. -Xmx64m to show verification streams in bounded memory
#   LIFEBOAT_PORT_BASE   ports as for deploy/local/run.sh; default 18080 (18081-18083, 19081-19083)
# Needs what deploy/local/run.sh needs (it builds the services if a jar is missing), and age and zstd; disk for
# one backup and one scratch copy of the database.
set -euo pipefail

LB_NAME=verify-bench.sh
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_setup "$@"

bench_restore_props | lb_write_config restore-service
{
    lb_props_common verify-service
    echo "lifeboat.peers.restore-url=$(lb_url restore-service)"
    lb_props_pg lifeboat.verify.scratch
    echo "lifeboat.verify.sweep-schedule=off"
    echo "lifeboat.verify.checksum-schedule=off"
} | lb_write_config verify-service

bench_backup_config
lb_start_service backup-service
lb_start_service restore-service
bench_start_measured verify-service

lb_say "One Lifeboat backup (zstd-3, age)"
bench_backup "$LB_WORK/backup.json"
backup_s=$BENCH_ELAPSED
facts=$(lb_json "$LB_WORK/backup.json" '.metadata | "\(.id) \(.rawSizeBytes) \(.storedSizeBytes) \(.fingerprint | length)"')
read -r backup_id raw_bytes stored_bytes tables <<<"$facts"
lb_info "$backup_id: $raw_bytes bytes of dump, $stored_bytes stored, $tables tables, $backup_s s"

lb_say "A bare scratch restore through restore-service (the restore a verification measures)"
bench_restore "$backup_id" scratch "$LB_WORK/restore.json"
restore_s=$BENCH_ELAPSED
lb_info "$restore_s s"
bench_drop_scratch "$LB_WORK/restore.json"

# verify LEVEL OUT: one verification of the backup at LEVEL, timed (BENCH_ELAPSED); prints its result and steps
verify() {
    bench_timed_post "$(lb_url verify-service)/api/v1/verifications?wait=true" "{\"backupId\": \"$backup_id\", \"level\": \"$1\"}" "$2"
    lb_info "result $(lb_json "$2" .result), $BENCH_ELAPSED s"
    lb_print_steps "$2"
}

lb_say "Checksum verification (read the object once: SHA-256, age, zstd to the end)"
verify checksum "$LB_WORK/checksum.json"
checksum_s=$BENCH_ELAPSED

lb_say "Full verification ${BENCH_JAVA_OPTS:-}"
verify full "$LB_WORK/full.json"
full_s=$BENCH_ELAPSED
[[ "$(lb_json "$LB_WORK/full.json" .result)" == PASSED ]] || lb_die "the full verification did not pass (see the steps above)"
verify_restore_s=$(lb_json "$LB_WORK/full.json" .restoreSeconds)
peak_rss=$(bench_peak_rss "$BENCH_PID")

lb_say "Summary ($((raw_bytes / 1048576)) MiB plain dump, $((stored_bytes / 1048576)) MiB stored, $tables tables)"
bench_report '
    printf "scratch restore alone (restore-service)          : %6.1f s  1.00x\n", r
    printf "checksum verification                            : %6.1f s  %s\n", c, ratio(c, r)
    printf "full verification                                : %6.1f s  %s\n", f, ratio(f, r)
    printf "  of which its scratch restore (the measured RTO): %6.1f s\n", vr
    printf "verify-service peak RSS                          : %.0f MiB (idle %.0f MiB)\n", peak / 1024, idle / 1024' \
    r="$restore_s" c="$checksum_s" f="$full_s" vr="$verify_restore_s" peak="$peak_rss" idle="$BENCH_IDLE_RSS"
