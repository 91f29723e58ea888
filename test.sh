#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests drive, builds, runs the tests, and
# ends with one line "N passed, N failed".
#
#   ./test.sh            every test: the fast set, then the integration set
#   ./test.sh --fast     the fast set only (unit and in-process tests, about a minute)
#   ./test.sh [--fast] --filter NAME   extra arguments go to `dotnet test`
set -euo pipefail
cd "$(dirname "$0")"
source scripts/debian-packages.sh
source scripts/python-venv.sh

fast_only=false
if [ "${1:-}" = --fast ]; then fast_only=true; shift; fi

# The fast set: the supervisor's parts, the runtime's (protocol frames, state transfer, the Kestrel
# gate), the generator, the serializer. In process, except promtool, which checks the metrics text,
# and a Python JSON Schema validator, which checks aeterna.schema.json. Then the Python client's
# pytest suite (sdk/python/tests) and `mypy --strict` of the package, in artifacts/python-venv.
fast=(Aeterna.Tool.Tests Aeterna.Runtime.Tests Aeterna.Generators.Tests Aeterna.Serialization.Tests)
# The integration set: real supervisors, generations and clients; the template, its image, Kubernetes.
integration=(Aeterna.Integration.Tests Aeterna.Templates.Tests)

# Real programs the tests run. Fast set: gcc for the exec shim (and its arm64 build), prometheus for
# promtool, python3-jsonschema and python3-yaml (an independent check of aeterna.schema.json).
# Integration set, besides: wrk as the load client, gunicorn as the unmodified third-party
# server, tini to compare PID 1 behaviour with, python3 for the Python test services, util-linux
# for unshare and nsenter, tmux as the real terminal `status --watch` is checked in; for the
# template's container and Kubernetes tests: socat and iproute2 (a hand-made container's published
# port), python3-kubernetes (the offline schema check of the manifest); for the native tool packages
# (scripts/pack-native-tool.sh): clang and lld, which cross-link the linux-arm64 NativeAOT build with
# the aarch64 gcc toolchain, and qemu-user, which runs that executable.
# The Python client: Debian's python3 and its packages (scripts/python-venv.sh).
packages=(gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross prometheus python3-jsonschema python3-yaml "${python_debian_packages[@]}")
$fast_only || packages+=(wrk gunicorn tini python3 util-linux curl tmux socat iproute2 python3-kubernetes clang lld qemu-user)
need_debian_packages "the tests" "${packages[@]}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build Aeterna.sln -c Release -nologo -clp:ErrorsOnly
python_venv

log=$(mktemp)
mypy_out=$(mktemp)
status=0
run_tests() {
  for project in "$@"; do
    set +e
    dotnet test "tests/$project" -c Release --no-build --nologo "${test_args[@]}" 2>&1 | tee -a "$log"
    code=${PIPESTATUS[0]}
    set -e
    [ "$code" -eq 0 ] || status=$code
  done
}
test_args=("$@")
# The Python client's types: `mypy --strict` takes over a minute of one core (it reads torch's and
# numpy's stubs), so it runs beside the fast set, which leaves a core free, and ends before the
# integration set, whose load tests want both cores to themselves.
(cd sdk/python && "$PYTHON_VENV/bin/python3" -m mypy --strict --no-incremental >"$mypy_out" 2>&1) &
mypy_pid=$!
run_tests "${fast[@]}"
# The Python client: its unit and in-process tests, each reported.
set +e
(cd sdk/python && "$PYTHON_VENV/bin/python3" -m pytest -v -p no:cacheprovider tests 2>&1) | tee -a "$log"
code=${PIPESTATUS[0]}
wait "$mypy_pid"
mypy_code=$?
set -e
tee -a "$log" <"$mypy_out"
rm -f "$mypy_out"
[ "$code" -eq 0 ] || status=$code
if [ "$mypy_code" -ne 0 ]; then status=$mypy_code; echo "Failed: 1 (mypy --strict)" >>"$log"; fi
$fast_only || run_tests "${integration[@]}"
# dotnet test prints "Failed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12" per test assembly;
# pytest ends with "== 81 passed, 1 failed in 8.70s ==". One awk, no pipeline: under pipefail a
# grep that finds nothing (no "failed" when all passed) would end the script.
read -r passed failed < <(awk '
  function number(pattern) { if (!match($0, pattern)) return 0; s = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", s); return s + 0 }
  /^=+ .* in [0-9.]+s/ { p += number("[0-9]+ passed"); f += number("[0-9]+ failed") + number("[0-9]+ error"); next }
  { p += number("Passed: +[0-9]+"); f += number("Failed: +[0-9]+") }
  END { print p + 0, f + 0 }' "$log")
rm -f "$log"
echo "$passed passed, $failed failed"
exit "$status"
