# bench/bench-lib.sh — what bench/compare.sh and bench/pitr.sh build on, on top of deploy/local/lib.sh: their
# arguments, the jars they run (this tree's, or another tree's: LIFEBOAT_JARS_FROM), the database measured (on an
# existing server, or on a throwaway cluster loaded with bench/bench-data.sql), the work folder with keys and token,
# timing, peak RSS, the bare physical backup, and the services' configs. Sourced by bench/compare.sh and
# bench/pitr.sh, never run.

# shellcheck shell=bash disable=SC2034  # the BENCH_* globals are read by compare.sh and pitr.sh
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/local/lib.sh"

LB_DEFAULT_PORT_BASE=18080
BENCH_DEFAULT_ROWS=2000000
BENCH_DB=""
BENCH_ROWS=$BENCH_DEFAULT_ROWS
BENCH_REPEAT=1
BENCH_ELAPSED=""
BENCH_JARS_FROM=""
BENCH_JVM=()
declare -gA BENCH_IDLE_RSS=()

# Prints the calling script's header comment (its usage).
bench_usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# The service jars come from LIFEBOAT_JARS_FROM (a tree built with ./mvnw package), else from this tree.
lb_jar() { printf '%s/%s/target/quarkus-app/quarkus-run.jar' "${BENCH_JARS_FROM:-$LB_REPO}" "$1"; }

# Prints the JAVA_OPTS the image of TREE ships (deploy/docker/Dockerfile.runtime), empty if it names none.
bench_image_java_opts() {
    sed -n 's/.*JAVA_OPTS="\([^"]*\)".*/\1/p' "$1/deploy/docker/Dockerfile.runtime" 2>/dev/null | head -n1
}

# Reads the arguments ([--rows N | --database NAME] [--repeat N]), checks the jars (builds nothing), sets up the work folder, keys, token, ports and the database BENCH_DB.
bench_setup() {
    local name
    while (( $# )); do
        case $1 in
            -h | --help) bench_usage; exit 0 ;;
            --rows)
                BENCH_ROWS=${2:-}
                [[ "$BENCH_ROWS" =~ ^[1-9][0-9]*$ ]] || { echo "$LB_NAME: --rows needs a positive number (try --help)" >&2; exit 2; }
                shift 2 ;;
            --repeat)
                BENCH_REPEAT=${2:-}
                [[ "$BENCH_REPEAT" =~ ^[1-9]$ ]] || { echo "$LB_NAME: --repeat needs a number of rounds from 1 to 9 (try --help)" >&2; exit 2; }
                shift 2 ;;
            --database)
                BENCH_DB=${2:-}
                [[ "$BENCH_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "$LB_NAME: --database needs a plain lower-case name (try --help)" >&2; exit 2; }
                shift 2 ;;
            *) echo "$LB_NAME: unknown argument '$1' (try --help)" >&2; exit 2 ;;
        esac
    done
    lb_require jdk curl jq age age-keygen zstd gzip psql
    BENCH_JARS_FROM=${LIFEBOAT_JARS_FROM:-}
    if [[ -n "$BENCH_JARS_FROM" ]]; then BENCH_JARS_FROM=$(cd "$BENCH_JARS_FROM" && pwd); fi
    for name in "${LB_SERVICES[@]}"; do
        [[ -f "$(lb_jar "$name")" ]] || lb_die "$(lb_jar "$name") is missing; this benchmark builds nothing: build that tree first
       (cd ${BENCH_JARS_FROM:-$LB_REPO} && ./mvnw -B -q -DskipTests package -pl backup-service,restore-service,verify-service -am)"
    done
    if [[ -n "${BENCH_JAVA_OPTS+set}" ]]; then
        read -r -a BENCH_JVM <<<"$BENCH_JAVA_OPTS"
    else
        read -r -a BENCH_JVM <<<"$(bench_image_java_opts "${BENCH_JARS_FROM:-$LB_REPO}")"
    fi
    # the image's malloc arena bound too, when it sets one (glibc reads it from the environment the services inherit)
    local arenas
    arenas=$(sed -n 's/.*MALLOC_ARENA_MAX=\([0-9]*\).*/\1/p' "${BENCH_JARS_FROM:-$LB_REPO}/deploy/docker/Dockerfile.runtime" 2>/dev/null | head -n1)
    if [[ -n "$arenas" && -z "${MALLOC_ARENA_MAX+set}" ]]; then export MALLOC_ARENA_MAX=$arenas; fi
    lb_set_ports "${LIFEBOAT_PORT_BASE:-$LB_DEFAULT_PORT_BASE}"
    LB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-bench.XXXXXX")
    LB_CLEANUP_HOOKS+=(bench_cleanup)
    lb_cleanup_on_exit
    lb_work_init
    lb_age_key "$LB_WORK/keys/age-identity.txt"
    lb_api_token "$LB_WORK/secrets"
    if [[ -z "$BENCH_DB" ]]; then
        lb_say "Starting a throwaway PostgreSQL"
        lb_pg_start
        BENCH_DB=bench
    else
        lb_pg_external
    fi
    bench_load_data
    lb_say "Database $BENCH_DB on $LB_PG_HOST:$LB_PG_PORT: $(lb_psql -At -d "$BENCH_DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
}

