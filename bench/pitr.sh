#!/usr/bin/env bash
# bench/pitr.sh — point-in-time recovery of the bench database, in ONE run: the base backup (Lifeboat's next to a
# bare pg_basebackup | zstd), the WAL archive under a pgbench load (MiB/s of WAL the server writes and Lifeboat
# archives, and how far the archive lags: the slot's retained bytes, the age of the newest archived WAL,
# pitr.rpoSeconds of verify-service's status), and a restore to a point in time into a scratch database (its steps
# FETCH_BASE, REPLAY_WAL, DUMP_LOAD and the WAL replayed), checked against the source. Prints one table. Builds nothing.
#
# Usage: bench/pitr.sh             a throwaway PostgreSQL loaded with bench/bench-data.sql at its default 2,000,000
#                                  rows, then pgbench's tables (pgbench -i) in the same database
#        bench/pitr.sh --rows N    the same at N rows (--rows 2000 with BENCH_PGBENCH_SCALE=1 and
#                                  BENCH_PGBENCH_SECONDS=10: a check that it works)
#   BENCH_PGBENCH_SCALE     pgbench -i -s N (default 10: 1,000,000 accounts)
#   BENCH_PGBENCH_SECONDS   pgbench -c 4 -T N (default 60)
#   BENCH_PARTIAL_INTERVAL  lifeboat.databases.main.pitr.partial-interval (default the service's, 60s)
#   LIFEBOAT_JARS_FROM, BENCH_JAVA_OPTS, BENCH_JFR_DIR, LIFEBOAT_PORT_BASE  as for bench/compare.sh
# Only on its own throwaway cluster (no --database): it changes the server's settings for PITR
# (max_slot_wal_keep_size, a `host replication` line) and writes pgbench's tables. As root the services run as the
# postgres user (restore-service's private PostgreSQL refuses root). Needs what bench/compare.sh needs, pgbench (with
# the server programs), and disk for the cluster about three times over (base backups, archived WAL, the restore).
set -euo pipefail

LB_NAME=pitr.sh
# shellcheck source=bench/bench-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
for arg in "$@"; do
    if [[ "$arg" == --database ]]; then
        echo "$LB_NAME: --database is not supported: it runs only on its own throwaway cluster (see --help)" >&2
        exit 2
    fi
    if [[ "$arg" == --repeat ]]; then
        echo "$LB_NAME: --repeat is bench/compare.sh's; this benchmark runs once (see --help)" >&2
        exit 2
    fi
done
scale=${BENCH_PGBENCH_SCALE:-10} seconds=${BENCH_PGBENCH_SECONDS:-60} partial=${BENCH_PARTIAL_INTERVAL:-}
if ! [[ "$scale" =~ ^[1-9][0-9]*$ && "$seconds" =~ ^[1-9][0-9]*$ && ( -z "$partial" || "$partial" =~ ^[1-9][0-9]*(ms|s|m)$ ) ]]; then
    echo "$LB_NAME: BENCH_PGBENCH_SCALE and BENCH_PGBENCH_SECONDS are positive numbers, BENCH_PARTIAL_INTERVAL a duration like 60s" >&2
    exit 2
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
bench_setup "$@"
[[ -x "$LB_PG_BIN/pgbench" ]] || lb_die "pgbench is missing from $LB_PG_BIN ('apt-get install postgresql' brings it)"
if (( EUID == 0 )); then lb_require setpriv; fi

label=main slot=lifeboat_bench
lb_info "services: $(lb_jar backup-service | sed 's|/backup-service/target/.*||') ($(git -C "${BENCH_JARS_FROM:-$LB_REPO}" \
    rev-parse --short HEAD 2>/dev/null || echo '?')), JVM options: ${BENCH_JVM[*]:-(none)}; load average at start $load_start"

# One row of the server's WAL position, as SQL: epoch seconds, bytes of WAL written so far, bytes the slot retains (the archive's lag; -1: no slot).
pos_sql="SELECT extract(epoch FROM clock_timestamp()), pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'),
    coalesce((SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = '$slot'), -1)"
