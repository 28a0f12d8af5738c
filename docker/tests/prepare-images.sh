#!/usr/bin/env bash
# The images project's build-images target: builds both images with podman (docker/build.sh,
# the local Node stand-in included) and writes their ids to dist/images/<target>.iid for the
# suites. podman's layer cache makes a rebuild of unchanged sources quick. Where podman cannot
# build (no root, podman or debootstrap), it builds nothing and writes the reason to
# dist/images/unavailable, which the suites print as they skip.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/dist/images"
mkdir -p "$out"
rm -f "$out/unavailable" "$out"/*.iid

problem=""
if [ "$(id -u)" -ne 0 ]; then
  problem="the image suites build and run rootful podman containers: run them as root"
else
  for command in podman debootstrap runc; do
    if ! command -v "$command" >/dev/null 2>&1; then
      problem="$command is missing: npm test installs it (apt-get install podman debootstrap runc)"
      break
    fi
  done
fi
if [ -n "$problem" ]; then
  printf '%s\n' "$problem" >"$out/unavailable"
  printf '[images] not building the images: %s\n' "$problem" >&2
  exit 0
fi

CONTAINER_BUILDER=podman IMAGE_ID_DIR="$out" exec bash "$root/docker/build.sh"
