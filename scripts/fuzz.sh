#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and fails on any crash (a panic is one).
#   scripts/fuzz.sh [SECONDS]         each target for SECONDS (default 30), as the test command does
#   FUZZ_GROW=1 scripts/fuzz.sh 600   the same, adding what it finds to fuzz/corpus/ (then cmin)
# The targets are built once; inputs found on a bounded run go to a temporary folder, so the
# repo's corpus changes only when asked to. No sanitizer (`-s none`): the code is safe Rust,
# so a crash is a panic or an abort, which libFuzzer reports either way. cargo fuzz needs
# nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-30}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2

targets=$(cargo fuzz list)
cargo fuzz build -s none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $targets; do
  corpus=corpus/$target
  mkdir -p "$corpus" "$scratch/$target"
  if [[ ${FUZZ_GROW:-0} == 1 ]]; then
    dirs=("$corpus")
  else
    dirs=("$scratch/$target" "$corpus")
  fi
  echo "== fuzz $target for ${seconds}s"
  if ! cargo fuzz run -s none "$target" "${dirs[@]}" -- \
      -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
      >"${TMPDIR:-/tmp}/fuzz-$target.log" 2>&1; then
    tail -n 40 "${TMPDIR:-/tmp}/fuzz-$target.log" >&2
    echo "fuzz target $target crashed: the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "${TMPDIR:-/tmp}/fuzz-$target.log" | sed "s/^/  $target /"
  if [[ ${FUZZ_GROW:-0} == 1 ]]; then
    # Keep only the inputs that add coverage, so the corpus in the repo stays small.
    cargo fuzz cmin -s none "$target" "$corpus" >/dev/null 2>&1
  fi
done
