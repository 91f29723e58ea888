#!/usr/bin/env bash
# In-place deploy of a new build of AeternaAgent to every pod, one pod at a time, stopping at the
# first failure.
#
#   dotnet publish -c Release -o out/v2
#   deploy/rollout.sh out/v2 [release-name]
#
# For each pod: copy the build into /app/releases/<release> (tar through `kubectl exec`), point
# /app/releases/current at it, and run `dotnet-aeterna relay` there. The supervisor starts the new
# build beside the running one, hands it the conversations and the embedding cache, soaks it, and
# retires the old one; clients see no refused connection. If the relay does not commit, the old
# generation is still serving with its state: `current` is pointed back at its build and the
# rollout stops. Pods before it run the new release, that pod and the ones after it the old one.
# Running the script again resumes: pods already on the release are skipped.
#
# Environment: KUBECTL (default: kubectl), NAMESPACE, SELECTOR (default:
# app.kubernetes.io/name=aeternaagent), CONTAINER (default: agent), RELAY_ARGS (more arguments
# for `dotnet-aeterna relay`, e.g. "--soak 30s").
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 <published-build-dir> [release-name]" >&2
  exit 2
fi
build=$1
release=${2:-$(date -u +%Y%m%d-%H%M%S)}
#if (aot)
if [ ! -x "$build/AeternaAgent" ]; then
  echo "$build has no AeternaAgent executable: publish first (dotnet publish -c Release -o $build)" >&2
  exit 2
fi
#else
if [ ! -f "$build/AeternaAgent.dll" ]; then
  echo "$build has no AeternaAgent.dll: publish first (dotnet publish -c Release -o $build)" >&2
  exit 2
fi
#endif
if ! [[ $release =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || [ "$release" = current ]; then
  echo "bad release name '$release': letters, digits, '.', '_' and '-'" >&2
  exit 2
fi

read -r -a kubectl <<< "${KUBECTL:-kubectl}"
if [ -n "${NAMESPACE:-}" ]; then kubectl+=(--namespace "$NAMESPACE"); fi
selector=${SELECTOR:-app.kubernetes.io/name=aeternaagent}
container=${CONTAINER:-agent}
releases=/app/releases
config=/app/aeterna.yaml

in_pod() { local pod=$1; shift; "${kubectl[@]}" exec -i "$pod" -c "$container" -- "$@"; }
point_current() { in_pod "$1" sh -c "ln -sfn '$2' $releases/current.next && mv -T $releases/current.next $releases/current"; }

mapfile -t pods < <("${kubectl[@]}" get pods -l "$selector" --field-selector=status.phase=Running \
  -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sed '/^$/d')
if [ ${#pods[@]} -eq 0 ]; then
  echo "no running pod matches $selector" >&2
  exit 1
fi
echo "release '$release' from $build to ${#pods[@]} pod(s), one at a time: ${pods[*]}"

n=0
for pod in "${pods[@]}"; do
  n=$((n + 1))
  previous=$(in_pod "$pod" readlink $releases/current)
  if [ "$previous" = "$release" ]; then
    echo "[$n/${#pods[@]}] $pod already runs '$release': skipped"
    continue
  fi
  echo "[$n/${#pods[@]}] $pod: copying the build (it runs '$previous')"
  tar -C "$build" -cf - . | in_pod "$pod" sh -c \
    "rm -rf $releases/$release.part && mkdir -p $releases/$release.part && tar -xf - -C $releases/$release.part && rm -rf $releases/$release && mv $releases/$release.part $releases/$release"
  point_current "$pod" "$release"
  echo "[$n/${#pods[@]}] $pod: relaying"
  status=0
  read -r -a relay_args <<< "${RELAY_ARGS:-}"
  in_pod "$pod" dotnet-aeterna relay -c $config "${relay_args[@]}" || status=$?
  if [ $status -ne 0 ]; then
    point_current "$pod" "$previous" || true
    echo "rollout stopped: the relay on $pod did not commit (exit $status, see above); it still serves '$previous'." >&2
    echo "pods done: $((n - 1)) of ${#pods[@]} run '$release'; $pod and the ones after it run what they ran." >&2
    exit 1
  fi
done
echo "rollout done: ${#pods[@]} pod(s) run '$release'"
