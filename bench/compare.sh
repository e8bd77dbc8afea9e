#!/usr/bin/env bash
# bench/compare.sh — Lifeboat next to the shell pipelines it replaces, in ONE run on one database, so the ratios
# compare like with like: backups (pg_dump to /dev/null, pg_dump | zstd | age, the operations guide's
# pg_dump | gzip | age, pg_basebackup | zstd, Lifeboat), restores (bare psql -f and --single-transaction,
# Lifeboat into a scratch database and in place, clean-schema and recreate-database), and a full verification
# against its own restore. Prints one table: times, ratios, CPU time (the server's and the rest's), stored sizes, and
# the peak RSS of each service. Builds nothing. Before each measurement the server is settled (the in-place target
# vacuumed, a checkpoint), so no measurement pays for the loads of the one before it.
#
# Usage: bench/compare.sh                  a throwaway PostgreSQL loaded with bench/bench-data.sql at its default
#                                          2,000,000 rows (about 1 GB of database, 700 MiB of plain dump)
#        bench/compare.sh --rows N         the same at N rows (--rows 2000 runs in seconds: a check that it works)
#        bench/compare.sh --database NAME  database NAME on an existing server (PGHOST, PGPORT, PGUSER, default
#                                          127.0.0.1, 5432, postgres, and PGPASSWORD or ~/.pgpass; the password
#                                          reaches the services through a 0600 file, never argv), loaded with the
#                                          bench data (--rows) if it does not exist; only read. lifeboat_bench_* and
#                                          lifeboat_scratch_* databases are created there and dropped at the end.
#        ... --repeat N                    N rounds (1-9, default 1) of every measurement but the guide's gzip
#                                          pipeline, pg_basebackup and the first Lifeboat backup after start-up,
#                                          one round after the other, so a busy machine slows both sides of a ratio
#                                          alike: the table shows median times (range in brackets) and the median of
#                                          each round's ratio. Use 3 on a machine that is not quiet. The three
#                                          Lifeboat restores take turns going first, second and third.
#   LIFEBOAT_JARS_FROM  a Lifeboat tree whose services are built (./mvnw -DskipTests package): its jars are run,
#                       with the JAVA_OPTS its image ships; default this tree. For before/after: build the old
#                       commit in a worktree and run this script twice, once with LIFEBOAT_JARS_FROM pointing there.
#   BENCH_JAVA_OPTS     JVM options of the services instead of the image's JAVA_OPTS (set empty for the JVM's own)
#   BENCH_JFR_DIR       record each service with JDK Flight Recorder (settings=profile) into DIR/<service>.jfr
#   BENCH_ZSTD_LEVEL    zstd level of the shell pipelines and of backup-service (lifeboat.backup.zstd-level);
#                       default 1, the service's default. An old tree measured at its own default: 3 before 2026-12-03.
#   LIFEBOAT_PORT_BASE  ports as for deploy/local/run.sh; default 18080 (18081-18083, 19081-19083)
# CPU time is user + system time read from /proc: the server's (its postmaster and every backend and worker, when
# the server runs on this machine and its data directory is readable, else "-") and the rest's (the shell tools of a
# pipeline; the three services with the pg_dump and psql they run), so the table shows where a difference in time
# comes from even when the wall times are noisy.
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

