# deploy/local/lib.sh — the shell functions Lifeboat's scripts share, so that each job is written once:
# deploy/local/run.sh (brings the local stack up), deploy/local/walkthrough.sh (the checked walkthrough CI
# runs), bench/*.sh (through bench/bench-lib.sh) and .ci/run. Source it, never run it:
#     LB_NAME=my-script.sh; . "$REPO/deploy/local/lib.sh"
# Functions are lb_*, their globals LB_*; all of them are safe under `set -euo pipefail`. A script that starts
# anything sets LB_WORK (its folder for configs, logs and secrets), calls lb_set_ports, and calls
# lb_cleanup_on_exit before starting things, so that whatever it started is stopped however it ends.
# JSON is read with jq (a prerequisite everywhere; .ci/run installs it); curl sends the API token from a
# 0600 header file (`-H @file`), so the token is never on a command line.

# shellcheck shell=bash disable=SC2034  # the LB_* globals are read by the scripts that source this

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "deploy/local/lib.sh is a library: source it from a script, do not run it" >&2
    exit 2
fi

LB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LB_NAME=${LB_NAME:-$(basename "$0")}
LB_WORK=""
LB_STEP=""
LB_READY_TIMEOUT=90
LB_SERVICES=(backup-service restore-service verify-service)
# Variables for the scripts, not the services: the services refuse unknown lifeboat.* keys (LIFEBOAT_* too),
# and must not see the scripts' PostgreSQL credentials.
LB_SCRIPT_VARS=(LIFEBOAT_RUN_ONCE LIFEBOAT_PORT_BASE PGPASSFILE PGPASSWORD)
declare -gA LB_API_PORT=() LB_MGMT_PORT=() LB_PID=()
LB_STARTED=()
LB_CLEANUP_HOOKS=()
LB_CLEANED=0
LB_PG_BIN="" LB_PG_DIR="" LB_PG_HOST="" LB_PG_PORT="" LB_PG_USER="" LB_PG_PASSWORD_FILE="" LB_PGPASS_FILE=""
LB_STORE="" LB_KEY_FILE="" LB_AGE_RECIPIENT="" LB_TOKEN_FILE="" LB_AUTH_HEADER=""
# The OS user lb_start_service runs the services as ("": this script's user); lb_stack_up sets it to postgres when root.
LB_SERVICE_USER=""

# ---- messages ------------------------------------------------------------------------------------------

# Prints a heading for what comes next.
lb_say() { printf '\n==> %s\n' "$*"; }

# Prints an indented detail line.
lb_info() { printf '    %s\n' "$*"; }

# Prints an error on stderr, naming the step under way (LB_STEP) if any, and exits 1 (the EXIT trap cleans up).
lb_die() {
    printf '\n%s: ERROR%s: %s\n' "$LB_NAME" "${LB_STEP:+ in step $LB_STEP}" "$*" >&2
    exit 1
}

# Prints the last 40 lines of a log file on stderr, framed with its name.
lb_log_tail() {
    [[ -f "$1" ]] || return 0
    printf '\n---- last lines of %s ----\n' "$1" >&2
    tail -n 40 "$1" >&2
    printf -- '----\n' >&2
}

# ---- prerequisites -------------------------------------------------------------------------------------

# Prints the major Java version of a JDK folder, from its release file (0 when unknown).
lb_jdk_major() {
    local v
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null | head -n1) || true
    echo "${v:-0}"
}

# True when the folder is a JDK (java and javac) of Java 21 or newer.
lb_is_jdk21() { [[ -n "$1" && -x "$1/bin/java" && -x "$1/bin/javac" ]] && (( $(lb_jdk_major "$1") >= 21 )); }

# Sets and exports JAVA_HOME: $JAVA_HOME if it is a JDK >= 21, else Temurin 25, else the newest JDK >= 21 under /usr/lib/jvm; returns 1 if none.
lb_find_jdk() {
    local cand found="" best=0
    if [[ -n "${JAVA_HOME:-}" ]] && lb_is_jdk21 "$JAVA_HOME"; then
        found=$JAVA_HOME
    elif lb_is_jdk21 /usr/lib/jvm/temurin-25-jdk-amd64; then
        found=/usr/lib/jvm/temurin-25-jdk-amd64
    else
        for cand in /usr/lib/jvm/*; do
            [[ -L "$cand" ]] && continue
            if lb_is_jdk21 "$cand" && (( $(lb_jdk_major "$cand") > best )); then
                best=$(lb_jdk_major "$cand")
                found=$cand
            fi
        done
    fi
    [[ -n "$found" ]] || return 1
    export JAVA_HOME=$found
}

# Sets LB_PG_BIN: $PG_BIN, else the newest /usr/lib/postgresql/*/bin, else the folder of psql on PATH; returns 1 if none holds psql.
lb_find_pg_bin() {
    local bin=${PG_BIN:-}
    if [[ -z "$bin" ]]; then
        bin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1) || true
    fi
    if [[ -z "$bin" ]] && command -v psql >/dev/null 2>&1; then bin=$(dirname "$(command -v psql)"); fi
    [[ -n "$bin" && -x "$bin/psql" ]] || return 1
    LB_PG_BIN=$bin
}

