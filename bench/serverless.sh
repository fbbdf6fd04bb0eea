#!/usr/bin/env bash
# End-to-end serverless figures on loopback: the release handler under the release local host,
# against Azurite, as deployed (the shipped host.json, forwarding on).
#
#   1. Jobs (after creating the queue and containers the deployment creates): workers submit POST /api/jobs and poll GET /api/jobs/{id} every POLL_MS until the
#      result is there, then submit the next (e2e/examples/serverless_load.rs): jobs/s and
#      rows/s from the first submit to the last result, and submit-to-result p50/p99. Once
#      with 1-row jobs (queue message only) and once with 10,000-row jobs (claim check blob).
#   2. Invocation overhead: wrk POST /api/predict (one row, pandas JSON) straight to the
#      handler (forwarding mode, FUNCTIONS_APP_ROOT_PATH) and through the local host; the
#      overhead is the difference in p50.
# Every measurement runs RUNS times; the table quotes medians with every run beside them.
#
# Usage: bench/serverless.sh   (from anywhere; installs wrk with apt if missing)
# Env:   RUNS (3), SMALL_JOBS (500), SMALL_CONCURRENCY (32), BIG_JOBS (20), BIG_ROWS (10000),
#        BIG_CONCURRENCY (4), POLL_MS (20), JOB_TIMEOUT_S (600, per load run),
#        WRK_DURATION (10s), WRK_CONNECTIONS (16), WRK_THREADS (2),
#        KEEP_LOGS (a directory to copy the host's and the handler's logs to at exit),
#        RUST_LOG (unset: info, as `local-host start` runs, plus the host's per-invocation
#        debug line, which the stage table below reads: inputs bound, handler, outputs)
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SMALL_JOBS=${SMALL_JOBS:-500}
SMALL_CONCURRENCY=${SMALL_CONCURRENCY:-32}
BIG_JOBS=${BIG_JOBS:-20}
BIG_ROWS=${BIG_ROWS:-10000}
BIG_CONCURRENCY=${BIG_CONCURRENCY:-4}
POLL_MS=${POLL_MS:-20}
JOB_TIMEOUT_S=${JOB_TIMEOUT_S:-600}
WRK_DURATION=${WRK_DURATION:-10s}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-16}
WRK_THREADS=${WRK_THREADS:-2}
KEY=bench-function-key
LUA=bench/serverless-predict.lua
PREDICT_BODY='{"CHAS":{"0":0},"RM":{"0":6.575},"TAX":{"0":296.0},"PTRATIO":{"0":15.3},"B":{"0":396.9},"LSTAT":{"0":4.98}}'

say() { echo "serverless.sh: $*" >&2; }
die() { say "$*"; exit 1; }

if ! command -v wrk >/dev/null 2>&1; then
    say "wrk is missing: installing it with apt-get"
    if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q wrk >/dev/null
fi
command -v curl >/dev/null 2>&1 || die "curl is missing: install it (apt-get install curl)"

say "building release binaries (handler, local-host, the load example)"
cargo build --release --quiet -p house-price-functions -p local-host
cargo build --release --quiet -p e2e --example serverless_load
LOAD=target/release/examples/serverless_load
HOST_BIN=target/release/local-host

WORK=$(mktemp -d -t serverless-bench.XXXXXX)
APP=$WORK/app
HOST_PID=
HANDLER_PID=
HOST_CHILDREN=
AZURITE_STARTED=

