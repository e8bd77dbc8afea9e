#!/usr/bin/env bash
# deploy/local/run.sh — try Lifeboat on one machine, with nothing but local programs.
#
# What it does, from a fresh clone:
#   1. checks the prerequisites (JDK >= 21, PostgreSQL server binaries, age-keygen, curl) and tells you how
#      to install what is missing (it installs nothing itself);
#   2. builds the services if a */target/quarkus-app/quarkus-run.jar is missing (or with --rebuild);
#   3. in .lifeboat-local/ (git-ignored) starts a throwaway PostgreSQL on a free 127.0.0.1 port, creates a
#      database "shop" with sample data, and makes an age key pair (kept and reused across runs);
#   4. starts backup-service (API http://127.0.0.1:8081, health/metrics http://127.0.0.1:9081) backing up
#      "shop" as database "main" into the filesystem store .lifeboat-local/store, encrypted to that key;
#      restore-service (API http://127.0.0.1:8082, health/metrics http://127.0.0.1:9082) with two targets:
#      "primary" (the shop database itself, restored in place) and "scratch" (a fresh database per restore);
#      and verify-service (API http://127.0.0.1:8083, health/metrics http://127.0.0.1:9083), which
#      backup-service tells about every new backup;
#   5. takes one backup, prints its metadata, file locations and the emergency decrypt command;
#   6. waits for verify-service's automatic full verification of it (checksum, scratch restore, data
#      compared with the backup's fingerprint, index checks, an SQL check) and prints the DR status;
#   7. restores it into "scratch" and, after deleting some rows of "shop", in place into "primary" (with a
#      safety backup first), and shows the rows are back;
#   8. keeps running until Ctrl-C, then stops the services and PostgreSQL and deletes the PostgreSQL data
#      (the store, keys and logs in .lifeboat-local/ are kept so you can inspect the backups).
#
# Usage: deploy/local/run.sh [--rebuild]
#   LIFEBOAT_RUN_ONCE=1   exit (cleaning up) right after the first backup, verification and restores (CI)
#   JAVA_HOME             JDK to use (>= 21); default /usr/lib/jvm/temurin-25-jdk-amd64, else the newest
#                         JDK >= 21 under /usr/lib/jvm
#   PG_BIN                folder holding initdb/pg_ctl/postgres; default the newest /usr/lib/postgresql/*/bin
#   LIFEBOAT_*            any service setting, e.g. LIFEBOAT_BACKUP_SCHEDULE='0 */5 * * * ?'; they override
#                         the generated .lifeboat-local/<service>/config/application.properties
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK="$REPO_ROOT/.lifeboat-local"
BACKUP_JAR="$REPO_ROOT/backup-service/target/quarkus-app/quarkus-run.jar"
RESTORE_JAR="$REPO_ROOT/restore-service/target/quarkus-app/quarkus-run.jar"
VERIFY_JAR="$REPO_ROOT/verify-service/target/quarkus-app/quarkus-run.jar"
API_PORT=8081
MGMT_PORT=9081
RESTORE_API_PORT=8082
RESTORE_MGMT_PORT=9082
VERIFY_API_PORT=8083
VERIFY_MGMT_PORT=9083
DB_LABEL=main
DB_NAME=shop
READY_TIMEOUT=60

REBUILD=0
for arg in "$@"; do
    case "$arg" in
        --rebuild) REBUILD=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

say()  { printf '\n==> %s\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die()  { printf '\nrun.sh: ERROR: %s\n' "$*" >&2; exit 1; }

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

# Runs a PostgreSQL server program; initdb/pg_ctl refuse root, so as root they run as the postgres user.
as_pg() {
    if (( IS_ROOT )); then runuser -u postgres -- "$@"; else "$@"; fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
        return
    fi
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 40000 ))
        port_in_use "$p" || { echo "$p"; return; }
    done
    die "could not find a free TCP port"
}

# Major Java version of a JDK folder, from its "release" file (0 when unknown).
jdk_major() {
    local v
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null | head -n1)
    echo "${v:-0}"
}

# One string field of a JSON document: json_field FILE a.b.c
json_field() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)
PY
    else
        # Fallback without python3: the first "name": "value" pair with the last path segment.
        grep -o "\"${2##*.}\" *: *\"[^\"]*\"" "$1" | head -n1 | sed 's/.*: *"\(.*\)"/\1/'
    fi
}