position() { lb_psql -At -F' ' -d postgres -c "$pos_sql"; }
# Prints the value of backup-service's metric NAME for the database (3 decimals), empty if it has none (yet).
metric() {
    curl -fsS --max-time 5 "http://127.0.0.1:${LB_MGMT_PORT[backup-service]}/q/metrics" 2>/dev/null |
        awk -v m="$1{" -v d="database=\"$label\"" 'index($0, m) == 1 && index($0, d) { printf "%.3f\n", $2; exit }' || true
}
# Prints pitr.<FIELD> of the database in verify-service's status, empty if none (an answer file per call: the sampler asks too).
status_pitr() {
    local out="$LB_WORK/status.$BASHPID.json"
    if [[ "$(lb_http GET "$(lb_url verify-service)/api/v1/status" "$out")" == 200 ]]; then
        jq -r --arg l "$label" ".databases[]? | select(.database == \$l) | .pitr.$1 // empty" "$out" 2>/dev/null || true
    fi
    rm -f "$out"
}
epoch_of() { date -d "$1" +%s.%N; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

lb_say "1/5 The cluster for PITR, pgbench's tables"
lb_psql -d postgres -c "ALTER SYSTEM SET max_slot_wal_keep_size = '10GB'" -c "SELECT pg_reload_conf()" >/dev/null
if [[ "$(lb_psql -At -d postgres -c "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host' AND 'replication' = ANY(database)")" == 0 ]]; then
    echo "host replication $LB_PG_USER 127.0.0.1/32 scram-sha-256" >>"$(lb_psql -At -d postgres -c "SHOW hba_file")"
    lb_psql -d postgres -c "SELECT pg_reload_conf()" >/dev/null
fi
lb_info "$(lb_psql -At -d postgres -c "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
    WHERE name IN ('wal_level', 'max_wal_senders', 'max_replication_slots', 'max_slot_wal_keep_size', 'wal_segment_size', 'server_version')")"
segment=$(lb_psql -At -d postgres -c "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'")
bench_time lb_pg_run pgbench -i -q -s "$scale" "$BENCH_DB" >"$LB_WORK/logs/pgbench-init.log" 2>&1 \
    || { lb_log_tail "$LB_WORK/logs/pgbench-init.log"; lb_die "pgbench -i failed (log tail above)"; }
lb_info "pgbench -i -s $scale in $BENCH_DB: $BENCH_ELAPSED s; cluster $(lb_psql -At -d postgres -c "SELECT pg_size_pretty(sum(pg_database_size(datname))) FROM pg_database")"

lb_say "2/5 Base backups: bare pg_basebackup | zstd, then Lifeboat's"
bench_time bench_basebackup "$LB_WORK/base.tar.zst" 2>"$LB_WORK/logs/basebackup.err" \
    || lb_die "pg_basebackup failed: $(head -c 300 "$LB_WORK/logs/basebackup.err")"
phys_s=$BENCH_ELAPSED phys_b=$(stat -c %s "$LB_WORK/base.tar.zst")
rm -f "$LB_WORK/base.tar.zst"
lb_info "pg_basebackup -Ft -X none -c fast | zstd -$BENCH_ZSTD_LEVEL -T2: $phys_s s, $(mib "$phys_b") MiB"
pitr_props() {
    bench_props "$1"
    case $1 in
        backup-service)
            echo "lifeboat.databases.$label.pitr.enabled=true"
            echo "lifeboat.databases.$label.pitr.user=$LB_PG_USER"
            echo "lifeboat.databases.$label.pitr.password-file=$LB_PG_PASSWORD_FILE"
            echo "lifeboat.databases.$label.pitr.base-schedule=off"
            echo "lifeboat.databases.$label.pitr.slot=$slot"
            if [[ -n "$partial" ]]; then echo "lifeboat.databases.$label.pitr.partial-interval=$partial"; fi
            echo "lifeboat.pitr.spool-dir=$LB_WORK/wal-spool" ;;
        restore-service)
            echo "lifeboat.restore.pitr.spool-dir=$LB_WORK/pitr-spool"
            echo "lifeboat.restore.pitr.superuser=$LB_PG_USER"
            echo "lifeboat.restore.pitr.prefetch=2"
            echo "lifeboat.restore.pitr.replay-timeout=2h" ;;
        verify-service)
            echo "lifeboat.databases.$label.database=$BENCH_DB"
            echo "lifeboat.databases.$label.pitr.enabled=true" ;;
    esac
}
for name in "${LB_SERVICES[@]}"; do pitr_props "$name" | lb_write_config "$name"; done
mkdir -m 700 -p "$LB_WORK/wal-spool" "$LB_WORK/pitr-spool"
if (( EUID == 0 )); then
    # the services run as postgres: the work folder (store, keys, token, configs, spools), the cluster's
    # password file and the JFR folder become its
    LB_SERVICE_USER=postgres
    chown -R postgres: "$LB_WORK" "$(dirname "$LB_PG_PASSWORD_FILE")"
    if [[ -n "${BENCH_JFR_DIR:-}" ]]; then mkdir -p "$BENCH_JFR_DIR" && chown postgres: "$BENCH_JFR_DIR"; fi
