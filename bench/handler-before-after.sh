#!/usr/bin/env bash
# The Functions handler's figures, an earlier commit's build beside this one, in one run:
# invocations/s under wrk and the 10,000-row invocation, with the web app as the yardstick
# (bench/handler-before-after.py).
#
# Usage: bench/handler-before-after.sh REV   (REV: the commit to compare with, e.g. main~5)
# Env:   ROUNDS (3), DURATION (10, seconds of wrk per build and round), BATCH_REPS (7),
#        BEFORE_BIN (an earlier handler binary already built: REV is then not built)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/handler-before-after.sh REV}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

if [ -z "${BEFORE_BIN:-}" ]; then
  before=target/bench/before
  rm -rf "$before" && git worktree add -f --detach "$before" "$rev" >/dev/null
  trap 'git worktree remove --force "$before"' EXIT
  # The earlier build's own name for the app's package: it was `handler` before a rename.
  package=$(cd "$before" && cargo metadata --no-deps --format-version 1 \
    | python3 -c 'import json,sys; print(next(p["name"] for p in json.load(sys.stdin)["packages"] if p["manifest_path"].endswith("/handler/Cargo.toml")))')
  (cd "$before" && CARGO_TARGET_DIR="$PWD/../before-target" cargo build --release --locked -q -p "$package" --bin handler)
  BEFORE_BIN=target/bench/before-target/release/handler
fi
cargo build --release --locked -q -p house-price-functions --bin handler -p webapp --bin webapp
exec python3 bench/handler-before-after.py --before "$BEFORE_BIN" \
  --after target/release/handler --webapp target/release/webapp \
  --rounds "${ROUNDS:-3}" --duration "${DURATION:-10}" --batch-reps "${BATCH_REPS:-7}"
