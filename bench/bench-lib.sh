# bench/bench-lib.sh — what the three benchmarks share, on top of deploy/local/lib.sh: their arguments, the
# database measured (on an existing server, or on a throwaway cluster loaded with bench/bench-data.sql at a
# chosen size), the work folder with keys and token, timing, peak RSS, the reports, and the services' configs
# they have in common. Sourced by bench/*-bench.sh, never run.

# shellcheck shell=bash disable=SC2034  # the BENCH_* globals are read by the benchmarks
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/local/lib.sh"

LB_DEFAULT_PORT_BASE=18080
BENCH_DB=""
BENCH_ELAPSED=""
BENCH_PID=""
BENCH_IDLE_RSS=""
BENCH_JVM=()

# Prints the calling benchmark's header comment (its usage).
bench_usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# Reads a benchmark's arguments (DATABASE | --rows N | --help), then sets up the work folder, keys, token, ports and the database BENCH_DB.
bench_setup() {
    local rows=""
    case ${1:-} in
        -h | --help) bench_usage; exit 0 ;;
        --rows)
            rows=${2:-}
            [[ "$rows" =~ ^[1-9][0-9]*$ ]] || { echo "$LB_NAME: --rows needs a positive number (try --help)" >&2; exit 2; } ;;
        "" | -*) echo "$LB_NAME: name a DATABASE, or --rows N for a throwaway one (try --help)" >&2; exit 2 ;;
        *) BENCH_DB=$1 ;;
    esac
    read -r -a BENCH_JVM <<<"${BENCH_JAVA_OPTS:-}"
    lb_require jdk curl jq age age-keygen zstd
    lb_set_ports "${LIFEBOAT_PORT_BASE:-$LB_DEFAULT_PORT_BASE}"
    lb_build
    LB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-bench.XXXXXX")
    LB_CLEANUP_HOOKS+=(bench_cleanup)
    lb_cleanup_on_exit
    lb_work_init
    lb_age_key "$LB_WORK/keys/age-identity.txt"
    lb_api_token "$LB_WORK/secrets"
    if [[ -n "$rows" ]]; then
        lb_say "Starting a throwaway PostgreSQL with database 'bench': bench/bench-data.sql at $rows rows"
        lb_pg_start
        lb_psql -d postgres -c "CREATE DATABASE bench"
        # bench-data.sql sizes itself with `\set rows N`: load it at the size asked for
        sed "s/^\\\\set rows .*/\\\\set rows $rows/" "$LB_REPO/bench/bench-data.sql" | lb_psql -d bench
        BENCH_DB=bench
    else
        lb_pg_external
    fi
    lb_say "Database $BENCH_DB on $LB_PG_HOST:$LB_PG_PORT: $(lb_psql -At -d "$BENCH_DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
}

# Drops the databases the benchmarks create on an existing server (lifeboat_bench_*, lifeboat_scratch_*), and deletes the work folder.
bench_cleanup() {
    local db
    if [[ -z "$LB_PG_DIR" && -n "$LB_PG_HOST" ]]; then
        for db in $(lb_psql -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\_bench\_%' OR datname LIKE 'lifeboat\_scratch\_%'" 2>/dev/null); do
            lb_psql -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
        done
    fi
    rm -rf "$LB_WORK"
}

# Runs a command, timed: its wall time in seconds (one decimal) goes to BENCH_ELAPSED.
bench_time() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    BENCH_ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}

# Prints the peak resident set size of process PID so far, in KiB.
bench_peak_rss() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# POSTs the JSON BODY to URL and requires 201 (a finished ?wait=true job), answer in OUT; the wall time goes to BENCH_ELAPSED.
bench_timed_post() { bench_time lb_call 201 POST "$1" "$3" "$2"; }

# Runs the awk statements of a report with the given name=value variables; ratio(a, b) gives a/b as "1.23x" ("-" when b is 0).
bench_report() {
    local kv args=() program=$1
    shift
    for kv in "$@"; do args+=(-v "$kv"); done
    awk "${args[@]}" 'function ratio(a, b) { return b > 0 ? sprintf("%.2fx", a / b) : "-" }
BEGIN { '"$program"' }'
}

# Starts service NAME with BENCH_JAVA_OPTS as the one whose memory is measured: sets BENCH_PID, and BENCH_IDLE_RSS (KiB after start-up).
bench_start_measured() {
    lb_start_service "$1" "${BENCH_JVM[@]}"
    BENCH_PID=${LB_PID[$1]}
    BENCH_IDLE_RSS=$(bench_peak_rss "$BENCH_PID")
}

# Writes backup-service's config: database "main" = BENCH_DB, no schedule.
bench_backup_config() {
    {
        lb_props_common backup-service
        lb_props_backup main "$BENCH_DB"
        echo "lifeboat.backup.schedule=off"
    } | lb_write_config backup-service
}

# Takes one backup of BENCH_DB through backup-service into OUT, timed (BENCH_ELAPSED).
bench_backup() { bench_timed_post "$(lb_url backup-service)/api/v1/backups?wait=true" '{}' "$1"; }

# Prints restore-service's settings the benchmarks share: a scratch target on the server, no janitor runs while measuring.
bench_restore_props() {
    lb_props_common restore-service
    echo "lifeboat.restore.scratch-janitor-interval=24h"
    lb_props_scratch_target scratch
}

# Restores BACKUP_ID into the target through restore-service, timed (BENCH_ELAPSED), answer in OUT; prints the steps.
bench_restore() {
    bench_timed_post "$(lb_url restore-service)/api/v1/restores?wait=true" "{\"backupId\": \"$1\", \"target\": \"$2\"}" "$3"
    lb_print_steps "$3"
}

# Drops the scratch database of the restore whose answer is in FILE, through restore-service.
bench_drop_scratch() {
    lb_call 204 DELETE "$(lb_url restore-service)/api/v1/restores/$(lb_json "$1" .id)/database" "$LB_WORK/drop.json"
}
