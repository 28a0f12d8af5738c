#!/bin/sh
# Installs one built app's production dependencies in the current directory (a copy of
# dist/apps/<app> with its pruned package.json and package-lock.json), then trims them.
# Runs in docker/Dockerfile's api-deps and worker-deps stages.
set -eu

# The build secret `extra-ca` (docker/Dockerfile's builder stage says why).
if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi

# No install scripts: sharp and the other native packages ship prebuilt binaries as optional
# dependencies, and nothing else in production needs a build step.
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --no-update-notifier

# Type declarations, source maps, TypeScript sources, docs and the packages' own test suites are
# never read at run time and are about a third of node_modules.
find node_modules -type f \( \
    -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' -o -name '*.tsbuildinfo' \
    -o -iname '*.md' -o -iname '*.markdown' \
  \) -delete
find node_modules -type d \( -name test -o -name tests -o -name __tests__ \) -prune -exec rm -rf {} +

# Fail the image build, not the first job, when sharp's native libvips for this platform did
# not come with the lockfile (it is an optional dependency, easy to lose when pruning).
node -e '
  const deps = require("./package.json").dependencies || {};
  if (deps.sharp) {
    const sharp = require("sharp");
    console.log("sharp", sharp.versions.sharp, "libvips", sharp.versions.vips);
  }
'
