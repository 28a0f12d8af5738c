#!/usr/bin/env bash
# npm start: the whole service on embedded defaults (files on disk, job records in Redis).
# Uses Redis at REDIS_URL when set; otherwise starts a local redis-server with AOF persistence
# whose data lives next to the stored files, so jobs survive a restart. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

DATA_DIR=${DATA_DIR:-$PWD/data}
export STORAGE_DIR=${STORAGE_DIR:-$DATA_DIR/files}
export PORT=${PORT:-3000}
mkdir -p "$STORAGE_DIR"
chmod 700 "$DATA_DIR"

ensure_node_modules

pids=()
redis_pid=
stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$redis_pid" ]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap stop_all INT TERM EXIT

if [ -z "${REDIS_URL:-}" ]; then
  ensure_debian_package redis-server redis-server
  redis_port=${REDIS_PORT:-6379}
  if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
    log "port $redis_port is taken: set REDIS_URL to use that Redis, or REDIS_PORT for another port"
    exit 1
  fi
  mkdir -p "$DATA_DIR/redis"
  # setsid: Ctrl-C reaches only this script, which stops the apps first and Redis last.
  setsid redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$DATA_DIR/redis" \
    --appendonly yes --appendfsync everysec --save "" --maxmemory-policy noeviction \
    --loglevel warning &
  redis_pid=$!
  export REDIS_URL="redis://127.0.0.1:$redis_port"
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break
    sleep 0.1
  done
  log "redis-server on $REDIS_URL (data in $DATA_DIR/redis)"
fi

log "building api and worker"
npx nx run-many -t build -p api worker --outputStyle=static >/dev/null

setsid node dist/apps/worker/main.js &
pids+=($!)
# The API image's V8 flag (docker/Dockerfile says why).
setsid node --max-semi-space-size=4 dist/apps/api/main.js &
pids+=($!)

for _ in $(seq 1 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "${pids[1]}" 2>/dev/null || break
  sleep 0.1
done
log "Thumbnail Generator is up: http://localhost:$PORT  (API docs: http://localhost:$PORT/docs). Ctrl-C stops it."
# Exit (and stop the rest) as soon as either app exits.
wait -n "${pids[@]}"