fi
for name in "${LB_SERVICES[@]}"; do bench_start "$name"; done
deadline=$(( SECONDS + 120 ))
until [[ "$(metric lifeboat_wal_receiver_up)" == 1.000 ]]; do
    if (( SECONDS >= deadline )); then
        lb_log_tail "$LB_WORK/logs/backup-service.log"
        lb_die "the WAL receiver of '$label' was not up within 120 s (log tail above)"
    fi
    sleep 1
done
lb_info "WAL receiver up (slot $slot)"
bench_timed_post "$(lb_url backup-service)/api/v1/backups?wait=true" "{\"database\": \"$label\", \"kind\": \"base\"}" \
    "$LB_WORK/base.json"
base_s=$BENCH_ELAPSED
read -r base_id base_raw base_stored base_start \
    <<<"$(lb_json "$LB_WORK/base.json" '.base | "\(.id) \(.rawSizeBytes) \(.storedSizeBytes) \(.startLsn)"')"
lb_info "Lifeboat base backup: $base_s s, $(mib "$base_raw") MiB of tar, $(mib "$base_stored") MiB stored ($base_id,"\
" start LSN $base_start)"

lb_say "3/5 WAL archive under pgbench -c 4 -T $seconds"
# Writes a line a second into samples.txt until sampler.stop exists: the server's WAL position and the slot's lag,
# the archived segments, when WAL was last archived; every 5th line pitr.rpoSeconds, else "-".
sampler() {
    local i=0 rpo
    while [[ ! -e "$LB_WORK/sampler.stop" ]]; do
        rpo=-
        if (( i % 5 == 0 )); then rpo=$(status_pitr rpoSeconds); fi
        echo "$(position 2>/dev/null || echo '- - -') $(metric lifeboat_wal_archived_segments_total)" \
            "$(metric lifeboat_wal_last_archived_timestamp_seconds) ${rpo:--}"
        i=$(( i + 1 ))
        sleep 1
    done >"$LB_WORK/samples.txt"
}
sampler &
sampler_pid=$!
stop_sampler() { touch "$LB_WORK/sampler.stop"; wait "$sampler_pid" 2>/dev/null || true; }
LB_CLEANUP_HOOKS=(stop_sampler "${LB_CLEANUP_HOOKS[@]}")
read -r t0 w0 _ <<<"$(position)"
seg0=$(metric lifeboat_wal_archived_segments_total) seg0=${seg0:-0}
lb_pg_run pgbench -c 4 -T "$seconds" "$BENCH_DB" >"$LB_WORK/logs/pgbench.log" 2>&1 \
    || { lb_log_tail "$LB_WORK/logs/pgbench.log"; lb_die "pgbench failed (log tail above)"; }