# ---------------------------------------------------------------------------------------------------------
say "Checking prerequisites"
missing=()

# A usable JDK: java + javac, Java >= 21. Order: $JAVA_HOME, Temurin 25, then the newest under /usr/lib/jvm.
is_jdk21() { [[ -n "$1" && -x "$1/bin/java" && -x "$1/bin/javac" ]] && (( $(jdk_major "$1") >= 21 )); }
JAVA_HOME_FOUND=""
if [[ -n "${JAVA_HOME:-}" ]]; then
    if is_jdk21 "$JAVA_HOME"; then JAVA_HOME_FOUND="$JAVA_HOME"
    else info "note: ignoring JAVA_HOME=$JAVA_HOME (not a JDK >= 21)"; fi
fi
if [[ -z "$JAVA_HOME_FOUND" ]] && is_jdk21 /usr/lib/jvm/temurin-25-jdk-amd64; then
    JAVA_HOME_FOUND=/usr/lib/jvm/temurin-25-jdk-amd64
fi
if [[ -z "$JAVA_HOME_FOUND" ]]; then
    best=0
    for cand in /usr/lib/jvm/*; do
        [[ -L "$cand" ]] && continue
        if is_jdk21 "$cand" && (( $(jdk_major "$cand") > best )); then
            best=$(jdk_major "$cand"); JAVA_HOME_FOUND="$cand"
        fi
    done
fi
if [[ -z "$JAVA_HOME_FOUND" ]]; then
    missing+=("a JDK >= 21 (25 preferred) — e.g. Temurin 25: https://adoptium.net/installation/linux/
      (Debian/Ubuntu: add the Adoptium apt repository, then 'apt-get install temurin-25-jdk'),
      or set JAVA_HOME to an installed JDK >= 21")
else
    export JAVA_HOME="$JAVA_HOME_FOUND"
    info "JDK:        $JAVA_HOME (Java $(jdk_major "$JAVA_HOME"))"
fi

if [[ -z "${PG_BIN:-}" ]]; then
    PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1 || true)
    if [[ -z "$PG_BIN" ]] && command -v initdb >/dev/null 2>&1; then PG_BIN=$(dirname "$(command -v initdb)"); fi
fi
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" || ! -x "$PG_BIN/pg_ctl" || ! -x "$PG_BIN/postgres" || ! -x "$PG_BIN/psql" ]]; then
    missing+=("PostgreSQL server binaries (initdb, pg_ctl, postgres, psql, pg_dump) —
      Debian/Ubuntu: 'sudo apt-get install postgresql' (the service it starts is not needed:
      'sudo systemctl disable --now postgresql'); Fedora: 'sudo dnf install postgresql-server';
      or set PG_BIN to the folder holding them")
else
    info "PostgreSQL: $PG_BIN ($("$PG_BIN/postgres" --version))"
fi

command -v age-keygen >/dev/null 2>&1 || missing+=("age-keygen — Debian/Ubuntu: 'sudo apt-get install age'; macOS: 'brew install age'")
command -v curl >/dev/null 2>&1 || missing+=("curl — Debian/Ubuntu: 'sudo apt-get install curl'")
if (( IS_ROOT )); then
    command -v runuser >/dev/null 2>&1 || missing+=("runuser (util-linux) — needed to run PostgreSQL as a non-root user")
    id -u postgres >/dev/null 2>&1 || missing+=("an OS user 'postgres' (PostgreSQL refuses to run as root) —
      'useradd --system postgres' (the Debian postgresql package creates it)")
fi

if (( ${#missing[@]} )); then
    printf '\nrun.sh: missing prerequisites:\n' >&2
    for m in "${missing[@]}"; do printf '  - %s\n' "$m" >&2; done
    exit 1
fi
for tool in age zstd python3; do
    command -v "$tool" >/dev/null 2>&1 || info "note: '$tool' is not installed; not needed to run, but handy (apt-get install $tool)"
done

for p in "$API_PORT" "$MGMT_PORT" "$RESTORE_API_PORT" "$RESTORE_MGMT_PORT" "$VERIFY_API_PORT" "$VERIFY_MGMT_PORT"; do
    if port_in_use "$p"; then
        die "port $p on 127.0.0.1 is already in use; the services need ports $API_PORT, $RESTORE_API_PORT and
       $VERIFY_API_PORT (API), $MGMT_PORT, $RESTORE_MGMT_PORT and $VERIFY_MGMT_PORT (management).
       Stop whatever listens there (find it with: ss -ltnp 'sport = :$p'), e.g. an earlier run.sh, and retry."
    fi
done

# ---------------------------------------------------------------------------------------------------------
if (( REBUILD )) || [[ ! -f "$BACKUP_JAR" || ! -f "$RESTORE_JAR" || ! -f "$VERIFY_JAR" ]]; then
    say "Building the services (./mvnw -B -q -DskipTests install; the first build downloads dependencies)"
    (cd "$REPO_ROOT" && ./mvnw -B -q -DskipTests install) || die "the build failed (see the output above)"
    for jar in "$BACKUP_JAR" "$RESTORE_JAR" "$VERIFY_JAR"; do [[ -f "$jar" ]] || die "the build did not produce $jar"; done
else
    say "Using the existing build (pass --rebuild to rebuild)"
fi

# ---------------------------------------------------------------------------------------------------------
SVC_PIDS=()
PG_DIR=""
PG_STARTED=0
CLEANED=0

cleanup() {
    (( CLEANED )) && return 0
    CLEANED=1
    set +e
    trap '' INT TERM
    say "Cleaning up"
    for pid in "${SVC_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            info "stopping service pid $pid"
            kill -TERM "$pid" 2>/dev/null
            for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
            wait "$pid" 2>/dev/null
        fi
    done
    if [[ -n "$PG_DIR" && -d "$PG_DIR" ]]; then
        if (( PG_STARTED )) || [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
            info "stopping PostgreSQL"
            as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1
        fi
        [[ -f "$PG_DIR/postgres.log" ]] && cp "$PG_DIR/postgres.log" "$WORK/logs/postgres.log" 2>/dev/null
        info "deleting the PostgreSQL data folder $PG_DIR"
        rm -rf "$PG_DIR"
    fi
    info "kept for you to inspect: the backups in $WORK/store, the age key in $WORK/keys, logs in $WORK/logs"
    info "(delete $WORK to start from scratch)"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "Preparing $WORK"
mkdir -p "$WORK"/{store,keys,logs,secrets,backup-service/config,restore-service/config,verify-service/config}
rm -rf "$WORK/config"  # the layout of earlier versions
chmod 700 "$WORK/keys" "$WORK/secrets"

# A PostgreSQL left over by a run that was killed without cleaning up.
if [[ -d "$WORK/postgres" ]]; then
    info "removing the PostgreSQL data of an earlier run"
    if [[ -f "$WORK/postgres/data/postmaster.pid" ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$WORK/postgres/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK/postgres"
fi

PG_DIR="$WORK/postgres"
mkdir -p "$PG_DIR"
if (( IS_ROOT )); then
    chown postgres: "$PG_DIR"
    chmod 700 "$PG_DIR"
    # The postgres user must be able to reach the folder (not the case under e.g. /root): else use /tmp.
    if ! runuser -u postgres -- test -w "$PG_DIR"; then
        rm -rf "$PG_DIR"
        PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-postgres.XXXXXX")
        chown postgres: "$PG_DIR"
        info "the postgres user cannot reach $WORK, so PostgreSQL data goes to $PG_DIR"
    fi
fi
PGDATA_DIR="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"

# A fresh random password each run (the cluster is new each run); alphanumeric so it fits a .pgpass line.
PG_PASSWORD=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 || true)
PASSWORD_FILE="$WORK/secrets/pg-password"
PGPASS_FILE="$WORK/secrets/pgpass"
PG_PORT=$(free_port)
(umask 077
 printf '%s\n' "$PG_PASSWORD" >"$PASSWORD_FILE"
 printf '127.0.0.1:%s:*:postgres:%s\n' "$PG_PORT" "$PG_PASSWORD" >"$PGPASS_FILE"
 printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/initdb-pwfile")
(( IS_ROOT )) && chown postgres: "$PG_DIR/initdb-pwfile"

say "Starting a throwaway PostgreSQL on 127.0.0.1:$PG_PORT"
as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --auth=scram-sha-256 --pwfile="$PG_DIR/initdb-pwfile" \
    --encoding=UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
rm -f "$PG_DIR/initdb-pwfile"
PG_STARTED=1
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null \
    || { tail -n 30 "$PG_LOG" >&2 2>/dev/null; die "PostgreSQL did not start (log above)"; }
info "data: $PGDATA_DIR, log: $PG_LOG"

export PGPASSFILE="$PGPASS_FILE"
psql_pg() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

say "Creating database '$DB_NAME' with sample data"
psql_pg -d postgres -c "CREATE DATABASE $DB_NAME"
psql_pg -d "$DB_NAME" <<'SQL'
CREATE TABLE customers (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL,
    email      text UNIQUE,
    note       text,
    created_at timestamptz NOT NULL
);
INSERT INTO customers (name, email, note, created_at)
SELECT CASE WHEN g % 7 = 0 THEN format('O''Connor & "Sons" #%s', g) ELSE format('Customer %s', g) END,
       CASE WHEN g % 10 = 0 THEN NULL ELSE format('customer%s@example.com', g) END,
       CASE g % 5
           WHEN 0 THEN NULL
           WHEN 1 THEN 'likes ''single'' and "double" quotes'
           WHEN 2 THEN E'two\nlines\twith a tab'
           WHEN 3 THEN 'back\slash, ünïcödé ✓, semicolon; -- not a comment'
           ELSE ''
       END,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '7 hours'
FROM generate_series(1, 300) AS g;

CREATE TABLE products (
    id    integer PRIMARY KEY,
    name  text NOT NULL,
    price numeric(10, 2) NOT NULL CHECK (price >= 0),
    tags  text[]
);
INSERT INTO products
SELECT g, format('Product %s', g), round((g * 3.7)::numeric, 2),
       CASE WHEN g % 3 = 0 THEN NULL ELSE ARRAY['tag' || g % 4, 'it''s'] END
FROM generate_series(1, 25) AS g;

CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    status      order_status NOT NULL,
    comment     text,
    ordered_at  timestamptz NOT NULL
);
INSERT INTO orders (customer_id, status, comment, ordered_at)
SELECT 1 + (g * 37) % 300,
       (ARRAY['new', 'paid', 'shipped', 'cancelled']::order_status[])[1 + g % 4],
       CASE WHEN g % 3 = 0 THEN NULL ELSE format('please ring twice, it''s order %s', g) END,
       timestamptz '2024-02-01 00:00:00+00' + g * interval '90 minutes'
FROM generate_series(1, 500) AS g;

CREATE TABLE order_items (
    order_id   bigint  NOT NULL REFERENCES orders (id),
    product_id integer NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, product_id)
);
INSERT INTO order_items
SELECT o, 1 + (o * k) % 25, 1 + (o + k) % 5
FROM generate_series(1, 500) AS o, generate_series(1, 3) AS k
ON CONFLICT DO NOTHING;

CREATE VIEW order_totals AS
SELECT o.id AS order_id, o.customer_id, sum(i.quantity * p.price) AS total
FROM orders o JOIN order_items i ON i.order_id = o.id JOIN products p ON p.id = i.product_id
GROUP BY o.id, o.customer_id;
SQL
info "$(psql_pg -d "$DB_NAME" -At -F ' ' -c "SELECT 'rows: customers=' || (SELECT count(*) FROM customers)
    || ' products=' || (SELECT count(*) FROM products) || ' orders=' || (SELECT count(*) FROM orders)
    || ' order_items=' || (SELECT count(*) FROM order_items)")"

# ---------------------------------------------------------------------------------------------------------
KEY_FILE="$WORK/keys/age-identity.txt"
if [[ -f "$KEY_FILE" ]]; then
    say "Reusing the age key pair $KEY_FILE (so earlier backups in the store stay readable)"
else
    say "Generating an age key pair"
    (umask 077 && age-keygen -o "$KEY_FILE" 2>/dev/null)
fi
AGE_RECIPIENT=$(sed -n 's/^# public key: *\(age1[0-9a-z]*\).*/\1/p' "$KEY_FILE" | head -n1)
[[ -n "$AGE_RECIPIENT" ]] || die "no '# public key:' line in $KEY_FILE; delete it and rerun"
info "identity (secret): $KEY_FILE"
info "recipient:         $AGE_RECIPIENT"

