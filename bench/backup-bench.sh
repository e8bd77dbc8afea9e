#!/usr/bin/env bash
# bench/backup-bench.sh — measures a Lifeboat backup of an existing database next to the baselines:
# `pg_dump -f /dev/null` (the floor: nothing is faster than the dump itself) and the classic
# `pg_dump | zstd | age > file` pipeline. Prints times, sizes, the service's peak RSS and the ratios.
#
# Usage: PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=... bench/backup-bench.sh DATABASE
#   (PGPASSWORD or a ~/.pgpass entry; it is handed to backup-service through a 0600 file, never argv)
# Test data: psql -d DATABASE -f bench/bench-data.sql   (about 650 MB of plain dump at the default size)
# BENCH_JAVA_OPTS: JVM options for the service, e.g. -Xmx64m to show the backup streams in bounded memory.
# Needs: a built backup-service (./mvnw -DskipTests install), age-keygen, zstd, curl, python3; ports 18081/19081.
set -euo pipefail

DB=${1:?usage: bench/backup-bench.sh DATABASE (connection from PGHOST/PGPORT/PGUSER/PGPASSWORD)}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAR="$REPO/backup-service/target/quarkus-app/quarkus-run.jar"
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER
[[ -f "$JAR" ]] || { echo "build first: ./mvnw -B -DskipTests install" >&2; exit 1; }

WORK=$(mktemp -d /tmp/lifeboat-bench.XXXXXX)
SERVICE_PID=""
cleanup() {
    [[ -n "$SERVICE_PID" ]] && kill "$SERVICE_PID" 2>/dev/null && wait "$SERVICE_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

echo "== database $DB on $PGHOST:$PGPORT: $("$PG_BIN/psql" -X -At -d "$DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"

echo "== baseline 1: pg_dump -f /dev/null"
t0=$(now); "$PG_BIN/pg_dump" -d "$DB" -f /dev/null; t1=$(now)
dump_s=$(secs "$t0" "$t1")
raw_bytes=$("$PG_BIN/pg_dump" -d "$DB" | wc -c)
echo "   ${dump_s} s, ${raw_bytes} bytes of plain dump"

age-keygen -o "$WORK/key.txt" 2>/dev/null
recipient=$(sed -n 's/^# public key: //p' "$WORK/key.txt")

echo "== baseline 2: pg_dump | zstd -3 -T2 | age > file"
t0=$(now); "$PG_BIN/pg_dump" -d "$DB" | zstd -q -3 -T2 | age -r "$recipient" > "$WORK/cli.sql.zst.age"; t1=$(now)
cli_s=$(secs "$t0" "$t1"); cli_bytes=$(stat -c %s "$WORK/cli.sql.zst.age"); rm -f "$WORK/cli.sql.zst.age"
echo "   ${cli_s} s, ${cli_bytes} bytes stored"

echo "== Lifeboat backup-service (filesystem store, zstd level 3 with 2 workers, age) ${BENCH_JAVA_OPTS:-}"
mkdir -p "$WORK/config" "$WORK/store"
install -m 600 /dev/null "$WORK/pgpassword"
install -m 600 /dev/null "$WORK/token"; install -m 600 /dev/null "$WORK/auth-header"
token=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
printf '%s' "$token" > "$WORK/token"; printf 'Authorization: Bearer %s\n' "$token" > "$WORK/auth-header"
if [[ -n "${PGPASSWORD:-}" ]]; then printf '%s' "$PGPASSWORD" > "$WORK/pgpassword"; fi
cat > "$WORK/config/application.properties" <<PROPS
quarkus.http.port=18081
quarkus.management.port=19081
quarkus.http.host=127.0.0.1
quarkus.management.host=127.0.0.1
lifeboat.store.type=filesystem
lifeboat.store.filesystem.path=$WORK/store
lifeboat.databases.main.host=$PGHOST
lifeboat.databases.main.port=$PGPORT
lifeboat.databases.main.user=$PGUSER
lifeboat.databases.main.database=$DB
lifeboat.databases.main.password-file=$WORK/pgpassword
lifeboat.encryption.recipients=$recipient
lifeboat.backup.schedule=off
lifeboat.auth.tokens.bench.token-file=$WORK/token
lifeboat.auth.tokens.bench.roles=operator,viewer
PROPS
(cd "$WORK" && exec env -u PGPASSWORD "$JAVA_HOME/bin/java" ${BENCH_JAVA_OPTS:-} -jar "$JAR" > "$WORK/service.log" 2>&1) &
SERVICE_PID=$!
for _ in $(seq 1 60); do
    curl -sf http://127.0.0.1:19081/q/health/ready >/dev/null && break
    sleep 1
done
curl -sf http://127.0.0.1:19081/q/health/ready >/dev/null || { tail -n 30 "$WORK/service.log"; exit 1; }
java_pid=$(pgrep -f "$JAR" | head -n1)
idle_rss=$(awk '/VmHWM/ {print $2}' "/proc/$java_pid/status")
t0=$(now)
curl -sf -X POST -H "@$WORK/auth-header" -H 'Content-Type: application/json' -d '{}' 'http://127.0.0.1:18081/api/v1/backups?wait=true' > "$WORK/backup.json"
t1=$(now)
lb_s=$(secs "$t0" "$t1")
peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$java_pid/status")
read -r stored raw sha tables < <(python3 -c "
import json; m = json.load(open('$WORK/backup.json'))['metadata']
print(m['storedSizeBytes'], m['rawSizeBytes'], m['sha256'][:16], len(m['fingerprint']))")
echo "   ${lb_s} s, ${raw} bytes dumped, ${stored} bytes stored, sha256 ${sha}..., ${tables} tables fingerprinted"
echo "   peak RSS of the service: $((peak_rss / 1024)) MiB (after start-up, before the backup: $((idle_rss / 1024)) MiB)"

echo
echo "== summary"
python3 - <<PY
dump, cli, lb = $dump_s, $cli_s, $lb_s
raw, stored, cli_bytes = $raw, $stored, $cli_bytes
print(f"backup time / pg_dump -f /dev/null     : {lb / dump:.2f}x  ({lb:.1f} s vs {dump:.1f} s)")
print(f"backup time / pg_dump|zstd|age pipeline : {lb / cli:.2f}x  ({lb:.1f} s vs {cli:.1f} s)")
print(f"stored / raw dump                       : {stored / raw:.3f}  ({stored / 2**20:.0f} MiB of {raw / 2**20:.0f} MiB)")
print(f"stored / CLI pipeline output            : {stored / cli_bytes:.3f}")
print(f"throughput                              : {raw / 2**20 / lb:.0f} MiB/s of dump")
print(f"peak RSS                                : {$peak_rss / 1024:.0f} MiB (idle {$idle_rss / 1024:.0f} MiB) for a {raw / 2**20:.0f} MiB dump")
PY