# Measurements: for each key, its values one per round (space-separated): wall seconds, the server's CPU seconds,
# and the CPU seconds of everything else (the tools this script ran, and the services).
declare -A WALL=() SRV=() REST=()
server_pid=$(bench_server_pid)
cpu_now() {
    local name rest=0
    for name in "${LB_STARTED[@]}"; do rest=$(( rest + $(bench_cpu "${LB_PID[$name]}") )); done
    # the script's own ended children: the tools of a pipeline (their CPU is counted once waited for)
    local _ ended
    read -r _ ended <<<"$(bench_ticks $$)"
    rest=$(( rest + ended ))
    printf '%s %s' "${server_pid:+$(bench_cpu "$server_pid")}" "$rest"
}
# Runs a command as measurement KEY of this round: its wall time (BENCH_ELAPSED too) and CPU times are recorded.
measure() {
    local key=$1 s0 r0 s1 r1
    shift
    read -r s0 r0 <<<"$(cpu_now)"
    bench_time "$@"
    read -r s1 r1 <<<"$(cpu_now)"
    WALL[$key]+="$BENCH_ELAPSED "
    REST[$key]+="$(awk -v a="$r0" -v b="$r1" 'BEGIN { printf "%.1f", (b - a) / 100 }') "
    if [[ -n "$server_pid" ]]; then SRV[$key]+="$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.1f", (b - a) / 100 }') "; fi
}
# Records VALUE (seconds) under KEY for this round, e.g. a step's time from a job's answer.
record() { WALL[$1]+="$2 "; }
# Brings the server to the same state before each measurement of a round: what the measurements before loaded is
# vacuumed (the in-place target), and their WAL checkpointed. Otherwise autovacuum's pass over the last gigabyte loaded,
# and the checkpoint its WAL calls for, run inside whichever measurement comes next and slow it: right after
# `psql --single-transaction` had loaded the in-place target, the scratch restore's load took 10.9 s (median of 3),
# settled 9.4-9.6 s. CHECKPOINT needs a superuser or pg_checkpoint: without, the vacuum alone.
settle() {
    if [[ "$(lb_psql -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'lifeboat_bench_copy'")" == 1 ]]; then
        lb_psql -d lifeboat_bench_copy -c "VACUUM ANALYZE"
    fi
    lb_psql -d postgres -c "CHECKPOINT" >/dev/null 2>&1 || true
}

lb_info "services: $(lb_jar backup-service | sed 's|/backup-service/target/.*||') ($(git -C "${BENCH_JARS_FROM:-$LB_REPO}" rev-parse --short HEAD 2>/dev/null || echo '?')), JVM options: ${BENCH_JVM[*]:-(none)}${MALLOC_ARENA_MAX:+, MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX}"
if [ -n "$server_pid" ]; then
    lb_info "rounds: $BENCH_REPEAT; CPU time of the server: measured (postmaster pid $server_pid)"
else
    lb_info "rounds: $BENCH_REPEAT; CPU time of the server: not measured (not on this machine, or its data directory is not readable)"
fi

lb_say "1/3 Backups measured once: the guide's gzip pipeline and pg_basebackup"
settle
measure gzip shell_gzip
gzip_b=$(size_of "$LB_WORK/guide.sql.gz.age")
rm -f "$LB_WORK/guide.sql.gz.age"
lb_info "pg_dump | gzip -6 | age: $BENCH_ELAPSED s, $gzip_b bytes"
if measure base bench_basebackup "$LB_WORK/base.tar.zst" 2>"$LB_WORK/logs/basebackup.err"; then
    phys_b=$(size_of "$LB_WORK/base.tar.zst")
    lb_info "pg_basebackup -Ft -X none -c fast | zstd -$BENCH_ZSTD_LEVEL -T2: $BENCH_ELAPSED s, $phys_b bytes (the whole cluster)"
else
    WALL[base]="" phys_b=0
    lb_info "pg_basebackup failed (no replication connection allowed?): $(head -c 300 "$LB_WORK/logs/basebackup.err")"
fi
rm -f "$LB_WORK/base.tar.zst"

lb_say "2/3 Lifeboat backup, the first after start-up (while the JIT compiles the chain's hot loops)"
for name in "${LB_SERVICES[@]}"; do bench_props "$name" | lb_write_config "$name"; done
for name in "${LB_SERVICES[@]}"; do bench_start "$name"; done
settle
measure first lb_call 201 POST "$(lb_url backup-service)/api/v1/backups?wait=true" "$LB_WORK/backup.json" '{}'
facts=$(lb_json "$LB_WORK/backup.json" '.metadata | "\(.id) \(.rawSizeBytes) \(.storedSizeBytes) \(.fingerprint | length) \(.fingerprintAlgorithm // "sha256-128-sum")"')
read -r backup_id raw_b backup_b tables algorithm <<<"$facts"
lb_info "$BENCH_ELAPSED s: $raw_b bytes dumped, $backup_b stored, $tables tables fingerprinted ($algorithm)"
lb_pg_run pg_dump -d "$BENCH_DB" -f "$LB_WORK/plain.sql"

restore() {
    settle
    measure "$1" lb_call 201 POST "$(lb_url restore-service)/api/v1/restores?wait=true" "$2" "$3"
    bench_steps "$2"
}
restore_scratch() {
    restore scratch "$LB_WORK/scratch.json" "{\"backupId\": \"$backup_id\", \"target\": \"scratch\"}"
    lb_call 204 DELETE "$(lb_url restore-service)/api/v1/restores/$(lb_json "$LB_WORK/scratch.json" .id)/database" "$LB_WORK/drop.json"
    lb_info "Lifeboat restore into a scratch database: $BENCH_ELAPSED s"
}
restore_clean() {
    restore clean "$LB_WORK/copy.json" "{\"backupId\": \"$backup_id\", \"target\": \"copy\"}"
    lb_info "Lifeboat restore in place (clean-schema over the same data): $BENCH_ELAPSED s"
}
restore_recreate() {
    restore recreate "$LB_WORK/recreate.json" "{\"backupId\": \"$backup_id\", \"target\": \"copy\", \"mode\": \"recreate-database\"}"
    lb_info "Lifeboat restore in place (recreate-database: a new database, swapped in): $BENCH_ELAPSED s"
}
# The order of the three restores in round N (1-based): scratch, clean, recreate, rotated by N-1. Measured alone and
# alternating, the scratch and recreate-database loads took the same time (12.6/12.4/10.9/9.6 s and 12.7/11.2/10.3/
# 10.8 s); with scratch always first, its load took 1.2x the recreate-database load of the same round (medians of 3).
# Rotating puts every place in a round into every kind's median alike (use --repeat 3).
restore_order() {
    local kinds=(scratch clean recreate) i
    for (( i = 0; i < 3; i++ )); do printf '%s ' "${kinds[(i + $1 - 1) % 3]}"; done
}
for (( round = 1; round <= BENCH_REPEAT; round++ )); do
    lb_say "3/3 Round $round of $BENCH_REPEAT: backups, restores, a full verification"
    settle
    measure dump lb_pg_run pg_dump -d "$BENCH_DB" -f /dev/null
    lb_info "pg_dump -f /dev/null: $BENCH_ELAPSED s"
    measure shell shell_zstd
    zstd_b=$(size_of "$LB_WORK/shell.sql.zst.age")
    rm -f "$LB_WORK/shell.sql.zst.age"
    lb_info "pg_dump | zstd -$BENCH_ZSTD_LEVEL -T2 | age: $BENCH_ELAPSED s, $zstd_b bytes"
    # a long-running service's backups after its first run compiled
    measure warm lb_call 201 POST "$(lb_url backup-service)/api/v1/backups?wait=true" "$LB_WORK/backup2.json" '{}'
    backup2_b=$(lb_json "$LB_WORK/backup2.json" .metadata.storedSizeBytes)
    lb_info "Lifeboat backup, the service warm: $BENCH_ELAPSED s, $backup2_b stored"

    fresh_db lifeboat_bench_a
    settle
    measure psql lb_psql -o /dev/null -d lifeboat_bench_a -f "$LB_WORK/plain.sql"
    lb_psql -d postgres -c "DROP DATABASE lifeboat_bench_a"
    lb_info "psql -f dump.sql: $BENCH_ELAPSED s"
    fresh_db lifeboat_bench_copy
    settle
    measure single lb_psql -o /dev/null --single-transaction -d lifeboat_bench_copy -f "$LB_WORK/plain.sql"
    lb_info "psql --single-transaction -f dump.sql: $BENCH_ELAPSED s (lifeboat_bench_copy keeps the data: the in-place target)"
    for kind in $(restore_order "$round"); do restore_"$kind"; done
    lb_psql -d postgres -c "DROP DATABASE lifeboat_bench_copy"

    settle
    measure verify lb_call 201 POST "$(lb_url verify-service)/api/v1/verifications?wait=true" "$LB_WORK/full.json" \
        "{\"backupId\": \"$backup_id\", \"level\": \"full\"}"
    bench_steps "$LB_WORK/full.json"
    [[ "$(lb_json "$LB_WORK/full.json" .result)" == PASSED ]] || lb_die "the full verification did not pass (steps above)"
    for step in RESTORE FINGERPRINT AMCHECK; do
        record "v_$step" "$(lb_json "$LB_WORK/full.json" "[.steps[]? | select(.name == \"$step\") | .seconds] | first // 0")"
    done
    lb_info "full verification: $BENCH_ELAPSED s"
done
rm -f "$LB_WORK/plain.sql"

declare -A peak=()
for name in "${LB_SERVICES[@]}"; do peak[$name]=$(bench_peak_rss "${LB_PID[$name]}"); done

lb_say "Summary: $(lb_psql -At -d "$BENCH_DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))") database, $((raw_b / 1048576)) MiB plain dump; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"
# One line per measurement for the report: key, then its wall times, server CPU times and other CPU times, each
# list comma-separated ("-" when none).
report_input() {
    local key list
    for key in gzip base first dump shell warm psql single scratch clean recreate verify v_RESTORE v_FINGERPRINT v_AMCHECK; do
        printf '%s' "$key"
        for list in "${WALL[$key]:-}" "${SRV[$key]:-}" "${REST[$key]:-}"; do
            list=$(echo $list | tr ' ' ,)
            printf ' %s' "${list:--}"
        done
        echo
    done
}
report_input | awk -v lvl="$BENCH_ZSTD_LEVEL" -v rounds="$BENCH_REPEAT" -v zb="$zstd_b" -v gb="$gzip_b" -v pb="$phys_b" \
    -v lbb="$backup_b" -v lbb2="$backup2_b" \
    -v pkb="${peak[backup-service]}" -v pkr="${peak[restore-service]}" -v pkv="${peak[verify-service]}" \
    -v ib="${BENCH_IDLE_RSS[backup-service]}" -v ir="${BENCH_IDLE_RSS[restore-service]}" -v iv="${BENCH_IDLE_RSS[verify-service]}" '
