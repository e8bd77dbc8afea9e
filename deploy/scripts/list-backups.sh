#!/usr/bin/env bash
# list-backups.sh — list backups from backup-service, newest first, with what verification proved of each.
#
# Usage: list-backups.sh [--database LABEL] [--verified | --unverified] [--limit N] [options]
#   --database LABEL   only this database's backups (default: every database)
#   --verified         only backups proven restorable (a passed full verification and no failed one since)
#   --unverified       only the others
#   --limit N          at most N backups (default 50; 0 = all)
#
# Running backups come first. VERIFIED says `yes` for a backup proven restorable, else `no`, with the newest
# verification's level and result. Any token role may list.
#
# Examples:
#   deploy/scripts/list-backups.sh --database main --limit 10
#   deploy/scripts/list-backups.sh --verified --json | jq -r '.[0].id'
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

database=""
verified=""
limit=50
while (( $# )); do
    case $1 in
        --database) lb_need_value "$@"; database=$2; shift 2 ;;
        --verified) verified=true; shift ;;
        --unverified) verified=false; shift ;;
        --limit)
            lb_need_value "$@"
            [[ $2 =~ ^[0-9]+$ ]] || lb_usage_error "--limit takes a number, got '$2'"
            limit=$2; shift 2 ;;
        *) lb_common_arg "$@"; shift "$LB_SHIFT" ;;
    esac
done
lb_start

lb_call GET "$LB_BACKUP_URL/api/v1/backups$(lb_query database "$database" verified "$verified")"
lb_expect 200
if (( limit > 0 )); then
    jq --argjson n "$limit" '.[:$n]' "$LB_BODY" >"$LB_TMP/limited.json"
    mv "$LB_TMP/limited.json" "$LB_BODY"
fi
lb_output '
    if length == 0 then "no backups"
    else
      [["ID", "DATABASE", "STATUS", "TRIGGER", "STARTED", "TOOK", "STORED", "VERIFIED"]]
      + map([.id, .database, .status, .trigger, (.startedAt | ts), (.progress.elapsedSeconds | dur),
             (.progress.bytesStored | size),
             (if .verification == null then "-"
              elif .verification.verified then "yes (\(.verification.lastLevel) \(.verification.lastResult))"
              elif .verification.lastResult then "no (\(.verification.lastLevel) \(.verification.lastResult))"
              else "no (not verified yet)" end)])
      | table
    end'
