#!/usr/bin/env bash
# The Python tools the checks use (requirements-dev.txt), in a virtualenv at .venv; installs
# only when requirements-dev.txt changed since the last successful install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 ||
  { echo "Python 3 ($python) is not on PATH: install python3 (with the venv module) first." >&2; exit 1; }

venv=.venv
if [[ ! -x $venv/bin/python ]]; then
  "$python" -m venv "$venv" ||
    { echo "Could not create $venv: install the Python venv module (e.g. apt-get install python3-venv)." >&2; exit 1; }
fi
# Reinstall only when requirements-dev.txt changed since the last successful install.
stamp=$venv/.requirements-dev.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  printf '%s\n' "$want" >"$stamp"
fi
