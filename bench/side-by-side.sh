#!/usr/bin/env bash
# The issue 12 figures side by side in one run: the release web app, a bare actix-web
# baseline answering the same bytes (webapp/examples/bare_predict.rs), the Flask +
# scikit-learn peer (gunicorn, 2 workers) from a temporary copy, the Functions handler (one
# invocation carrying the batch) and the shipped static musl web app and handler,
# interleaved round by round. Prints the ratios: 10,000-row batches against the peer and the
# handler, one row against the baseline.
#
# Usage: PEER=<the Flask peer's folder> bench/side-by-side.sh   (loopback only; stops what it starts)
# Env:   PEER (required: the peer's folder, which is copied, never written), ROUNDS (3),
#        DURATION (10, seconds of wrk per server and round), BATCH_REPS (5)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=target/bench/flask-peer
[ -n "${PEER:-}" ] || [ -f "$WORK/model.joblib" ] || {
  echo "side-by-side.sh: set PEER to the Flask + scikit-learn peer's folder (it is not part of this repository)." >&2
  exit 1
}

if ! command -v wrk >/dev/null 2>&1; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq wrk >/dev/null
fi

# The peer is read-only where it lives: a copy with its own venv and model, kept for reruns.
if [ ! -f "$WORK/model.joblib" ]; then
  [ -d "$PEER" ] || { echo "side-by-side.sh: the peer is not at $PEER; set PEER to its folder." >&2; exit 1; }
  rm -rf "$WORK" && mkdir -p "$WORK"
  cp -r "$PEER"/. "$WORK"/
  chmod -R u+w "$WORK"
  rm -rf "$WORK/venv"
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install -q -r "$WORK/requirements.txt"
  (cd "$WORK" && ./venv/bin/python train.py >/dev/null)
fi

cargo build --release --locked -q -p webapp --bin webapp --example bare_predict
cargo build --release --locked -q -p house-price-functions
# The binaries that ship (static musl, jemalloc), measured beside the glibc builds.
cargo build --release --locked -q -p webapp -p house-price-functions --bins --target x86_64-unknown-linux-musl
musl=target/x86_64-unknown-linux-musl/release
exec python3 bench/side-by-side.py --peer "$PWD/$WORK" \
  --webapp target/release/webapp --bare target/release/examples/bare_predict \
  --handler target/release/handler --shipped "$musl/webapp" --shipped-handler "$musl/handler" \
  --rounds "${ROUNDS:-3}" --duration "${DURATION:-10}" --batch-reps "${BATCH_REPS:-5}"
