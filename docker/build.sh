#!/usr/bin/env bash
# Builds thumbnail-generator-api and thumbnail-generator-worker, tagged with package.json's
# version and `latest`, into the local Docker image store.
#
#   docker/build.sh                 # build and load both images
#   docker/build.sh api             # one of them
#   REGISTRY=registry.example.com/team/ docker/build.sh --push
#
# Arguments are passed to `docker buildx bake` (targets, --push, --set ...). Without --push the
# images are loaded (--load), ready for `kind load docker-image` or `minikube image load`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

VERSION="$(node -p 'require("./package.json").version')"
export VERSION

output=(--load)
for arg in "$@"; do
  case "$arg" in
    --push | --load | --output* ) output=() ;;
  esac
done

echo "Building thumbnail-generator ${VERSION} (REGISTRY='${REGISTRY:-}')" >&2
# ${output[@]+...}: an empty array is "unbound" to the bash 3.2 that macOS ships.
exec docker buildx bake -f docker/docker-bake.hcl ${output[@]+"${output[@]}"} "$@"