# ---------------------------------------------------------------------------------------------------------
STORE="$WORK/store"
# An API token for this run (all roles), in 0600 files: the token for the services, a curl header file for
# calls, so the token never appears on a command line. The services also present it to each other (safety
# backups, announcements of new backups, verification restores); in production each has its own.
TOKEN_FILE="$WORK/secrets/api-token"
AUTH_HEADER="$WORK/secrets/api-auth-header"
API_TOKEN=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
( umask 077; printf '%s\n' "$API_TOKEN" >"$TOKEN_FILE"; printf 'Authorization: Bearer %s\n' "$API_TOKEN" >"$AUTH_HEADER" )
COMMON_CONFIG="quarkus.http.host=127.0.0.1
quarkus.management.host=127.0.0.1
lifeboat.store.type=filesystem
lifeboat.store.filesystem.path=$STORE
lifeboat.encryption.identity-files=$KEY_FILE
lifeboat.auth.tokens.local.token-file=$TOKEN_FILE
lifeboat.auth.tokens.local.roles=viewer,operator,restorer"
cat >"$WORK/backup-service/config/application.properties" <<EOF
# Written by deploy/local/run.sh at each run; backup-service reads it as ./config/application.properties.
# LIFEBOAT_* environment variables override these values.
$COMMON_CONFIG
lifeboat.databases.$DB_LABEL.host=127.0.0.1
lifeboat.databases.$DB_LABEL.port=$PG_PORT
lifeboat.databases.$DB_LABEL.database=$DB_NAME
lifeboat.databases.$DB_LABEL.user=postgres
lifeboat.databases.$DB_LABEL.password-file=$PASSWORD_FILE
lifeboat.encryption.recipients=$AGE_RECIPIENT
# tell verify-service about every new backup
lifeboat.peers.verify-url=http://127.0.0.1:$VERIFY_API_PORT
lifeboat.peers.token-file=$TOKEN_FILE
EOF
cat >"$WORK/restore-service/config/application.properties" <<EOF
# Written by deploy/local/run.sh at each run; restore-service reads it as ./config/application.properties.
$COMMON_CONFIG
lifeboat.peers.backup-url=http://127.0.0.1:$API_PORT
lifeboat.peers.token-file=$TOKEN_FILE
# primary: the shop database itself, restored in place (clean-schema, safety backup first)
lifeboat.targets.primary.host=127.0.0.1
lifeboat.targets.primary.port=$PG_PORT
lifeboat.targets.primary.database=$DB_NAME
lifeboat.targets.primary.user=postgres
lifeboat.targets.primary.password-file=$PASSWORD_FILE
lifeboat.targets.primary.database-label=$DB_LABEL
lifeboat.targets.primary.modes=clean-schema,recreate-database
# scratch: every restore into a fresh database on the same server
lifeboat.targets.scratch.host=127.0.0.1
lifeboat.targets.scratch.port=$PG_PORT
lifeboat.targets.scratch.database=postgres
lifeboat.targets.scratch.user=postgres
lifeboat.targets.scratch.password-file=$PASSWORD_FILE
lifeboat.targets.scratch.scratch=true
EOF
cat >"$WORK/verify-service/config/application.properties" <<EOF
# Written by deploy/local/run.sh at each run; verify-service reads it as ./config/application.properties.
$COMMON_CONFIG
lifeboat.peers.restore-url=http://127.0.0.1:$RESTORE_API_PORT
lifeboat.peers.token-file=$TOKEN_FILE
# full verifications restore into restore-service's scratch target and read the data back from that server
lifeboat.verify.target=scratch
lifeboat.verify.scratch.host=127.0.0.1
lifeboat.verify.scratch.port=$PG_PORT
lifeboat.verify.scratch.user=postgres
lifeboat.verify.scratch.password-file=$PASSWORD_FILE
# a check of the restored data: one boolean, true = pass
lifeboat.verify.checks.orders-have-items.sql=SELECT count(*) > 0 FROM orders o WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)
lifeboat.verify.checks.orders-have-items.databases=$DB_LABEL
# the objectives the status is measured against
lifeboat.databases.$DB_LABEL.rpo=24h
lifeboat.databases.$DB_LABEL.rto=30m
EOF

