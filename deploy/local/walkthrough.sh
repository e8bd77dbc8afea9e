#!/usr/bin/env bash
# deploy/local/walkthrough.sh — the checked walkthrough of the local stack, run by CI after the tests: it brings
# a stack up exactly as deploy/local/run.sh does (throwaway PostgreSQL with "shop", .lifeboat-local/, ports
# 8081-8083 and 9081-9083), then, checking every step:
#   1. takes a backup of shop (POST /api/v1/backups?wait=true) and finds its data and metadata in the store;
#   2. waits for verify-service's automatic full verification of it (backup-service announces each new
#      backup) and requires it PASSED;
#   3. requires the DR status OK (but for point-in-time recovery: no base backup yet, see step 9);
#   4. restores the backup into the "scratch" target, compares its rows with shop's, and drops the scratch
#      database through the API;
#   5. deletes rows in shop, restores the backup in place into "primary" and requires the safety backup
#      taken first;
#   6. requires the deleted rows back;
# then point-in-time recovery (the stack streams shop's WAL into the store, a snapshot every 5 s):
#   7. waits for backup-service's WAL receiver (pg_receivewal) to stream, in the status and in its metrics;
#   8. takes a base backup (POST /api/v1/backups {"kind": "base"}?wait=true);
#   9. waits for verify-service's point-in-time drill of it (backup-service announces it too): recovered with its
#      WAL to its end point by restore-service, loaded into a scratch database, every table read, amcheck, the
#      SQL check; requires it PASSED and the drill's RTO in the status;
#  10. commits rows into shop one transaction at a time, noting each commit time, picks an instant T between
#      two commits, waits until the recovery window in the status reaches past the last commit, and requires
#      the DR status OK;
#  11. restores shop as it was at T (given with a +01:00 offset: the same instant in another zone) into the
#      "scratch" target, requires exactly the rows committed before T there, and drops the scratch database
#      through the API.
# Then it stops everything, as run.sh does on Ctrl-C. A failed check stops it at once with a message naming
# the step, and exit status 1.
#
# Usage: deploy/local/walkthrough.sh [--rebuild] [--help]   (LIFEBOAT_PORT_BASE, JAVA_HOME, PG_BIN: see run.sh)
set -euo pipefail

LB_NAME=walkthrough.sh
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STEPS=11
STEP_TIMES=()
STEP_START=""
# step N TITLE: announces step N, which failures from now on name, and notes when the previous one ended.
step() {
    step_done
    LB_STEP="$1/$STEPS ($2)"
    STEP_START=$EPOCHREALTIME
    lb_say "[$1/$STEPS] $2"
}
# Notes the wall time of the step under way, if any.
step_done() {
    [[ -n "$STEP_START" ]] || return 0
    STEP_TIMES+=("${LB_STEP%% *} $(seconds_since "$STEP_START") s")
    STEP_START=""
}
# Prints the seconds since an $EPOCHREALTIME, one decimal.
seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

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
# point-in-time recovery is on but has no base backup yet (step 8 takes one): that finding alone is allowed here,
# and step 9 requires the status OK
NO_BASE_YET='[(.findings[]?, .databases[].findings[]?) | .message] | length > 0 and all(contains("point-in-time recovery: no base backup can be restored"))'
if [[ "$STATUS" == AT_RISK && "$(lb_json "$OUT/status.json" "$NO_BASE_YET")" == true ]]; then
    lb_info "AT_RISK only because point-in-time recovery has no base backup yet (step 8 takes one, step 9 requires OK)"
else
    [[ "$STATUS" == OK ]] || lb_die "the DR status is $STATUS, not OK, right after a verified backup (see $OUT/status.json)"
fi

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

