# Shared by start.sh and test.sh: install what a fresh Debian + Node 20 machine lacks.
# shellcheck shell=bash

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

apt_updated=0
# ensure_debian_package COMMAND PACKAGE: installs PACKAGE with apt when COMMAND is missing.
ensure_debian_package() {
  local command=$1 package=$2
  command -v "$command" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "$command is missing and cannot be installed here (needs root and apt-get): install the '$package' package"
    return 1
  fi
  install_debian_package "$package"
}

# install_debian_package PACKAGE: installs PACKAGE with apt (as root).
install_debian_package() {
  local package=$1
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "cannot install $package here (needs root and apt-get): install it"
    return 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "installing $package"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
}

# Installs npm dependencies when node_modules is missing or older than the lockfile.
ensure_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

export NX_NO_CLOUD=true NX_DAEMON=false NX_TUI=false
