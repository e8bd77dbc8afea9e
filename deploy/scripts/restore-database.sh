#!/usr/bin/env bash
# restore-database.sh — restore a backup through restore-service into a configured target, and wait for it.
#
# Usage: restore-database.sh <backup-id|latest|latest-verified> [--target NAME] [--mode MODE] [--database LABEL]
#                            [--roles create-missing|require] [--no-safety-backup] [--no-scale-down] [--yes]
#                            [--no-wait] [options]
#   <backup-id>          a backup id (list-backups.sh), or `latest` (the newest backup of the target's database,
#                        never a safety backup), or `latest-verified` (the newest one proven restorable)
#   --target NAME        a target of restore-service (lifeboat.targets.NAME); default LIFEBOAT_RESTORE_TARGET,
#                        else `primary`. A scratch target restores into a fresh database and asks nothing.
#   --mode MODE          in place: clean-schema or recreate-database (default: the target's first allowed mode)
#   --database LABEL     with latest/latest-verified: whose backups, when the target has no database-label
#   --roles WHAT         roles the backup refers to (owners, grantees) that the target server lacks:
#                        `require` refuses before anything changes, naming them (default in place);
#                        `create-missing` creates them in the restore transaction, NOLOGIN unless the backup
#                        carries passwords (default for scratch targets; use it on a rebuilt server)
#   --no-safety-backup   in place: skip the PRE_RESTORE backup of the current state (the default takes one)
#   --no-scale-down      in place: leave the target's Deployments/StatefulSets running (the default scales them
#                        to 0 and back)
#   --yes                replace an in-place target's database without asking. Without it the script shows
#                        what will be replaced and asks you to type the target's name; with no terminal to ask
#                        on (cron, CI, a pipe) it refuses.
#   --no-wait            start the restore, print its id and return
#
# latest and latest-verified are resolved by restore-service. The whole load is one transaction: a failure
# leaves the target as it was. Shows the phase and the bytes restored on stderr while it runs; prints every
# step, and the database restored into, when done. In-place targets need a token with the restorer role;
# scratch targets also take an operator token.
#
# Examples:
#   deploy/scripts/restore-database.sh latest-verified --target scratch
#   deploy/scripts/restore-database.sh main_backup_20261122_020000.sql.zst.age --target primary
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LB_MAX_POSITIONAL=1
target=${LIFEBOAT_RESTORE_TARGET:-primary}
mode=""
database=""
roles=""
safety=null
scale=null
yes=0
while (( $# )); do
    case $1 in
        --target) lb_need_value "$@"; target=$2; shift 2 ;;
        --mode) lb_need_value "$@"; mode=$2; shift 2 ;;
        --database) lb_need_value "$@"; database=$2; shift 2 ;;
        --roles) lb_need_value "$@"; roles=$2; shift 2
            [[ $roles == create-missing || $roles == require ]] \
                || lb_usage_error "--roles takes create-missing or require, not '$roles'" ;;
        --no-safety-backup) safety=false; shift ;;
        --no-scale-down) scale=false; shift ;;
        --yes|-y) yes=1; shift ;;
        --no-wait) LB_WAIT=0; shift ;;
        *) lb_common_arg "$@"; shift "$LB_SHIFT" ;;
    esac
done
backup=${LB_POSITIONAL[0]:-}
[[ -n $backup ]] || lb_usage_error "which backup? give a backup id, latest or latest-verified"
lb_start

# What the target is: a scratch restore touches nothing that exists; an in-place one replaces a database.
lb_call GET "$LB_RESTORE_URL/api/v1/targets"
lb_expect 200
if ! jq -e --arg t "$target" 'any(.[]; .name == $t)' "$LB_BODY" >/dev/null; then
    lb_die "restore-service has no target named '$target'; configured: $(lb_jq 'map(.name) | join(", ")')"
fi
scratch=$(jq -r --arg t "$target" '.[] | select(.name == $t) | .scratch' "$LB_BODY")
if [[ $backup == latest* && -z $database ]] \
    && ! jq -e --arg t "$target" '.[] | select(.name == $t) | .databaseLabel' "$LB_BODY" >/dev/null; then
    lb_usage_error "target '$target' has no database-label, so $backup needs --database LABEL (whose backups)"
fi
if [[ $scratch != true ]] && (( ! yes )); then
    what=$(jq -r --arg t "$target" --arg b "$backup" --arg m "$mode" --argjson s "$safety" --argjson d "$scale" '
        .[] | select(.name == $t)
        | "Restore \($b) IN PLACE into target \($t): database \(.database) will be REPLACED by the backup",
          "  (mode \(if $m != "" then $m else .modes[0] end), \(if (if $s == null then .safetyBackup else $s end) then "a safety backup of its current state first" else "NO safety backup" end), \(if $d == false then "workloads left running" else "its workloads scaled to 0 meanwhile" end))."' "$LB_BODY")
    if [[ ! -t 0 ]]; then
        lb_die "refusing to replace database $(jq -r --arg t "$target" '.[] | select(.name == $t) | .database' "$LB_BODY") of target '$target' in place without confirmation, and there is no terminal to ask on: pass --yes"
    fi
    printf '%s\n' "$what" >&2
    printf 'Type the target name (%s) to go on: ' "$target" >&2
    read -r answer || answer=""
    [[ $answer == "$target" ]] || lb_die "not confirmed; nothing was changed"
fi

body=$(jq -nc --arg backupId "$backup" --arg target "$target" --arg database "$database" --arg mode "$mode" \
    --arg roles "$roles" --argjson safetyBackup "$safety" --argjson scaleDown "$scale" '
    {backupId: $backupId, target: $target}
    + (if $database != "" then {database: $database} else {} end)
    + (if $mode != "" then {mode: $mode} else {} end)
    + (if $roles != "" then {roles: $roles} else {} end)
    + (if $safetyBackup != null then {safetyBackup: $safetyBackup} else {} end)
    + (if $scaleDown != null then {scaleDown: $scaleDown} else {} end)')

if lb_job "$LB_RESTORE_URL" /api/v1/restores "$body" \
    '"\(.status)\(if .phase then " \(.phase)" else "" end): \(.progress.percent)% of \(.progress.totalBytes | size) restored, \(.progress.elapsedSeconds | dur)"' \
    job_state; then
    lb_output '
        if .status == "COMPLETED" then
          "Restore \(.id) COMPLETED: backup \(.backupId) into database \(.database) (target \(.target)) in \(.progress.elapsedSeconds | dur)",
          (if .safetyBackupId then "  safety backup of the state replaced: \(.safetyBackupId)" else empty end),
          steps,
          (if '"$scratch"' then "  the scratch database stays until DELETE /api/v1/restores/\(.id)/database, or lifeboat.restore.scratch-ttl" else empty end)
        else
          "Restore \(.id) started (\(.status)); follow it with: GET /api/v1/restores/\(.id)"
        end'
else
    lb_failed_job steps
    step=$(lb_jq '[.steps[]? | select(.status == "FAILED") | .name][0] // .phase // "-"')
    unchanged=" The target's database is unchanged (the load is one transaction)."
    [[ $step == SCALE_UP ]] && unchanged=""
    lb_die "restore $(lb_jq .id) FAILED in step $step: $(lb_jq '.error // "no reason given"').$unchanged"
fi