service_log_tail() {
    printf '\n---- last lines of %s ----\n' "$1" >&2
    tail -n 40 "$1" >&2
    printf -- '----\n' >&2
}

# start_service NAME JAR MGMT_PORT: runs the service from $WORK/NAME (so it reads NAME/config) and waits for ready.
start_service() {
    local name=$1 jar=$2 mgmt=$3 log="$WORK/logs/$1.log" pid deadline
    say "Starting $name (log: $log)"
    (cd "$WORK/$name" && exec env -u LIFEBOAT_RUN_ONCE -u PGPASSFILE "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -jar "$jar") >"$log" 2>&1 &
    pid=$!
    SVC_PIDS+=("$pid")
    info "pid $pid, config $WORK/$name/config/application.properties"
    info "waiting for http://127.0.0.1:$mgmt/q/health/ready (up to ${READY_TIMEOUT}s)"
    deadline=$(( SECONDS + READY_TIMEOUT ))
    until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$mgmt/q/health/ready" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            service_log_tail "$log"
            die "$name exited during startup (log tail above)"
        fi
        if (( SECONDS >= deadline )); then
            service_log_tail "$log"
            die "$name was not ready within ${READY_TIMEOUT}s (log tail above)"
        fi
        sleep 1
    done
    info "ready: $(curl -sS --max-time 2 "http://127.0.0.1:$mgmt/q/health/ready" | tr -d ' \n')"
}

SVC_LOG="$WORK/logs/backup-service.log"
RESTORE_LOG="$WORK/logs/restore-service.log"
VERIFY_LOG="$WORK/logs/verify-service.log"
start_service backup-service "$BACKUP_JAR" "$MGMT_PORT"
start_service restore-service "$RESTORE_JAR" "$RESTORE_MGMT_PORT"
start_service verify-service "$VERIFY_JAR" "$VERIFY_MGMT_PORT"

# ---------------------------------------------------------------------------------------------------------
say "Taking a backup: POST http://127.0.0.1:$API_PORT/api/v1/backups?wait=true"
RESPONSE="$WORK/logs/last-backup.json"
code=$(curl -sS -o "$RESPONSE" -w '%{http_code}' --max-time 600 -X POST -H "@$AUTH_HEADER" -H 'Content-Type: application/json' \
    -d '{}' "http://127.0.0.1:$API_PORT/api/v1/backups?wait=true") || code="curl failed"
if [[ "$code" != 201 ]]; then
    cat "$RESPONSE" >&2 2>/dev/null; echo >&2
    service_log_tail "$SVC_LOG"
    die "the backup request answered HTTP $code instead of 201"
fi
if command -v python3 >/dev/null 2>&1; then python3 -m json.tool "$RESPONSE"; else cat "$RESPONSE"; echo; fi

BACKUP_ID=$(json_field "$RESPONSE" id)
DATA_KEY=$(json_field "$RESPONSE" metadata.key)
[[ -n "$DATA_KEY" ]] || DATA_KEY="database/$DB_LABEL/$BACKUP_ID"
DATA_FILE="$STORE/$DATA_KEY"
META_FILE="$(dirname "$DATA_FILE")/metadata/$BACKUP_ID.json"

say "Backup $BACKUP_ID"
info "data file:     $DATA_FILE"
info "metadata file: $META_FILE"
[[ -f "$DATA_FILE" ]] || info "WARNING: the data file is not where expected; look under $STORE"
[[ -f "$META_FILE" ]] || info "WARNING: the metadata file is not where expected; look under $STORE"
echo
info "Emergency restore without Lifeboat (decrypt, decompress, read the SQL):"
info "  age -d -i '$KEY_FILE' '$DATA_FILE' | zstd -d | head"
echo
info "API:      http://127.0.0.1:$API_PORT/api/v1/backups   (also /api/v1/backups/latest, /api/v1/backups/{id})"
info "API token: $API_TOKEN  (roles viewer, operator, restorer; also in $TOKEN_FILE)"
info "          curl -s -H @$AUTH_HEADER -X POST -H 'Content-Type: application/json' -d '{}' 'http://127.0.0.1:$API_PORT/api/v1/backups?wait=true'"
info "Health:   http://127.0.0.1:$MGMT_PORT/q/health/ready"
info "Metrics:  http://127.0.0.1:$MGMT_PORT/q/metrics"
info "Database: PGPASSFILE='$PGPASS_FILE' '$PG_BIN/psql' -h 127.0.0.1 -p $PG_PORT -U postgres $DB_NAME"

# ---------------------------------------------------------------------------------------------------------
say "Waiting for verify-service's automatic full verification of $BACKUP_ID (backup-service announced it)"
VERIFICATIONS="$WORK/logs/verifications.json"
VERIFICATION="$WORK/logs/last-verification.json"
deadline=$(( SECONDS + 300 ))
verification_id=""
while [[ -z "$verification_id" ]]; do
    curl -sS --max-time 10 -H "@$AUTH_HEADER" -o "$VERIFICATIONS" \
        "http://127.0.0.1:$VERIFY_API_PORT/api/v1/verifications?backupId=$BACKUP_ID" || true
    # the id of the first finished verification of the backup, if there is one yet
    if command -v python3 >/dev/null 2>&1; then
        verification_id=$(python3 -c 'import json, sys
try:
    items = json.load(open(sys.argv[1]))
except Exception:
    items = []
print(next((i["id"] for i in items if isinstance(i, dict) and i.get("status") == "FINISHED"), ""))' "$VERIFICATIONS")
    elif grep -q '"FINISHED"' "$VERIFICATIONS" 2>/dev/null; then
        verification_id=$(grep -o '"id" *: *"verify_[^"]*"' "$VERIFICATIONS" | head -n1 | sed 's/.*"\(verify_[^"]*\)"/\1/')
    fi
    if [[ -z "$verification_id" ]]; then
        if (( SECONDS >= deadline )); then
            service_log_tail "$VERIFY_LOG"
            die "no finished verification of $BACKUP_ID within 300 s (verify-service log tail above)"
        fi
        sleep 1
    fi
done
curl -fsS --max-time 10 -H "@$AUTH_HEADER" -o "$VERIFICATION" \
    "http://127.0.0.1:$VERIFY_API_PORT/api/v1/verifications/$verification_id" \
    || die "reading verification $verification_id failed"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$VERIFICATION" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"    verification {j['id']} ({j['level']}, trigger {j['trigger']}): {j['result']} in {j.get('durationSeconds')} s, "
      f"{j.get('tablesCompared')} tables compared, the scratch restore took {j.get('restoreSeconds')} s")
for s in j["steps"]:
    print(f"      {s['name']:<14} {s['status']:<8} {str(s.get('seconds', '')):>6}  {s.get('detail', '')}")
if j.get("error"):
    print(f"    error: {j['error']}")
PY
else
    cat "$VERIFICATION"; echo
fi
if [[ "$(json_field "$VERIFICATION" result)" != PASSED ]]; then
    service_log_tail "$VERIFY_LOG"
    die "the verification of $BACKUP_ID did not pass"
fi

say "Disaster-recovery status: GET http://127.0.0.1:$VERIFY_API_PORT/api/v1/status"
STATUS="$WORK/logs/status.json"
curl -fsS --max-time 30 -H "@$AUTH_HEADER" -o "$STATUS" "http://127.0.0.1:$VERIFY_API_PORT/api/v1/status" \
    || die "reading the status failed"
if command -v python3 >/dev/null 2>&1; then
    python3 - "$STATUS" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"    overall: {j['status']}")
