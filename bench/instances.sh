#!/usr/bin/env bash
# Jobs/s with one instance of the function app and with two on the same storage, as Azure
# scales a Flex Consumption app out: release local hosts (each with its own release handler)
# on one Azurite. Jobs are submitted through the first instance (POST /api/jobs) and scored
# by every instance's score-job from the shared queue (e2e/examples/serverless_load.rs).
# Rounds alternate one and two instances; the table quotes medians with every run beside.
#
# Usage: bench/instances.sh   (from anywhere)
# Env:   ROUNDS (3), JOBS (500), ROWS (1), CONCURRENCY (32), BIG_JOBS (20), BIG_ROWS (10000),
#        BIG_CONCURRENCY (4), POLL_MS (20)
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-500}
ROWS=${ROWS:-1}
CONCURRENCY=${CONCURRENCY:-32}
BIG_JOBS=${BIG_JOBS:-20}
BIG_ROWS=${BIG_ROWS:-10000}
BIG_CONCURRENCY=${BIG_CONCURRENCY:-4}
POLL_MS=${POLL_MS:-20}
KEY=bench-function-key

say() { echo "instances.sh: $*" >&2; }
die() { say "$*"; exit 1; }

say "building release binaries (handler, local-host, the load example)"
cargo build --release --quiet -p house-price-functions -p local-host
cargo build --release --quiet -p e2e --example serverless_load
LOAD=target/release/examples/serverless_load
HOST_BIN=target/release/local-host

WORK=$(mktemp -d -t instances-bench.XXXXXX)
HOSTS=()
AZURITE_STARTED=

stop_hosts() {
    for pid in "${HOSTS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${HOSTS[@]}"; do wait "$pid" 2>/dev/null || true; done
    HOSTS=()
}

cleanup() {
    stop_hosts
    if [[ -n $AZURITE_STARTED ]]; then scripts/azurite.sh stop "$AZURITE_DIR" || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "staging the release app dir"
cargo xtask app-dir --release --out "$WORK/app" >/dev/null

exports=$(scripts/azurite.sh start)
eval "$exports"
AZURITE_STARTED=1

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
}

# Starts instance $1 and waits until it answers; sets URL to its address. (Not run in a
# subshell, so that HOSTS keeps its pid.)
start_host() {
    local n=$1 port deadline
    port=$(free_port)
    AzureWebJobsStorage=$AZURITE_CONNECTION_STRING FUNCTIONS_KEY=$KEY \
        HOUSEKEEPING_SCHEDULE="0 0 3 * * *" RUST_LOG=warn \
        "$HOST_BIN" start --app-dir "$WORK/app" --port "$port" >"$WORK/host-$n.log" 2>&1 &
    HOSTS+=("$!")
    deadline=$((SECONDS + 60))
    until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do
        ((SECONDS < deadline)) || die "instance $n did not start: $(tail -n 5 "$WORK/host-$n.log")"
        sleep 0.2
    done
    URL="http://127.0.0.1:$port"
}

# One load run against $1; prints jobs/s.
jobs_per_s() {
    local url=$1 jobs=$2 rows=$3 concurrency=$4 line
    line=$(AzureWebJobsStorage=$AZURITE_CONNECTION_STRING "$LOAD" --url "$url" --key "$KEY" \
        --jobs "$jobs" --rows "$rows" --concurrency "$concurrency" --poll-ms "$POLL_MS") \
        || die "the load run failed"
    say "$line"
    sed -n 's/.*jobs_per_s=\([0-9.]*\).*/\1/p' <<<"$line"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A small big
for round in $(seq 1 "$ROUNDS"); do
    for instances in 1 2; do
        start_host 1
        first=$URL
        for n in $(seq 2 "$instances"); do start_host "$n"; done
        ((${#HOSTS[@]} == instances)) || die "expected $instances instance(s), have ${#HOSTS[@]}"
        small[$instances]+="$(jobs_per_s "$first" "$JOBS" "$ROWS" "$CONCURRENCY") "
        big[$instances]+="$(jobs_per_s "$first" "$BIG_JOBS" "$BIG_ROWS" "$BIG_CONCURRENCY") "
        stop_hosts
        say "round $round, $instances instance(s) done"
    done
done

echo
echo "| jobs/s (median of $ROUNDS, every run) | one instance | two instances |"
echo "|---|---|---|"
for kind in small big; do
    declare -n runs=$kind
    if [[ $kind == small ]]; then label="$JOBS jobs of $ROWS row(s), $CONCURRENCY in flight"
    else label="$BIG_JOBS jobs of $BIG_ROWS rows, $BIG_CONCURRENCY in flight"; fi
    one=$(median <<<"${runs[1]}"); two=$(median <<<"${runs[2]}")
    echo "| $label | **$one** (${runs[1]% }) | **$two** (${runs[2]% }) |"
done
