#!/usr/bin/env bash
# Fetches real corrupt and odd image files for the bad-input e2e suite from Debian's Go source
# package (Go's image decoders test themselves with them: image/png/testdata/invalid-*.png, the
# PngSuite, a truncated progressive JPEG), without installing anything: `apt-get download` plus
# `dpkg-deb` into a cache folder. Idempotent: a finished cache is left alone.
#
# Usage: scripts/fetch-corrupt-samples.sh [DEST]
#   DEST defaults to $CORRUPT_SAMPLES_DIR, else node_modules/.cache/corrupt-samples.
#   GO_SRC_PACKAGE overrides the package (default: the newest golang-1.NN-src apt knows).
# Exit codes: 0 samples present; 3 apt cannot provide the package (offline, no package lists);
# anything else is a bug in this script. The reason is printed on stderr.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-${CORRUPT_SAMPLES_DIR:-$root/node_modules/.cache/corrupt-samples}}"
stamp="$dest/.complete"

if [[ -f "$stamp" ]]; then
  exit 0
fi

unavailable() {
  echo "fetch-corrupt-samples: $*" >&2
  exit 3
}

for tool in apt-get apt-cache dpkg-deb tar; do
  command -v "$tool" >/dev/null 2>&1 || unavailable "$tool is not installed (not a Debian-based machine?)"
done

newest_go_src() {
  # `apt-cache pkgnames` reads the local lists only; versioned names sort with -V (1.19 < 1.21).
  apt-cache pkgnames golang-1. 2>/dev/null | grep -E '^golang-1\.[0-9]+-src$' | sort -V | tail -n 1 || true
}

package="${GO_SRC_PACKAGE:-}"
if [[ -z "$package" ]]; then
  package="$(newest_go_src)"
  # A fresh machine may have no package lists yet; as root, fetch them once.
  if [[ -z "$package" && "$(id -u)" == 0 ]]; then
    timeout 120 apt-get update -q -o Acquire::Retries=0 -o Acquire::http::Timeout=20 >/dev/null 2>&1 || true
    package="$(newest_go_src)"
  fi
  [[ -n "$package" ]] || unavailable "apt knows no golang-1.NN-src package (offline, or 'apt-get update' needed)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/corrupt-samples.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# apt-get download drops privileges to _apt when it can; a private folder it cannot enter only
# costs a warning, so let it write there.
chmod 755 "$work"
if ! (cd "$work" && timeout 120 apt-get download -q -o Acquire::Retries=0 -o Acquire::http::Timeout=20 "$package" >"$work/apt.log" 2>&1); then
  unavailable "apt-get download $package failed: $(tail -n 1 "$work/apt.log")"
fi
deb="$(find "$work" -maxdepth 1 -name '*.deb' -print -quit)"
[[ -n "$deb" ]] || unavailable "apt-get download $package produced no .deb"

# Only the image test data (about 1 MB of the package's 100 MB).
mkdir -p "$work/tree"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/tree" --wildcards '*/src/image/*testdata/*'

rm -rf "$dest.partial"
mkdir -p "$dest.partial"
copied=0
while IFS= read -r -d '' file; do
  cp "$file" "$dest.partial/"
  copied=$((copied + 1))
done < <(find "$work/tree" -type f \( \
  -path '*/image/png/testdata/invalid-*.png' \
  -o -path '*/image/png/testdata/pngsuite/x*.png' \
  -o -path '*/image/testdata/video-001.progressive.truncated.jpeg' \
  -o -path '*/image/testdata/video-001.progressive.jpeg' \
  \) -print0)
[[ "$copied" -gt 0 ]] || { rm -rf "$dest.partial"; echo "fetch-corrupt-samples: $package holds none of the expected files" >&2; exit 1; }

echo "$package $(dpkg-deb -f "$deb" Version)" >"$dest.partial/SOURCE"
rm -rf "$dest"
mv "$dest.partial" "$dest"
touch "$stamp"
echo "fetch-corrupt-samples: $copied files from $package in $dest"
