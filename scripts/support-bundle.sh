#!/usr/bin/env bash
# Collects what is needed to diagnose a thumbnail-generator release on Kubernetes into one
# .tar.gz an operator can attach to an issue. See `--help` and the README's "When something
# goes wrong". It only reads: pod status, events, logs, Helm values (secret-looking values
# masked), Helm history and each pod's /metrics. It never reads Secrets or stored images.
set -euo pipefail

readonly SCRIPT_NAME="${0##*/}"
readonly MASK='***MASKED***'
# Helm value keys whose values are masked, matched case-insensitively anywhere in the key.
readonly SECRET_KEY_PATTERN='password|secret|token|key|credential'
readonly COMPONENTS=(api worker)

usage() {
  cat <<EOF
Usage: $SCRIPT_NAME [-n NAMESPACE] [-r RELEASE] [-o OUTDIR] [--since DURATION]

Collects a support bundle for a thumbnail-generator Helm release into one .tar.gz:
  - pods (get -o wide, describe), the release's workloads and services, namespace events
  - logs of the api and worker pods over --since, and of the previous container if it restarted
  - helm get values --all (values under keys matching ${SECRET_KEY_PATTERN//|/, } masked), helm history
  - a /metrics snapshot of every api and worker pod, and the queue counts (thumbnail_queue_jobs)

Options:
  -n, --namespace NAMESPACE  namespace of the release (default: the kubectl context's, else "default")
  -r, --release RELEASE      Helm release name (default: thumbnail-generator)
  -o, --output OUTDIR        directory to write the .tar.gz to (default: current directory)
      --since DURATION       how far back to collect logs, e.g. 30m, 1h, 2h30m (default: 1h)
  -h, --help                 show this help

Needs kubectl with read access to the namespace; helm for the values and history; pods/exec
permission for the /metrics snapshots (taken with 'kubectl exec <pod> -- node -e', as the images
have no curl). A piece that cannot be collected is skipped and explained in SKIPPED.txt.

Pods are found by the labels app.kubernetes.io/instance=RELEASE and
app.kubernetes.io/component=api|worker. Image bytes and Secret contents are never collected;
still, read the bundle before sharing it outside your organisation.
EOF
}

die() {
  printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2
  printf "Try '%s --help'.\n" "$SCRIPT_NAME" >&2
  exit 2
}

namespace=''
release='thumbnail-generator'
outdir='.'
since='1h'

while (($# > 0)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    -n | --namespace | -r | --release | -o | --output | --since)
      (($# >= 2)) || die "option $1 needs a value"
      case "$1" in
        -n | --namespace) namespace="$2" ;;
        -r | --release) release="$2" ;;
        -o | --output) outdir="$2" ;;
        --since) since="$2" ;;
      esac
      shift 2
      ;;
    --namespace=* ) namespace="${1#*=}"; shift ;;
    --release=* ) release="${1#*=}"; shift ;;
    --output=* ) outdir="${1#*=}"; shift ;;
    --since=* ) since="${1#*=}"; shift ;;
    *) die "unknown argument: $1" ;;
  esac
done

[[ "$since" =~ ^([0-9]+[hms])+$ ]] || die "--since wants a duration such as 30m, 1h or 2h30m, not '$since'"
[[ -n "$release" ]] || die "the release name must not be empty"
[[ -d "$outdir" && -w "$outdir" ]] || die "output directory '$outdir' does not exist or is not writable"

have() { command -v "$1" >/dev/null 2>&1; }

if [[ -z "$namespace" ]] && have kubectl; then
  namespace="$(kubectl config view --minify --output 'jsonpath={..namespace}' 2>/dev/null || true)"
fi
namespace="${namespace:-default}"

