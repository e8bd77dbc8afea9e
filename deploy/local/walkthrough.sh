#!/usr/bin/env bash
# deploy/local/walkthrough.sh — the checked walkthrough of the local stack, run by CI after the tests: it brings
# a stack up exactly as deploy/local/run.sh does (throwaway PostgreSQL with "shop", .lifeboat-local/, ports
# 8081-8083 and 9081-9083), then, checking every step:
#   1. takes a backup of shop (POST /api/v1/backups?wait=true) and finds its data and metadata in the store;
#   2. waits for verify-service's automatic full verification of it (backup-service announces each new
#      backup) and requires it PASSED;
#   3. requires the DR status OK;
#   4. restores the backup into the "scratch" target, compares its rows with shop's, and drops the scratch
#      database through the API;
#   5. deletes rows in shop, restores the backup in place into "primary" and requires the safety backup
#      taken first;
#   6. requires the deleted rows back.
# Then it stops everything, as run.sh does on Ctrl-C. A failed check stops it at once with a message naming
# the step, and exit status 1.
#
# Usage: deploy/local/walkthrough.sh [--rebuild] [--help]   (LIFEBOAT_PORT_BASE, JAVA_HOME, PG_BIN: see run.sh)
set -euo pipefail

LB_NAME=walkthrough.sh
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEPS=6
# step N TITLE: announces step N, which failures from now on name.
step() {
    LB_STEP="$1/$STEPS ($2)"
    lb_say "[$1/$STEPS] $2"
}

lb_stack_args "$@"
lb_stack_up
OUT="$LB_WORK/logs"
BACKUPS="$(lb_url backup-service)/api/v1/backups"
RESTORES="$(lb_url restore-service)/api/v1/restores"
VERIFY="$(lb_url verify-service)/api/v1"

# ---------------------------------------------------------------------------------------------------------
step 1 "a backup of '$LB_DB_NAME'"
lb_call 201 POST "$BACKUPS?wait=true" "$OUT/backup.json" '{}'
BACKUP_ID=$(lb_json "$OUT/backup.json" '.id // empty')
DATA_KEY=$(lb_json "$OUT/backup.json" '.metadata.key // empty')
[[ -n "$BACKUP_ID" && -n "$DATA_KEY" ]] || lb_die "the backup answer has no id or metadata.key (see $OUT/backup.json)"
[[ "$(lb_json "$OUT/backup.json" .status)" == COMPLETED ]] || lb_die "backup $BACKUP_ID is not COMPLETED"
lb_info "$(lb_json "$OUT/backup.json" '"\(.id): \(.metadata.rawSizeBytes) bytes of dump, \(.metadata.storedSizeBytes) stored, \(.metadata.fingerprint | length) tables fingerprinted, \(.progress.elapsedSeconds) s"')"
DATA_FILE="$LB_STORE/$DATA_KEY"
META_FILE="$(dirname "$DATA_FILE")/metadata/$BACKUP_ID.json"
[[ -s "$DATA_FILE" ]] || lb_die "the data file is not in the store: $DATA_FILE"
[[ -s "$META_FILE" ]] || lb_die "the metadata file is not in the store: $META_FILE"
lb_info "data file:     $DATA_FILE"
lb_info "metadata file: $META_FILE"
lb_info "read it without Lifeboat: age -d -i '$LB_KEY_FILE' '$DATA_FILE' | zstd -d | head"

# ---------------------------------------------------------------------------------------------------------
step 2 "verify-service's automatic full verification of the backup"
lb_poll "$VERIFY/verifications?backupId=$BACKUP_ID" "$OUT/verifications.json" 60 \
    'any(.[]; .level == "FULL")' "verify-service did not take up the backup backup-service announced"
VERIFICATION_ID=$(lb_json "$OUT/verifications.json" '[.[] | select(.level == "FULL")][0].id')
lb_info "verification $VERIFICATION_ID; waiting for it to finish"
lb_poll_job "$VERIFY/verifications/$VERIFICATION_ID" "$OUT/verification.json" 300
lb_info "$(lb_json "$OUT/verification.json" '"\(.id) (\(.level), trigger \(.trigger)): \(.result) in \(.durationSeconds) s, \(.tablesCompared) tables compared, the scratch restore took \(.restoreSeconds) s"')"
lb_print_steps "$OUT/verification.json"
if [[ "$(lb_json "$OUT/verification.json" .result)" != PASSED ]]; then
    lb_log_tail "$OUT/verify-service.log"
    lb_die "verification $VERIFICATION_ID did not pass: $(lb_json "$OUT/verification.json" '.error // "no error given"')"
fi

