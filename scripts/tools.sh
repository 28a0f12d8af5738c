#!/usr/bin/env bash
# Builds the pinned programs the tests run as real servers and checkers, from their Go modules
# (Schemathesis: from PyPI, into a Python venv), once per machine: each into
# .tools/<name>-<version>/ (git-ignored), linked from .tools/bin/. A later run finds them and
# builds nothing. Where Go (or Python's venv) is missing or too old, it builds nothing, writes
# the reason to .tools/<name>.unavailable, and the suites that need that tool print it when they
# skip.
#
#   scripts/tools.sh              # every tool
#   scripts/tools.sh minio helm   # some of them
#   scripts/tools.sh --list       # name, version and state of each
#
# TOOLS_DIR moves the folder (default: .tools in the repository).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools_dir="${TOOLS_DIR:-$root/.tools}"

# The pins: name, Go package (or module for module files; pypi:<requirements file> for a Python
# tool), version. One line each, one home. A Python tool's requirements file pins every package
# it installs, its dependencies included.
readonly MIN_GO_MINOR=24
readonly KUBERNETES_VERSION=v1.34.4
readonly KUBERNETES_SCHEMA_VERSION=v1.30.14
# The Kubernetes minor helm's release build stamps (that of its k8s.io/client-go: v0.36).
readonly HELM_KUBERNETES_MINOR=36
tool_table() {
  cat <<EOF
minio                    github.com/minio/minio                                  v0.0.0-20260212201848-7aac2a2c5b7c
ferretdb                 github.com/FerretDB/FerretDB/cmd/ferretdb               v1.24.2
helm                     helm.sh/helm/v3/cmd/helm                                v3.21.4
kubeconform              github.com/yannh/kubeconform/cmd/kubeconform            v0.7.0
kube-apiserver           k8s.io/kubernetes/cmd/kube-apiserver                    $KUBERNETES_VERSION
kube-controller-manager  k8s.io/kubernetes/cmd/kube-controller-manager           $KUBERNETES_VERSION
kubectl                  k8s.io/kubernetes/cmd/kubectl                           $KUBERNETES_VERSION
kubernetes-openapi       k8s.io/kubernetes                                       $KUBERNETES_SCHEMA_VERSION
prometheus-operator-crds github.com/prometheus-operator/prometheus-operator      v0.85.0
schemathesis             pypi:scripts/schemathesis-requirements.txt              4.32.5
EOF
}

log() { printf '[tools] %s\n' "$*" >&2; }

readonly MIN_PYTHON_MINOR=10

# go_problem: empty when this machine's Go can build the tools, else why not.
go_problem() {
  if ! command -v go >/dev/null 2>&1; then
    echo "Go is not installed (the tools are built from their Go modules; install Go 1.$MIN_GO_MINOR or newer)"
    return
  fi
  local version minor
  version="$(go env GOVERSION 2>/dev/null || true)"
  minor="$(sed -nE 's/^go1\.([0-9]+).*/\1/p' <<<"$version")"
  if [ -z "$minor" ] || [ "$minor" -lt "$MIN_GO_MINOR" ]; then
    echo "Go ${version:-of unknown version} is too old (the tools need Go 1.$MIN_GO_MINOR or newer)"
  fi
}

# python_problem: empty when this machine's python3 can make a venv for the Python tools, else why not.
python_problem() {
  if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is not installed (Schemathesis is installed from PyPI into a venv; install Python 3.$MIN_PYTHON_MINOR or newer)"
    return
  fi
  if ! python3 -c "import sys; sys.exit(0 if sys.version_info >= (3, $MIN_PYTHON_MINOR) else 1)" 2>/dev/null; then
    echo "$(python3 --version 2>&1) is too old (Schemathesis needs Python 3.$MIN_PYTHON_MINOR or newer)"
    return
  fi
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "python3 cannot make a venv (on Debian: apt-get install python3-venv)"
  fi
}