# True when a prerequisite is there: jdk, postgresql (server programs), psql (psql and pg_dump), postgres-user, runuser and setpriv (all three only when root), or any command name.
lb_check() {
    local prog
    case $1 in
        jdk) lb_find_jdk ;;
        postgresql)
            lb_find_pg_bin || return 1
            for prog in initdb pg_ctl postgres pg_dump; do [[ -x "$LB_PG_BIN/$prog" ]] || return 1; done ;;
        psql) lb_find_pg_bin && [[ -x "$LB_PG_BIN/pg_dump" ]] ;;
        postgres-user) (( EUID != 0 )) || id -u postgres >/dev/null 2>&1 ;;
        runuser | setpriv) (( EUID != 0 )) || command -v "$1" >/dev/null 2>&1 ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

# Prints the Debian packages that bring a prerequisite (named as for lb_check), one a line; none for jdk and postgres-user.
lb_debian_package() {
    case $1 in
        postgresql) echo postgresql ;;
        psql) echo postgresql-client ;;
        age | age-keygen) echo age ;;
        runuser | setpriv) echo util-linux ;;
        promtool) echo prometheus ;;
        curl) printf '%s\n' curl ca-certificates ;;
        jdk | postgres-user) ;;
        *) echo "$1" ;;
    esac
}

# Prints, once each, the Debian packages of the named prerequisites that are missing.
lb_missing_packages() {
    local need
    for need in "$@"; do lb_check "$need" || lb_debian_package "$need"; done | sort -u
}

# Prints how to install a prerequisite named as for lb_check.
lb_install_hint() {
    case $1 in
        jdk) echo "a JDK >= 21 (Temurin 25 preferred): add the Adoptium apt repository (https://adoptium.net/installation/linux/),
      then 'apt-get install temurin-25-jdk'; or set JAVA_HOME to an installed JDK >= 21" ;;
        postgresql) echo "the PostgreSQL server programs (initdb, pg_ctl, postgres, psql, pg_dump): 'apt-get install postgresql'
      (its own service is not needed: 'systemctl disable --now postgresql'); Fedora: 'dnf install postgresql-server';
      or set PG_BIN to the folder holding them" ;;
        psql) echo "psql and pg_dump: 'apt-get install postgresql-client'; or set PG_BIN to the folder holding them" ;;
        postgres-user) echo "an OS user 'postgres' (PostgreSQL refuses to run as root): 'useradd --system postgres'
      (the Debian postgresql package creates it)" ;;
        age | age-keygen) echo "$1: 'apt-get install age' (macOS: 'brew install age')" ;;
        *) echo "$1: 'apt-get install $(lb_debian_package "$1" | head -n1)'" ;;
    esac
}

