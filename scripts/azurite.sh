#!/usr/bin/env bash
# Azurite (local Azure Storage) for tests and the local Functions host.
#
#   eval "$(scripts/azurite.sh start)"   # start; exports AZURITE_CONNECTION_STRING and the ports
#   scripts/azurite.sh stop              # stop the instance started from this shell
#   scripts/azurite.sh run -- CMD...     # start, run CMD with the exports, always stop
#
# start picks free loopback ports unless AZURITE_BLOB_PORT / AZURITE_QUEUE_PORT /
# AZURITE_TABLE_PORT are set, keeps data in memory, and writes its pid and log under
# .azurite/<instance>/ (gitignored). Only the export lines go to stdout; the rest to stderr.
# AZURITE_DEBUG=1 also writes Azurite's debug log there (it shows SAS strings-to-sign).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_ROOT="$ROOT/.azurite"
AZURITE="$ROOT/node_modules/.bin/azurite"
READY_TIMEOUT_SECONDS="${AZURITE_READY_TIMEOUT:-30}"
ACCOUNT=devstoreaccount1
# Azurite's published, well-known emulator key (not a secret).
KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

say() { echo "azurite.sh: $*" >&2; }
die() { say "$*"; exit 1; }

usage() {
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

free_port() {
    # Ask the kernel for a free loopback port (node is already required for Azurite).
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
}

port_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

ensure_installed() {
    if [[ -x "$AZURITE" ]]; then
        return
    fi
    command -v npm >/dev/null || die "npm is not installed; install Node.js 20 to run Azurite"
    say "installing Azurite with npm ci (package-lock.json)"
    (cd "$ROOT" && npm ci --no-audit --no-fund >&2) || die "npm ci failed; see the npm output above"
    [[ -x "$AZURITE" ]] || die "npm ci did not install $AZURITE"
}

# Kills the process group of pid $1 (Azurite runs in its own session) and waits for it.
kill_instance() {
    local pid="$1" waited=0
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= 100)); then
            say "Azurite (pid $pid) ignored SIGTERM for 10 s; killing it"
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

start() {
    ensure_installed
    local blob_port="${AZURITE_BLOB_PORT:-}" queue_port="${AZURITE_QUEUE_PORT:-}" table_port="${AZURITE_TABLE_PORT:-}"
    [[ -n "$blob_port" ]] || blob_port="$(free_port)"
    [[ -n "$queue_port" ]] || queue_port="$(free_port)"
    while [[ "$queue_port" == "$blob_port" ]]; do queue_port="$(free_port)"; done
    [[ -n "$table_port" ]] || table_port="$(free_port)"
    while [[ "$table_port" == "$blob_port" || "$table_port" == "$queue_port" ]]; do table_port="$(free_port)"; done
    for port in "$blob_port" "$queue_port" "$table_port"; do
        [[ "$port" =~ ^[0-9]+$ ]] || die "port '$port' is not a number"
        if port_answers "$port"; then
            die "port $port on 127.0.0.1 is already in use; unset AZURITE_*_PORT to pick free ports"
        fi
    done

    mkdir -p "$STATE_ROOT"
    local dir
    dir="$(mktemp -d "$STATE_ROOT/instance.XXXXXX")"
    local args=(
        --blobHost 127.0.0.1 --blobPort "$blob_port"
        --queueHost 127.0.0.1 --queuePort "$queue_port"
        --tableHost 127.0.0.1 --tablePort "$table_port"
        --inMemoryPersistence
        --silent
        --disableTelemetry
        # Longer than the HTTP client's idle-connection timeout, so the server never closes
        # a pooled connection just as a request goes out on it.
        --blobKeepAliveTimeout 120 --queueKeepAliveTimeout 120 --tableKeepAliveTimeout 120
    )
    if [[ "${AZURITE_DEBUG:-}" == 1 ]]; then
        args+=(--debug "$dir/debug.log")
    fi
    # Own session (setsid) so stop can kill the whole process group; no stdin so it never
    # waits on the terminal; cwd in the instance dir so any stray file lands there.
    (cd "$dir" && exec setsid "$AZURITE" "${args[@]}" >"$dir/azurite.log" 2>&1 </dev/null) &
    local pid=$!
    echo "$pid" >"$dir/pid"
    ln -sfn "$dir" "$STATE_ROOT/last"

    local deadline=$((SECONDS + READY_TIMEOUT_SECONDS))
    until port_answers "$blob_port" && port_answers "$queue_port" && port_answers "$table_port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "Azurite exited during start-up; its log follows"
            tail -n 40 "$dir/azurite.log" >&2 || true
            rm -rf "$dir" "$STATE_ROOT/last"
            exit 1
        fi
        if ((SECONDS >= deadline)); then
            say "Azurite did not answer on ports $blob_port/$queue_port/$table_port within ${READY_TIMEOUT_SECONDS} s; its log follows"
            tail -n 40 "$dir/azurite.log" >&2 || true
            kill_instance "$pid"
            rm -rf "$dir" "$STATE_ROOT/last"
            exit 1
        fi
        sleep 0.1
    done

    local conn="DefaultEndpointsProtocol=http;AccountName=$ACCOUNT;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$blob_port/$ACCOUNT;QueueEndpoint=http://127.0.0.1:$queue_port/$ACCOUNT;TableEndpoint=http://127.0.0.1:$table_port/$ACCOUNT;"
    say "Azurite $("$AZURITE" --version 2>/dev/null || echo '?') ready (pid $pid): blob $blob_port, queue $queue_port, table $table_port; log $dir/azurite.log"
    printf "export AZURITE_CONNECTION_STRING='%s'\n" "$conn"
    printf "export AZURITE_BLOB_PORT=%s AZURITE_QUEUE_PORT=%s AZURITE_TABLE_PORT=%s\n" "$blob_port" "$queue_port" "$table_port"
    printf "export AZURITE_PID=%s AZURITE_DIR='%s'\n" "$pid" "$dir"
}

stop() {
    # Which instance: an explicit directory, the one this shell started (AZURITE_DIR from
    # start's exports), else the most recently started one.
    local dir="${1:-${AZURITE_DIR:-}}"
    if [[ -z "$dir" && -L "$STATE_ROOT/last" ]]; then
        dir="$(readlink "$STATE_ROOT/last")"
    fi
    if [[ -z "$dir" || ! -f "$dir/pid" ]]; then
        say "no running Azurite instance recorded; nothing to stop"
        return 0
    fi
    local pid
    pid="$(<"$dir/pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "$dir/pid does not hold a pid"
    kill_instance "$pid"
    if [[ -L "$STATE_ROOT/last" && "$(readlink "$STATE_ROOT/last")" == "$dir" ]]; then
        rm -f "$STATE_ROOT/last"
    fi
    rm -rf "$dir"
    say "stopped Azurite (pid $pid)"
}

run() {
    [[ "${1:-}" == "--" ]] && shift
    (($# > 0)) || die "run needs a command: scripts/azurite.sh run -- cargo test -p storage"
    local exports
    exports="$(start)"
    eval "$exports"
    # shellcheck disable=SC2064 # expand AZURITE_DIR now: stop this very instance
    trap "stop '$AZURITE_DIR'" EXIT
    trap 'exit 130' INT TERM
    "$@"
}

case "${1:-}" in
    start) start ;;
    stop) shift; stop "$@" ;;
    run) shift; run "$@" ;;
    *) usage ;;
esac
