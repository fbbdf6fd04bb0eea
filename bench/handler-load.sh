#!/usr/bin/env bash
# Load test of the Functions custom handler on loopback, speaking the host's JSON protocol:
# time from exec to the first answer on GET / (the host's readiness poll), then wrk POSTing the
# `predict` invocation to /predict at 16 and 64 connections, with the handler's peak RSS and
# the stripped release binary's size.
#
# Usage: bench/handler-load.sh   (from anywhere; installs wrk with apt if missing)
# Env:   DURATION (default 10s), THREADS (default 2), CONNECTIONS (default "16 64")
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16 64}
ENVELOPE=handler/tests/data/predict_original_client_core_tools.json
LUA=bench/handler-predict.lua
BIN=target/release/handler

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is missing: installing it with apt-get" >&2
    if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q wrk >/dev/null
fi
command -v curl >/dev/null 2>&1 || { echo "curl is missing: install it (apt-get install curl)" >&2; exit 1; }

cargo build --release -p house-price-functions --quiet

# A free loopback port: nothing answers on it.
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if port_is_free "$candidate"; then PORT=$candidate; break; fi
done
[[ -n $PORT ]] || { echo "no free port found on 127.0.0.1" >&2; exit 1; }

LOG=$(mktemp -t handler-load.XXXXXX.log)
SERVER_PID=
SAMPLER_PID=
cleanup() {
    if [[ -n $SAMPLER_PID ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -f "$LOG"
}
trap cleanup EXIT

# Microseconds since the epoch without forking ($EPOCHREALTIME is bash 5).
now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }

# One readiness probe without forking: any HTTP status line counts, as for the host.
probe_ready() {
    local line
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || return 1
    printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 1 line <&3 || { exec 3>&-; return 1; }
    exec 3>&-
    [[ $line == HTTP/1.1\ * ]]
}

# Startup as the host does it: exec with the port variable, then poll GET / as fast as possible.
start=$(now_us)
env -u AzureWebJobsStorage -u MODEL_PATH FUNCTIONS_CUSTOMHANDLER_PORT="$PORT" RUST_LOG=warn \
    "$BIN" >"$LOG" 2>&1 &
SERVER_PID=$!
deadline=$((start + 5000000))
polls=0
until probe_ready 2>/dev/null; do
    polls=$((polls + 1))
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the handler exited during startup:" >&2; cat "$LOG" >&2; exit 1
    fi
    if (($(now_us) > deadline)); then echo "no answer on GET / within 5 s" >&2; exit 1; fi
done
ready_us=$(( $(now_us) - start ))
printf 'ready: first GET / answer %d.%03d ms after exec (%d refused polls before it)\n' \
    $((ready_us / 1000)) $((ready_us % 1000)) "$polls"

# The invocation must be a real prediction, not an error the host would also get as 2xx.
answer=$(curl -sf --max-time 2 -H 'Content-Type: application/json' \
    -H 'X-Azure-Functions-InvocationId: 6a1e53c2-4c1b-4f0e-9d8e-1c2b3a4d5e6f' \
    --data-binary @"$ENVELOPE" "http://127.0.0.1:$PORT/predict")
if ! grep -q '"statusCode":"200"' <<<"$answer" || ! grep -q 'prediction' <<<"$answer"; then
    echo "the predict invocation did not answer a prediction: $answer" >&2; exit 1
fi
echo "one invocation answers: $answer"
rss_idle=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
echo "idle RSS: ${rss_idle} kB; threads: $(awk '/^Threads/ {print $2}' "/proc/$SERVER_PID/status")"

# Peak RSS: VmHWM is the kernel's high-water mark; sampled through the runs for the record.
HWM_FILE=$(mktemp -t handler-hwm.XXXXXX)
( while kill -0 "$SERVER_PID" 2>/dev/null; do
      awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status" >"$HWM_FILE" 2>/dev/null || true
      sleep 0.2
  done ) &
SAMPLER_PID=$!

run_wrk() {
    local connections=$1 out
    out=$(wrk -t"$THREADS" -c"$connections" -d"$DURATION" --latency -s "$LUA" \
        "http://127.0.0.1:$PORT/predict")
    if grep -q "Non-2xx" <<<"$out" || grep -q "Socket errors" <<<"$out"; then
        echo "$out" >&2
        echo "errors during the run at $connections connections" >&2
        exit 1
    fi
    local rps p50 p99 hwm
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    printf '%3d connections, %s threads, %s: %10s invocations/s   p50 %8s   p99 %8s   peak RSS %s kB\n' \
        "$connections" "$THREADS" "$DURATION" "$rps" "$p50" "$p99" "$hwm"
}

for c in $CONNECTIONS; do run_wrk "$c"; done

kill "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
echo "peak RSS (VmHWM) over the whole run: ${hwm} kB ($((hwm / 1024)) MiB); last sample $(cat "$HWM_FILE") kB"
rm -f "$HWM_FILE"

kill -TERM "$SERVER_PID"
stop_start=$(now_us)
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=
echo "SIGTERM -> exit $status in $(( ($(now_us) - stop_start) / 1000 )) ms"
size=$(stat -c %s "$BIN")
echo "release binary $BIN: $size bytes ($(( size / 1024 / 1024 )) MiB), $(file -b "$BIN" | cut -d, -f1-2)"
