#!/usr/bin/env bash
# The whole local stack in one command: Azurite, the local Functions host running the
# handler (http://127.0.0.1:7071/api/...), and the web app (http://127.0.0.1:8080), all on
# the same storage. Ctrl-C stops everything; nothing is left running.
#
#   scripts/local-stack.sh [--release]
#
# Ports: FUNCTIONS_PORT (7071), WEBAPP_PORT (8080), Azurite on 10000-10002 (override with
# AZURITE_BLOB_PORT / AZURITE_QUEUE_PORT / AZURITE_TABLE_PORT).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
case "${1:-}" in
  --release) profile=release ;;
  "") ;;
  *) echo "usage: scripts/local-stack.sh [--release]" >&2; exit 2 ;;
esac
release_flag=()
[ "$profile" = release ] && release_flag=(--release)

functions_port=${FUNCTIONS_PORT:-7071}
webapp_port=${WEBAPP_PORT:-8080}
export AZURITE_BLOB_PORT=${AZURITE_BLOB_PORT:-10000}
export AZURITE_QUEUE_PORT=${AZURITE_QUEUE_PORT:-10001}
export AZURITE_TABLE_PORT=${AZURITE_TABLE_PORT:-10002}

echo "==> Building the handler, the local host and the web app ($profile)"
# The workspace's binaries, built as xtask::build_binaries builds them. Debug: with the
# features `cargo test --workspace` resolves, so after the tests (or before them) nothing is
# compiled twice; `cargo build -p house-price-functions` would resolve other features and rebuild most
# dependencies. Release: just the four packages.
if [ "$profile" = release ]; then
  cargo build --quiet --release -p house-price-functions -p local-host -p webapp -p xtask
else
  cargo build --quiet --workspace --bins --examples
fi
target_dir=${CARGO_TARGET_DIR:-target}
app_dir=$target_dir/functionapp
"$target_dir/$profile/xtask" app-dir --skip-build --out "$app_dir" "${release_flag[@]}" >/dev/null
cp local.settings.example.json "$app_dir/local.settings.json"

pids=()
azurite_dir=
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "==> Stopping the local stack"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "$azurite_dir" ] && scripts/azurite.sh stop "$azurite_dir" >/dev/null 2>&1 || true
}
trap cleanup INT TERM EXIT

echo "==> Starting Azurite"
eval "$(scripts/azurite.sh start)"
azurite_dir=$AZURITE_DIR
export AzureWebJobsStorage="$AZURITE_CONNECTION_STRING"

echo "==> Starting the local Functions host on :$functions_port"
"$target_dir/$profile/local-host" start --app-dir "$app_dir" --port "$functions_port" &
pids+=($!)

echo "==> Starting the web app on :$webapp_port"
PORT=$webapp_port "$target_dir/$profile/webapp" &
pids+=($!)

key=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Values"]["FUNCTIONS_KEY"])' local.settings.example.json 2>/dev/null || echo local-dev-key)
cat <<MSG

  Web app:    http://127.0.0.1:$webapp_port
  Functions:  http://127.0.0.1:$functions_port/api/predict   (header x-functions-key: $key)
              http://127.0.0.1:$functions_port/api/jobs      POST a batch, GET /api/jobs/<id>
  Storage:    Azurite, blob :$AZURITE_BLOB_PORT queue :$AZURITE_QUEUE_PORT

  Ctrl-C stops everything.

MSG
# Run until Ctrl-C (exit 130 after cleaning up) or until one of them stops by itself.
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
status=0
wait -n "${pids[@]}" || status=$?
echo "a process of the stack stopped (status $status); stopping the rest" >&2
exit "$status"
