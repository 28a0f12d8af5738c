#!/usr/bin/env bash
# npm test: installs what the tests need, then lints, type-checks (test code included), tests and
# builds every project.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_debian_package redis-server redis-server
ensure_debian_package promtool prometheus
# The chart suite's control plane: Debian's etcd, and openssl for its certificates.
ensure_debian_package etcd etcd-server
ensure_debian_package openssl openssl
# The storage suite watches what reaches the disk (fsync, rename) with strace.
ensure_debian_package strace strace
# Schemathesis (scripts/tools.sh) goes into a Python venv: Debian's python3 needs python3-venv.
python3 -c 'import ensurepip, venv' 2>/dev/null || install_debian_package python3-venv
# The images project builds both images and runs them with rootful podman (docker/build.sh; runc
# because docker/podman/containers.conf selects it), on a Node base made with debootstrap. As
# another user its suites print why they skip.
if [ "$(id -u)" -eq 0 ]; then
  ensure_debian_package podman podman
  ensure_debian_package runc runc
  ensure_debian_package debootstrap debootstrap
  # The partition suites run each process in a network namespace of its own (ip netns) and cut
  # links with ebtables (apps/api-e2e/src/partitions.e2e.ts).
  ensure_debian_package ip iproute2
  ensure_debian_package ebtables iptables
fi
ensure_node_modules
# MinIO, FerretDB, helm, kubeconform, kubectl and the Kubernetes control plane: pinned, built from their Go
# modules once per machine, and Schemathesis from PyPI (scripts/tools.sh says what it builds and how
# long it took).
bash scripts/tools.sh

# The ?wait= suite holds 2,000 connections at once; a soft limit of 1024 open files would refuse
# them. Raise it to the hard limit (no-op where it already is).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Tests always run (nx.json: they are never cached, they talk to real servers); builds, lint and
# typecheck are cached by their inputs, so the builds `npm start` asks for meanwhile are found.
exec npx nx run-many -t lint typecheck test build --outputStyle=stream "$@"