# ---------------------------------------------------------------------------------------------------------
step 3 "the DR status"
lb_call 200 GET "$VERIFY/status" "$OUT/status.json"
lb_json "$OUT/status.json" '"overall: \(.status)", (.databases[] |
    "\(.database): \(.status); newest backup \(.lastBackup.id // "none") (\(.lastBackup.ageSeconds // "-") s old), proven restorable: \(.lastVerifiedBackup.id // "none")",
    "  RPO now \(.rpo.currentSeconds // "-") s (objective \(.rpo.objectiveSeconds) s); restore measured \(.rto.measuredSeconds // "-") s (RTO objective \(.rto.objectiveSeconds) s); size anomaly: \(.sizeAnomaly.flagged)",
    (.findings[]? | "  \(.severity): \(.message)"))' | sed 's/^/    /'
STATUS=$(lb_json "$OUT/status.json" .status)
[[ "$STATUS" == OK ]] || lb_die "the DR status is $STATUS, not OK, right after a verified backup (see $OUT/status.json)"

# ---------------------------------------------------------------------------------------------------------
step 4 "a restore into the scratch target, and its drop"
lb_call 201 POST "$RESTORES?wait=true" "$OUT/restore-scratch.json" "{\"backupId\": \"$BACKUP_ID\", \"target\": \"scratch\"}"
lb_print_steps "$OUT/restore-scratch.json"
RESTORE_ID=$(lb_json "$OUT/restore-scratch.json" '.id // empty')
SCRATCH_DB=$(lb_json "$OUT/restore-scratch.json" '.database // empty')
[[ "$(lb_json "$OUT/restore-scratch.json" .status)" == COMPLETED && -n "$SCRATCH_DB" ]] \
    || lb_die "restore $RESTORE_ID did not complete into a scratch database (see $OUT/restore-scratch.json)"
SHOP_ROWS=$(lb_shop_counts "$LB_DB_NAME")
SCRATCH_ROWS=$(lb_shop_counts "$SCRATCH_DB")
lb_info "$LB_DB_NAME:  $SHOP_ROWS"
lb_info "$SCRATCH_DB: $SCRATCH_ROWS"
[[ "$SCRATCH_ROWS" == "$SHOP_ROWS" ]] || lb_die "the scratch restore $SCRATCH_DB does not hold shop's rows"
lb_call 204 DELETE "$RESTORES/$RESTORE_ID/database" "$OUT/drop-scratch.json"
[[ -z "$(lb_psql -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$SCRATCH_DB'")" ]] \
    || lb_die "$SCRATCH_DB still exists after DELETE /api/v1/restores/$RESTORE_ID/database"
lb_info "dropped $SCRATCH_DB (DELETE /api/v1/restores/$RESTORE_ID/database)"

# ---------------------------------------------------------------------------------------------------------
step 5 "rows deleted in '$LB_DB_NAME', then an in-place restore into the primary target"
lb_psql -d "$LB_DB_NAME" -c "DELETE FROM order_items WHERE quantity > 2"
DAMAGED_ROWS=$(lb_shop_counts "$LB_DB_NAME")
lb_info "after the delete: $DAMAGED_ROWS"
[[ "$DAMAGED_ROWS" != "$SHOP_ROWS" ]] || lb_die "deleting rows in $LB_DB_NAME changed nothing"
lb_call 201 POST "$RESTORES?wait=true" "$OUT/restore-primary.json" "{\"backupId\": \"$BACKUP_ID\", \"target\": \"primary\"}"
lb_print_steps "$OUT/restore-primary.json"
[[ "$(lb_json "$OUT/restore-primary.json" .status)" == COMPLETED ]] \
    || lb_die "the in-place restore did not complete (see $OUT/restore-primary.json)"
SAFETY_ID=$(lb_json "$OUT/restore-primary.json" '.safetyBackupId // empty')
[[ -n "$SAFETY_ID" ]] || lb_die "the in-place restore took no safety backup first"
lb_call 200 GET "$BACKUPS/$SAFETY_ID" "$OUT/safety-backup.json"
[[ "$(lb_json "$OUT/safety-backup.json" '"\(.status) \(.trigger)"')" == "COMPLETED PRE_RESTORE" ]] \
    || lb_die "safety backup $SAFETY_ID is not a completed PRE_RESTORE backup (see $OUT/safety-backup.json)"
lb_info "safety backup first: $SAFETY_ID"

# ---------------------------------------------------------------------------------------------------------
step 6 "the deleted rows are back"
RESTORED_ROWS=$(lb_shop_counts "$LB_DB_NAME")
lb_info "after the restore: $RESTORED_ROWS"
[[ "$RESTORED_ROWS" == "$SHOP_ROWS" ]] || lb_die "the restore did not bring the rows back: $RESTORED_ROWS, expected $SHOP_ROWS"

LB_STEP=""
lb_say "Walkthrough passed: all $STEPS steps checked (answers kept in $OUT)"
