#!/usr/bin/env bash
# bench/restore-bench.sh — measures Lifeboat restores of one backup of an existing database next to the
# baselines: a bare `psql -f dump.sql` into an empty database (what the seeds do), the same with
# --single-transaction, and the emergency pipeline `age -d | zstd -d | psql --single-transaction`.
# Lifeboat is timed twice: into a scratch database (fresh), and in place over a copy that already holds the
# data (clean-schema: every schema dropped and reloaded in one transaction). Prints times, ratios, peak RSS.
#
# Usage: PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=... bench/restore-bench.sh DATABASE
#   (PGPASSWORD or a ~/.pgpass entry; the services get it through a 0600 file, never argv)
# Test data: psql -d DATABASE -f bench/bench-data.sql   (about 750 MB of plain dump at the default size)
# BENCH_JAVA_OPTS: JVM options for restore-service, e.g. -Xmx64m to show the restore streams in bounded memory.
# Needs: built services (./mvnw -DskipTests install), age, age-keygen, zstd, curl, python3; ports 18081/19081,
# 18082/19082; disk for one plain dump (baselines) and one backup. Creates and drops databases
# lifeboat_bench_*; the source database is only read.
set -euo pipefail

DB=${1:?usage: bench/restore-bench.sh DATABASE (connection from PGHOST/PGPORT/PGUSER/PGPASSWORD)}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BACKUP_JAR="$REPO/backup-service/target/quarkus-app/quarkus-run.jar"
RESTORE_JAR="$REPO/restore-service/target/quarkus-app/quarkus-run.jar"
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER
for jar in "$BACKUP_JAR" "$RESTORE_JAR"; do
    [[ -f "$jar" ]] || { echo "build first: ./mvnw -B -DskipTests install" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/lifeboat-restore-bench.XXXXXX)