# ---------------------------------------------------------------------------------------------------------
# An instant as Java prints it (2026-12-02T22:15:00.123456Z, fraction optional) in seconds since 1970 (jq).
EPOCH='def epoch: capture("^(?<s>[0-9-]+T[0-9:]+)(?<f>[.][0-9]+)?Z$") | (.s + "Z" | fromdateiso8601) + ("0" + (.f // ".0") | tonumber);'
PITR=".databases[] | select(.database == \"$LB_DB_LABEL\") | .pitr"

step 7 "backup-service's WAL receiver streams the WAL of '$LB_DB_NAME'"
lb_poll "$VERIFY/status" "$OUT/status-receiver.json" 90 "$PITR | .receiverUp == true or .available == false" \
    "the WAL receiver of $LB_DB_LABEL did not come up"
[[ "$(lb_json "$OUT/status-receiver.json" "$PITR | .available")" == true ]] \
    || lb_die "backup-service's prerequisites check refuses PITR: $(lb_json "$OUT/status-receiver.json" "$PITR | .message")"
METRICS="http://127.0.0.1:${LB_MGMT_PORT[backup-service]}/q/metrics"
RECEIVER_UP=$(curl -fsS --max-time 10 "$METRICS" | sed -n "s/^lifeboat_wal_receiver_up{database=\"$LB_DB_LABEL\"[^}]*} //p") \
    || lb_die "cannot read backup-service's metrics ($METRICS)"
[[ "$RECEIVER_UP" == 1.0 || "$RECEIVER_UP" == 1 ]] || lb_die "lifeboat_wal_receiver_up{database=\"$LB_DB_LABEL\"} is '$RECEIVER_UP', not 1 ($METRICS)"
lb_info "prerequisites check passed ($(lb_json "$OUT/status-receiver.json" "$PITR | .checkedAt")); receiver up (status receiverUp, metric lifeboat_wal_receiver_up 1)"
lb_info "replication slot: $(lb_psql -d postgres -At -c "SELECT slot_name || ', ' || pg_size_pretty(pg_current_wal_lsn() - restart_lsn) || ' of WAL held' FROM pg_replication_slots")"
lb_info "streaming: $(lb_psql -d postgres -At -c "SELECT application_name || ' (' || state || '), written to ' || write_lsn FROM pg_stat_replication WHERE application_name = 'lifeboat_$LB_DB_LABEL'")"

# ---------------------------------------------------------------------------------------------------------
step 8 "a base backup of the cluster (pg_basebackup)"
lb_call 201 POST "$BACKUPS?wait=true" "$OUT/base-backup.json" "{\"database\": \"$LB_DB_LABEL\", \"kind\": \"base\"}"
BASE_ID=$(lb_json "$OUT/base-backup.json" '.id // empty')
[[ "$(lb_json "$OUT/base-backup.json" '"\(.status) \(.kind)"')" == "COMPLETED BASE" && -n "$BASE_ID" ]] \
    || lb_die "the base backup did not complete (see $OUT/base-backup.json)"
lb_info "$(lb_json "$OUT/base-backup.json" '"\(.id): PostgreSQL \(.base.serverVersion), WAL \(.base.startLsn) to \(.base.endLsn) (timeline \(.base.timeline)), \(.base.rawSizeBytes) bytes of tar, \(.base.storedSizeBytes) stored, \(.progress.elapsedSeconds * 10 | round / 10) s"')"
BASE_FILE="$LB_STORE/$(lb_json "$OUT/base-backup.json" .base.key)"
[[ -s "$BASE_FILE" ]] || lb_die "the base backup is not in the store: $BASE_FILE"
lb_info "in the store: $BASE_FILE"

# ---------------------------------------------------------------------------------------------------------
step 9 "verify-service's point-in-time drill of the base backup"
lb_poll "$VERIFY/verifications?backupId=$BASE_ID" "$OUT/drills.json" 60 \
    'any(.[]; .level == "FULL")' "verify-service did not take up the base backup backup-service announced"
