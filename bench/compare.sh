#!/usr/bin/env bash
# bench/compare.sh — Lifeboat next to the shell pipelines it replaces, in ONE run on one database, so the ratios
# compare like with like: backups (pg_dump to /dev/null, pg_dump | zstd | age, the operations guide's
# pg_dump | gzip | age, pg_basebackup | zstd, Lifeboat), restores (bare psql -f and --single-transaction,
# Lifeboat into a scratch database and in place, clean-schema and recreate-database), and a full verification
# against its own restore. Prints one table: times, ratios, stored sizes, and the peak RSS of each service. Builds
# nothing.
#
# Usage: bench/compare.sh                  a throwaway PostgreSQL loaded with bench/bench-data.sql at its default
#                                          2,000,000 rows (about 1 GB of database, 700 MiB of plain dump)
#        bench/compare.sh --rows N         the same at N rows (--rows 2000 runs in seconds: a check that it works)
#        bench/compare.sh --database NAME  database NAME on an existing server (PGHOST, PGPORT, PGUSER, default
#                                          127.0.0.1, 5432, postgres, and PGPASSWORD or ~/.pgpass; the password
#                                          reaches the services through a 0600 file, never argv), loaded with the
#                                          bench data (--rows) if it does not exist; only read. lifeboat_bench_* and
#                                          lifeboat_scratch_* databases are created there and dropped at the end.
#   LIFEBOAT_JARS_FROM  a Lifeboat tree whose services are built (./mvnw -DskipTests package): its jars are run,
#                       with the JAVA_OPTS its image ships; default this tree. For before/after: build the old
#                       commit in a worktree and run this script twice, once with LIFEBOAT_JARS_FROM pointing there.
#   BENCH_JAVA_OPTS     JVM options of the services instead of the image's JAVA_OPTS (set empty for the JVM's own)
#   BENCH_JFR_DIR       record each service with JDK Flight Recorder (settings=profile) into DIR/<service>.jfr
#   BENCH_ZSTD_LEVEL    zstd level of the shell pipelines and of backup-service (lifeboat.backup.zstd-level);
#                       default 1, the service's default. An old tree measured at its own default: 3 before 2026-12-03.
#   LIFEBOAT_PORT_BASE  ports as for deploy/local/run.sh; default 18080 (18081-18083, 19081-19083)
# Needs a JDK >= 21, PostgreSQL (server programs for the throwaway cluster; psql, pg_dump, pg_basebackup), age,
# zstd, gzip, curl, jq; disk for one plain dump, the stored backups and three copies of the database.
set -euo pipefail

LB_NAME=compare.sh
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
bench_setup "$@"

