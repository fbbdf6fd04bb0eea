# Shared by the deploy scripts (sourced, not run): one-sentence errors, option values, and
# commands that a dry run prints exactly as they would run.

# One plain sentence on stderr, non-zero exit.
die() {
  printf '%s\n' "$1" >&2
  exit 1
}

need_value() {
  [[ $# -ge 2 && -n $2 && $2 != -* ]] || die "Option $1 needs a value: see --help."
}

# Prints a command the way a shell reads it back: plain words bare, others single-quoted,
# and words holding "$VAR" placeholders (captured values in a dry run) double-quoted.
print_cmd() {
  local out=() arg
  for arg in "$@"; do
    if [[ $arg =~ \$[A-Z_]+ && ! $arg =~ [\"\\\`] ]]; then
      out+=("\"$arg\"")
    elif [[ $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+=("$arg")
    else
      out+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  printf '%s\n' "${out[*]}"
}

run() {
  if $dry_run; then print_cmd "$@"; else "$@"; fi
}

# capture VAR cmd...: VAR=$(cmd...); a dry run prints that line and leaves "$VAR" as a placeholder.
capture() {
  local var=$1
  shift
  if $dry_run; then
    printf '%s=$(%s)\n' "$var" "$(print_cmd "$@")"
    printf -v "$var" '%s' "\$$var"
  else
    local value
    value=$("$@")
    printf -v "$var" '%s' "$value"
  fi
}

# Fails with one sentence when `az` is missing or not logged in (skipped in a dry run).
require_az_login() {
  if ! $dry_run; then
    command -v az >/dev/null 2>&1 ||
      die "The Azure CLI (az) is not on PATH: install it (https://aka.ms/azure-cli) or use --dry-run to print the commands."
    az account show --output none >/dev/null 2>&1 ||
      die "The Azure CLI is not logged in: run 'az login' (and 'az account set --subscription ...') first."
  fi
}

# until_ok UP FAILURE CMD...: repeats CMD (at most $health_attempts times, $health_interval s
# apart) until it succeeds, then prints UP; dies with FAILURE if it never does. A dry run
# prints the command and the bound instead.
until_ok() {
  local up=$1 failure=$2 attempt
  shift 2
  if $dry_run; then
    printf '# until it answers 200, at most %s tries %s s apart:\n' "$health_attempts" "$health_interval"
    print_cmd "$@"
    return 0
  fi
  for ((attempt = 1; attempt <= health_attempts; attempt++)); do
    if "$@" 2>/dev/null; then
      printf '%s\n' "$up"
      return 0
    fi
    sleep "$health_interval"
  done
  die "$failure"
}
