#!/usr/bin/env bash
# Load test of the web app on loopback: startup time to the first good /predict, then wrk
# against POST /predict at 16 and 64 connections, with the server's peak RSS.
#
# Usage: bench/webapp-load.sh   (from anywhere; installs wrk with apt if missing)
# Env:   DURATION (default 10s), THREADS (default 2), WORKERS (default: one per core),
#        BIN (a web app binary to measure instead of building this checkout's, e.g. another
#        commit's, to compare them side by side in one session)
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
PAYLOAD=webapp/tests/data/original_client_payload.json
LUA=bench/webapp-predict.lua

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk is missing: installing it with apt-get" >&2
    if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q wrk >/dev/null
fi

if [[ -z ${BIN:-} ]]; then
    cargo build --release -p webapp --quiet
    BIN=target/release/webapp
fi

# A free loopback port: nothing answers on it.
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 50); do
    candidate=$((20000 + RANDOM % 40000))
    if port_is_free "$candidate"; then PORT=$candidate; break; fi
done
[[ -n $PORT ]] || { echo "no free port found on 127.0.0.1" >&2; exit 1; }

LOG=$(mktemp -t webapp-load.XXXXXX.log)
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -f "$LOG"
}
trap cleanup EXIT

now_ns() { date +%s%N; }
BODY=$(<"$PAYLOAD")
# One POST /predict over bash's /dev/tcp: no process per attempt, so polling is tight.
predict_once() {
    { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
    printf 'POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
        "${#BODY}" "$BODY" >&3 2>/dev/null
    local status=
    IFS= read -r -t 1 status <&3 || true
    exec 3<&- 3>&-
    [[ $status == "HTTP/1.1 200"* ]]
}

# Startup: from exec to the first 200 from /predict.
start=$(now_ns)
env BIND_ADDRESS=127.0.0.1 PORT="$PORT" ${WORKERS:+WORKERS="$WORKERS"} "$BIN" >"$LOG" 2>&1 &
SERVER_PID=$!
deadline=$((start + 5000000000))
until predict_once; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "the server exited during startup:" >&2; cat "$LOG" >&2; exit 1
    fi
    if (($(now_ns) > deadline)); then echo "no good /predict answer within 5 s" >&2; exit 1; fi
done
ready_ms=$(( ($(now_ns) - start) / 1000000 ))
rss_idle=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
echo "load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg) (other processes skew the figures)"
echo "first good /predict response: ${ready_ms} ms after exec"
echo "idle RSS: $((rss_idle / 1024)) MiB (${rss_idle} kB)"

run_wrk() {
    local connections=$1 out
    out=$(wrk -t"$THREADS" -c"$connections" -d"$DURATION" --latency -s "$LUA" \
        "http://127.0.0.1:$PORT/predict")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$out" >&2
        echo "the server answered errors at $connections connections" >&2
        exit 1
    fi
    # Timeouts or resets mean the box is overloaded (or the server is): report them, go on.
    local socket_errors
    socket_errors=$(grep "Socket errors" <<<"$out" || true)
    local rps p50 p99 hwm
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
    printf '%3d connections, %s threads, %s: %10s req/s   p50 %8s   p99 %8s   peak RSS %s MiB (%s kB)\n' \
        "$connections" "$THREADS" "$DURATION" "$rps" "$p50" "$p99" "$((hwm / 1024))" "$hwm"
    if [[ -n $socket_errors ]]; then echo "    wrk:$socket_errors"; fi
}

run_wrk 16
run_wrk 64

kill -TERM "$SERVER_PID"
stop_start=$(now_ns)
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=
echo "SIGTERM -> exit $status in $(( ($(now_ns) - stop_start) / 1000000 )) ms; $(grep -c '"POST /predict' "$LOG") requests logged"