# Stops pid $1 with SIGTERM, then SIGKILL after 10 s; waits for it.
stop_pid() {
    local pid=$1 waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid ignored SIGTERM for 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$?
    if [[ -n $HANDLER_PID ]]; then stop_pid "$HANDLER_PID"; fi
    if [[ -n $HOST_PID ]]; then stop_pid "$HOST_PID"; fi
    # The host stops its handler; make sure nothing it started outlives it.
    for child in $HOST_CHILDREN; do
        if kill -0 "$child" 2>/dev/null; then
            say "the host's child $child outlived it; stopping it"
            kill -TERM "$child" 2>/dev/null || true
        fi
    done
    if [[ -n $AZURITE_STARTED ]]; then scripts/azurite.sh stop "$AZURITE_DIR" || true; fi
    if ((status != 0)); then
        for log in "$WORK/host.log" "$WORK/handler.log"; do
            [[ -s $log ]] && { say "last lines of $log:"; tail -n 20 "$log" >&2; }
        done
    fi
    if [[ -n ${KEEP_LOGS:-} ]]; then
        mkdir -p "$KEEP_LOGS" && cp "$WORK"/*.log "$KEEP_LOGS"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "staging the release app dir in $APP"
cargo xtask app-dir --release --out "$APP" >/dev/null

exports=$(scripts/azurite.sh start)
eval "$exports"
AZURITE_STARTED=1

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local candidate
    for _ in $(seq 1 50); do
        candidate=$((20000 + RANDOM % 40000))
        if port_is_free "$candidate"; then echo "$candidate"; return; fi
    done
    die "no free port found on 127.0.0.1"
}

# POST /api/predict once; prints the body, fails unless 200.
predict_once() {
    curl -sf --max-time 5 -H 'Content-Type: application/json' -H "x-functions-key: $KEY" \
        --data-binary "$PREDICT_BODY" "$1/api/predict"
}

# Waits up to 60 s for a 200 from POST /api/predict at $1 while pid $2 lives.
wait_ready() {
    local url=$1 pid=$2 what=$3 deadline=$((SECONDS + 60))
    until predict_once "$url" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || die "$what exited during start-up"
        ((SECONDS < deadline)) || die "$what did not answer POST /api/predict within 60 s"
        sleep 0.2
    done
}

HOST_PORT=$(free_port)
HOST_URL=http://127.0.0.1:$HOST_PORT
# housekeeping's timer needs its schedule (the deployment sets it); once a day, out of the way.
AzureWebJobsStorage=$AZURITE_CONNECTION_STRING FUNCTIONS_KEY=$KEY HOUSEKEEPING_SCHEDULE="0 0 3 * * *" \
    RUST_LOG=${RUST_LOG:-info,local_host::invocation=debug} \
    "$HOST_BIN" start --app-dir "$APP" --port "$HOST_PORT" >"$WORK/host.log" 2>&1 &
HOST_PID=$!
wait_ready "$HOST_URL" "$HOST_PID" "the local host"
HOST_CHILDREN=$(pgrep -P "$HOST_PID" || true)
say "local host ready at $HOST_URL (pid $HOST_PID, handler pid(s) $HOST_CHILDREN)"

HANDLER_PORT=$(free_port)
while [[ $HANDLER_PORT == "$HOST_PORT" ]]; do HANDLER_PORT=$(free_port); done
HANDLER_URL=http://127.0.0.1:$HANDLER_PORT
env -u AzureWebJobsStorage FUNCTIONS_CUSTOMHANDLER_PORT="$HANDLER_PORT" FUNCTIONS_APP_ROOT_PATH="$APP" \
    "$APP/handler" >"$WORK/handler.log" 2>&1 &
HANDLER_PID=$!
wait_ready "$HANDLER_URL" "$HANDLER_PID" "the handler"
say "handler ready at $HANDLER_URL (pid $HANDLER_PID)"

via_host=$(predict_once "$HOST_URL")
direct=$(predict_once "$HANDLER_URL")
[[ $via_host == "$direct" ]] || die "the host and the handler answer differently: $via_host vs $direct"
say "POST /api/predict answers $direct (both ways)"

# One load run; prints its RESULT line's fields as "jobs_per_s rows_per_s p50_ms p99_ms
# submit_p50_ms waiting_p50_ms fetch_p50_ms".
jobs_run() {
    local jobs=$1 rows=$2 concurrency=$3 line
    line=$(AzureWebJobsStorage=$AZURITE_CONNECTION_STRING timeout $((JOB_TIMEOUT_S + 60)) "$LOAD" --url "$HOST_URL" --key "$KEY" \
        --jobs "$jobs" --rows "$rows" --concurrency "$concurrency" \
        --poll-ms "$POLL_MS" --timeout-s "$JOB_TIMEOUT_S") || die "the load run ($jobs jobs of $rows rows) failed"
    say "$rows-row jobs: $line"
    awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
          print v["jobs_per_s"], v["rows_per_s"], v["p50_ms"], v["p99_ms"], v["submit_p50_ms"], v["waiting_p50_ms"], v["fetch_p50_ms"]}' <<<"$line"
}

# wrk's latency in milliseconds ("850.00us", "1.23ms", "1.02s").
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v) }
        else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
        printf "%.3f\n", v }'
}

# One wrk run; prints "req_per_s p50_ms p99_ms".
wrk_run() {
    local url=$1 key=$2 out
    out=$(FUNCTIONS_KEY=$key timeout 120 wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" \
        --latency -s "$LUA" "$url/api/predict") || die "wrk against $url failed"
    if grep -q -e "Non-2xx" -e "Socket errors" <<<"$out"; then
        echo "$out" >&2
        die "errors during the wrk run against $url"
    fi
    local rps p50 p99
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    say "wrk $url: $rps req/s, p50 $p50 ms, p99 $p99 ms"
    echo "$rps $p50 $p99"
}

declare -a small_jps small_rps small_p50 small_p99 big_jps big_rps big_p50 big_p99
declare -a big_submit big_waiting big_fetch
declare -a big_submit_host big_bound big_handler big_scored big_outputs
declare -a host_rps host_p50 host_p99 direct_rps direct_p50 direct_p99 overhead_p50
for run in $(seq 1 "$RUNS"); do
    say "run $run of $RUNS"
    # Captured first, so a failed run stops the script (set -e); read would hide it.
    res=$(jobs_run "$SMALL_JOBS" 1 "$SMALL_CONCURRENCY")
    read -r a b c d <<<"$res"
    small_jps+=("$a"); small_rps+=("$b"); small_p50+=("$c"); small_p99+=("$d")
    logged=$(wc -l <"$WORK/host.log")
    res=$(jobs_run "$BIG_JOBS" "$BIG_ROWS" "$BIG_CONCURRENCY")
    read -r a b c d e f g <<<"$res"
    # The host's lines for this run's big jobs: each invocation's stages.
    tail -n +"$((logged + 1))" "$WORK/host.log" >"$WORK/big-run.log"
    stage() { sed -n "$1" "$WORK/big-run.log" | sort -g | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "?"}'; }
    big_submit_host+=("$(stage "s/.*Executed 'Functions.submit-job' (Succeeded.*Duration=\([0-9]*\)ms).*/\1/p")")
    big_bound+=("$(stage 's/.*\[score-job [^]]*\] inputs bound in \([0-9.]*\) ms.*/\1/p')")
    big_handler+=("$(stage 's/.*\[score-job [^]]*\] inputs bound.*the handler answered in \([0-9.]*\) ms.*/\1/p')")
    big_scored+=("$(stage 's/.*\[score-job [^]]*\] job .* rows, read, scored and written out in \([0-9.]*\) ms.*/\1/p')")
    big_outputs+=("$(stage 's/.*\[score-job [^]]*\] inputs bound.*outputs applied in \([0-9.]*\) ms.*/\1/p')")
    big_jps+=("$a"); big_rps+=("$b"); big_p50+=("$c"); big_p99+=("$d")
    big_submit+=("$e"); big_waiting+=("$f"); big_fetch+=("$g")
    res=$(wrk_run "$HANDLER_URL" "")
    read -r a b c <<<"$res"
    direct_rps+=("$a"); direct_p50+=("$b"); direct_p99+=("$c")
    res=$(wrk_run "$HOST_URL" "$KEY")
    read -r d e f <<<"$res"
    host_rps+=("$d"); host_p50+=("$e"); host_p99+=("$f")
    overhead_p50+=("$(awk -v h="$e" -v d="$b" 'BEGIN {printf "%.3f", h - d}')")