# Dies listing every missing prerequisite (named as for lb_check) with the command that installs it.
lb_require() {
    local need missing=()
    for need in "$@"; do lb_check "$need" || missing+=("$need"); done
    (( ${#missing[@]} == 0 )) && return 0
    printf '\n%s: missing prerequisites (nothing was installed):\n' "$LB_NAME" >&2
    for need in "${missing[@]}"; do printf '  - %s\n' "$(lb_install_hint "$need")" >&2; done
    exit 1
}

# ---- ports ---------------------------------------------------------------------------------------------

# Sets the services' ports from a base N: API N+1, N+2, N+3 (backup, restore, verify), management N+1001..N+1003.
lb_set_ports() {
    local base=$1 i=1 name
    if ! [[ "$base" =~ ^[0-9]+$ ]] || (( base < 1024 || base > 64000 )); then
        lb_die "port base '$base' (LIFEBOAT_PORT_BASE) is not a number from 1024 to 64000"
    fi
    for name in "${LB_SERVICES[@]}"; do
        LB_API_PORT[$name]=$(( base + i ))
        LB_MGMT_PORT[$name]=$(( base + 1000 + i ))
        i=$(( i + 1 ))
    done
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
lb_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Dies when something already listens on one of the given ports, saying how to find it or move elsewhere.
lb_ports_free() {
    local p
    for p in "$@"; do
        if lb_port_in_use "$p"; then
            lb_die "port $p on 127.0.0.1 is already in use (see what listens there: ss -ltnp 'sport = :$p').
       Stop it (an earlier run?), or move the services: LIFEBOAT_PORT_BASE=N puts the APIs on N+1..N+3
       and health/metrics on N+1001..N+1003 (the default N is ${LB_DEFAULT_PORT_BASE:-8080})."
        fi
    done
}

# Prints a TCP port on 127.0.0.1 that nothing listens on now (random probes in 20000-59999).
lb_free_port() {
    local p i
    for (( i = 0; i < 200; i++ )); do
        p=$(( 20000 + RANDOM % 40000 ))
        if ! lb_port_in_use "$p"; then echo "$p"; return 0; fi
    done
    lb_die "could not find a free TCP port"
}

# ---- PostgreSQL ----------------------------------------------------------------------------------------

# Runs a command as the postgres OS user when root (initdb and postgres refuse root), else as it is.
lb_as_pg() {
    if (( EUID == 0 )); then runuser -u postgres -- "$@"; else "$@"; fi
}

# Runs a PostgreSQL program (psql, pg_dump, ...) against the server in LB_PG_*; arguments as for the program.
lb_pg_run() {
    local prog=$1
    shift
    if [[ -n "$LB_PGPASS_FILE" ]]; then
        # the throwaway cluster's password file wins over any PGPASSWORD of the caller's (empty = unset)
        PGPASSFILE=$LB_PGPASS_FILE PGPASSWORD='' "$LB_PG_BIN/$prog" -h "$LB_PG_HOST" -p "$LB_PG_PORT" -U "$LB_PG_USER" "$@"
    else
        "$LB_PG_BIN/$prog" -h "$LB_PG_HOST" -p "$LB_PG_PORT" -U "$LB_PG_USER" "$@"
    fi
}

# Runs psql against the server in LB_PG_*, quiet, without ~/.psqlrc, stopping at the first error.
lb_psql() { lb_pg_run psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# Starts a throwaway PostgreSQL (new temp folder, free port, TCP on 127.0.0.1 only, random password, ready for
# point-in-time recovery: replication connections from 127.0.0.1, max_slot_wal_keep_size bounded); sets LB_PG_*.
lb_pg_start() {
    local dir pw
    lb_require postgresql postgres-user runuser
    dir=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-postgres.XXXXXX")
    LB_PG_DIR=$dir
    if [[ -n "$LB_WORK" ]]; then printf '%s %s\n' "$$" "$dir" >"$LB_WORK/owner"; fi
    # dir/pg belongs to the cluster's user; dir/secrets (0700) to us; the postgres user may only pass through dir
    chmod 711 "$dir"
    mkdir -m 700 "$dir/pg" "$dir/secrets"
    pw=$(lb_random_hex 16)
    LB_PG_PORT=$(lb_free_port)
    LB_PG_HOST=127.0.0.1
    LB_PG_USER=postgres
    LB_PG_PASSWORD_FILE="$dir/secrets/password"
    LB_PGPASS_FILE="$dir/secrets/pgpass"
    (umask 077
     printf '%s\n' "$pw" >"$LB_PG_PASSWORD_FILE"
     printf '%s:%s:*:%s:%s\n' "$LB_PG_HOST" "$LB_PG_PORT" "$LB_PG_USER" "$pw" >"$LB_PGPASS_FILE"
     printf '%s\n' "$pw" >"$dir/pg/initdb-pwfile")
    if (( EUID == 0 )); then chown -R postgres: "$dir/pg"; fi
    lb_as_pg "$LB_PG_BIN/initdb" -D "$dir/pg/data" -U postgres --auth=scram-sha-256 --pwfile="$dir/pg/initdb-pwfile" \
        --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; lb_die "initdb failed (output above)"; }
    rm -f "$dir/pg/initdb-pwfile"
    # point-in-time recovery (backup-service checks these and names what is missing): initdb's pg_hba.conf has the
    # replication line for 127.0.0.1 already (added if a build's does not); the other settings are PostgreSQL 15's
    # defaults but for max_slot_wal_keep_size, given anyway so that no other default can take PITR away
    if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]' "$dir/pg/data/pg_hba.conf"; then
        echo "host replication all 127.0.0.1/32 scram-sha-256" >>"$dir/pg/data/pg_hba.conf"
    fi
    lb_as_pg "$LB_PG_BIN/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 \
        -o "-p $LB_PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10 -c max_slot_wal_keep_size=1GB" \
        start >/dev/null \
        || { lb_log_tail "$dir/pg/postgres.log"; lb_die "PostgreSQL did not start (log tail above)"; }
}

# Stops the throwaway cluster (fast shutdown), keeps its log as $LB_WORK/logs/postgres.log, deletes its folder.
lb_pg_stop() {
    [[ -n "$LB_PG_DIR" && -d "$LB_PG_DIR" ]] || return 0
    lb_info "stopping PostgreSQL and deleting its data ($LB_PG_DIR)"
    if [[ -f "$LB_PG_DIR/pg/data/postmaster.pid" ]]; then
        lb_as_pg "$LB_PG_BIN/pg_ctl" -D "$LB_PG_DIR/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
            || lb_as_pg "$LB_PG_BIN/pg_ctl" -D "$LB_PG_DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [[ -n "$LB_WORK" && -d "$LB_WORK/logs" ]]; then cp "$LB_PG_DIR/pg/postgres.log" "$LB_WORK/logs/" 2>/dev/null || true; fi
    rm -rf "$LB_PG_DIR"
    LB_PG_DIR=""
}

# Points LB_PG_* at an existing server from PGHOST/PGPORT/PGUSER (default 127.0.0.1, 5432, postgres); PGPASSWORD, if set, goes to a 0600 file for the services.
lb_pg_external() {
    lb_require psql
    LB_PG_HOST=${PGHOST:-127.0.0.1}
    LB_PG_PORT=${PGPORT:-5432}
    LB_PG_USER=${PGUSER:-postgres}
    LB_PG_PASSWORD_FILE=""
    if [[ -n "${PGPASSWORD:-}" ]]; then
        LB_PG_PASSWORD_FILE="$LB_WORK/secrets/pg-password"
        (umask 077 && printf '%s' "$PGPASSWORD" >"$LB_PG_PASSWORD_FILE")
    fi
}

# ---- keys, token, configs ------------------------------------------------------------------------------

# Prints N random bytes as hex.
lb_random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# Claims LB_WORK ($LB_WORK/owner: our pid, later our cluster); dies if a live run owns it; removes a dead run's cluster.
lb_work_claim() {
    local owner="$LB_WORK/owner" pid="" dir=""
    if [[ -f "$owner" ]]; then read -r pid dir <"$owner" || true; fi
    if [[ -n "$pid" && "$pid" != "$$" ]] && kill -0 "$pid" 2>/dev/null; then
        lb_die "another run (pid $pid) is using $LB_WORK; stop it first (Ctrl-C there, or kill $pid)"
    fi
    if [[ "$dir" == */lifeboat-postgres.* && -d "$dir" ]]; then
        lb_info "stopping and deleting the PostgreSQL of an earlier run that did not clean up ($dir)"
        if [[ -f "$dir/pg/data/postmaster.pid" ]] && lb_find_pg_bin; then
            lb_as_pg "$LB_PG_BIN/pg_ctl" -D "$dir/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
    fi
    printf '%s\n' "$$" >"$owner"
}

# Makes the work folder LB_WORK (claimed for this run): store, keys and secrets (0700), logs, a folder per service.
lb_work_init() {
    local name
    [[ -n "$LB_WORK" ]] || lb_die "LB_WORK is not set"
    mkdir -p "$LB_WORK"/{store,keys,logs,secrets}
    lb_work_claim
    chmod 700 "$LB_WORK/keys" "$LB_WORK/secrets"
    for name in "${LB_SERVICES[@]}"; do mkdir -p "$LB_WORK/$name/config"; done
    LB_STORE="$LB_WORK/store"
}

# Makes an age key pair in FILE (0600) unless FILE holds one already; sets LB_KEY_FILE and LB_AGE_RECIPIENT.
lb_age_key() {
    local file=$1
    if [[ -s "$file" ]]; then
        lb_info "age key pair: reusing $file (so the backups already in the store stay readable)"
    else
        rm -f "$file"
        (umask 077 && age-keygen -o "$file" 2>/dev/null) || lb_die "age-keygen could not write $file"
        lb_info "age key pair: made $file"
    fi
    LB_KEY_FILE=$file
    LB_AGE_RECIPIENT=$(sed -n 's/^# public key: *\(age1[0-9a-z]*\).*/\1/p' "$file" | head -n1) || true
    [[ -n "$LB_AGE_RECIPIENT" ]] || lb_die "no '# public key:' line in $file; delete it and run again"
}

# Makes a fresh API token in DIR: api-token (for the services) and api-auth-header (for curl -H @file), both 0600; sets LB_TOKEN_FILE and LB_AUTH_HEADER.
lb_api_token() {
    local token
    token=$(lb_random_hex 32)
    LB_TOKEN_FILE="$1/api-token"
    LB_AUTH_HEADER="$1/api-auth-header"
    (umask 077
     printf '%s\n' "$token" >"$LB_TOKEN_FILE"
     printf 'Authorization: Bearer %s\n' "$token" >"$LB_AUTH_HEADER")
}

# Makes the key that signs metadata and verification records, DIR/integrity-keys (0600), once: it is kept with the store, whose records it signed; sets LB_INTEGRITY_FILE.
lb_integrity_key() {
    LB_INTEGRITY_FILE="$1/integrity-keys"
    if [[ ! -s "$LB_INTEGRITY_FILE" ]]; then
        (umask 077; printf 'local=%s\n' "$(lb_random_hex 32)" >"$LB_INTEGRITY_FILE")
    fi
}

# Prints the settings every service gets: listeners on 127.0.0.1, the store (signed records when LB_INTEGRITY_FILE is set), the age identity, the API token (all roles), the same token for its peers.
lb_props_common() {
    cat <<EOF
quarkus.http.host=127.0.0.1
quarkus.http.port=${LB_API_PORT[$1]}
quarkus.management.host=127.0.0.1
quarkus.management.port=${LB_MGMT_PORT[$1]}
lifeboat.store.type=filesystem
lifeboat.store.filesystem.path=$LB_STORE
lifeboat.encryption.identity-files=$LB_KEY_FILE
lifeboat.auth.tokens.local.token-file=$LB_TOKEN_FILE
lifeboat.auth.tokens.local.roles=viewer,operator,restorer
lifeboat.peers.token-file=$LB_TOKEN_FILE
EOF
    if [[ -n "${LB_INTEGRITY_FILE:-}" ]]; then echo "lifeboat.store.integrity-key-file=$LB_INTEGRITY_FILE"; fi
}

# Prints a connection to the server in LB_PG_* as keys PREFIX.host/port/user/password-file, and PREFIX.database=DATABASE if given.
lb_props_pg() {
    local prefix=$1
    printf '%s.host=%s\n%s.port=%s\n%s.user=%s\n' "$prefix" "$LB_PG_HOST" "$prefix" "$LB_PG_PORT" "$prefix" "$LB_PG_USER"
    if [[ -n "$LB_PG_PASSWORD_FILE" ]]; then printf '%s.password-file=%s\n' "$prefix" "$LB_PG_PASSWORD_FILE"; fi
    if [[ -n "${2:-}" ]]; then printf '%s.database=%s\n' "$prefix" "$2"; fi
}

# Prints backup-service's settings for database LABEL: DATABASE on the server in LB_PG_*, encrypted to LB_AGE_RECIPIENT.
lb_props_backup() {
    lb_props_pg "lifeboat.databases.$1" "$2"
    echo "lifeboat.encryption.recipients=$LB_AGE_RECIPIENT"
}

# Prints a scratch restore target NAME on the server in LB_PG_* (a fresh database per restore).
lb_props_scratch_target() {
    lb_props_pg "lifeboat.targets.$1" postgres
    echo "lifeboat.targets.$1.scratch=true"
}

# Writes stdin as service NAME's config, $LB_WORK/NAME/config/application.properties (0600), read when it starts from $LB_WORK/NAME.
lb_write_config() {
    local file="$LB_WORK/$1/config/application.properties"
    {
        echo "# Written by $LB_NAME at each run; $1 reads it as ./config/application.properties."
        echo "# LIFEBOAT_* environment variables override these values."
        cat
    } | (umask 077 && cat >"$file")
    chmod 600 "$file"
}

# ---- services ------------------------------------------------------------------------------------------

# Prints the path of service NAME's runnable jar.
lb_jar() { printf '%s/%s/target/quarkus-app/quarkus-run.jar' "$LB_REPO" "$1"; }

# Prints the base URL of service NAME's API.
lb_url() { printf 'http://127.0.0.1:%s' "${LB_API_PORT[$1]}"; }

# Builds the services (./mvnw package, tests skipped) if a jar is missing, or always when given "rebuild".
lb_build() {
    local name absent=0
    for name in "${LB_SERVICES[@]}"; do [[ -f "$(lb_jar "$name")" ]] || absent=1; done
    if [[ "${1:-}" != rebuild ]] && (( absent == 0 )); then
        lb_info "using the existing build (--rebuild rebuilds)"
        return 0
    fi
    lb_say "Building the services: ./mvnw -B -q -DskipTests package (the first build downloads the dependencies)"
    (cd "$LB_REPO" && ./mvnw -B -q -DskipTests package -pl "$(IFS=,; echo "${LB_SERVICES[*]}")" -am) \
        || lb_die "the build failed (output above)"
    for name in "${LB_SERVICES[@]}"; do [[ -f "$(lb_jar "$name")" ]] || lb_die "the build did not make $(lb_jar "$name")"; done
}

# Starts service NAME (extra args: JVM options) from $LB_WORK/NAME and waits for its /q/health/ready; dies with its log tail.
# When root and LB_SERVICE_USER is set, the service runs as that OS user (setpriv, which execs the JVM, so its pid is
# the service's; HOME its folder): restore-service's private PostgreSQL refuses root. What the service reads and
# writes (LB_WORK, password files) must be that user's.
lb_start_service() {
    local name=$1 jar log pid deadline var unset=() as=()
    shift
    if (( EUID == 0 )) && [[ -n "${LB_SERVICE_USER:-}" ]]; then
        as=(HOME="$LB_WORK/$name" setpriv --reuid="$LB_SERVICE_USER" --regid="$LB_SERVICE_USER" --init-groups --)
    fi
    jar=$(lb_jar "$name")
    log="$LB_WORK/logs/$name.log"
    [[ -f "$jar" ]] || lb_die "$jar is missing: build first (./mvnw -B -DskipTests package)"
    lb_ports_free "${LB_API_PORT[$name]}" "${LB_MGMT_PORT[$name]}"
    for var in "${LB_SCRIPT_VARS[@]}"; do unset+=(-u "$var"); done
    lb_say "Starting $name${as[*]:+ as the OS user $LB_SERVICE_USER} (log: $log)"
    (cd "$LB_WORK/$name" && exec env "${unset[@]}" "${as[@]}" "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED "$@" -jar "$jar") \
        >"$log" 2>&1 &
    pid=$!
    LB_PID[$name]=$pid
    LB_STARTED+=("$name")
    lb_info "pid $pid; API http://127.0.0.1:${LB_API_PORT[$name]}, health and metrics http://127.0.0.1:${LB_MGMT_PORT[$name]}"
    deadline=$(( SECONDS + LB_READY_TIMEOUT ))
    until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${LB_MGMT_PORT[$name]}/q/health/ready" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            lb_log_tail "$log"
            lb_die "$name exited while starting (log tail above)"
        fi
        if (( SECONDS >= deadline )); then
            lb_log_tail "$log"
            lb_die "$name was not ready within $LB_READY_TIMEOUT s (log tail above)"
        fi
        sleep 1
    done
    lb_info "ready"
}

# Stops the services this script started (SIGTERM, SIGKILL after 20 s) and reaps them.
lb_stop_services() {
    local name pid i
    for name in "${LB_STARTED[@]}"; do
        pid=${LB_PID[$name]}
        if kill -0 "$pid" 2>/dev/null; then
            lb_info "stopping $name (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            for (( i = 0; i < 40; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
        fi
        wait "$pid" 2>/dev/null || true
    done
    LB_STARTED=()
}

# Prints the log tail of the started service whose API the URL points at, if any.
lb_log_tail_of_url() {
    local name
    for name in "${LB_STARTED[@]}"; do
        if [[ "$1" == "http://127.0.0.1:${LB_API_PORT[$name]}/"* ]]; then lb_log_tail "$LB_WORK/logs/$name.log"; fi
    done
}

# ---- HTTP and JSON -------------------------------------------------------------------------------------

# Calls the API: lb_http METHOD URL OUT [JSON_BODY]; the token comes from the header file LB_AUTH_HEADER; writes the body to OUT and prints the HTTP status (000: no answer).
lb_http() {
    local method=$1 url=$2 out=$3 args=()
    if [[ -n "${4:-}" ]]; then args=(-H 'Content-Type: application/json' --data-binary "$4"); fi
    rm -f "$out"
    curl -sS -o "$out" -w '%{http_code}' --max-time "${LB_HTTP_TIMEOUT:-900}" -X "$method" -H "@$LB_AUTH_HEADER" \
        "${args[@]}" "$url" 2>/dev/null || true
}

# Calls the API like lb_http and dies unless it answers EXPECTED: lb_call EXPECTED METHOD URL OUT [JSON_BODY]; the failure shows the answer and the service's log tail.
lb_call() {
    local expected=$1 code
    shift
    code=$(lb_http "$@")
    [[ "$code" == "$expected" ]] && return 0
    if [[ -s "$3" ]]; then cat "$3" >&2; echo >&2; fi
    lb_log_tail_of_url "$2"
    [[ "$code" != 000 ]] || lb_die "$1 $2: no answer (is the service running on that port?)"
    lb_die "$1 $2 answered HTTP $code instead of $expected (answer above)"
}

# Prints what the jq FILTER yields on the JSON file FILE, strings raw; dies if FILE is not such JSON.
lb_json() {
    jq -r "$2" "$1" 2>/dev/null || lb_die "could not read '$2' from $1 (not the JSON expected)"
}

# GETs URL into OUT every second until the jq CONDITION holds on it, for at most TIMEOUT s; dies naming WHAT otherwise.
lb_poll() {
    local url=$1 out=$2 timeout=$3 condition=$4 what=$5 deadline code
    deadline=$(( SECONDS + timeout ))
    while :; do
        code=$(lb_http GET "$url" "$out")
        if [[ "$code" == 200 ]] && jq -e "$condition" "$out" >/dev/null 2>&1; then return 0; fi
        if (( SECONDS >= deadline )); then
            lb_log_tail_of_url "$url"
            lb_die "$what: not within $timeout s (GET $url, last answer HTTP $code)"
        fi
        sleep 1
    done
}

# Polls a job (backup, restore, verification) at URL into OUT until its status is final (COMPLETED, FAILED, FINISHED), for at most TIMEOUT s.
lb_poll_job() {
    lb_poll "$1" "$2" "$3" '.status | IN("COMPLETED", "FAILED", "FINISHED")' "job $1 did not end"
}

# Prints the steps of a restore or verification document: name, status, seconds, detail.
lb_print_steps() {
    local name status seconds detail
    jq -r '.steps[]? | [.name, .status, (.seconds // ""), (.detail // "")] | map(tostring) | join("\u001f")' "$1" |
        while IFS=$'\x1f' read -r name status seconds detail; do
            printf '      %-16s %-8s %6s  %s\n' "$name" "$status" "$seconds" "$detail"
        done
}

# ---- cleanup -------------------------------------------------------------------------------------------

# Stops what this script started, once: the services, then the hooks in LB_CLEANUP_HOOKS, then the throwaway cluster.
lb_cleanup() {
    local hook
    (( LB_CLEANED )) && return 0
    LB_CLEANED=1
    LB_STEP=""
    set +e
    # finish even if Ctrl-C or a closed pipe (run.sh | tee, with tee gone) would end the script half-way
    trap '' INT TERM PIPE
    if (( ${#LB_STARTED[@]} )) || [[ -n "$LB_PG_DIR" ]] || (( ${#LB_CLEANUP_HOOKS[@]} )); then lb_say "Cleaning up"; fi
    lb_stop_services
    for hook in "${LB_CLEANUP_HOOKS[@]}"; do "$hook"; done
    lb_pg_stop
    if [[ -n "$LB_WORK" && -f "$LB_WORK/owner" ]] && [[ "$(cut -d' ' -f1 "$LB_WORK/owner")" == "$$" ]]; then
        rm -f "$LB_WORK/owner"
    fi
    return 0
}

# Makes every exit run lb_cleanup; Ctrl-C and SIGTERM end the script with status 130 and 143.
lb_cleanup_on_exit() {
    trap lb_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# ---- the local stack (run.sh, walkthrough.sh) ----------------------------------------------------------

LB_DEFAULT_PORT_BASE=8080
LB_DB_LABEL=main
LB_DB_NAME=shop
LB_REBUILD=""
LB_PITR_RESTORE_SPOOL=""

# Reads the options run.sh and walkthrough.sh share: --rebuild, and --help (prints the calling script's header comment).
lb_stack_args() {
    local arg
    for arg in "$@"; do
        case $arg in
            --rebuild) LB_REBUILD=rebuild ;;
            -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
            *) echo "$LB_NAME: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
        esac
    done
}

# Writes the three services' configs for the local stack: database "main" = shop with point-in-time recovery, restore targets primary (shop, in place) and scratch, verification with one SQL check.
lb_stack_configure() {
    {
        lb_props_common backup-service
        lb_props_backup "$LB_DB_LABEL" "$LB_DB_NAME"
        echo "# point-in-time recovery: the WAL streamed off the server (pg_receivewal, as the database's user, a"
        echo "# superuser) into the store; every 5 s a heartbeat commit and a snapshot of the current segment (the RPO)"
        echo "lifeboat.databases.$LB_DB_LABEL.pitr.enabled=true"
        echo "lifeboat.databases.$LB_DB_LABEL.pitr.partial-interval=5s"
        echo "lifeboat.pitr.spool-dir=$LB_WORK/wal-spool"
        echo "# tell verify-service about every new backup"
        echo "lifeboat.peers.verify-url=$(lb_url verify-service)"
    } | lb_write_config backup-service
    {
        lb_props_common restore-service
        echo "lifeboat.peers.backup-url=$(lb_url backup-service)"
        echo "# primary: the shop database itself, restored in place (clean-schema, safety backup first)"
        lb_props_pg lifeboat.targets.primary "$LB_DB_NAME"
        echo "lifeboat.targets.primary.database-label=$LB_DB_LABEL"
        echo "lifeboat.targets.primary.modes=clean-schema,recreate-database"
        echo "# scratch: every restore into a fresh database on the same server"
        lb_props_scratch_target scratch
        echo "# restores to a point in time: a private PostgreSQL (as this service's user) recovers under this folder"
        echo "lifeboat.restore.pitr.spool-dir=$LB_PITR_RESTORE_SPOOL"
    } | lb_write_config restore-service
    {
        lb_props_common verify-service
        echo "lifeboat.peers.restore-url=$(lb_url restore-service)"
        echo "# full verifications restore into restore-service's scratch target and read the data back from that server"
        echo "lifeboat.verify.target=scratch"
        lb_props_pg lifeboat.verify.scratch
        echo "# a check of the restored data: one boolean, true = pass"
        echo "lifeboat.verify.checks.orders-have-items.sql=SELECT count(*) > 0 FROM orders o WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)"
        echo "lifeboat.verify.checks.orders-have-items.databases=$LB_DB_LABEL"
        echo "# the objectives the status is measured against"
        echo "lifeboat.databases.$LB_DB_LABEL.rpo=24h"
        echo "lifeboat.databases.$LB_DB_LABEL.rto=30m"
        echo "# the status shows the point-in-time recovery window and RPO"
        echo "lifeboat.databases.$LB_DB_LABEL.pitr.enabled=true"
    } | lb_write_config verify-service
}

# Brings the local stack up in LB_WORK (default .lifeboat-local): checks, build, PostgreSQL with shop, keys, configs, services.
lb_stack_up() {
    LB_WORK=${LB_WORK:-$LB_REPO/.lifeboat-local}
    lb_say "Checking prerequisites"
    lb_require jdk postgresql age-keygen curl jq runuser setpriv postgres-user
    lb_info "JDK:        $JAVA_HOME (Java $(lb_jdk_major "$JAVA_HOME"))"
    lb_info "PostgreSQL: $LB_PG_BIN ($("$LB_PG_BIN/postgres" --version))"
    lb_set_ports "${LIFEBOAT_PORT_BASE:-$LB_DEFAULT_PORT_BASE}"
    local name
    for name in "${LB_SERVICES[@]}"; do lb_ports_free "${LB_API_PORT[$name]}" "${LB_MGMT_PORT[$name]}"; done
    lb_build "$LB_REBUILD"

    lb_cleanup_on_exit
    lb_say "Preparing $LB_WORK"
    lb_work_init
    lb_age_key "$LB_WORK/keys/age-identity.txt"
    lb_api_token "$LB_WORK/secrets"
    lb_integrity_key "$LB_WORK/secrets"
    lb_stack_pitr_prepare

    lb_say "Starting a throwaway PostgreSQL"
    lb_pg_start
    lb_info "127.0.0.1:$LB_PG_PORT, data in $LB_PG_DIR (deleted on exit)"
    lb_say "Creating database '$LB_DB_NAME' with sample data (deploy/local/shop.sql)"
    lb_psql -d postgres -c "CREATE DATABASE $LB_DB_NAME"
    lb_psql -d "$LB_DB_NAME" -f "$LB_REPO/deploy/local/shop.sql"
    lb_info "rows: $(lb_shop_counts "$LB_DB_NAME")"

    lb_stack_configure
    lb_stack_service_user
    for name in "${LB_SERVICES[@]}"; do lb_start_service "$name"; done
}

# Prepares point-in-time recovery in LB_WORK: the WAL spool (wal-spool/) and restore-service's spool (pitr-restore/,
# or a folder in /tmp when LB_WORK's path has characters restore_command cannot carry); and removes from the store
# the WAL archive and base backups of an earlier run: they belong to that run's throwaway cluster, deleted with it,
# and fit no other (a new cluster has another system identifier, and its WAL would take the same segment names).
lb_stack_pitr_prepare() {
    local prefix="$LB_STORE/database/$LB_DB_LABEL" dir old=()
    for dir in base wal wal-state pitr-check; do
        if [[ -e "$prefix/$dir" ]]; then old+=("$prefix/$dir"); fi
    done
    if (( ${#old[@]} )); then
        lb_info "removing the WAL archive and base backups of an earlier run's PostgreSQL (deleted with it; they fit no other):"
        lb_info "  ${old[*]}"
        rm -rf "${old[@]}"
    fi
    rm -rf "$LB_WORK/wal-spool"
    mkdir -m 700 "$LB_WORK/wal-spool"
    LB_PITR_RESTORE_SPOOL="$LB_WORK/pitr-restore"
    if ! [[ "$LB_PITR_RESTORE_SPOOL" =~ ^/[A-Za-z0-9/._-]+$ && "$LB_PITR_RESTORE_SPOOL" != *..* ]]; then
        LB_PITR_RESTORE_SPOOL="/tmp/lifeboat-pitr-restore-$EUID"
        lb_info "restore-service's point-in-time spool: $LB_PITR_RESTORE_SPOOL ($LB_WORK has characters restore_command cannot carry)"
    fi
    mkdir -p -m 700 "$LB_PITR_RESTORE_SPOOL"
}

# When root: the services run as the OS user postgres (LB_SERVICE_USER), since restore-service starts a private
# PostgreSQL for point-in-time restores and PostgreSQL refuses root. All three, not only restore-service: the
# filesystem store is shared and each service writes into it (job records, claims, WAL), so one owner for LB_WORK
# is simpler than a store writable by two users. LB_WORK (configs, keys, secrets, store, spools) and the cluster's
# password file are given to postgres, which owns the cluster anyway; the scripts go on as root.
lb_stack_service_user() {
    (( EUID == 0 )) || return 0
    LB_SERVICE_USER=postgres
    chown -R postgres: "$LB_WORK" "$LB_PITR_RESTORE_SPOOL"
    if [[ -n "$LB_PG_DIR" ]]; then chown -R postgres: "$LB_PG_DIR/secrets"; fi
    if ! runuser -u postgres -- test -r "$(lb_jar restore-service)" -a -w "$LB_WORK"; then
        lb_die "running as root, the services run as the OS user postgres, which cannot reach $LB_REPO
       (a folder on the way is not readable and searchable by others: e.g. 'chmod o+x' it, or clone elsewhere)"
    fi
}

# Prints the row counts of shop's tables in DATABASE (shop, or a restore of it) on one line.
lb_shop_counts() {
    lb_psql -d "$1" -At -c "SELECT 'customers=' || (SELECT count(*) FROM customers)
        || ' products=' || (SELECT count(*) FROM products) || ' orders=' || (SELECT count(*) FROM orders)
        || ' order_items=' || (SELECT count(*) FROM order_items)"
}
