#!/usr/bin/env bash
# bench/verify-bench.sh — measures what proving a backup costs: one backup of an existing database, then a bare
# scratch restore through restore-service (what the measured RTO is), a checksum verification and a full
# verification through verify-service (checksum, scratch restore, every table read back and fingerprinted,
# amcheck with heapallindexed, drop). Prints times, the full verification's steps, ratios and peak RSS.
#
# Usage: PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGPASSWORD=... bench/verify-bench.sh DATABASE
#   (PGPASSWORD or a ~/.pgpass entry; the services get it through a 0600 file, never argv)
# Test data: psql -d DATABASE -f bench/bench-data.sql   (about 750 MB of plain dump at the default size)
# BENCH_JAVA_OPTS: JVM options for verify-service, e.g. -Xmx64m to show verification streams in bounded memory.
# Needs: built services (./mvnw -DskipTests install), age-keygen, curl, python3; ports 18081-18083 and
# 19081-19083; disk for one backup and one scratch copy of the database. The source database is only read.
set -euo pipefail

DB=${1:?usage: bench/verify-bench.sh DATABASE (connection from PGHOST/PGPORT/PGUSER/PGPASSWORD)}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BACKUP_JAR="$REPO/backup-service/target/quarkus-app/quarkus-run.jar"
RESTORE_JAR="$REPO/restore-service/target/quarkus-app/quarkus-run.jar"
VERIFY_JAR="$REPO/verify-service/target/quarkus-app/quarkus-run.jar"
JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)}
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=postgres}"
export PGHOST PGPORT PGUSER
for jar in "$BACKUP_JAR" "$RESTORE_JAR" "$VERIFY_JAR"; do
    [[ -f "$jar" ]] || { echo "build first: ./mvnw -B -DskipTests install" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/lifeboat-verify-bench.XXXXXX)