read -r t1 w1 lag1 <<<"$(position)"
seg1=$(metric lifeboat_wal_archived_segments_total) seg1=${seg1:-0}
# the instant restored to: right after the load, from the server's clock; and what the restore must bring back
target=$(lb_psql -At -d postgres -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
expect=$(lb_psql -At -d "$BENCH_DB" -c "SELECT count(*) || ' ' || coalesce(sum(delta), 0) FROM pgbench_history")
tps=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$LB_WORK/logs/pgbench.log" | head -n1)
lb_info "pgbench: $tps tps; $(mib $(( ${w1%.*} - ${w0%.*} ))) MiB of WAL; the slot retains $(mib "${lag1%.*}") MiB at its end;"\
" restore target $target"
# caught up: every segment complete at the load's end archived (the slot is moved past a segment once it is stored)
last_full=$(( ${w1%.*} / segment * segment ))
deadline=$(( SECONDS + 900 ))
while :; do
    read -r tc wc lagc <<<"$(position)"
    (( ${lagc%.*} >= 0 && ${wc%.*} - ${lagc%.*} >= last_full )) && break
    (( SECONDS < deadline )) || lb_die "the WAL archive did not catch up within 900 s of the load's end (the slot retains $(mib "${lagc%.*}") MiB)"
    sleep 1
done
segc=$(metric lifeboat_wal_archived_segments_total) segc=${segc:-0}
# the target reachable: the archive's newest recoverable instant (a partial snapshot after the next heartbeat) is past it
deadline=$(( SECONDS + 600 ))
while :; do
    newest=$(status_pitr newestRecoverable)
    if [[ -n "$newest" ]] && awk -v a="$(epoch_of "$newest")" -v b="$(epoch_of "$target")" 'BEGIN { exit !(a >= b) }'; then
        break
    fi
    (( SECONDS < deadline )) || lb_die "verify-service's newestRecoverable ($newest) did not reach $target within 600 s"
    sleep 1
done
read -r tr _ <<<"$(position)"
stop_sampler
rpo_end=$(status_pitr rpoSeconds)
# the archive's rates: complete segments (of $segment bytes) archived while pgbench ran, and until it had caught up
read -r gen_rate arch_rate catch_rate <<<"$(awk -v t0="$t0" -v t1="$t1" -v tc="$tc" -v w0="$w0" -v w1="$w1" \
    -v s0="$seg0" -v s1="$seg1" -v sc="$segc" -v seg="$segment" 'BEGIN { m = 1048576
        printf "%.1f %.1f %.1f", (w1 - w0) / (t1 - t0) / m, (s1 - s0) * seg / (t1 - t0) / m, (sc - s0) * seg / (tc - t0) / m }')"
read -r lag_max age_max rpo_max <<<"$(awk -v t0="$t0" -v t1="$t1" '$1 != "-" && $1 >= t0 && $1 <= t1 {
        if ($3 > lag) lag = $3; if ($5 != "" && $1 - $5 > age) age = $1 - $5; if ($6 != "-" && $6 > rpo) rpo = $6 }
    END { printf "%.1f %.1f %s", lag / 1048576, age, (rpo == "" ? "-" : rpo) }' "$LB_WORK/samples.txt")"
catch_s=$(awk -v a="$t1" -v b="$tc" 'BEGIN { printf "%.1f", b - a }')
reach_s=$(awk -v a="$t1" -v b="$tr" 'BEGIN { printf "%.1f", b - a }')
lb_info "WAL written $gen_rate MiB/s, archived $arch_rate MiB/s during the load, $catch_rate MiB/s until caught up $catch_s s"\
" after it; the target reachable after $reach_s s"

lb_say "4/5 Restore to $target into a scratch database"
bench_timed_post "$(lb_url restore-service)/api/v1/restores?wait=true" \
    "{\"database\": \"$label\", \"pointInTime\": \"$target\", \"target\": \"scratch\"}" "$LB_WORK/pitr.json"
pitr_s=$BENCH_ELAPSED
bench_steps "$LB_WORK/pitr.json"
[[ "$(lb_json "$LB_WORK/pitr.json" .status)" == COMPLETED ]] || lb_die "the point-in-time restore did not complete (steps above)"
step() { lb_json "$LB_WORK/pitr.json" "[.steps[]? | select(.name == \"$1\") | .seconds] | first // 0"; }
fetch_s=$(step FETCH_BASE) replay_s=$(step REPLAY_WAL) load_s=$(step DUMP_LOAD) resolve_s=$(step RESOLVE)
files=$(lb_json "$LB_WORK/pitr.json" '[.steps[]? | select(.name == "RESOLVE") | .detail] | first // ""' |
    sed -n 's/.*, \([0-9]*\) WAL file(s).*/\1/p')