# The shell pipelines measured, each writing its output to a file in the work folder (its size is what it stores).
shell_zstd() { lb_pg_run pg_dump -d "$BENCH_DB" | zstd -q "-$BENCH_ZSTD_LEVEL" -T2 | age -r "$LB_AGE_RECIPIENT" >"$LB_WORK/shell.sql.zst.age"; }
shell_gzip() { lb_pg_run pg_dump -d "$BENCH_DB" | gzip -6 | age -r "$LB_AGE_RECIPIENT" >"$LB_WORK/guide.sql.gz.age"; }
fresh_db() { lb_psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE template0"; }
size_of() { stat -c %s "$1"; }

lb_info "services: $(lb_jar backup-service | sed 's|/backup-service/target/.*||') ($(git -C "${BENCH_JARS_FROM:-$LB_REPO}" rev-parse --short HEAD 2>/dev/null || echo '?')), JVM options: ${BENCH_JVM[*]:-(none)}${MALLOC_ARENA_MAX:+, MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX}"

lb_say "1/4 Backup baselines"
bench_time lb_pg_run pg_dump -d "$BENCH_DB" -f /dev/null
dump_s=$BENCH_ELAPSED
lb_info "pg_dump -f /dev/null: $dump_s s"
bench_time shell_zstd
zstd_s=$BENCH_ELAPSED zstd_b=$(size_of "$LB_WORK/shell.sql.zst.age")
rm -f "$LB_WORK/shell.sql.zst.age"
lb_info "pg_dump | zstd -$BENCH_ZSTD_LEVEL -T2 | age: $zstd_s s, $zstd_b bytes"
bench_time shell_gzip
gzip_s=$BENCH_ELAPSED gzip_b=$(size_of "$LB_WORK/guide.sql.gz.age")
rm -f "$LB_WORK/guide.sql.gz.age"
lb_info "pg_dump | gzip -6 | age: $gzip_s s, $gzip_b bytes"
if bench_time bench_basebackup "$LB_WORK/base.tar.zst" 2>"$LB_WORK/logs/basebackup.err"; then
    phys_s=$BENCH_ELAPSED phys_b=$(size_of "$LB_WORK/base.tar.zst")
    lb_info "pg_basebackup -Ft -X none -c fast | zstd -$BENCH_ZSTD_LEVEL -T2: $phys_s s, $phys_b bytes (the whole cluster)"
else
    phys_s=0 phys_b=0
    lb_info "pg_basebackup failed (no replication connection allowed?): $(head -c 300 "$LB_WORK/logs/basebackup.err")"
fi
rm -f "$LB_WORK/base.tar.zst"

lb_say "2/4 Lifeboat backup"
for name in "${LB_SERVICES[@]}"; do bench_props "$name" | lb_write_config "$name"; done
for name in "${LB_SERVICES[@]}"; do bench_start "$name"; done
bench_timed_post "$(lb_url backup-service)/api/v1/backups?wait=true" '{}' "$LB_WORK/backup.json"
backup_s=$BENCH_ELAPSED
facts=$(lb_json "$LB_WORK/backup.json" '.metadata | "\(.id) \(.rawSizeBytes) \(.storedSizeBytes) \(.fingerprint | length) \(.fingerprintAlgorithm // "sha256-128-sum")"')
read -r backup_id raw_b backup_b tables algorithm <<<"$facts"
lb_info "$backup_s s: $raw_b bytes dumped, $backup_b stored, $tables tables fingerprinted ($algorithm)"
# the first backup after start-up runs while the JIT compiles the chain's hot loops; a long-running service's next
# backups run compiled: both are shown
bench_timed_post "$(lb_url backup-service)/api/v1/backups?wait=true" '{}' "$LB_WORK/backup2.json"
backup2_s=$BENCH_ELAPSED backup2_b=$(lb_json "$LB_WORK/backup2.json" .metadata.storedSizeBytes)
lb_info "again, the service warm: $backup2_s s, $backup2_b stored"

lb_say "3/4 Restores"
lb_pg_run pg_dump -d "$BENCH_DB" -f "$LB_WORK/plain.sql"
fresh_db lifeboat_bench_a
bench_time lb_psql -o /dev/null -d lifeboat_bench_a -f "$LB_WORK/plain.sql"
psql_s=$BENCH_ELAPSED
lb_psql -d postgres -c "DROP DATABASE lifeboat_bench_a"
lb_info "psql -f dump.sql: $psql_s s"
fresh_db lifeboat_bench_copy
bench_time lb_psql -o /dev/null --single-transaction -d lifeboat_bench_copy -f "$LB_WORK/plain.sql"
single_s=$BENCH_ELAPSED
rm -f "$LB_WORK/plain.sql"
lb_info "psql --single-transaction -f dump.sql: $single_s s (lifeboat_bench_copy keeps the data: the in-place target)"
restore() {
    bench_timed_post "$(lb_url restore-service)/api/v1/restores?wait=true" "{\"backupId\": \"$backup_id\", \"target\": \"$1\"}" "$2"
    bench_steps "$2"
}
restore scratch "$LB_WORK/scratch.json"
scratch_s=$BENCH_ELAPSED
lb_call 204 DELETE "$(lb_url restore-service)/api/v1/restores/$(lb_json "$LB_WORK/scratch.json" .id)/database" "$LB_WORK/drop.json"
lb_info "Lifeboat restore into a scratch database: $scratch_s s"
restore copy "$LB_WORK/copy.json"
inplace_s=$BENCH_ELAPSED
lb_info "Lifeboat restore in place (clean-schema over the same data): $inplace_s s"
bench_timed_post "$(lb_url restore-service)/api/v1/restores?wait=true" \
    "{\"backupId\": \"$backup_id\", \"target\": \"copy\", \"mode\": \"recreate-database\"}" "$LB_WORK/recreate.json"
recreate_s=$BENCH_ELAPSED
bench_steps "$LB_WORK/recreate.json"
lb_psql -d postgres -c "DROP DATABASE lifeboat_bench_copy"
lb_info "Lifeboat restore in place (recreate-database: a new database, swapped in): $recreate_s s"

lb_say "4/4 Full verification (scratch restore, whose read is the checksum; fingerprint read-back, amcheck, drop)"
bench_timed_post "$(lb_url verify-service)/api/v1/verifications?wait=true" "{\"backupId\": \"$backup_id\", \"level\": \"full\"}" "$LB_WORK/full.json"
verify_s=$BENCH_ELAPSED
bench_steps "$LB_WORK/full.json"
[[ "$(lb_json "$LB_WORK/full.json" .result)" == PASSED ]] || lb_die "the full verification did not pass (steps above)"
step() { lb_json "$LB_WORK/full.json" "[.steps[]? | select(.name == \"$1\") | .seconds] | first // 0"; }
v_restore=$(step RESTORE) v_fp=$(step FINGERPRINT) v_am=$(step AMCHECK)
lb_info "$verify_s s (its restore $v_restore s, fingerprint read-back $v_fp s, amcheck $v_am s)"

declare -A peak=()
for name in "${LB_SERVICES[@]}"; do peak[$name]=$(bench_peak_rss "${LB_PID[$name]}"); done

lb_say "Summary: $(lb_psql -At -d "$BENCH_DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))") database, $((raw_b / 1048576)) MiB plain dump; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
bench_report() {
    awk "$@" 'function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
function mib(b) { return b > 0 ? sprintf("%.1f MiB", b / 1048576) : "-" }
BEGIN {
    f = "| %-44s | %7s | %-34s | %-22s |\n"
    printf f, "", "time", "ratio", "stored"
    printf "|%s|%s|%s|%s|\n", "----------------------------------------------", "---------", "------------------------------------", "------------------------"
    printf f, "pg_dump -f /dev/null", sprintf("%.1f s", dump), "1.00", "-"
    printf f, "pg_dump | zstd -" lvl " -T2 | age (shell)", sprintf("%.1f s", zs), ratio(zs, dump), mib(zb)
    printf f, "pg_dump | gzip -6 | age (operations guide)", sprintf("%.1f s", gs), ratio(gs, dump), mib(gb)
    printf f, "pg_basebackup -Ft -X none | zstd -" lvl " -T2", (ps > 0 ? sprintf("%.1f s", ps) : "failed"), ratio(ps, dump), mib(pb) " (cluster)"
    printf f, "Lifeboat backup, first after start-up", sprintf("%.1f s", lb), ratio(lb, dump) " (" ratio(lb, zs) "x shell, " ratio(gs, lb) "x faster than gzip)", mib(lbb) " (" ratio(lbb, zb) "x shell)"
    printf f, "Lifeboat backup, again (service warm)", sprintf("%.1f s", lb2), ratio(lb2, dump) " (" ratio(lb2, zs) "x shell, " ratio(gs, lb2) "x faster than gzip)", mib(lbb2) " (" ratio(lbb2, zb) "x shell)"
    printf f, "psql -f dump.sql (bare)", sprintf("%.1f s", ps1), "1.00", "-"
    printf f, "psql --single-transaction -f dump.sql", sprintf("%.1f s", st), ratio(st, ps1), "-"
    printf f, "Lifeboat restore, scratch database", sprintf("%.1f s", sc), ratio(sc, ps1), "-"
    printf f, "Lifeboat restore, in place (clean-schema)", sprintf("%.1f s", ip), ratio(ip, ps1), "-"
    printf f, "Lifeboat restore, in place (recreate-database)", sprintf("%.1f s", rc), ratio(rc, ps1), "-"
    printf f, "full verification", sprintf("%.1f s", fv), ratio(fv, sc) "x its restore (scratch)", "-"
    printf f, "  its restore / fingerprint / amcheck", sprintf("%.1f s", vr), sprintf("%.1f / %.1f s", vf, va), "-"
    printf "\nPeak RSS (VmHWM; after start-up in brackets): backup-service %.0f MiB (%.0f), restore-service %.0f MiB (%.0f), verify-service %.0f MiB (%.0f)\n", pkb / 1024, ib / 1024, pkr / 1024, ir / 1024, pkv / 1024, iv / 1024
    printf "Goals: backup <= 1.05x shell, first / warm: %s / %s; >= 2x faster than gzip: %s; stored within 2%%: %s; scratch <= 0.95: %s; in place <= 0.85, clean-schema / recreate-database: %s / %s; verification <= 1.25x: %s; RSS <= 200 MiB: %s\n", \
        (lb <= 1.05 * zs ? "yes" : "NO"), (lb2 <= 1.05 * zs ? "yes" : "NO"), (gs >= 2 * lb ? "yes" : "NO"), (lbb <= 1.02 * zb && lbb >= 0.98 * zb ? "yes" : "NO"), \
        (sc <= 0.95 * ps1 ? "yes" : "NO"), (ip <= 0.85 * ps1 ? "yes" : "NO"), (rc <= 0.85 * ps1 ? "yes" : "NO"), (fv <= 1.25 * sc ? "yes" : "NO"), \
        (pkb <= 204800 && pkr <= 204800 && pkv <= 204800 ? "yes" : "NO")
}'
}
bench_report -v dump="$dump_s" -v zs="$zstd_s" -v zb="$zstd_b" -v gs="$gzip_s" -v gb="$gzip_b" -v ps="$phys_s" -v pb="$phys_b" \
    -v lb="$backup_s" -v lbb="$backup_b" -v lb2="$backup2_s" -v lbb2="$backup2_b" -v lvl="$BENCH_ZSTD_LEVEL" -v ps1="$psql_s" -v st="$single_s" -v sc="$scratch_s" -v ip="$inplace_s" -v rc="$recreate_s" \
    -v fv="$verify_s" -v vr="$v_restore" -v vf="$v_fp" -v va="$v_am" \
    -v pkb="${peak[backup-service]}" -v pkr="${peak[restore-service]}" -v pkv="${peak[verify-service]}" \
    -v ib="${BENCH_IDLE_RSS[backup-service]}" -v ir="${BENCH_IDLE_RSS[restore-service]}" -v iv="${BENCH_IDLE_RSS[verify-service]}"
lb_info "(fingerprint: $algorithm; backup $backup_id)"