timestamp="$(date -u +%Y%m%dT%H%M%SZ)"
bundle_name="support-bundle-${release}-${namespace}-${timestamp}"
workdir="$(mktemp -d "${TMPDIR:-/tmp}/${SCRIPT_NAME%.sh}.XXXXXX")"
trap 'rm -rf -- "$workdir"' EXIT
bundle="$workdir/$bundle_name"
mkdir -p "$bundle"/{pods,logs,metrics,helm}
skipped="$bundle/SKIPPED.txt"
: >"$skipped"

log() { printf '%s\n' "$*" >&2; }

# Records a piece that could not be collected. Goes into the bundle, so whoever reads it knows
# a missing file means "could not", not "nothing there".
skip() {
  printf -- '- %s\n' "$*" >>"$skipped"
  log "  skipped: $*"
}

# Masks the user:password part of URLs (redis://:pw@host) wherever they appear.
redact_urls() {
  sed -E 's#([A-Za-z][A-Za-z0-9+.-]*://)[^/@[:space:]"'\'']+@#\1'"$MASK"'@#g'
}

# Masks credentials in `kubectl describe` output and logs: URLs as above, and the values of
# environment variables with secret-looking names ("      S3_SECRET_ACCESS_KEY:  abc").
redact_text() {
  redact_urls | sed -E 's#^([[:space:]]+[A-Za-z0-9_.-]*([Pp][Aa][Ss][Ss][Ww][Oo][Rr][Dd]|[Ss][Ee][Cc][Rr][Ee][Tt]|[Tt][Oo][Kk][Ee][Nn]|[Kk][Ee][Yy]|[Cc][Rr][Ee][Dd][Ee][Nn][Tt][Ii][Aa][Ll])[A-Za-z0-9_.-]*:[[:space:]]+).+$#\1'"$MASK"'#'
}