# Creates BENCH_DB with bench/bench-data.sql at BENCH_ROWS rows, unless it exists already (then it is used as it is).
bench_load_data() {
    if [[ "$(lb_psql -At -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$BENCH_DB'")" == 1 ]]; then
        lb_info "database $BENCH_DB exists: measuring it as it is"
        return 0
    fi
    lb_say "Loading the bench data: database $BENCH_DB, bench/bench-data.sql at $BENCH_ROWS rows"
    lb_psql -d postgres -c "CREATE DATABASE $BENCH_DB"
    # bench-data.sql sizes itself with `\set rows N`: load it at the size asked for
    sed "s/^\\\\set rows .*/\\\\set rows $BENCH_ROWS/" "$LB_REPO/bench/bench-data.sql" | lb_psql -d "$BENCH_DB"
    lb_psql -d "$BENCH_DB" -c "VACUUM ANALYZE"
}

# Drops the databases the benchmark creates on an existing server (lifeboat_bench_*, lifeboat_scratch_*), and deletes the work folder.
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

# The zstd level of the shell pipelines, which backup-service is given too (BENCH_ZSTD_LEVEL; default 1, the service's default).
BENCH_ZSTD_LEVEL=${BENCH_ZSTD_LEVEL:-1}
[[ "$BENCH_ZSTD_LEVEL" =~ ^([1-9]|1[0-9])$ ]] || { echo "BENCH_ZSTD_LEVEL must be 1 to 19" >&2; exit 2; }

# Streams the whole cluster as pg_basebackup -Ft -X none -c fast | zstd -<level> -T2 into FILE: the bare physical backup Lifeboat's are compared with.
bench_basebackup() { lb_pg_run pg_basebackup -Ft -X none -c fast -D - | zstd -q "-$BENCH_ZSTD_LEVEL" -T2 >"$1"; }

# Prints the CPU ticks (hundredths of a second) of process PID from /proc/PID/stat: its own (utime + stime) and its
# ended children's (cutime + cstime, counted once waited for); "0 0" if PID is gone. The fields after the command
# name, which may hold spaces, are read: utime, stime, cutime, cstime are the 12th-15th of them.
bench_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13, $14 + $15 } END { if (NR == 0) print 0, 0 }'; }

# Prints the CPU time (user + system, in hundredths of a second) that process PID and its children have used so far:
# its own, that of its ended children, and that of its children still running. Of a service: the JVM with the
# pg_dump and psql it ran; of the PostgreSQL server's postmaster: every backend and worker.
bench_cpu() {
    local own ended child child_own _
    read -r own ended <<<"$(bench_ticks "$1")"
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        read -r child_own _ <<<"$(bench_ticks "$child")"
        own=$(( own + child_own ))
    done
    echo $(( own + ended ))
}

# Prints the pid of the measured server's postmaster when it runs on this machine and its postmaster.pid is readable
# (its CPU time is then measured), else nothing.
bench_server_pid() {
    local dir pid
    dir=$(lb_psql -At -d postgres -c "SHOW data_directory" 2>/dev/null) || return 0
    pid=$(head -n1 "$dir/postmaster.pid" 2>/dev/null) || return 0
    if [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/stat" ]]; then echo "$pid"; fi
}

# Prints the peak resident set size of process PID so far (VmHWM), in KiB.
bench_peak_rss() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

# POSTs the JSON BODY to URL and requires 201 (a finished ?wait=true job), answer in OUT; the wall time goes to BENCH_ELAPSED.
bench_timed_post() { bench_time lb_call 201 POST "$1" "$3" "$2"; }

# Starts service NAME with the benchmark's JVM options (and a JFR recording into BENCH_JFR_DIR if set); records its RSS after start-up.
bench_start() {
    local jfr=()
    if [[ -n "${BENCH_JFR_DIR:-}" ]]; then
        mkdir -p "$BENCH_JFR_DIR"
        jfr=("-XX:StartFlightRecording=filename=$BENCH_JFR_DIR/$1.jfr,settings=profile,dumponexit=true")
    fi
    lb_start_service "$1" "${BENCH_JVM[@]}" "${jfr[@]}"
    BENCH_IDLE_RSS[$1]=$(bench_peak_rss "${LB_PID[$1]}")
}

# Prints the settings every service of the benchmark shares: lb_props_common, and the services as each other's peers.
bench_props() {
    lb_props_common "$1"
    case $1 in
        backup-service)
            lb_props_backup main "$BENCH_DB"
            echo "lifeboat.backup.zstd-level=$BENCH_ZSTD_LEVEL"
            echo "lifeboat.backup.schedule=off" ;;
        restore-service)
            echo "lifeboat.restore.scratch-janitor-interval=24h"
            lb_props_scratch_target scratch
            lb_props_pg lifeboat.targets.copy lifeboat_bench_copy
            echo "lifeboat.targets.copy.safety-backup=false"
            echo "lifeboat.targets.copy.modes=clean-schema,recreate-database" ;;
        verify-service)
            echo "lifeboat.peers.restore-url=$(lb_url restore-service)"
            lb_props_pg lifeboat.verify.scratch
            echo "lifeboat.verify.sweep-schedule=off"
            echo "lifeboat.verify.checksum-schedule=off" ;;
    esac
}

# Prints the steps of a restore or verification answer, indented.
bench_steps() { lb_print_steps "$1"; }
