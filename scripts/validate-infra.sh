#!/usr/bin/env bash
# Offline checks of the deployment artifacts: azure-pipelines.yml against the Azure Pipelines
# schema (task names and input names included), then tests-infra/ (Bicep parsed with
# pycep-parser, the parameters file, the deploy scripts' dry runs and failure messages).
# Uses the virtualenv at .venv (scripts/venv.sh); exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/venv.sh
venv=.venv

echo "== azure-pipelines.yml against the Azure Pipelines schema"
# The vendored schema's patterns are ECMAScript without the unicode flag.
"$venv/bin/check-jsonschema" --regex-variant nonunicode \
  --builtin-schema vendor.azure-pipelines azure-pipelines.yml

echo "== tests-infra/"
"$venv/bin/python" -m pytest tests-infra/ -q -p no:cacheprovider