PIDS=()
psql_q() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    for d in $("$PG_BIN/psql" -X -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\_%'"); do
        psql_q -d postgres -c "DROP DATABASE \"$d\" WITH (FORCE)" >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
fresh_db() { psql_q -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1 TEMPLATE template0"; }

# start NAME JAR MGMT_PORT [JAVA_OPTS]: runs a service from $WORK/NAME (reads NAME/config), waits until ready
start() {
    local name=$1 jar=$2 mgmt=$3 opts=${4:-}
    (cd "$WORK/$name" && exec env -u PGPASSWORD "$JAVA_HOME/bin/java" $opts -jar "$jar" > "$WORK/$name.log" 2>&1) &
    PIDS+=($!)
    for _ in $(seq 1 60); do
        curl -sf "http://127.0.0.1:$mgmt/q/health/ready" >/dev/null && return 0
        sleep 1
    done
    tail -n 30 "$WORK/$name.log"; exit 1
}
stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

echo "== database $DB on $PGHOST:$PGPORT: $("$PG_BIN/psql" -X -At -d "$DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"

# ---- setup: keys, secrets, a plain dump for the baselines, one Lifeboat backup ----
age-keygen -o "$WORK/key.txt" 2>/dev/null
recipient=$(sed -n 's/^# public key: //p' "$WORK/key.txt")
install -m 600 /dev/null "$WORK/pgpassword"
install -m 600 /dev/null "$WORK/token"; install -m 600 /dev/null "$WORK/auth-header"
token=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
printf '%s' "$token" > "$WORK/token"; printf 'Authorization: Bearer %s\n' "$token" > "$WORK/auth-header"
if [[ -n "${PGPASSWORD:-}" ]]; then printf '%s' "$PGPASSWORD" > "$WORK/pgpassword"; fi
mkdir -p "$WORK/store" "$WORK/backup-service/config" "$WORK/restore-service/config"
common="lifeboat.store.type=filesystem
lifeboat.store.filesystem.path=$WORK/store
lifeboat.auth.tokens.bench.token-file=$WORK/token
lifeboat.auth.tokens.bench.roles=operator,viewer,restorer"
# listen PORT MGMT_PORT: the HTTP settings of a service, local only
listen() { printf 'quarkus.http.port=%s\nquarkus.management.port=%s\nquarkus.http.host=127.0.0.1\nquarkus.management.host=127.0.0.1\n' "$1" "$2"; }
cat > "$WORK/backup-service/config/application.properties" <<PROPS
$(listen 18081 19081)
$common
lifeboat.databases.main.host=$PGHOST
lifeboat.databases.main.port=$PGPORT
lifeboat.databases.main.user=$PGUSER
lifeboat.databases.main.database=$DB
lifeboat.databases.main.password-file=$WORK/pgpassword
lifeboat.encryption.recipients=$recipient
lifeboat.backup.schedule=off
PROPS
cat > "$WORK/restore-service/config/application.properties" <<PROPS
$(listen 18082 19082)
$common
lifeboat.encryption.identity-files=$WORK/key.txt
lifeboat.restore.scratch-janitor-interval=24h
lifeboat.targets.scratch.host=$PGHOST
lifeboat.targets.scratch.port=$PGPORT
lifeboat.targets.scratch.user=$PGUSER
lifeboat.targets.scratch.database=postgres
lifeboat.targets.scratch.password-file=$WORK/pgpassword
lifeboat.targets.scratch.scratch=true
lifeboat.targets.copy.host=$PGHOST
lifeboat.targets.copy.port=$PGPORT
lifeboat.targets.copy.user=$PGUSER
lifeboat.targets.copy.database=lifeboat_bench_copy
lifeboat.targets.copy.password-file=$WORK/pgpassword
lifeboat.targets.copy.safety-backup=false
PROPS

echo "== setup: pg_dump to a file (for the baselines), one Lifeboat backup (zstd-3, age)"
"$PG_BIN/pg_dump" -d "$DB" -f "$WORK/plain.sql"
raw_bytes=$(stat -c %s "$WORK/plain.sql")
start backup-service "$BACKUP_JAR" 19081
curl -sf -X POST -H "@$WORK/auth-header" -H 'Content-Type: application/json' -d '{}' \
    'http://127.0.0.1:18081/api/v1/backups?wait=true' > "$WORK/backup.json"
stop_all
read -r backup_id stored_key stored_bytes < <(python3 -c "
import json; m = json.load(open('$WORK/backup.json'))['metadata']
print(m['id'], m['key'], m['storedSizeBytes'])")
echo "   plain dump ${raw_bytes} bytes; backup ${backup_id}, ${stored_bytes} bytes stored"

echo "== baseline A: psql -f dump.sql into an empty database (no transaction, as the seeds do)"
fresh_db lifeboat_bench_a
t0=$(now); psql_q -d lifeboat_bench_a -f "$WORK/plain.sql" > /dev/null; t1=$(now)
a_s=$(secs "$t0" "$t1"); echo "   ${a_s} s"
psql_q -d postgres -c "DROP DATABASE lifeboat_bench_a"

echo "== baseline B: the same with --single-transaction"
fresh_db lifeboat_bench_b
t0=$(now); psql_q --single-transaction -d lifeboat_bench_b -f "$WORK/plain.sql" > /dev/null; t1=$(now)
b_s=$(secs "$t0" "$t1"); echo "   ${b_s} s"
psql_q -d postgres -c "DROP DATABASE lifeboat_bench_b"

echo "== baseline C: age -d | zstd -d | psql --single-transaction, from the stored backup"
fresh_db lifeboat_bench_copy
t0=$(now)
age -d -i "$WORK/key.txt" "$WORK/store/$stored_key" | zstd -q -d | psql_q --single-transaction -d lifeboat_bench_copy > /dev/null
t1=$(now)
c_s=$(secs "$t0" "$t1"); echo "   ${c_s} s (lifeboat_bench_copy now holds the data, for the in-place run)"
rm -f "$WORK/plain.sql"

echo "== Lifeboat restore-service ${BENCH_JAVA_OPTS:-}"
start restore-service "$RESTORE_JAR" 19082 "${BENCH_JAVA_OPTS:-}"
java_pid=$(pgrep -f "$RESTORE_JAR" | head -n1)
idle_rss=$(awk '/VmHWM/ {print $2}' "/proc/$java_pid/status")

# restore BODY OUT: POST ?wait=true, prints the steps; the elapsed wall time goes to $elapsed
restore() {
    local t0 t1 code
    t0=$(now)
    code=$(curl -s -o "$2" -w '%{http_code}' -X POST -H "@$WORK/auth-header" -H 'Content-Type: application/json' \
        -d "$1" 'http://127.0.0.1:18082/api/v1/restores?wait=true')
    t1=$(now)
    elapsed=$(secs "$t0" "$t1")
    [[ "$code" == 201 ]] || { cat "$2"; echo; tail -n 30 "$WORK/restore-service.log"; exit 1; }
    python3 -c "
import json; j = json.load(open('$2'))
print('   ' + ', '.join(f\"{s['name']} {s.get('seconds', '-')} s\" for s in j['steps'] if s['status'] != 'SKIPPED'))"
}

echo "-- into target scratch (a fresh database)"
restore "{\"backupId\":\"$backup_id\",\"target\":\"scratch\"}" "$WORK/scratch.json"
scratch_s=$elapsed; echo "   ${scratch_s} s"
restore_id=$(python3 -c "import json; print(json.load(open('$WORK/scratch.json'))['id'])")
curl -sf -X DELETE -H "@$WORK/auth-header" "http://127.0.0.1:18082/api/v1/restores/$restore_id/database"

echo "-- in place into target copy (clean-schema over the same data: drop and reload in one transaction)"
restore "{\"backupId\":\"$backup_id\",\"target\":\"copy\"}" "$WORK/copy.json"
inplace_s=$elapsed; echo "   ${inplace_s} s"
peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$java_pid/status")
echo "   peak RSS of restore-service: $((peak_rss / 1024)) MiB (after start-up: $((idle_rss / 1024)) MiB)"

echo
echo "== summary ($((raw_bytes / 1048576)) MiB plain dump, $((stored_bytes / 1048576)) MiB stored)"
python3 - <<PY
a, b, c, s, i = $a_s, $b_s, $c_s, $scratch_s, $inplace_s
print(f"A  psql -f dump.sql (no transaction)           : {a:6.1f} s  1.00x")
print(f"B  psql --single-transaction -f dump.sql       : {b:6.1f} s  {b / a:.2f}x")
print(f"C  age -d | zstd -d | psql --single-transaction: {c:6.1f} s  {c / a:.2f}x")
print(f"Lifeboat, scratch (fresh database)             : {s:6.1f} s  {s / a:.2f}x")
print(f"Lifeboat, in place over existing data          : {i:6.1f} s  {i / a:.2f}x")
print(f"restore-service peak RSS                       : {$peak_rss / 1024:.0f} MiB (idle {$idle_rss / 1024:.0f} MiB)")
PY
