#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests drive, builds, runs every test,
# and ends with one line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"

# Real programs the tests run: gcc for the exec shim (and its arm64 build), wrk as the load
# client, gunicorn as the unmodified third-party server, tini to compare PID 1 behaviour with,
# python3 for the Python test service, util-linux for unshare and nsenter, prometheus for promtool
# (the metrics output is checked with it), tmux as the real terminal `status --watch` is checked in;
# for the template's container and Kubernetes tests: socat and iproute2 (a hand-made container's
# published port), python3-kubernetes (the offline schema check of the manifest).
packages=(gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross wrk gunicorn tini python3 util-linux curl prometheus tmux socat iproute2 python3-kubernetes)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Aeterna.sln -c Release -nologo -clp:ErrorsOnly
log=$(mktemp)
set +e
dotnet test Aeterna.sln -c Release --no-build --nologo "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# dotnet test prints "Failed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12" per test assembly.
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s += $2} END {print s + 0}')
rm -f "$log"
echo "$passed passed, $failed failed"
exit "$status"
