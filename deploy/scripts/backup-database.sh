#!/usr/bin/env bash
# backup-database.sh — take a backup now through backup-service, and wait until it is stored.
#
# Usage: backup-database.sh [--database LABEL] [--label KEY=VALUE]... [--no-wait] [options]
#   --database LABEL    the database to back up (a label of backup-service's lifeboat.databases.*); may be left
#                       out when backup-service has only one
#   --label KEY=VALUE   a label stored in the backup's metadata, e.g. --label reason=pre-migration (repeatable)
#   --no-wait           start the backup, print its id and return
#
# Shows the backup's progress (bytes dumped and stored) on stderr while it runs; prints its id, size and
# checksum when it is stored. A backup of that database already running is refused (HTTP 409) with its id.
# Needs a token with the operator role.
#
# Examples:
#   LIFEBOAT_TOKEN_FILE=.lifeboat-local/secrets/api-token deploy/scripts/backup-database.sh
#   deploy/scripts/backup-database.sh --database main --label reason=before-upgrade-17
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

database=""
labels=()
while (( $# )); do
    case $1 in
        --database) lb_need_value "$@"; database=$2; shift 2 ;;
        --label)
            lb_need_value "$@"
            [[ $2 == ?*=* ]] || lb_usage_error "--label takes KEY=VALUE, got '$2'"
            labels+=("$2"); shift 2 ;;
        --no-wait) LB_WAIT=0; shift ;;
        *) lb_common_arg "$@"; shift "$LB_SHIFT" ;;
    esac
done
lb_start

body=$(jq -nc --arg database "$database" '
    ($ARGS.positional | map(split("=") | {(.[0]): (.[1:] | join("="))}) | add) as $labels
    | {} + (if $database != "" then {database: $database} else {} end)
         + (if $labels != null then {labels: $labels} else {} end)' --args ${labels[@]+"${labels[@]}"})

if lb_job "$LB_BACKUP_URL" /api/v1/backups "$body" \
    '"\(.status) \(.database): \(.progress.bytesRead | size) dumped, \(.progress.bytesStored | size) stored, \(.progress.elapsedSeconds | dur)"' \
    job_state; then
    lb_output '
        if .status == "COMPLETED" then
          "Backup \(.id) COMPLETED",
          "  database \(.database), trigger \(.trigger), started \(.startedAt | ts), took \(.progress.elapsedSeconds | dur)",
          "  dump \(.metadata.rawSizeBytes | size), stored \(.metadata.storedSizeBytes | size) (\(.metadata.compression), \(if (.metadata.encryptionRecipients // []) == [] then "NOT encrypted" else "age-encrypted" end)), sha256 \(.metadata.sha256)",
          "  dumped by \(.metadata.pgDumpVersion // "-") from server \(.metadata.serverVersion // "-")"
        else
          "Backup \(.id) started (\(.status)); follow it with: GET /api/v1/backups/\(.id)"
        end'
else
    # shellcheck disable=SC2119  # no filter: a failed backup has nothing to show but its error
    lb_failed_job
    lb_die "backup $(lb_jq .id) FAILED: $(lb_jq '.error // "no reason given"')"
fi
