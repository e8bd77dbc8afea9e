#!/usr/bin/env bash
# dr-status.sh — the disaster-recovery status from verify-service: per database OK / AT_RISK / BREACHED, the
# recovery point (age of the newest good backup) and the measured restore time against their objectives.
#
# Usage: dr-status.sh [--database LABEL] [--no-fail] [options]
#   --database LABEL   only this database (default: every database verify-service knows)
#   --no-fail          exit 0 whatever the status (still 1 when the status cannot be read)
#
# Columns: RPO NOW = age of the newest backup not proven bad (from pg_dump's start), PROVEN = age of the newest
# backup proven restorable, RTO = the last full verification's scratch restore; each against its objective.
# The findings say why a database is not OK. Exit status: 0 OK, 3 AT_RISK, 4 BREACHED (unless --no-fail),
# 1 when the status cannot be read. Any token role may read it.
#
# Examples:
#   deploy/scripts/dr-status.sh
#   deploy/scripts/dr-status.sh --database main --no-fail --json
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

database=""
fail=1
while (( $# )); do
    case $1 in
        --database) lb_need_value "$@"; database=$2; shift 2 ;;
        --no-fail) fail=0; shift ;;
        *) lb_common_arg "$@"; shift "$LB_SHIFT" ;;
    esac
done
lb_start

lb_call GET "$LB_VERIFY_URL/api/v1/status$(lb_query database "$database")"
lb_expect 200
lb_output '
    "DR status: \(.status) (at \(.generatedAt | ts))",
    (if (.databases | length) > 0 then
       [["DATABASE", "STATUS", "RPO NOW", "PROVEN", "RPO OBJECTIVE", "RTO", "RTO OBJECTIVE", "NEWEST BACKUP", "PROVEN RESTORABLE"]]
       + (.databases | map([.database, .status, (.rpo.currentSeconds | dur), (.rpo.provenSeconds | dur),
                            (.rpo.objectiveSeconds | dur), (.rto.measuredSeconds | dur), (.rto.objectiveSeconds | dur),
                            .lastBackup.id, .lastVerifiedBackup.id]))
       | table
     else empty end),
    (.findings[]? | "  \(.severity): \(.message)")'

status=$(lb_jq .status)
(( fail )) || exit 0
case $status in
    OK) exit 0 ;;
    AT_RISK) exit 3 ;;
    BREACHED) exit 4 ;;
    *) lb_die "verify-service answered an unknown status '$status'" ;;
esac
