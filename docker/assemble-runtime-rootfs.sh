#!/bin/sh
# Assembles the runtime file system of both images in ROOTFS (first argument): the node binary,
# tini, the shared libraries that they and every native addon in the given node_modules
# directories link against (as the dynamic linker resolves them), and passwd/group entries for
# uid 10001. Nothing else: no shell, no package manager, no npm. Runs in docker/Dockerfile's
# runtime-rootfs stage, on the bookworm-based Node image, so the libraries are bookworm's glibc and
# libstdc++ that sharp's prebuilt libvips expects.
#
#   assemble-runtime-rootfs.sh /rootfs /scan/api/node_modules /scan/worker/node_modules
set -eu

rootfs=$1
shift

node_bin=$(command -v node)
tini_bin=$(command -v tini)

mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/app/data" \
  "$rootfs/var/lib/dpkg/status.d"
# node without its symbol table and debug sections, which it never reads: what keeps the worker
# image under 200 MB. Only native frames in crash dumps and diagnostic reports lose their names.
strip --strip-all -o "$rootfs/usr/local/bin/node" "$node_bin"
cp "$tini_bin" "$rootfs/usr/bin/tini"

# ldd prints "name => /path (addr)" for libraries and "/path (addr)" for the loader. The musl
# builds of some addons are never loaded on glibc and cannot be resolved here.
libs=$(
  {
    ldd "$node_bin"
    ldd "$tini_bin" || true
    find "$@" -type f -name '*.node' ! -name '*musl*' -exec ldd {} \;
  } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u
)
for lib in $libs; do
  inside_node_modules=false
  for dir in "$@"; do
    case "$lib" in "$dir"/*) inside_node_modules=true ;; esac
  done
  # Libraries shipped in node_modules (sharp's libvips) come with the app itself.
  if [ "$inside_node_modules" = true ]; then continue; fi
  cp --parents -L "$lib" "$rootfs/"
  # Package metadata, so image scanners know which Debian packages these files belong to.
  # (merged /usr: dpkg may know the file under its /usr/lib path only).
  package=$({ dpkg -S "$lib" || dpkg -S "$(realpath "$lib")"; } 2>/dev/null | head -n 1 | cut -d: -f1)
  if [ -n "$package" ]; then dpkg-query -s "$package" > "$rootfs/var/lib/dpkg/status.d/$package"; fi
done
dpkg-query -s tini > "$rootfs/var/lib/dpkg/status.d/tini"

cp -L /etc/os-release "$rootfs/etc/os-release"
cp /etc/nsswitch.conf "$rootfs/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:10001:10001:thumbnail-generator:/app:/usr/sbin/nologin\n' \
  > "$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:10001:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
chown 10001:10001 "$rootfs/app/data"

echo "runtime file system:"
find "$rootfs" -type f -exec ls -l {} + | awk '{ printf "  %10d  %s\n", $5, $9 }'