done

median() {
    printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1}
        END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
row() {
    local label=$1 unit=$2
    shift 2
    printf '| %s | %s | %s | %s |\n' "$label" "$(median "$@")" "$unit" "$(printf '%s, ' "$@" | sed 's/, $//')"
}

mem=$(free -h | awk '/^Mem:/ {print $2}')
echo
echo "## Serverless path, end to end (loopback, release builds, Azurite $(node_modules/.bin/azurite --version 2>/dev/null || echo '?'))"
echo
echo "Machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'), $mem RAM; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Medians of $RUNS runs (each run listed). Jobs: the shipped host.json (batchSize 16, newBatchThreshold 8, maxPollingInterval 2 s), polled every $POLL_MS ms."
echo
echo "| Measurement | Median | Unit | Runs |"
echo "|---|---:|---|---|"
row "1-row jobs ($SMALL_JOBS jobs, $SMALL_CONCURRENCY in flight): throughput" "jobs/s" "${small_jps[@]}"
row "1-row jobs: rows" "rows/s" "${small_rps[@]}"
row "1-row jobs: submit-to-result p50" "ms" "${small_p50[@]}"
row "1-row jobs: submit-to-result p99" "ms" "${small_p99[@]}"
row "$BIG_ROWS-row jobs ($BIG_JOBS jobs, $BIG_CONCURRENCY in flight): throughput" "jobs/s" "${big_jps[@]}"
row "$BIG_ROWS-row jobs: rows" "rows/s" "${big_rps[@]}"
row "$BIG_ROWS-row jobs: submit-to-result p50" "ms" "${big_p50[@]}"
row "$BIG_ROWS-row jobs: submit-to-result p99" "ms" "${big_p99[@]}"
row "$BIG_ROWS-row jobs: the submit answered, p50" "ms" "${big_submit[@]}"
row "$BIG_ROWS-row jobs: from then to the GET that finds the result, p50" "ms" "${big_waiting[@]}"
row "$BIG_ROWS-row jobs: that GET, its body read, p50" "ms" "${big_fetch[@]}"
row "$BIG_ROWS-row jobs: submit-job in the host (parse, rows blob written, message sent), median" "ms" "${big_submit_host[@]}"
row "$BIG_ROWS-row jobs: score-job's rows blob read by the host, median" "ms" "${big_bound[@]}"
row "$BIG_ROWS-row jobs: score-job's handler answer, median" "ms" "${big_handler[@]}"
row "$BIG_ROWS-row jobs: of which parse, score and render in the handler, median" "ms" "${big_scored[@]}"
row "$BIG_ROWS-row jobs: score-job's result blob written by the host, median" "ms" "${big_outputs[@]}"
row "POST /api/predict, handler direct ($WRK_CONNECTIONS conns, $WRK_DURATION): throughput" "req/s" "${direct_rps[@]}"
row "POST /api/predict, handler direct: p50" "ms" "${direct_p50[@]}"
row "POST /api/predict, handler direct: p99" "ms" "${direct_p99[@]}"
row "POST /api/predict, through the local host: throughput" "req/s" "${host_rps[@]}"
row "POST /api/predict, through the local host: p50" "ms" "${host_p50[@]}"
row "POST /api/predict, through the local host: p99" "ms" "${host_p99[@]}"
row "Local host overhead (p50 host - p50 direct, per run)" "ms" "${overhead_p50[@]}"