DRILL_ID=$(lb_json "$OUT/drills.json" '[.[] | select(.level == "FULL")][0].id')
lb_info "verification $DRILL_ID; waiting for it to finish"
lb_poll_job "$VERIFY/verifications/$DRILL_ID" "$OUT/drill.json" 300
lb_info "$(lb_json "$OUT/drill.json" '"\(.id) (trigger \(.trigger)): \(.result) in \(.durationSeconds) s; the restore (recovery to the end of the base backup, dump and load) took \(.restoreSeconds) s"')"
lb_print_steps "$OUT/drill.json"
if [[ "$(lb_json "$OUT/drill.json" .result)" != PASSED ]]; then
    lb_log_tail "$OUT/verify-service.log"
    lb_die "the drill $DRILL_ID of $BASE_ID did not pass: $(lb_json "$OUT/drill.json" '.error // "no error given"')"
fi
lb_call 200 GET "$VERIFY/status" "$OUT/status-drill.json"
[[ "$(lb_json "$OUT/status-drill.json" "$PITR | .lastDrill.backupId")" == "$BASE_ID" ]] \
    || lb_die "the status does not show the drill of $BASE_ID as the last one (see $OUT/status-drill.json)"
lb_info "$(lb_json "$OUT/status-drill.json" "$PITR"' | "status: last point-in-time drill \(.lastDrill.result), RTO \(.lastDrill.rtoSeconds) s"')"

