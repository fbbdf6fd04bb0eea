#!/usr/bin/env bash
# podman with the one set of settings that runs containers on a plain VM or CI runner with no
# container daemon, no systemd session and no Docker. Every container test goes through here.
#   --runtime runc            crun (podman's first choice when installed) failed on this
#                             machine's cgroup layout; Debian's runc works.
#   --cgroup-manager cgroupfs there is no systemd user session to ask for a cgroup.
#   --storage-driver vfs      plain directories: works on any filesystem, including the
#                             overlay a CI container already runs on, where overlay-on-overlay
#                             is refused. Slower and bigger than overlay, fine for one image.
#   --root/--runroot          a private store under target/podman, so these settings never
#                             meet a store another driver made (podman refuses to mix them).
#   CONTAINERS_CONF           scripts/podman/containers.conf: no default ulimits (see there).
# Runs that publish a port use `--network host`: the container's server then listens on the
# machine's loopback, as the tests expect, with no port forwarder (slirp4netns) in between.
#
# Usage: scripts/podman.sh <podman arguments>, e.g. scripts/podman.sh images
# PODMAN_STATE moves the store (default: target/podman in the repository).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${PODMAN_STATE:-$repo/target/podman}"

if ! command -v podman >/dev/null || [ ! -x /usr/sbin/runc ]; then
  echo "podman.sh: podman and runc are not installed; run scripts/install-podman.sh (Debian's podman and runc packages)." >&2
  exit 1
fi
mkdir -p "$state"
export CONTAINERS_CONF="$repo/scripts/podman/containers.conf"
exec podman \
  --runtime /usr/sbin/runc \
  --cgroup-manager cgroupfs \
  --storage-driver vfs \
  --root "$state/storage" \
  --runroot "$state/run" \
  "$@"