PIDS=()
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
    for d in $("$PG_BIN/psql" -X -At -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\_scratch\_%'"); do
        "$PG_BIN/psql" -X -q -d postgres -c "DROP DATABASE \"$d\" WITH (FORCE)" >/dev/null 2>&1
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

# start NAME JAR MGMT_PORT [JAVA_OPTS]: runs a service from $WORK/NAME (reads NAME/config), waits until ready
start() {
    local name=$1 jar=$2 mgmt=$3 opts=${4:-}
    (cd "$WORK/$name" && exec env -u PGPASSWORD "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED $opts \
        -jar "$jar" > "$WORK/$name.log" 2>&1) &
    PIDS+=($!)
    for _ in $(seq 1 60); do
        curl -sf "http://127.0.0.1:$mgmt/q/health/ready" >/dev/null && return 0
        sleep 1
    done
    tail -n 30 "$WORK/$name.log"; exit 1
}

echo "== database $DB on $PGHOST:$PGPORT: $("$PG_BIN/psql" -X -At -d "$DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"

# ---- setup: keys, secrets, the three services ----
age-keygen -o "$WORK/key.txt" 2>/dev/null
recipient=$(sed -n 's/^# public key: //p' "$WORK/key.txt")
install -m 600 /dev/null "$WORK/pgpassword"
install -m 600 /dev/null "$WORK/token"; install -m 600 /dev/null "$WORK/auth-header"
token=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
printf '%s' "$token" > "$WORK/token"; printf 'Authorization: Bearer %s\n' "$token" > "$WORK/auth-header"
if [[ -n "${PGPASSWORD:-}" ]]; then printf '%s' "$PGPASSWORD" > "$WORK/pgpassword"; fi
mkdir -p "$WORK/store" "$WORK/backup-service/config" "$WORK/restore-service/config" "$WORK/verify-service/config"
common="lifeboat.store.type=filesystem
lifeboat.store.filesystem.path=$WORK/store
lifeboat.encryption.identity-files=$WORK/key.txt
lifeboat.auth.tokens.bench.token-file=$WORK/token
lifeboat.auth.tokens.bench.roles=operator,viewer,restorer
lifeboat.peers.token-file=$WORK/token"
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
lifeboat.restore.scratch-janitor-interval=24h
lifeboat.targets.scratch.host=$PGHOST
lifeboat.targets.scratch.port=$PGPORT
lifeboat.targets.scratch.user=$PGUSER
lifeboat.targets.scratch.database=postgres
lifeboat.targets.scratch.password-file=$WORK/pgpassword
lifeboat.targets.scratch.scratch=true
PROPS
cat > "$WORK/verify-service/config/application.properties" <<PROPS
$(listen 18083 19083)
$common
lifeboat.peers.restore-url=http://127.0.0.1:18082
lifeboat.verify.scratch.host=$PGHOST
lifeboat.verify.scratch.port=$PGPORT
lifeboat.verify.scratch.user=$PGUSER
lifeboat.verify.scratch.password-file=$WORK/pgpassword
lifeboat.verify.sweep-schedule=off
lifeboat.verify.checksum-schedule=off
PROPS

start backup-service "$BACKUP_JAR" 19081
start restore-service "$RESTORE_JAR" 19082
start verify-service "$VERIFY_JAR" 19083 "${BENCH_JAVA_OPTS:-}"
verify_pid=$(pgrep -f "$VERIFY_JAR" | head -n1)
idle_rss=$(awk '/VmHWM/ {print $2}' "/proc/$verify_pid/status")

echo "== one Lifeboat backup (zstd-3, age)"
t0=$(now)
curl -sf -X POST -H "@$WORK/auth-header" -H 'Content-Type: application/json' -d '{}' \
    'http://127.0.0.1:18081/api/v1/backups?wait=true' > "$WORK/backup.json"
t1=$(now)
read -r backup_id raw_bytes stored_bytes tables < <(python3 -c "
import json; m = json.load(open('$WORK/backup.json'))['metadata']
print(m['id'], m['rawSizeBytes'], m['storedSizeBytes'], len(m['fingerprint']))")
backup_s=$(secs "$t0" "$t1")
echo "   ${backup_id}: ${raw_bytes} bytes of dump, ${stored_bytes} stored, ${tables} tables, ${backup_s} s"

# post URL BODY OUT: POST ?wait=true; the elapsed wall time goes to $elapsed
post() {
    local t0 t1 code
    t0=$(now)
    code=$(curl -s -o "$3" -w '%{http_code}' -X POST -H "@$WORK/auth-header" -H 'Content-Type: application/json' -d "$2" "$1")
    t1=$(now)
    elapsed=$(secs "$t0" "$t1")
    [[ "$code" == 201 ]] || { cat "$3"; echo; tail -n 30 "$WORK"/*-service.log; exit 1; }
}
steps() {
    python3 -c "
import json; j = json.load(open('$1'))
print('   result ' + str(j.get('result', j.get('status'))) + ': ' + ', '.join(f\"{s['name']} {s.get('seconds', '-')} s\" for s in j['steps'] if s['status'] != 'SKIPPED'))"
}

echo "== a bare scratch restore through restore-service (the restore a verification measures)"
post 'http://127.0.0.1:18082/api/v1/restores?wait=true' "{\"backupId\":\"$backup_id\",\"target\":\"scratch\"}" "$WORK/restore.json"
restore_s=$elapsed; steps "$WORK/restore.json"; echo "   ${restore_s} s"
restore_id=$(python3 -c "import json; print(json.load(open('$WORK/restore.json'))['id'])")
curl -sf -X DELETE -H "@$WORK/auth-header" "http://127.0.0.1:18082/api/v1/restores/$restore_id/database"

echo "== checksum verification (read the object once: SHA-256, age, zstd to the end)"
post 'http://127.0.0.1:18083/api/v1/verifications?wait=true' "{\"backupId\":\"$backup_id\",\"level\":\"checksum\"}" "$WORK/checksum.json"
checksum_s=$elapsed; steps "$WORK/checksum.json"; echo "   ${checksum_s} s"

echo "== full verification ${BENCH_JAVA_OPTS:-}"
post 'http://127.0.0.1:18083/api/v1/verifications?wait=true' "{\"backupId\":\"$backup_id\",\"level\":\"full\"}" "$WORK/full.json"
full_s=$elapsed; steps "$WORK/full.json"; echo "   ${full_s} s"
read -r result verify_restore_s < <(python3 -c "
import json; j = json.load(open('$WORK/full.json')); print(j['result'], j.get('restoreSeconds'))")
[[ "$result" == PASSED ]] || { echo "the full verification did not pass"; exit 1; }
peak_rss=$(awk '/VmHWM/ {print $2}' "/proc/$verify_pid/status")

echo
echo "== summary ($((raw_bytes / 1048576)) MiB plain dump, $((stored_bytes / 1048576)) MiB stored, $tables tables)"
python3 - <<PY
r, c, f, vr = $restore_s, $checksum_s, $full_s, $verify_restore_s
print(f"scratch restore alone (restore-service)          : {r:6.1f} s  1.00x")
print(f"checksum verification                            : {c:6.1f} s  {c / r:.2f}x")
print(f"full verification                                : {f:6.1f} s  {f / r:.2f}x")
print(f"  of which its scratch restore (the measured RTO): {vr:6.1f} s")
print(f"verify-service peak RSS                          : {$peak_rss / 1024:.0f} MiB (idle {$idle_rss / 1024:.0f} MiB)")
PY
