#!/usr/bin/env bash
# The web app's image against the bare binary it holds, interleaved in one run: time from
# `podman run` (or exec) to the first good /predict, and the server's RSS after it.
#
# Usage: bench/container-startup.sh   (needs podman: scripts/install-podman.sh)
# Env:   ROUNDS (default 7): runs of each, alternating; medians are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
PAYLOAD=webapp/tests/data/original_client_payload.json
BIN=target/x86_64-unknown-linux-musl/release/webapp
OUT=$(mktemp -d -t container-startup.XXXXXX)
NAME=webapp-startup-bench
trap 'scripts/podman.sh rm -f -t 0 "$NAME" >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT

cargo xtask image --out "$OUT" >/dev/null
ref=$(tar -xOf "$OUT/webapp-image.oci.tar" index.json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"])')
scripts/podman.sh pull --quiet "oci-archive:$OUT/webapp-image.oci.tar:$ref" >/dev/null
IMAGE="localhost/$ref"

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  while :; do p=$((20000 + RANDOM % 40000)); port_is_free "$p" && { echo "$p"; return; }; done
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Polls /predict until it answers 200; prints the milliseconds since $1.
first_good() {
  until curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary "@$PAYLOAD" \
    "http://127.0.0.1:$2/predict"; do sleep 0.005; done
  echo $(( $(now_ms) - $1 ))
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$OUT/bare.ms"; : >"$OUT/bare.rss"; : >"$OUT/image.ms"; : >"$OUT/image.rss"
for _ in $(seq "$ROUNDS"); do
  port=$(pick_port); start=$(now_ms)
  PORT=$port BIND_ADDRESS=127.0.0.1 "$BIN" >/dev/null 2>&1 & pid=$!
  first_good "$start" "$port" >>"$OUT/bare.ms"; rss_kib "$pid" >>"$OUT/bare.rss"
  kill -TERM "$pid"; wait "$pid" || true

  port=$(pick_port); start=$(now_ms)
  scripts/podman.sh run -d --name "$NAME" --network host --read-only \
    -e PORT="$port" -e BIND_ADDRESS=127.0.0.1 "$IMAGE" >/dev/null
  first_good "$start" "$port" >>"$OUT/image.ms"
  rss_kib "$(scripts/podman.sh inspect --format '{{.State.Pid}}' "$NAME")" >>"$OUT/image.rss"
  scripts/podman.sh rm -f -t 5 "$NAME" >/dev/null
done
scripts/podman.sh rmi -f "$IMAGE" >/dev/null

printf '%-22s %12s %12s\n' "" "first 200" "RSS after"
printf '%-22s %9s ms %8s KiB\n' "bare binary" "$(median <"$OUT/bare.ms")" "$(median <"$OUT/bare.rss")"
printf '%-22s %9s ms %8s KiB\n' "container (podman)" "$(median <"$OUT/image.ms")" "$(median <"$OUT/image.rss")"
echo "medians of $ROUNDS interleaved rounds; image: $ref"