# build_python_venv DEST REQUIREMENTS: a venv in DEST with exactly the pinned packages of
# REQUIREMENTS (a path in the repository) from PyPI.
build_python_venv() {
  local dest=$1 requirements=$root/$2
  python3 -m venv "$dest"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$dest/bin/pip" install --quiet --no-deps --only-binary=:all: -r "$requirements"
  "$dest/bin/pip" check >/dev/null
}

# build_go_program DEST PACKAGE VERSION [LDFLAGS]: `go install PACKAGE@VERSION` into DEST.
build_go_program() {
  local dest=$1 package=$2 version=$3 ldflags=${4:-}
  GOBIN="$dest" GOFLAGS="-trimpath" go install -ldflags="-s -w $ldflags" "$package@$version"
}

# module_dir MODULE VERSION: the module's source folder in Go's module cache (read-only).
module_dir() {
  go mod download -json "$1@$2" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p'
}

# build_from_module_copy DEST MODULE VERSION PACKAGE PREPARE [LDFLAGS]: builds PACKAGE (a path
# inside MODULE) from a writable copy of the module, after PREPARE (a function run in the copy)
# has done what a plain `go install` cannot.
build_from_module_copy() {
  local dest=$1 module=$2 version=$3 package=$4 prepare=$5 ldflags=${6:-}
  local work="$tools_dir/.src/${module//\//_}-$version"
  if [ ! -f "$work/.ready" ]; then
    rm -rf "$work"
    mkdir -p "$work"
    cp -R "$(module_dir "$module" "$version")/." "$work/"
    chmod -R u+w "$work"
    (cd "$work" && "$prepare" "$version")
    touch "$work/.ready"
  fi
  (cd "$work" && GOFLAGS="-mod=mod -trimpath" go build -ldflags="-s -w $ldflags" -o "$dest/" "./${package#"$module"/}")
}

# k8s.io/kubernetes points its k8s.io/* staging modules at folders the published module does not
# carry (they are nested modules), so a plain `go install` refuses: point them at the published
# k8s.io/* modules of the same release (v1.34.4 -> v0.34.4) instead.
prepare_kubernetes() {
  local staging="v0${1#v1}"
  rm -f go.work go.work.sum
  sed -nE 's#^\s*(k8s\.io/[a-z0-9-]+) => \./staging/src/.*#\1#p' go.mod | while read -r dep; do
    go mod edit -replace "$dep=$dep@$staging"
  done
  GOFLAGS=-mod=mod go mod download
}

# Kubernetes' release build stamps its version into the binaries; without it the API server
# reports v0.0.0-master, and helm refuses every chart with a kubeVersion range.
kubernetes_version_ldflags() {
  local version=$1 minor package
  minor="${version#v1.}"
  minor="${minor%%.*}"
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
      "$package" "$version" "$package" "$package" "$minor" "$package"
  done
}