# ---------------------------------------------------------------------------------------------------------
step 10 "rows committed one at a time, an instant between two commits, and the WAL archive past them"
ROWS=4 BEFORE=2
COUNTS_AT_T=""
UTC_US='YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
declare -a COMMITTED AFTER
for (( k = 1; k <= ROWS; k++ )); do
    # psql's autocommit: the INSERT is a transaction of its own; the clock is read again once it has committed
    mapfile -t line < <(lb_psql -d "$LB_DB_NAME" -At -c "INSERT INTO customers (name, note, created_at)
            VALUES ('PITR row $k', 'walkthrough step 10', clock_timestamp())
            RETURNING to_char(created_at AT TIME ZONE 'UTC', '$UTC_US')" \
        -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', '$UTC_US')")
    (( ${#line[@]} == 2 )) || lb_die "inserting row $k into $LB_DB_NAME failed"
    COMMITTED[k]=${line[0]} AFTER[k]=${line[1]}
    lb_info "row 'PITR row $k': inserted at ${COMMITTED[k]}, committed by ${AFTER[k]}"
    if (( k == BEFORE )); then COUNTS_AT_T=$(lb_shop_counts "$LB_DB_NAME"); fi
done
T_UTC=${AFTER[BEFORE]}
[[ "$(lb_psql -d postgres -At -c "SELECT timestamptz '$T_UTC' < timestamptz '${COMMITTED[BEFORE + 1]}'")" == t ]] \
    || lb_die "the instant $T_UTC is not before the insert of row $(( BEFORE + 1 )) at ${COMMITTED[BEFORE + 1]}"
# the same instant with the offset +01:00 (Central European Time), to show that the offset, not the zone, counts
T=$(lb_psql -d postgres -At -c "SELECT to_char(timestamptz '$T_UTC' AT TIME ZONE INTERVAL '+01:00', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+01:00'")
lb_info "T = $T_UTC = $T: after the commit of row $BEFORE, before row $(( BEFORE + 1 ))"
LAST=${AFTER[ROWS]}
lb_info "waiting until the status' recovery window reaches past the last commit ($LAST)"
WAIT_START=$SECONDS
lb_poll "$VERIFY/status" "$OUT/status-pitr.json" 120 \
    "$EPOCH ($PITR | .newestRecoverable // empty | epoch) > (\"$LAST\" | epoch)" \
    "the recovery window of $LB_DB_LABEL did not reach $LAST"
lb_json "$OUT/status-pitr.json" "$PITR"' | "recovery window \(.oldestRecoverable) to \(.newestRecoverable) (\(.recoverableBaseBackups) base backup(s)); RPO now \(.rpoSeconds) s; last WAL archived \(.lastArchivedAt)"' \
    | sed 's/^/    /'
lb_info "the last commit was restorable after about $(( SECONDS - WAIT_START )) s of waiting (partial-interval 5 s)"
STATUS=$(lb_json "$OUT/status-pitr.json" .status)
[[ "$STATUS" == OK ]] || lb_die "the DR status is $STATUS, not OK, with a base backup and the WAL archived (see $OUT/status-pitr.json)"
lb_info "DR status: OK"

# ---------------------------------------------------------------------------------------------------------
step 11 "'$LB_DB_NAME' as it was at $T, restored into the scratch target"
REQUEST="{\"database\": \"$LB_DB_LABEL\", \"pointInTime\": \"$T\", \"target\": \"scratch\"}"
lb_info "POST $RESTORES?wait=true $REQUEST"
RESTORE_START=$EPOCHREALTIME
lb_call 201 POST "$RESTORES?wait=true" "$OUT/restore-pitr.json" "$REQUEST"
RESTORE_WALL=$(seconds_since "$RESTORE_START")
lb_print_steps "$OUT/restore-pitr.json"
PITR_ID=$(lb_json "$OUT/restore-pitr.json" '.id // empty')
PITR_DB=$(lb_json "$OUT/restore-pitr.json" '.database // empty')
[[ "$(lb_json "$OUT/restore-pitr.json" .status)" == COMPLETED && -n "$PITR_DB" ]] \
    || lb_die "the point-in-time restore $PITR_ID did not complete into a scratch database (see $OUT/restore-pitr.json)"
lb_info "$(lb_json "$OUT/restore-pitr.json" '"\(.id): base backup \(.backupId) + WAL to '"$T"' into \(.database): \(.progress.elapsedSeconds * 10 | round / 10) s"') (the POST with ?wait=true: $RESTORE_WALL s)"
[[ "$(lb_json "$OUT/restore-pitr.json" .backupId)" == "$BASE_ID" ]] || lb_die "the restore did not use base backup $BASE_ID"
PITR_ROWS=$(lb_psql -d "$PITR_DB" -At -c "SELECT coalesce(string_agg(name, ', ' ORDER BY id), 'none') FROM customers WHERE name LIKE 'PITR row %'")
EXPECTED=""
for (( k = 1; k <= BEFORE; k++ )); do EXPECTED+="${EXPECTED:+, }PITR row $k"; done
lb_info "$PITR_DB: $PITR_ROWS"
[[ "$PITR_ROWS" == "$EXPECTED" ]] || lb_die "the restore to $T holds '$PITR_ROWS', expected exactly '$EXPECTED' (committed before T)"
SCRATCH_ROWS=$(lb_shop_counts "$PITR_DB")
lb_info "$LB_DB_NAME at T: $COUNTS_AT_T"
lb_info "$PITR_DB: $SCRATCH_ROWS"
lb_info "$LB_DB_NAME now: $(lb_shop_counts "$LB_DB_NAME")"
[[ "$SCRATCH_ROWS" == "$COUNTS_AT_T" ]] || lb_die "the restore to $T does not hold shop's rows as they were at T"
lb_call 204 DELETE "$RESTORES/$PITR_ID/database" "$OUT/drop-pitr.json"
[[ -z "$(lb_psql -d postgres -At -c "SELECT 1 FROM pg_database WHERE datname = '$PITR_DB'")" ]] \
    || lb_die "$PITR_DB still exists after DELETE /api/v1/restores/$PITR_ID/database"
lb_info "dropped $PITR_DB (DELETE /api/v1/restores/$PITR_ID/database)"

step_done
LB_STEP=""
lb_say "Step times: $(IFS=';'; echo "${STEP_TIMES[*]}" | sed 's/;/; /g')"
lb_say "Walkthrough passed: all $STEPS steps checked (answers kept in $OUT)"