# the WAL from the base backup's start LSN (hi/lo in hex) to the server's position at the load's end
replayed=$(( ${w1%.*} - ((16#${base_start%/*} << 32) + 16#${base_start#*/}) ))
scratch=$(lb_json "$LB_WORK/pitr.json" .database)
got=$(lb_psql -At -d "$scratch" -c "SELECT count(*) || ' ' || coalesce(sum(delta), 0) FROM pgbench_history")
[[ "$got" == "$expect" ]] \
    || lb_die "the restored pgbench_history ($got: rows, sum of delta) is not the source's at $target ($expect)"
lb_info "$pitr_s s; $(mib "$replayed") MiB of WAL from the base backup's start to the target ($files files);"\
" pgbench_history as at the target: $got (rows, sum of delta)"
lb_call 204 DELETE "$(lb_url restore-service)/api/v1/restores/$(lb_json "$LB_WORK/pitr.json" .id)/database" \
    "$LB_WORK/drop.json"

lb_say "5/5 Summary"
declare -A peak=()
for name in "${LB_SERVICES[@]}"; do peak[$name]=$(bench_peak_rss "${LB_PID[$name]}"); done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
lb_info "$(lb_psql -At -d "$BENCH_DB" -c "SELECT pg_size_pretty(pg_database_size(current_database()))") database"\
" ($BENCH_ROWS rows of bench data, pgbench scale $scale); $(nproc) CPUs; load average $load_start at start,"\
" $load_end at end; $(date -u +%Y-%m-%dT%H:%MZ)"
f="| %-62s | %-44s |\n"
printf "$f" "" "figure"
printf '|%s|%s|\n' "----------------------------------------------------------------" "----------------------------------------------"
printf "$f" "pg_basebackup -Ft -X none -c fast | zstd -$BENCH_ZSTD_LEVEL -T2" "$phys_s s, $(mib "$phys_b") MiB"
printf "$f" "Lifeboat base backup (kind base, ?wait=true)" "$base_s s, $(mib "$base_stored") MiB stored"
printf "$f" "WAL written by the server under pgbench -c 4 -T $seconds" "$gen_rate MiB/s ($(mib $(( ${w1%.*} - ${w0%.*} ))) MiB; ${tps:-?} tps)"
printf "$f" "WAL archived by Lifeboat during the load" "$arch_rate MiB/s ($(( ${seg1%.*} - ${seg0%.*} )) segments)"
printf "$f" "... until caught up (all complete segments)" "$catch_rate MiB/s, caught up $catch_s s after the load"
printf "$f" "archive lag during the load: WAL the slot retains, max (*)" "$lag_max MiB ($(mib "${lag1%.*}") MiB at its end)"
printf "$f" "... now - lifeboat_wal_last_archived_timestamp_seconds, max" "$age_max s"
printf "$f" "... status pitr.rpoSeconds, max (every 5 s) / after" "$rpo_max s / ${rpo_end:--} s"
printf "$f" "target instant (load's end) reachable after" "$reach_s s"
printf "$f" "point-in-time restore into a scratch database" "$pitr_s s"
printf "$f" "... RESOLVE / FETCH_BASE / REPLAY_WAL / DUMP_LOAD" "$resolve_s / $fetch_s / $replay_s / $load_s s"
replay_rate=$(awk -v b="$replayed" -v s="$replay_s" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1048576 : 0) }')
printf "$f" "... WAL replayed (base backup's start to the target)" "$(mib "$replayed") MiB, $files WAL files ($replay_rate MiB/s)"
printf "\nPeak RSS (VmHWM; after start-up in brackets): backup-service %s MiB (%s), restore-service %s MiB (%s),"\
" verify-service %s MiB (%s)\n" \
    "$(( peak[backup-service] / 1024 ))" "$(( BENCH_IDLE_RSS[backup-service] / 1024 ))" "$(( peak[restore-service] / 1024 ))" \
    "$(( BENCH_IDLE_RSS[restore-service] / 1024 ))" "$(( peak[verify-service] / 1024 ))" "$(( BENCH_IDLE_RSS[verify-service] / 1024 ))"
echo "(*) the slot moves at segment ends: up to one segment ($(mib "$segment") MiB), the one being written, is retained"\
" even with no lag"
