#!/usr/bin/env bash
# Runs every check: formatting, lints, all tests (unit, HTTP, browser, Azurite end-to-end),
# and the offline validation of the pipeline and the Bicep files.
# Installs what the tests need (Chromium, Azurite, a Python venv, the musl target, podman), starts
# Azurite on free ports, and stops it again however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Installing test prerequisites"
scripts/install-browser.sh
# The packages are static musl binaries; aws-lc-sys compiles C, so it needs musl-gcc.
rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-musl \
  || rustup target add x86_64-unknown-linux-musl
if ! command -v musl-gcc >/dev/null; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq musl-tools >/dev/null
fi
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
# The container tests run the web app's image with podman (settings in scripts/podman.sh).
scripts/install-podman.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The runtime users depend on, and every crate it needs: documented without a warning, its
# doc examples run, and each packaged as `cargo publish` would upload it, then built alone.
published=(-p functions-custom-handler-drain -p functions-custom-handler-serve
  -p functions-custom-handler-protocol -p functions-custom-handler)
step "Published crates: cargo doc (-D warnings), doc tests, cargo package"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked "${published[@]}"
cargo test --doc --locked -p functions-custom-handler-protocol -p functions-custom-handler
# The packages are verified against each other through a local registry in
# target/package/tmp-registry. Cargo takes a registry crate of the same version for unchanged:
# it does not unpack it again while its copy under registry/src is there, nor rebuild it while
# its build is in target/. Drop both, or a second run on the same checkout builds the runtime
# against the protocol crate as it was then.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/functions-custom-handler*
cargo clean --quiet "${published[@]}"
cargo package "${published[@]}"

step "Fuzzing: every target for ${FUZZ_SECONDS:-30} s, on the corpus in fuzz/corpus/"
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

step "Starting Azurite"
azurite_env=$(scripts/azurite.sh start)
eval "$azurite_env"
# Quietly, so the test runner's summary stays the last line.
trap 'scripts/azurite.sh stop >/dev/null 2>&1' EXIT

step "Pipeline and infrastructure validation"
scripts/validate-infra.sh

step "Tests"
cargo nextest run --workspace --locked --profile ci --no-tests=fail

step "Schemathesis against the web app's /openapi.json"
scripts/schemathesis.sh "${SCHEMATHESIS_EXAMPLES:-100}"