for d in j["databases"]:
    rpo, rto, last, proven = d["rpo"], d["rto"], d.get("lastBackup") or {}, d.get("lastVerifiedBackup") or {}
    print(f"    {d['database']}: {d['status']}; newest backup {last.get('id')} ({last.get('ageSeconds')} s old), "
          f"proven restorable: {proven.get('id')}")
    print(f"      RPO now {rpo.get('currentSeconds')} s (objective {rpo['objectiveSeconds']} s); "
          f"restore measured {rto.get('measuredSeconds')} s (RTO objective {rto['objectiveSeconds']} s); "
          f"size anomaly: {d['sizeAnomaly']['flagged']}")
    for f in d.get("findings", []):
        print(f"      {f['severity']}: {f['message']}")
PY
else
    cat "$STATUS"; echo
fi
[[ "$(json_field "$STATUS" status)" == OK ]] || die "the DR status is not OK right after a verified backup"

# ---------------------------------------------------------------------------------------------------------
# restore BODY: POST /api/v1/restores?wait=true and print the job's steps; fails the script unless it completed.
restore() {
    local response="$WORK/logs/last-restore.json" code
    code=$(curl -sS -o "$response" -w '%{http_code}' --max-time 600 -X POST -H "@$AUTH_HEADER" \
        -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$RESTORE_API_PORT/api/v1/restores?wait=true") \
        || code="curl failed"
    if [[ "$code" != 201 ]]; then
        cat "$response" >&2 2>/dev/null; echo >&2
        service_log_tail "$RESTORE_LOG"
        die "the restore request answered HTTP $code instead of 201"
    fi
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$response" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"    restore {j['id']}: {j['status']} into database {j.get('database')} "
      f"({j['progress']['bytesRestored']} stored bytes checked and loaded, {j['progress']['elapsedSeconds']} s)")
for s in j["steps"]:
    print(f"      {s['name']:<16} {s['status']:<8} {str(s.get('seconds', '')):>6}  {s.get('detail', '')}")
PY
    else
        cat "$response"; echo
    fi
}
rows() { psql_pg -d "$DB_NAME" -At -c "SELECT count(*) FROM order_items"; }

