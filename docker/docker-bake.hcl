# Builds both images from docker/Dockerfile: `docker buildx bake -f docker/docker-bake.hcl`
# from the repository root. docker/build.sh does that with VERSION from package.json, and adds
# NODE_IMAGE and the `extra-ca` secret with --set when they are given. Both targets share the
# builder stage, so the apps are compiled once.

# Image version; docker/build.sh sets it from package.json.
variable "VERSION" {
  default = "1.0.0"
}

# Registry and path prefix, with a trailing slash ("registry.example.com/team/"); empty for
# local images (kind load, minikube image load).
variable "REGISTRY" {
  default = ""
}

group "default" {
  targets = ["api", "worker"]
}

target "_common" {
  context    = "."
  dockerfile = "docker/Dockerfile"
  # Becomes the org.opencontainers.image.version label.
  args = {
    VERSION = VERSION
  }
}

target "api" {
  inherits = ["_common"]
  target   = "api"
  tags     = ["${REGISTRY}thumbnail-generator-api:${VERSION}", "${REGISTRY}thumbnail-generator-api:latest"]
}

target "worker" {
  inherits = ["_common"]
  target   = "worker"
  tags     = ["${REGISTRY}thumbnail-generator-worker:${VERSION}", "${REGISTRY}thumbnail-generator-worker:latest"]
}