function median(s,    a, n, i, j, tmp) {
    if (s == "-" || s == "") return -1
    n = split(s, a, ",")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { tmp = a[j]; a[j] = a[j - 1]; a[j - 1] = tmp }
    return n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function range(s,    a, n, i, lo, hi) {
    n = split(s, a, ",")
    if (n < 2) return ""
    lo = hi = a[1] + 0
    for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
    return sprintf(" (%.1f-%.1f)", lo, hi)
}
# the median of the ratios of two measurements taken in the same rounds (one value of the first: it is divided by each)
function ratio(k, b,    x, y, nx, ny, i, s) {
    nx = split(W[k], x, ","); ny = split(W[b], y, ",")
    if (W[k] == "-" || W[b] == "-") return -1
    s = ""
    for (i = 1; i <= (nx > ny ? nx : ny); i++) {
        if (y[ny > 1 ? i : 1] + 0 <= 0) return -1
        s = s (s == "" ? "" : ",") (x[nx > 1 ? i : 1] / y[ny > 1 ? i : 1])
    }
    return median(s)
}
function r(v) { return v < 0 ? "-" : sprintf("%.2f", v) }
function t(k) { return W[k] == "-" ? "failed" : sprintf("%.1f s", median(W[k])) range(W[k]) }
function cpu(k) { return (S[k] == "-" ? "-" : sprintf("%.1f", median(S[k]))) " + " (R[k] == "-" ? "-" : sprintf("%.1f", median(R[k]))) }
function mib(b) { return b > 0 ? sprintf("%.1f MiB", b / 1048576) : "-" }
function row(label, k, rat, stored) { printf f, label, t(k), rat, cpu(k), stored }
{ W[$1] = $2; S[$1] = $3; R[$1] = $4 }
END {
    f = "| %-46s | %-17s | %-40s | %-20s | %-22s |\n"
    printf f, "", "time", "ratio", "CPU s: server + rest", "stored"
    printf "|%s|%s|%s|%s|%s|\n", "------------------------------------------------", "-------------------", "------------------------------------------", "----------------------", "------------------------"
    row("pg_dump -f /dev/null", "dump", "1.00", "-")
    row("pg_dump | zstd -" lvl " -T2 | age (shell)", "shell", r(ratio("shell", "dump")), mib(zb))
    row("pg_dump | gzip -6 | age (operations guide)", "gzip", r(ratio("gzip", "dump")), mib(gb))
    row("pg_basebackup -Ft -X none | zstd -" lvl " -T2", "base", r(ratio("base", "dump")), mib(pb) " (cluster)")
    row("Lifeboat backup, first after start-up", "first", r(ratio("first", "dump")) " (" r(ratio("first", "shell")) "x shell, " r(ratio("gzip", "first")) "x faster than gzip)", mib(lbb) " (" r(lbb / zb) "x shell)")
    row("Lifeboat backup, the service warm", "warm", r(ratio("warm", "dump")) " (" r(ratio("warm", "shell")) "x shell, " r(ratio("gzip", "warm")) "x faster than gzip)", mib(lbb2) " (" r(lbb2 / zb) "x shell)")
    row("psql -f dump.sql (bare)", "psql", "1.00", "-")
    row("psql --single-transaction -f dump.sql", "single", r(ratio("single", "psql")), "-")
    row("Lifeboat restore, scratch database", "scratch", r(ratio("scratch", "psql")), "-")
    row("Lifeboat restore, in place (clean-schema)", "clean", r(ratio("clean", "psql")), "-")
    row("Lifeboat restore, in place (recreate-database)", "recreate", r(ratio("recreate", "psql")), "-")
    row("full verification", "verify", r(ratio("verify", "scratch")) "x the scratch restore, " r(ratio("verify", "v_RESTORE")) "x its own", "-")
    printf f, "  its restore / fingerprint / amcheck", sprintf("%.1f s", median(W["v_RESTORE"])), sprintf("%.1f / %.1f s", median(W["v_FINGERPRINT"]), median(W["v_AMCHECK"])), "", "-"
    if (rounds > 1) printf "\nMedians of %d rounds, range in brackets; a ratio is the median of the ratios of each round. ", rounds
    else printf "\n"
    printf "CPU: the server (every backend and worker) + the rest (the shell tools, or the services with the pg_dump and psql they ran).\n"
    printf "Peak RSS (VmHWM; after start-up in brackets): backup-service %.0f MiB (%.0f), restore-service %.0f MiB (%.0f), verify-service %.0f MiB (%.0f)\n", pkb / 1024, ib / 1024, pkr / 1024, ir / 1024, pkv / 1024, iv / 1024
    printf "Goals: backup <= 1.05x shell, first / warm: %s / %s; >= 2x faster than gzip: %s; stored within 2%%: %s; scratch <= 0.95: %s; in place <= 0.85, clean-schema / recreate-database: %s / %s; verification <= 1.25x the scratch restore / its own: %s / %s; RSS <= 200 MiB: %s\n", \
        le(ratio("first", "shell"), 1.05), le(ratio("warm", "shell"), 1.05), yes(ratio("gzip", "warm") >= 2), yes(lbb <= 1.02 * zb && lbb >= 0.98 * zb), \
        le(ratio("scratch", "psql"), 0.95), le(ratio("clean", "psql"), 0.85), le(ratio("recreate", "psql"), 0.85), \
        le(ratio("verify", "scratch"), 1.25), le(ratio("verify", "v_RESTORE"), 1.25), yes(pkb <= 204800 && pkr <= 204800 && pkv <= 204800)
}
function yes(c) { return c ? "yes" : "NO" }
function le(v, limit) { return yes(v >= 0 && v <= limit) }'
lb_info "(fingerprint: $algorithm; backup $backup_id)"