say "Restoring $BACKUP_ID into target 'scratch' (a fresh database, dropped again right after)"
restore "{\"backupId\": \"$BACKUP_ID\", \"target\": \"scratch\"}"
RESTORE_ID=$(json_field "$WORK/logs/last-restore.json" id)
SCRATCH_DB=$(json_field "$WORK/logs/last-restore.json" database)
info "order_items in $SCRATCH_DB: $(psql_pg -d "$SCRATCH_DB" -At -c 'SELECT count(*) FROM order_items')"
curl -fsS -X DELETE -H "@$AUTH_HEADER" "http://127.0.0.1:$RESTORE_API_PORT/api/v1/restores/$RESTORE_ID/database" \
    || die "dropping the scratch database failed"
info "dropped $SCRATCH_DB (DELETE /api/v1/restores/$RESTORE_ID/database)"

say "Deleting rows in '$DB_NAME', then restoring $BACKUP_ID in place into target 'primary'"
before=$(rows)
psql_pg -d "$DB_NAME" -c "DELETE FROM order_items WHERE quantity > 2"
info "order_items: $before before, $(rows) after the delete"
restore "{\"backupId\": \"$BACKUP_ID\", \"target\": \"primary\"}"
after=$(rows)
info "order_items after the restore: $after"
[[ "$after" == "$before" ]] || die "the restore did not bring the rows back ($after, expected $before)"

