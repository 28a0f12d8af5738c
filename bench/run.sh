#!/usr/bin/env bash
# npm run bench: installs what the bench needs (redis-server, nginx with image_filter, wrk) when
# missing, builds the api and worker, then runs bench/src/thumbnail.bench-run.ts once. See
# bench/README.md. Every process the bench starts is listed in a pid file, and whatever is still
# running from that list when this script exits (however it exits) is stopped here.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_NO_CLOUD=true NX_DAEMON=false NX_TUI=false
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { printf '[bench] %s\n' "$*" >&2; }

IMAGE_FILTER_MODULE=/usr/lib/nginx/modules/ngx_http_image_filter_module.so

apt_updated=0
# apt_install PACKAGE...: installs with apt when we are root and apt exists; false otherwise.
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "cannot install $* here (needs root and apt-get)"
    return 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v redis-server >/dev/null 2>&1 || apt_install redis-server
command -v redis-server >/dev/null 2>&1 || { log "redis-server is required"; exit 1; }

# The peer is optional: without nginx or wrk the bench still runs and reports it as n/a.
missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
[ -f "$IMAGE_FILTER_MODULE" ] || missing+=(libnginx-mod-http-image-filter)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ "${#missing[@]}" -gt 0 ]; then
  system_nginx_before=$( [ -s /run/nginx.pid ] && cat /run/nginx.pid || true )
  apt_install "${missing[@]}" || log "continuing without: ${missing[*]} (the nginx columns will be n/a)"
  # Where the package's post-install script may start a system nginx (no policy-rc.d), stop it:
  # it listens on port 80 of every interface, and the bench only wants its own on loopback.
  if [ -s /run/nginx.pid ] && [ "$(cat /run/nginx.pid)" != "$system_nginx_before" ]; then
    log "stopping the system nginx the package started (pid $(cat /run/nginx.pid))"
    kill -QUIT "$(cat /run/nginx.pid)" 2>/dev/null || true
  fi
fi

# The s3 phase (and an s3 profile) stores in MinIO, built from its pinned Go module once per
# machine; later runs find it built.
if [ -z "${BENCH_ONLY:-}" ] || [[ ",${BENCH_ONLY// /}," == *,s3,* ]] || [ "${BENCH_PROFILE_STORAGE:-}" = s3 ]; then
  bash scripts/tools.sh minio
fi

if [ ! -d node_modules/sharp ] || [ ! -d node_modules/vitest ]; then
  log "node_modules is missing: run npm ci first"
  exit 1
fi

# The bench measures the working tree as built now. BENCH_SKIP_BUILD=1 measures whatever is in
# dist/ instead (for example while the tree is mid-edit and does not build).
if [ "${BENCH_SKIP_BUILD:-0}" = "1" ]; then
  for app in api worker; do
    [ -f "dist/apps/$app/main.js" ] || { log "dist/apps/$app/main.js is missing: build first"; exit 1; }
  done
  log "BENCH_SKIP_BUILD=1: measuring the existing dist/ bundles"
else
  log "building api and worker"
  build_log=$(mktemp)
  if ! npx nx run-many -t build -p api worker --outputStyle=static >"$build_log" 2>&1; then
    cat "$build_log" >&2
    rm -f "$build_log"
    log "the build failed; BENCH_SKIP_BUILD=1 measures the bundles already in dist/"
    exit 1
  fi
  rm -f "$build_log"
fi

BENCH_PID_FILE=$(mktemp /tmp/bench-pids.XXXXXX)
export BENCH_PID_FILE
# Every temporary folder of the run (Redis data, storage, nginx, MinIO) goes under one folder,
# removed at the end even if the run was interrupted before its own cleanup.
BENCH_TMP=$(mktemp -d /tmp/bench-run.XXXXXX)
chmod 755 "$BENCH_TMP" # nginx's workers (user nobody) read the images from a folder inside it
export TMPDIR="$BENCH_TMP"

# Starts at field 3 after the "(comm) " part, so field 22 (start time) is the 20th.
start_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

stop_leftovers() {
  local pid ticks label alive=()
  while read -r pid ticks label; do
    [ -n "$pid" ] && [ "$(start_ticks "$pid")" = "$ticks" ] || continue
    log "stopping leftover $label (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    alive+=("$pid:$ticks")
  done <"$BENCH_PID_FILE"
  if [ "${#alive[@]}" -gt 0 ]; then
    sleep 3
    for entry in "${alive[@]}"; do
      pid=${entry%%:*} ticks=${entry#*:}
      [ "$(start_ticks "$pid")" = "$ticks" ] && kill -KILL "$pid" 2>/dev/null || true
    done
  fi
  rm -f "$BENCH_PID_FILE"
  rm -rf "$BENCH_TMP"
}
trap stop_leftovers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

npx vitest run --config bench/bench.vitest.mts
