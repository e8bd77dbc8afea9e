#!/usr/bin/env bash
# deploy/local/run.sh — try Lifeboat on one machine with nothing but local programs: brings the stack up and
# keeps it running until Ctrl-C.
#
# What it does, from a fresh clone:
#   1. checks the prerequisites (a JDK >= 21, the PostgreSQL server programs, age-keygen, curl, jq) and names
#      the command that installs what is missing (it installs nothing itself);
#   2. builds the services if a */target/quarkus-app/quarkus-run.jar is missing (or with --rebuild);
#   3. in .lifeboat-local/ (git-ignored) makes an age key pair (kept and reused across runs), an API token,
#      and the services' configs; starts a throwaway PostgreSQL (temp folder, free port, 127.0.0.1 only) with
#      a database "shop" holding sample data (deploy/local/shop.sql), set up for point-in-time recovery
#      (replication from 127.0.0.1, max_slot_wal_keep_size); removes from the store the WAL archive and base
#      backups of an earlier run (they belong to its cluster, deleted with it; logical backups stay);
#   4. starts backup-service (API http://127.0.0.1:8081, health/metrics http://127.0.0.1:9081) backing up
#      "shop" as database "main" into the filesystem store .lifeboat-local/store, encrypted to that key, and
#      with point-in-time recovery on: its WAL streamed into the store (pg_receivewal, spool
#      .lifeboat-local/wal-spool, a snapshot of the current segment every 5 s), base backups on request;
#      restore-service (:8082, :9082) with the targets "primary" (shop itself, restored in place, safety
#      backup first) and "scratch" (a fresh database per restore), restoring to a point in time with a private
#      PostgreSQL under .lifeboat-local/pitr-restore; verify-service (:8083, :9083), which backup-service tells
#      about every new backup, which fully verifies it, and whose status shows the recovery window;
#      run as root, the three services run as the OS user postgres (PostgreSQL, which restore-service starts for
#      point-in-time restores, refuses root), and .lifeboat-local/ belongs to that user;
#   5. prints the token and ready-made curl lines, and keeps running until Ctrl-C; then stops the services and
#      PostgreSQL and deletes the PostgreSQL data (the store, keys and logs in .lifeboat-local/ stay).
# To watch the whole story checked step by step (backup, automatic verification, DR status, restores, a
# point-in-time restore), run
# deploy/local/walkthrough.sh instead: it brings up a stack of its own the same way.
#
# Usage: deploy/local/run.sh [--rebuild] [--help]
#   LIFEBOAT_PORT_BASE=N  APIs on N+1..N+3, health/metrics on N+1001..N+1003 (default 8080: 8081-8083, 9081-9083)
#   LIFEBOAT_RUN_ONCE=1   run deploy/local/walkthrough.sh instead (the older way to ask for it)
#   JAVA_HOME             JDK to use (>= 21); default /usr/lib/jvm/temurin-25-jdk-amd64, else the newest
#                         JDK >= 21 under /usr/lib/jvm
#   PG_BIN                folder holding initdb/pg_ctl/postgres/psql; default the newest /usr/lib/postgresql/*/bin
#   LIFEBOAT_*            any service setting, e.g. LIFEBOAT_BACKUP_SCHEDULE='0 */5 * * * ?'; they override
#                         the generated .lifeboat-local/<service>/config/application.properties
set -euo pipefail

LB_NAME=run.sh
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "${LIFEBOAT_RUN_ONCE:-}" == 1 ]]; then
    exec bash "$LB_REPO/deploy/local/walkthrough.sh" "$@"
fi
lb_stack_args "$@"
lb_stack_up

for tool in age zstd; do
    lb_check "$tool" || lb_info "note: '$tool' is not installed; not needed to run, but for the emergency restore below ($(lb_install_hint "$tool"))"
done

backups="$(lb_url backup-service)/api/v1/backups"
restores="$(lb_url restore-service)/api/v1/restores"
verifications="$(lb_url verify-service)/api/v1/verifications"
curl_post="curl -s -H @$LB_AUTH_HEADER -H 'Content-Type: application/json' -X POST"

lb_say "Lifeboat is running"
lb_info "API token: $(cat "$LB_TOKEN_FILE")  (roles viewer, operator, restorer; in $LB_TOKEN_FILE)"
lb_info "the curl lines below send it from the header file $LB_AUTH_HEADER"
for name in "${LB_SERVICES[@]}"; do
    lb_info "$(printf '%-16s API %s   health http://127.0.0.1:%s/q/health/ready   metrics .../q/metrics' \
        "$name" "$(lb_url "$name")" "${LB_MGMT_PORT[$name]}")"
done
echo
lb_info "take a backup:           $curl_post -d '{}' '$backups?wait=true' | jq"
lb_info "list the backups:        curl -s -H @$LB_AUTH_HEADER '$backups' | jq"
lb_info "verify the newest fully: $curl_post -d '{\"backupId\": \"latest\", \"level\": \"full\"}' '$verifications?wait=true' | jq"
lb_info "DR status:               curl -s -H @$LB_AUTH_HEADER '$(lb_url verify-service)/api/v1/status' | jq"
lb_info "restore into scratch:    $curl_post -d '{\"backupId\": \"latest\", \"target\": \"scratch\"}' '$restores?wait=true' | jq"
lb_info "restore shop in place:   $curl_post -d '{\"backupId\": \"latest\", \"target\": \"primary\"}' '$restores?wait=true' | jq"
lb_info "point-in-time recovery (shop's WAL streams into the store; restores reach back to the first base backup):"
lb_info "  take a base backup:    $curl_post -d '{\"database\": \"main\", \"kind\": \"base\"}' '$backups?wait=true' | jq"
lb_info "  the recovery window:   curl -s -H @$LB_AUTH_HEADER '$(lb_url verify-service)/api/v1/status' | jq '.databases[].pitr'"
lb_info "  restore shop as it was at an instant (any instant in the window, with its offset) into scratch:"
lb_info "    at=\$(date -Iseconds -d '10 seconds ago')   # e.g. 2026-12-02T10:15:00+01:00; the base backup must be older"
lb_info "    $curl_post -d \"{\\\"database\\\": \\\"main\\\", \\\"pointInTime\\\": \\\"\$at\\\", \\\"target\\\": \\\"scratch\\\"}\" '$restores?wait=true' | jq"
lb_info "the database:            PGPASSFILE='$LB_PGPASS_FILE' '$LB_PG_BIN/psql' -h 127.0.0.1 -p $LB_PG_PORT -U postgres $LB_DB_NAME"
lb_info "emergency restore without Lifeboat (decrypt, decompress, read the SQL):"
lb_info "  age -d -i '$LB_KEY_FILE' '$LB_STORE/database/$LB_DB_LABEL/<backup id>' | zstd -d | head"
lb_info "configs: $LB_WORK/<service>/config/application.properties   logs: $LB_WORK/logs"

lb_say "Press Ctrl-C to stop the services and PostgreSQL (the store, keys and logs stay in $LB_WORK)"
pids=()
for name in "${LB_SERVICES[@]}"; do pids+=("${LB_PID[$name]}"); done
set +e
wait -n "${pids[@]}"
status=$?
set -e
for name in "${LB_SERVICES[@]}"; do lb_log_tail "$LB_WORK/logs/$name.log"; done
lb_die "a service exited by itself (status $status; log tails above)"
