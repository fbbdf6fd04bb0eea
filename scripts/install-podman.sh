#!/usr/bin/env bash
# Installs podman and runc from Debian's packages, for the container test (scripts/podman.sh
# holds the settings it runs with). No recommends: crun, slirp4netns and the rest are not used.
set -euo pipefail
if command -v podman >/dev/null && [ -x /usr/sbin/runc ]; then
  exit 0
fi
sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  podman runc >/dev/null
podman --version