# build_stamp PACKAGE VERSION: what a build depends on besides its version (extra link flags),
# recorded in .complete so that a tool built with other flags is built again.
build_stamp() {
  case "$1" in
    k8s.io/kubernetes/cmd/*) kubernetes_version_ldflags "$2" ;;
    helm.sh/helm/v3/cmd/helm) helm_version_ldflags "$2" ;;
    # A changed pin of any dependency installs the venv again.
    pypi:*) sha256sum "$root/${1#pypi:}" | cut -d' ' -f1 ;;
  esac
}

# helm's release build stamps its version and the Kubernetes version `helm template` and
# `helm lint` assume; without them helm says v3.21 and assumes Kubernetes 1.20.
helm_version_ldflags() {
  local package
  printf -- '-X helm.sh/helm/v3/internal/version.version=%s -X helm.sh/helm/v3/internal/version.gitTreeState=clean ' "$1"
  for package in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    printf -- '-X %s.k8sVersionMajor=1 -X %s.k8sVersionMinor=%s ' "$package" "$package" "$HELM_KUBERNETES_MINOR"
  done
}

# FerretDB embeds its version from a file its release build generates and the module lacks;
# without it the binary panics at start.
prepare_ferretdb() {
  printf '%s\n' "$1" > build/version/version.txt
}

# fetch_module_files DEST MODULE VERSION: the module's source (read-only), linked as DEST/module.
fetch_module_files() {
  local dest=$1 module=$2 version=$3 dir
  dir="$(module_dir "$module" "$version")"
  [ -d "$dir" ] || return 1
  ln -sfn "$dir" "$dest/module"
}

# ensure NAME PACKAGE VERSION: builds the tool unless this version is already there.
ensure() {
  local name=$1 package=$2 version=$3
  local dest="$tools_dir/$name-$version"
  local link="$tools_dir/bin/$name"
  local stamp
  stamp="$(build_stamp "$package" "$version")"
  if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$stamp" ]; then
    ln -sfn "$(target_of "$name" "$dest")" "$link"
    return 0
  fi
  local problem
  case "$package" in
    pypi:*) problem="$(python_problem)" ;;
    *) problem="$(go_problem)" ;;
  esac
  if [ -n "$problem" ]; then
    log "$name $version: not built: $problem"
    printf '%s\n' "$problem" >"$tools_dir/$name.unavailable"
    return 0
  fi
  log "$name $version: building from $package (later runs reuse it)"
  local started=$SECONDS
  rm -rf "$dest"
  mkdir -p "$dest"
  local failed=0
  case "$name" in
    kube-apiserver | kube-controller-manager | kubectl)
      build_from_module_copy "$dest" k8s.io/kubernetes "$version" "$package" prepare_kubernetes "$stamp" || failed=1 ;;
    ferretdb)
      build_from_module_copy "$dest" github.com/FerretDB/FerretDB "$version" "$package" prepare_ferretdb || failed=1 ;;
    kubernetes-openapi | prometheus-operator-crds) fetch_module_files "$dest" "$package" "$version" || failed=1 ;;
    schemathesis) build_python_venv "$dest" "${package#pypi:}" || failed=1 ;;
    *) build_go_program "$dest" "$package" "$version" "$stamp" || failed=1 ;;
  esac
  if [ "$failed" -ne 0 ]; then
    printf 'building %s %s failed: see the output of scripts/tools.sh above\n' "$name" "$version" >"$tools_dir/$name.unavailable"
    log "$name $version: build FAILED after $((SECONDS - started)) s"
    return 1
  fi
  rm -f "$tools_dir/$name.unavailable"
  printf '%s' "$stamp" >"$dest/.complete"
  ln -sfn "$(target_of "$name" "$dest")" "$link"
  log "$name $version: built in $((SECONDS - started)) s"
}

# What .tools/bin/NAME points at: the program (a venv's in its bin/), or the folder of module files.
target_of() {
  local name=$1 dest=$2
  if [ -e "$dest/$name" ]; then
    echo "$dest/$name"
  elif [ -e "$dest/bin/$name" ]; then
    echo "$dest/bin/$name"
  else
    echo "$dest/module"
  fi
}

main() {
  mkdir -p "$tools_dir/bin"
  if [ "${1:-}" = "--list" ]; then
    tool_table | while read -r name package version; do
      local state=missing
      local complete="$tools_dir/$name-$version/.complete"
      if [ -f "$complete" ]; then
        state=built
        [ "$(cat "$complete")" = "$(build_stamp "$package" "$version")" ] || state="stale (built again on the next run)"
      fi
      [ -f "$tools_dir/$name.unavailable" ] && state="unavailable: $(cat "$tools_dir/$name.unavailable")"
      printf '%-26s %-40s %s\n' "$name" "$version" "$state"
    done
    return 0
  fi
  # One builder at a time per folder: parallel test runs share what the first one builds.
  exec 9>"$tools_dir/.lock"
  flock 9
  local wanted=" $* " status=0
  while read -r name package version; do
    if [ $# -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
    ensure "$name" "$package" "$version" || status=1
  done < <(tool_table)
  return "$status"
}

main "$@"
