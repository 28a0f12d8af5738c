#!/usr/bin/env bash
# Builds thumbnail-generator-api and thumbnail-generator-worker from docker/Dockerfile, tagged
# with package.json's version and `latest`: with Docker (buildx bake) where a Docker engine
# answers, else with podman (rootful), on a local stand-in for the Node base image when no
# container registry is reachable (docker/local-node-image.sh).
#
#   docker/build.sh                 # build both images
#   docker/build.sh api             # one of them
#   REGISTRY=registry.example.com/team/ docker/build.sh --push       # Docker only
#
# Environment:
#   CONTAINER_BUILDER   docker | podman; unset: docker when its engine answers, else podman
#   NODE_IMAGE          base image instead of the Dockerfile's (Docker) or the stand-in (podman)
#   NODE_EXTRA_CA_CERTS a CA bundle the build's npm must trust (a TLS-intercepting proxy); passed
#                       as the build secret `extra-ca`, never stored in an image
#   IMAGE_ID_DIR        podman: write each image's id to <dir>/<target>.iid
#
# With Docker, other arguments go to `docker buildx bake` (targets, --push, --set ...); without
# --push the images are loaded (--load), ready for `kind load docker-image`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

VERSION="$(node -p 'require("./package.json").version')"
export VERSION

log() { printf '[docker/build.sh] %s\n' "$*" >&2; }

docker_engine_answers() {
  command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

builder="${CONTAINER_BUILDER:-}"
if [ -z "$builder" ]; then
  if docker_engine_answers; then builder=docker
  elif command -v podman >/dev/null 2>&1; then builder=podman
  else
    log "neither a Docker engine (with buildx) nor podman is available"
    exit 1
  fi
fi

extra_ca=""
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r "$NODE_EXTRA_CA_CERTS" ]; then extra_ca="$NODE_EXTRA_CA_CERTS"; fi

build_with_docker() {
  local output=(--load) settings=()
  for arg in "$@"; do
    case "$arg" in
      --push | --load | --output* ) output=() ;;
    esac
  done
  if [ -n "${NODE_IMAGE:-}" ]; then settings+=(--set "*.args.NODE_IMAGE=$NODE_IMAGE"); fi
  if [ -n "$extra_ca" ]; then settings+=(--set "*.secrets=id=extra-ca,src=$extra_ca"); fi
  log "building thumbnail-generator $VERSION with docker buildx bake (REGISTRY='${REGISTRY:-}')"
  # ${array[@]+...}: an empty array is "unbound" to the bash 3.2 that macOS ships.
  exec docker buildx bake -f docker/docker-bake.hcl ${output[@]+"${output[@]}"} ${settings[@]+"${settings[@]}"} "$@"
}

build_with_podman() {
  local targets=() arg
  for arg in "$@"; do
    case "$arg" in
      api | worker) targets+=("$arg") ;;
      *) log "with podman only the targets api and worker can be given (not '$arg'); push with podman push"; exit 2 ;;
    esac
  done
  [ ${#targets[@]} -gt 0 ] || targets=(api worker)
  if [ "$(id -u)" -ne 0 ]; then
    log "the podman build runs rootful: run it as root"
    exit 1
  fi
  # podman reads this project's settings, not the machine's (docker/podman/containers.conf says why).
  export CONTAINERS_CONF="${CONTAINERS_CONF:-$root/docker/podman/containers.conf}"

  local started=$SECONDS
  local base="${NODE_IMAGE:-}"
  if [ -z "$base" ]; then base="$(bash docker/local-node-image.sh)"; fi
  local registry="${REGISTRY:-localhost/}"
  local secret=() target target_started image_id_file
  if [ -n "$extra_ca" ]; then secret=(--secret "id=extra-ca,src=$extra_ca"); fi
  for target in "${targets[@]}"; do
    log "building ${registry}thumbnail-generator-$target:$VERSION with podman, on $base"
    target_started=$SECONDS
    image_id_file="$(mktemp)"
    # --format docker: the OCI image format has no HEALTHCHECK. --network host: RUN steps reach
    # the npm and Debian registries without a container network.
    podman build --format docker --network host --layers \
      -f docker/Dockerfile --target "$target" \
      --build-arg "NODE_IMAGE=$base" --build-arg "VERSION=$VERSION" \
      ${secret[@]+"${secret[@]}"} --iidfile "$image_id_file" \
      -t "${registry}thumbnail-generator-$target:$VERSION" -t "${registry}thumbnail-generator-$target:latest" .
    if [ -n "${IMAGE_ID_DIR:-}" ]; then
      mkdir -p "$IMAGE_ID_DIR"
      cp "$image_id_file" "$IMAGE_ID_DIR/$target.iid"
    fi
    log "built ${registry}thumbnail-generator-$target:$VERSION in $((SECONDS - target_started)) s," \
      "$(($(podman image inspect --format '{{.Size}}' "$(cat "$image_id_file")") / 1000000)) MB"
    rm -f "$image_id_file"
  done
  log "done in $((SECONDS - started)) s"
}

case "$builder" in
  docker) build_with_docker "$@" ;;
  podman) build_with_podman "$@" ;;
  *) log "CONTAINER_BUILDER must be docker or podman (not '$builder')"; exit 2 ;;
esac
