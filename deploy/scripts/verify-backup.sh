#!/usr/bin/env bash
# verify-backup.sh — prove a backup through verify-service, and wait for the verdict.
#
# Usage: verify-backup.sh [<backup-id>|latest] [--level full|checksum] [--database LABEL] [--no-wait] [options]
#   <backup-id>         the backup to verify (list-backups.sh); default `latest`, the newest backup
#   --level LEVEL       full (default): checksum, a restore into the scratch target, every table read back and
#                       compared with the backup's fingerprint, index and SQL checks, the scratch database
#                       dropped; checksum: the stored object read whole (SHA-256, size, decryption, decompression)
#   --database LABEL    with latest: whose newest backup, when verify-service knows several databases
#   --no-wait           queue the verification, print its id and return
#
# Verifications run one at a time, so this one may wait in the queue first. Shows the phase and progress on
# stderr; prints every step when done. Exit status 0 only for PASSED; FAILED (the backup is bad: the step and
# table are named) and ERROR (no verdict: something else failed, e.g. restore-service unreachable) exit 1.
# A passed full verification makes the backup `latest-verified`. Needs a token with the operator role.
#
# Examples:
#   deploy/scripts/verify-backup.sh                       # the newest backup, full
#   deploy/scripts/verify-backup.sh main_backup_20261122_020000.sql.zst.age --level checksum
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LB_MAX_POSITIONAL=1
level=full
database=""
while (( $# )); do
    case $1 in
        --level)
            lb_need_value "$@"
            [[ $2 == full || $2 == checksum ]] || lb_usage_error "--level is full or checksum, got '$2'"
            level=$2; shift 2 ;;
        --database) lb_need_value "$@"; database=$2; shift 2 ;;
        --no-wait) LB_WAIT=0; shift ;;
        *) lb_common_arg "$@"; shift "$LB_SHIFT" ;;
    esac
done
backup=${LB_POSITIONAL[0]:-latest}
lb_start

body=$(jq -nc --arg backupId "$backup" --arg level "$level" --arg database "$database" '
    {backupId: $backupId, level: $level} + (if $database != "" then {database: $database} else {} end)')

if lb_job "$LB_VERIFY_URL" /api/v1/verifications "$body" \
    '"\(.status) \(.level) \(.backupId)" + (if .phase then ": \(.phase)" else "" end)
     + (if .progress == null then ""
        elif .phase == "RESTORE" then ", \(.progress.restorePercent)% restored"
        elif .phase == "FINGERPRINT" then ", \(.progress.tablesCompared) of \(.progress.tables) tables compared"
        elif .phase == "CHECKSUM" then ", \(.progress.bytesChecked | size) of \(.progress.storedBytes | size) checked"
        else "" end)
     + (if .result then " -> \(.result)" else "" end)' \
    'if .status != "FINISHED" then "running" elif .result == "PASSED" then "ok" else "failed" end'; then
    lb_output '
        if .status == "FINISHED" then
          "Verification \(.id) PASSED: \(.level) of backup \(.backupId) in \(.durationSeconds | dur)"
            + (if .tablesCompared then ", \(.tablesCompared) tables compared" else "" end)
            + (if .restoreSeconds then ", restore took \(.restoreSeconds | dur) (the measured RTO)" else "" end),
          steps
        else
          "Verification \(.id) queued (\(.status)); follow it with: GET /api/v1/verifications/\(.id)"
        end'
else
    lb_failed_job steps
    lb_die "$(lb_jq '"verification \(.id) of \(.backupId): \(.result)"
        + (if .result == "ERROR" then " (no verdict; the sweep tries again)" else " (the backup is bad)" end)
        + " at step \(.failedStep // "-")" + (if .failedTable then ", table \(.failedTable)" else "" end)
        + ": \(.error // "no reason given")"')"
fi
