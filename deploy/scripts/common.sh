# deploy/scripts/common.sh — what the operator scripts share; sourced by them, not run by itself.
# shellcheck shell=bash disable=SC2016,SC2034  # jq programs in single quotes are literal; the scripts read the globals
#
# The scripts are thin clients of the three services' HTTP APIs: curl for the calls, jq for the JSON. This file
# holds the connection options, the token handling (the token goes to curl in a 0600 header file, never on a
# command line), one way to call the API and to report its problem+json errors, and the loop that follows a
# running job (a backup, a restore, a verification) until it ends, printing its progress on stderr.
#
# Exit status of every script: 0 success, 1 failure (the job failed, the API refused, a service unreachable),
# 2 bad usage; dr-status.sh adds 3 (AT_RISK) and 4 (BREACHED).

LB_SCRIPT=${0##*/}
LB_BACKUP_URL=${LIFEBOAT_BACKUP_URL:-http://127.0.0.1:8081}
LB_RESTORE_URL=${LIFEBOAT_RESTORE_URL:-http://127.0.0.1:8082}
LB_VERIFY_URL=${LIFEBOAT_VERIFY_URL:-http://127.0.0.1:8083}
LB_TOKEN_FILE=${LIFEBOAT_TOKEN_FILE:-}
LB_POLL_SECONDS=${LIFEBOAT_POLL_SECONDS:-2}
LB_JSON=0        # --json: print the API's final JSON document on stdout instead of a summary
LB_WAIT=1        # --no-wait: start a job and return
LB_TIMEOUT=0     # --timeout SECONDS: stop waiting for a job after this long; 0 = as long as it runs
LB_SHIFT=1
LB_MAX_POSITIONAL=0  # how many plain arguments (not options) the script takes; they land in LB_POSITIONAL
LB_POSITIONAL=()
LB_TMP=""
LB_BODY=""
LB_STATUS=""
LB_WATCHING=""   # the job being followed, named when the script is interrupted (the job goes on)

# jq functions the scripts use: sizes, durations, times to the second, aligned tables, a job's steps, whether
# a backup or restore job runs, succeeded or failed.
LB_JQ_LIB='
def size: if . == null then "-"
  elif . >= 1073741824 then "\(. / 107374182.4 | floor / 10) GiB"
  elif . >= 1048576 then "\(. / 104857.6 | floor / 10) MiB"
  elif . >= 1024 then "\(. / 102.4 | floor / 10) KiB"
  else "\(.) B" end;
def dur: if . == null then "-" else (floor as $s
  | if . < 60 then "\(. * 10 | floor / 10)s"
    elif $s % 3600 == 0 then "\($s / 3600)h"
    elif $s >= 3600 then "\($s / 3600 | floor)h\($s % 3600 / 60 | floor)m"
    elif $s % 60 == 0 then "\($s / 60)m"
    else "\($s / 60 | floor)m\($s % 60)s" end) end;
def table: map(map(if . == null then "-" else tostring end)) as $rows
  | [range(0; $rows[0] | length) as $i | $rows | map(.[$i] | length) | max] as $w
  | $rows[] | [range(0; length) as $i | .[$i] + (if $i < length - 1 then " " * ($w[$i] - (.[$i] | length) + 2) else "" end)]
  | join("");
def ts: if . == null then "-" else .[0:19] + "Z" end;
def job_state: if .status == "COMPLETED" then "ok" elif .status == "FAILED" then "failed" else "running" end;
def steps: [["STEP", "STATUS", "SECONDS", "DETAIL"]] + ((.steps // []) | map([.name, .status, .seconds, .detail]))
  | table | "  " + .;
'

lb_die() {
    printf '%s: error: %s\n' "$LB_SCRIPT" "$*" >&2
    exit 1
}

lb_usage_error() {
    printf '%s: %s (try --help)\n' "$LB_SCRIPT" "$*" >&2
    exit 2
}

# A progress line on stderr, with the time.
lb_progress() {
    printf '  %(%H:%M:%S)T  %s\n' -1 "$*" >&2
}

# --help: the calling script's header comment, then the options every script takes.
lb_help() {
    sed -n '2,/^[^#]/{/^#/!d; s/^# \{0,1\}//; p}' "$0"
    cat <<EOF

Connection (every script; flags override the environment):
  --backup-url URL    backup-service API  (LIFEBOAT_BACKUP_URL,  default http://127.0.0.1:8081)
  --restore-url URL   restore-service API (LIFEBOAT_RESTORE_URL, default http://127.0.0.1:8082)
  --verify-url URL    verify-service API  (LIFEBOAT_VERIFY_URL,  default http://127.0.0.1:8083)
  --token-file FILE   file holding the API token (LIFEBOAT_TOKEN_FILE); or the token itself in LIFEBOAT_TOKEN.
                      Never pass a token on the command line.
Output:
  --json              print the API's JSON answer on stdout instead of the summary
  --timeout SECONDS   scripts that wait for a job: stop waiting after this long (the job goes on); default: as
                      long as it runs. Progress is polled every LIFEBOAT_POLL_SECONDS (default 2), shown on stderr
  -h, --help          this text
Exit status: 0 success; 1 failure (job failed, API error, service unreachable); 2 bad usage.
Needs curl (7.55 or newer) and jq.
EOF
}

# lb_need_value OPTION [VALUE...]: an option's value must follow it.
lb_need_value() {
    [[ $# -ge 2 && -n $2 ]] || lb_usage_error "$1 needs a value"
}

# lb_common_arg ARGS...: takes one of the options every script knows, or a plain argument (up to
# LB_MAX_POSITIONAL of them, into LB_POSITIONAL); LB_SHIFT = how many words it used.
lb_common_arg() {
    LB_SHIFT=1
    case $1 in
        --backup-url)  lb_need_value "$@"; LB_BACKUP_URL=$2; LB_SHIFT=2 ;;
        --restore-url) lb_need_value "$@"; LB_RESTORE_URL=$2; LB_SHIFT=2 ;;
        --verify-url)  lb_need_value "$@"; LB_VERIFY_URL=$2; LB_SHIFT=2 ;;
        --token-file)  lb_need_value "$@"; LB_TOKEN_FILE=$2; LB_SHIFT=2 ;;
        --timeout)
            lb_need_value "$@"
            [[ $2 =~ ^[0-9]+$ ]] || lb_usage_error "--timeout takes whole seconds, got '$2'"
            LB_TIMEOUT=$2; LB_SHIFT=2 ;;
        --json)        LB_JSON=1 ;;
        -h|--help)     lb_help; exit 0 ;;
        -*)            lb_usage_error "unknown option '$1'" ;;
        *)
            (( ${#LB_POSITIONAL[@]} < LB_MAX_POSITIONAL )) || lb_usage_error "unexpected argument '$1'"
            LB_POSITIONAL+=("$1") ;;
    esac
}

lb_cleanup() {
    local status=$?
    if [[ -n $LB_WATCHING ]]; then
        printf '%s: stopped waiting; the job goes on on the server: %s\n' "$LB_SCRIPT" "$LB_WATCHING" >&2
    fi
    [[ -n $LB_TMP ]] && rm -rf -- "$LB_TMP"
    return "$status"
}

# lb_start: checks the tools, reads the token and writes it as a curl header file (0600, in a 0700 folder that
# the EXIT trap removes). Call once, after the arguments are parsed.
lb_start() {
    local tool token
    for tool in curl jq; do
        command -v "$tool" >/dev/null 2>&1 \
            || lb_die "'$tool' is needed and not installed (Debian/Ubuntu: apt-get install $tool; macOS: brew install $tool)"
    done
    [[ $LB_POLL_SECONDS =~ ^[1-9][0-9]*$ ]] || lb_die "LIFEBOAT_POLL_SECONDS must be a whole number of seconds ≥ 1"
    if [[ -n $LB_TOKEN_FILE ]]; then
        [[ -f $LB_TOKEN_FILE && -r $LB_TOKEN_FILE ]] \
            || lb_die "cannot read the token file '$LB_TOKEN_FILE' (--token-file / LIFEBOAT_TOKEN_FILE)"
        token=$(<"$LB_TOKEN_FILE")
    elif [[ -n ${LIFEBOAT_TOKEN:-} ]]; then
        token=$LIFEBOAT_TOKEN
    else
        lb_die "no API token: set LIFEBOAT_TOKEN_FILE to a file holding it (or pass --token-file FILE), or put it in LIFEBOAT_TOKEN"
    fi
    token=${token//[$' \t\r\n']/}
    [[ -n $token ]] || lb_die "the API token is empty (${LB_TOKEN_FILE:-LIFEBOAT_TOKEN})"
    [[ $token =~ ^[[:graph:]]+$ ]] || lb_die "the API token holds characters a token cannot have (${LB_TOKEN_FILE:-LIFEBOAT_TOKEN})"

    LB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-ops.XXXXXX")
    trap lb_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    (umask 077 && printf 'Authorization: Bearer %s\n' "$token" >"$LB_TMP/auth")
    LB_BODY="$LB_TMP/body.json"
}

# lb_call METHOD URL [JSON]: one API call. LB_STATUS = the HTTP status, the answer is in the file $LB_BODY.
lb_call() {
    local method=$1 url=$2 args
    args=(-sS -o "$LB_BODY" -w '%{http_code}' -X "$method" -H "@$LB_TMP/auth" -H 'Accept: application/json'
          --connect-timeout 10 --max-time 120)
    if [[ $# -ge 3 ]]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$3")
    fi
    : >"$LB_BODY"
    if ! LB_STATUS=$(curl "${args[@]}" -- "$url" 2>"$LB_TMP/curl.err"); then
        lb_die "cannot reach ${url%%\?*}: $(head -c 300 "$LB_TMP/curl.err")
  Is the service running and is the URL right? Locally: deploy/local/run.sh serves :8081 (backup), :8082
  (restore), :8083 (verify). In a cluster: kubectl port-forward to the service, then --backup-url/--restore-url/
  --verify-url or LIFEBOAT_BACKUP_URL/LIFEBOAT_RESTORE_URL/LIFEBOAT_VERIFY_URL (see --help)."
    fi
}

# lb_query NAME VALUE [NAME VALUE]...: a URL query ("?a=1&b=2", values URL-encoded; empty values left out).
lb_query() {
    jq -rn '$ARGS.positional | [range(0; length; 2) as $i | select(.[$i + 1] != "") | "\(.[$i])=\(.[$i + 1] | @uri)"]
        | if length > 0 then "?" + join("&") else "" end' --args "$@"
}

# lb_problem: one line saying why the last call failed, from the problem+json body (detail) when there is one.
lb_problem() {
    local detail
    detail=$(jq -r 'if type == "object" then (.detail // .title // empty) else empty end' "$LB_BODY" 2>/dev/null || true)
    [[ -n $detail ]] || detail=$(head -c 300 "$LB_BODY" | tr -d '\r\n' || true)
    case $LB_STATUS in
        401) echo "HTTP 401 unauthorized: the API token was not accepted (check LIFEBOAT_TOKEN_FILE / LIFEBOAT_TOKEN)${detail:+: $detail}" ;;
        403) echo "HTTP 403 forbidden: this token's role may not do that${detail:+: $detail}" ;;
        *)   echo "HTTP $LB_STATUS${detail:+: $detail}" ;;
    esac
}

# lb_expect CODE...: fails the script with the server's reason unless the last call answered one of CODE.
lb_expect() {
    local code
    for code in "$@"; do
        [[ $LB_STATUS == "$code" ]] && return 0
    done
    lb_die "$(lb_problem)"
}

# lb_jq FILTER [FILE]: jq -r with the functions above, on FILE (default: the last answer).
lb_jq() {
    jq -r "$LB_JQ_LIB $1" "${2:-$LB_BODY}"
}

# lb_output SUMMARY_FILTER: prints the last answer, as JSON with --json, else the summary.
lb_output() {
    if (( LB_JSON )); then
        jq . "$LB_BODY"
    else
        lb_jq "$1"
    fi
}

# lb_failed_job [FILTER]: shows a failed job before the script dies: its JSON on stdout with --json, else what
# FILTER makes of it (e.g. its steps) on stderr.
lb_failed_job() {
    if (( LB_JSON )); then
        jq . "$LB_BODY"
    elif [[ $# -gt 0 ]]; then
        lb_jq "$1" >&2
    fi
}

# lb_job BASE_URL PATH JSON PROGRESS STATE: starts a job (POST BASE_URL/PATH, 202) and follows it at
# BASE_URL/PATH/<id> until it ends, unless --no-wait. PROGRESS is a jq filter giving one progress line, STATE
# one giving "running", "ok" or "failed". Returns 0 when it ended ok (or was only started), 1 when it failed;
# the job's last state is in $LB_BODY.
lb_job() {
    local base=$1 path=$2 body=$3 progress=$4 state=$5 id url line last="" printed=0 started=$SECONDS now
    lb_call POST "$base$path" "$body"
    lb_expect 202
    id=$(lb_jq '.id // empty')
    [[ -n $id ]] || lb_die "the answer of POST $base$path has no job id"
    url="$base$path/$id"
    (( LB_WAIT )) || return 0
    LB_WATCHING=$url
    while :; do
        lb_call GET "$url"
        if [[ $LB_STATUS == 404 ]]; then
            LB_WATCHING=""
            lb_die "job $id is not known any more at $url (did the service restart?): $(lb_problem)"
        fi
        lb_expect 200
        line=$(lb_jq "$progress")
        now=$SECONDS
        if [[ $line != "$last" ]] || (( now - printed >= 10 )); then
            lb_progress "$line"
            last=$line
            printed=$now
        fi
        case $(lb_jq "$state") in
            ok)     LB_WATCHING=""; return 0 ;;
            failed) LB_WATCHING=""; return 1 ;;
        esac
        if (( LB_TIMEOUT > 0 && now - started >= LB_TIMEOUT )); then
            lb_die "job $id still running after ${LB_TIMEOUT}s; stopped waiting (see --timeout)"
        fi
        sleep "$LB_POLL_SECONDS"
    done
}