echo
info "Restore API: http://127.0.0.1:$RESTORE_API_PORT/api/v1/restores  (targets: primary, scratch)"
info "  curl -s -H @$AUTH_HEADER -X POST -H 'Content-Type: application/json' -d '{\"backupId\": \"latest\", \"target\": \"primary\"}' 'http://127.0.0.1:$RESTORE_API_PORT/api/v1/restores?wait=true'"
info "Health:      http://127.0.0.1:$RESTORE_MGMT_PORT/q/health/ready   Metrics: http://127.0.0.1:$RESTORE_MGMT_PORT/q/metrics"
info "Verify API:  http://127.0.0.1:$VERIFY_API_PORT/api/v1/verifications   status: http://127.0.0.1:$VERIFY_API_PORT/api/v1/status"
info "  curl -s -H @$AUTH_HEADER -X POST -H 'Content-Type: application/json' -d '{\"backupId\": \"latest\", \"level\": \"full\"}' 'http://127.0.0.1:$VERIFY_API_PORT/api/v1/verifications?wait=true'"
info "Health:      http://127.0.0.1:$VERIFY_MGMT_PORT/q/health/ready   Metrics: http://127.0.0.1:$VERIFY_MGMT_PORT/q/metrics"

if [[ "${LIFEBOAT_RUN_ONCE:-}" == 1 ]]; then
    say "LIFEBOAT_RUN_ONCE=1: stopping now"
    exit 0
fi

say "The services are running; press Ctrl-C to stop them and PostgreSQL (the store and keys are kept)"
set +e
wait -n "${SVC_PIDS[@]}"
status=$?
set -e
service_log_tail "$SVC_LOG"
service_log_tail "$RESTORE_LOG"
service_log_tail "$VERIFY_LOG"
die "a service exited by itself (status $status; log tails above)"
