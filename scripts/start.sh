#!/usr/bin/env bash
# npm start: the whole service on embedded defaults (files on disk, job records in Redis).
# Uses Redis at REDIS_URL when set; otherwise starts a local redis-server with AOF persistence
# whose data lives next to the stored files, so jobs survive a restart. The API and the worker
# are restarted when they die, as a Deployment would. Ctrl-C (or SIGTERM) stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

DATA_DIR=${DATA_DIR:-$PWD/data}
export STORAGE_DIR=${STORAGE_DIR:-$DATA_DIR/files}
export PORT=${PORT:-3000}
# Local use: reachable from this machine only, and open without API keys. Set HOST=0.0.0.0 (and
# API_KEYS) to serve other machines.
export HOST=${HOST:-127.0.0.1}
mkdir -p "$STORAGE_DIR"
chmod 700 "$DATA_DIR"
DATA_DIR="$(cd "$DATA_DIR" && pwd -P)"
# What this script started, so that the next run can stop what a hard kill left behind.
RUN_FILE="$DATA_DIR/npm-start.pids"

ensure_node_modules

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# cmdline_of PID: the process's command line, arguments separated by spaces.
cmdline_of() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ *$//'; }

# stop_leftovers: an earlier npm start killed before it could stop its children (kill -9, a
# closed terminal) left them running. Stop those that are still ours: same pid, same command.
stop_leftovers() {
  [ -f "$RUN_FILE" ] || return 0
  local pid command
  # Newest first: the supervisors before the apps they would restart, the apps before Redis.
  tac "$RUN_FILE" | while read -r pid command; do
    [ -n "$pid" ] || continue
    if [ "$(cmdline_of "$pid")" = "$command" ]; then
      log "stopping pid $pid, left running by an earlier npm start"
      kill -TERM "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
  done
  rm -f "$RUN_FILE"
}

# record PID COMMAND...: remembers a child and the command it runs, for stop_leftovers.
record() {
  local pid=$1
  shift
  printf '%s %s\n' "$pid" "$*" >>"$RUN_FILE"
}

supervisors=()
redis_pid=
stop_all() {
  local code=$1
  trap - INT TERM EXIT
  log "stopping"
  for pid in "${supervisors[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${supervisors[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$redis_pid" ]; then
    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -f "$RUN_FILE"
  exit "$code"
}
# Ctrl-C and SIGTERM are the way to stop it (exit 0); a failure keeps its own exit code.
trap 'stop_all 0' INT TERM
trap 'stop_all $?' EXIT

# supervise NAME COMMAND...: runs COMMAND, and again each time it exits, waiting longer after each
# quick failure (1 s doubling to 30 s; a run of a minute resets it). SIGTERM to the supervisor
# passes to the command, which drains, and ends the loop.
supervise() {
  local name=$1 child= delay=1
  shift
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM
  while :; do
    local started=$SECONDS
    setsid "$@" &
    child=$!
    record "$child" "$@"
    local code=0
    wait "$child" || code=$?
    [ $((SECONDS - started)) -ge 60 ] && delay=1
    log "$name exited (code $code); starting it again in $delay s"
    # In the background, so that SIGTERM interrupts the wait instead of waiting for it.
    sleep "$delay" &
    wait $! || true
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

stop_leftovers

if [ -z "${REDIS_URL:-}" ]; then
  ensure_debian_package redis-server redis-server
  redis_port=${REDIS_PORT:-6379}
  redis_dir="$DATA_DIR/redis"
  mkdir -p "$redis_dir"
  if port_open "$redis_port"; then
    # A Redis whose data folder is ours is the one an earlier npm start left behind: restart it
    # under this run. Anything else on the port is somebody else's.
    their_dir="$(redis-cli -p "$redis_port" --no-auth-warning config get dir 2>/dev/null | sed -n 2p || true)"
    if [ "$their_dir" != "$redis_dir" ]; then
      log "port $redis_port is taken (not by the Redis of $redis_dir): set REDIS_URL to use that Redis, or REDIS_PORT for another port"
      exit 1
    fi
    log "restarting the Redis an earlier npm start left running on port $redis_port (same data folder)"
    redis-cli -p "$redis_port" shutdown >/dev/null 2>&1 || true
    while port_open "$redis_port"; do sleep 0.1; done
  fi
  # setsid: Ctrl-C reaches only this script, which stops the apps first and Redis last.
  redis=(redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir"
    --appendonly yes --appendfsync everysec --save "" --maxmemory-policy noeviction --loglevel warning)
  setsid "${redis[@]}" &
  redis_pid=$!
  record "$redis_pid" "${redis[@]}"
  export REDIS_URL="redis://127.0.0.1:$redis_port"
  for _ in $(seq 1 100); do
    port_open "$redis_port" && break
    sleep 0.1
  done
  log "redis-server on $REDIS_URL (data in $redis_dir)"
fi

log "building api and worker"
npx nx run-many -t build -p api worker --outputStyle=static >/dev/null

supervise worker node dist/apps/worker/main.js &
supervisors+=($!)
record $! "$(cmdline_of $$)"
# The API image's V8 flag (docker/Dockerfile says why).
supervise api node --max-semi-space-size=4 dist/apps/api/main.js &
supervisors+=($!)
record $! "$(cmdline_of $$)"

for _ in $(seq 1 300); do
  port_open "$PORT" && break
  sleep 0.1
done
log "Thumbnail Generator is up: http://localhost:$PORT  (API docs: http://localhost:$PORT/docs). Ctrl-C stops it."
# Runs until Ctrl-C or SIGTERM (stop_all).
while :; do wait || true; done