# Masks YAML values (`helm get values -o yaml`) under keys matching SECRET_KEY_PATTERN: the
# scalar on the key's line, or the whole block (nested map, list, multi-line string) below it.
redact_yaml() {
  awk -v pattern="$SECRET_KEY_PATTERN" -v mask="$MASK" '
    function indent_of(line) { match(line, /^[ ]*/); return RLENGTH }
    {
      if (masking) {
        ind = indent_of($0)
        # Deeper lines, blank lines and "- " items at the key column (YAML allows lists there)
        # all belong to the masked value.
        if ($0 ~ /^[ ]*$/ || ind > key_col || (ind == key_col && substr($0, ind + 1, 2) == "- ")) next
        masking = 0
      }
      if (match($0, /^[ ]*(- )*[^ :#][^:#]*:( |$)/)) {
        head = substr($0, 1, RLENGTH)
        prefix = head
        sub(/[^ -].*$/, "", prefix)
        key = substr(head, length(prefix) + 1)
        sub(/:( )?$/, "", key)
        if (tolower(key) ~ pattern) {
          print prefix key ": \"" mask "\""
          masking = 1
          key_col = length(prefix)
          next
        }
      }
      print
    }'
}

# The last non-empty line of a command's stderr is its summary ("Error from server
# (Forbidden): ..."); kubectl's retries before it only repeat themselves.
last_line() {
  local line
  line="$(grep -v '^[[:space:]]*$' "$1" | tail -n 1 | cut -c 1-400)" || true
  printf '%s' "${line:-no error message}"
}

# run FILE DESCRIPTION CMD...: stdout to FILE; on failure the file is removed and the reason
# noted. Never fails the script: one missing permission must not lose the rest of the bundle.
run() {
  local file="$1" what="$2"
  shift 2
  local err
  err="$(mktemp "$workdir/err.XXXXXX")"
  if "$@" >"$file" 2>"$err"; then
    rm -f -- "$err"
    return 0
  fi
  skip "$what: $(last_line "$err")"
  rm -f -- "$err" "$file"
  return 1
}

# Same, with the output passed through redact_text.
run_redacted() {
  local file="$1"
  run "$file.raw" "$2" "${@:3}" || return 1
  redact_text <"$file.raw" >"$file"
  rm -f -- "$file.raw"
}

kubectl_ns() { kubectl --namespace "$namespace" --request-timeout=30s "$@"; }

# kubectl exec has no timeout of its own and can hang on a wedged pod: bound it with
# coreutils' timeout where there is one.
kubectl_exec() {
  local bound=()
  if have timeout; then bound=(timeout 90); fi
  "${bound[@]}" kubectl --namespace "$namespace" exec "$@"
}

# Prints the node script that fetches one pod's /metrics from inside the pod. It reads the port
# from the container's own environment, so a changed PORT/WORKER_PORT still works.
metrics_script() {
  local port_var="$1" default_port="$2"
  printf '%s' "const port = process.env.${port_var} || ${default_port};
fetch('http://127.0.0.1:' + port + '/metrics', { signal: AbortSignal.timeout(15000) })
  .then(async (res) => {
    if (!res.ok) throw new Error('HTTP ' + res.status + ' from /metrics on port ' + port);
    process.stdout.write(await res.text());
  })
  .catch((err) => { console.error(String(err)); process.exit(1); });"
}

collect_summary() {
  {
    echo "thumbnail-generator support bundle"
    echo "created:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "release:   $release"
    echo "namespace: $namespace"
    echo "logs since: $since"
    if have kubectl; then
      echo "kubectl context: $(kubectl config current-context 2>/dev/null || echo unknown)"
    fi
  } >"$bundle/summary.txt"
  if have kubectl; then
    run "$bundle/kubectl-version.txt" "kubectl version" kubectl version --request-timeout=30s || true
  fi
  if have helm; then
    run "$bundle/helm-version.txt" "helm version" helm version || true
  fi
}

collect_cluster_state() {
  local selector="app.kubernetes.io/instance=$release"
  log "Collecting pods, workloads and events in namespace $namespace"
  run "$bundle/pods/get-pods.txt" "kubectl get pods" \
    kubectl_ns get pods --selector "$selector" --output wide || true
  run_redacted "$bundle/pods/describe-pods.txt" "kubectl describe pods" \
    kubectl_ns describe pods --selector "$selector" || true
  # Names, replica counts and status only: `get` without -o yaml prints no env or data.
  run "$bundle/pods/workloads.txt" "kubectl get deployments, services, endpoints, hpa, pdb" \
    kubectl_ns get deployments,statefulsets,replicasets,services,endpoints,horizontalpodautoscalers,poddisruptionbudgets \
    --selector "$selector" --output wide || true
  run "$bundle/events.txt" "kubectl get events" \
    kubectl_ns get events --sort-by=.lastTimestamp || true
  run "$bundle/pods/top-pods.txt" "kubectl top pods (needs metrics-server)" \
    kubectl_ns top pods --selector "$selector" || true
}

# Prints "pod container restartCount" for every container of the component's pods.
containers_of() {
  # $pod below is a Go template variable, not a shell one.
  # shellcheck disable=SC2016
  kubectl_ns get pods \
    --selector "app.kubernetes.io/instance=$release,app.kubernetes.io/component=$1" \
    --output 'go-template={{range .items}}{{$pod := .metadata.name}}{{range .status.containerStatuses}}{{$pod}} {{.name}} {{.restartCount}}{{"\n"}}{{end}}{{end}}'
}

collect_logs() {
  local component pod container restarts listing
  for component in "${COMPONENTS[@]}"; do
    log "Collecting $component logs (since $since)"
    if ! listing="$(containers_of "$component" 2>&1)"; then
      skip "$component logs: could not list pods: $(tail -n 1 <<<"$listing")"
      continue
    fi
    if [[ -z "$listing" ]]; then
      skip "$component logs: no pods labelled app.kubernetes.io/instance=$release,app.kubernetes.io/component=$component"
      continue
    fi
    while read -r pod container restarts; do
      [[ -n "$pod" ]] || continue
      run_redacted "$bundle/logs/$component-$pod-$container.log" "logs of $pod/$container" \
        kubectl_ns logs "$pod" --container "$container" --since "$since" --timestamps || true
      if [[ "$restarts" =~ ^[0-9]+$ ]] && ((restarts > 0)); then
        run_redacted "$bundle/logs/$component-$pod-$container.previous.log" \
          "logs of the previous $pod/$container (restarted $restarts times)" \
          kubectl_ns logs "$pod" --container "$container" --previous --timestamps || true
      fi
    done <<<"$listing"
  done
}

collect_helm() {
  if ! have helm; then
    skip "helm values and history: helm is not installed"
    return
  fi
  log "Collecting Helm values and history of release $release"
  if run "$bundle/helm/values.raw.yaml" "helm get values" \
    helm get values "$release" --namespace "$namespace" --all --output yaml; then
    redact_yaml <"$bundle/helm/values.raw.yaml" | redact_urls >"$bundle/helm/values.yaml"
    rm -f -- "$bundle/helm/values.raw.yaml"
  fi
  run "$bundle/helm/history.txt" "helm history" \
    helm history "$release" --namespace "$namespace" --max 20 || true
}

collect_metrics() {
  local component pod port_var default_port first_api=''
  for component in "${COMPONENTS[@]}"; do
    if [[ "$component" == api ]]; then
      port_var=PORT default_port=3000
    else
      port_var=WORKER_PORT default_port=3001
    fi
    log "Collecting /metrics of $component pods"
    local pods
    if ! pods="$(kubectl_ns get pods \
      --selector "app.kubernetes.io/instance=$release,app.kubernetes.io/component=$component" \
      --field-selector status.phase=Running --output 'jsonpath={.items[*].metadata.name}' 2>&1)"; then
      skip "$component /metrics: could not list pods: $(tail -n 1 <<<"$pods")"
      continue
    fi
    if [[ -z "$pods" ]]; then
      skip "$component /metrics: no running pods"
      continue
    fi
    local pod_list
    read -r -a pod_list <<<"$pods"
    for pod in "${pod_list[@]}"; do
      if run "$bundle/metrics/$component-$pod.prom" "/metrics of $pod (kubectl exec; needs pods/exec)" \
        kubectl_exec "$pod" -- node -e "$(metrics_script "$port_var" "$default_port")"; then
        if [[ "$component" == api && -z "$first_api" ]]; then
          first_api="$bundle/metrics/$component-$pod.prom"
        fi
      fi
    done
  done

  # Every API replica reads the same counts from Redis, so one snapshot is enough.
  if [[ -n "$first_api" ]]; then
    {
      echo "# BullMQ job counts from ${first_api##*/}"
      grep -E '^thumbnail_queue_jobs[{ ]' "$first_api" || echo "# thumbnail_queue_jobs not found in the snapshot"
    } >"$bundle/queue-counts.txt"
  else
    skip "queue counts: no API /metrics snapshot to read thumbnail_queue_jobs from"
  fi
}

collect_summary
if ! have kubectl; then
  skip "pods, events, logs, metrics and queue counts: kubectl is not installed"
elif ! kubectl_ns get pods --selector "app.kubernetes.io/instance=$release" --output name \
  >/dev/null 2>"$workdir/preflight.err"; then
  # One note instead of the same connection error for every piece.
  skip "pods, events, logs, metrics and queue counts: kubectl cannot list pods in namespace $namespace: $(last_line "$workdir/preflight.err")"
else
  collect_cluster_state
  collect_logs
  collect_metrics
fi
collect_helm

if [[ ! -s "$skipped" ]]; then
  echo "Nothing was skipped." >"$skipped"
fi

archive="$outdir/$bundle_name.tar.gz"
tar -czf "$archive" -C "$workdir" "$bundle_name"
log ""
log "Support bundle written to: $archive"
if [[ "$(head -n 1 "$skipped")" != "Nothing was skipped." ]]; then
  log "Some pieces were skipped; $bundle_name/SKIPPED.txt in the bundle says which and why."
fi
printf '%s\n' "$archive"
