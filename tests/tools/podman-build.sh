#!/usr/bin/env bash
# Builds the template's Dockerfile with podman on a machine that cannot pull base images, then runs
# the image podman built as a container by hand. Manual (not part of ./test.sh: it takes minutes and
# writes to podman's storage); what it showed is in docs/kubernetes.md.
#
#   tests/tools/podman-build.sh PROJECT_DIR ARTIFACTS_DIR
#
# - Stand-ins for mcr.microsoft.com/dotnet/sdk:10.0 and aspnet:10.0 are imported from this machine
#   (Debian's libraries, /usr/share/dotnet): there is no registry to pull the real ones from.
# - `podman build --isolation=chroot` (crun cannot run containers here: "cgroups in hybrid mode not
#   supported"), with ARTIFACTS_DIR mounted at /artifacts for the packed, unpublished packages.
# - The image is run as its config says (USER, WORKDIR, ENV, ENTRYPOINT as PID 1) with unshare and
#   chroot over an overlay of its layers; a chat message, a relay through `exec`, SIGTERM.
set -euo pipefail
project=$(realpath "$1"); artifacts=$(realpath "$2")
work=$(mktemp -d /tmp/aeterna-podman.XXXXXX)
cleanup() {
  if [ -n "${container:-}" ] && kill -0 "$container" 2>/dev/null; then kill -KILL "${init:-$container}" 2>/dev/null; wait "$container" 2>/dev/null; fi
  podman image unmount localhost/aeterna-agent:podman >/dev/null 2>&1 || true
  podman rmi -f localhost/aeterna-agent:podman mcr.microsoft.com/dotnet/aspnet:10.0 mcr.microsoft.com/dotnet/sdk:10.0 >/dev/null 2>&1 || true
  # the build stage's image and the layers of this build (ours alone: no prune)
  grep -oE '^--> [0-9a-f]{11,64}' "$work/build.log" 2>/dev/null | cut -c5- | xargs -r podman rmi -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=32768:32768)

echo "== stand-in base images from this machine"
packages=(libc6 libstdc++6 libgcc-s1 libssl3 zlib1g libicu72 dash coreutils tar bash grep sed findutils libacl1 libattr1 libselinux1 libpcre2-8-0 libtinfo6 libgmp10 libcrypt1 ca-certificates)
{ for p in "${packages[@]}"; do dpkg -L "$p"; done; echo /usr/share/dotnet; echo /usr/bin/dotnet; printf '%s\n' /etc/ssl /etc/passwd /etc/group /etc/nsswitch.conf; } \
  | sed -E 's#^/(bin|lib|lib64|sbin)/#/usr/\1/#' | sort -u | while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ] || [ "$f" = /usr/share/dotnet ] || [ "$f" = /etc/ssl ]; then echo "${f#/}"; fi
  done > "$work/files"
mkdir -p "$work/root"/{root,tmp,var/tmp,home/app}
tar -C / -cf - -T "$work/files" 2>/dev/null | tar -C "$work/root" -xf -
for l in bin lib lib64 sbin; do ln -s "usr/$l" "$work/root/$l"; done
chmod 1777 "$work/root/tmp" "$work/root/var/tmp"; chown 1654:1654 "$work/root/home/app"
tar -C "$work/root" -cf "$work/rootfs.tar" .
podman import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'ENV HOME=/root' \
  --change 'ENV APP_UID=1654' --change 'ENV DOTNET_RUNNING_IN_CONTAINER=true' "$work/rootfs.tar" mcr.microsoft.com/dotnet/sdk:10.0 >/dev/null
podman tag mcr.microsoft.com/dotnet/sdk:10.0 mcr.microsoft.com/dotnet/aspnet:10.0

echo "== podman build"
mkdir "$work/context"
tar -C "$project" --exclude=./bin --exclude=./obj -cf - . | tar -C "$work/context" -xf -
echo '<configuration><packageSources><clear /><add key="artifacts" value="/artifacts" /></packageSources></configuration>' > "$work/context/nuget.config"
podman build --isolation=chroot --pull=never "${limits[@]}" -v "$artifacts:/artifacts:ro" -t localhost/aeterna-agent:podman "$work/context" 2>&1 | tee "$work/build.log"
podman inspect localhost/aeterna-agent:podman --format '{{json .Config}}'

echo "== run the image by hand: its layers under an overlay, its entrypoint as PID 1"
lower=$(podman image mount localhost/aeterna-agent:podman)
mkdir -p "$work/c"/{upper,work,root}
cat > "$work/c/init.sh" <<EOF
set -e
r=$work/c/root
mount -t overlay overlay -o lowerdir=$lower,upperdir=$work/c/upper,workdir=$work/c/work \$r
mkdir -p \$r/proc \$r/dev \$r/tmp  # the stand-in base image has no mount points
mount -t proc proc \$r/proc; mount --rbind /dev \$r/dev; mount -t tmpfs -o mode=1777 tmpfs \$r/tmp
ip link set lo up
exec chroot --userspec=1654:1654 \$r /usr/bin/env -i -C /app HOME=/home/app APP_UID=1654 DOTNET_RUNNING_IN_CONTAINER=true \
  PATH=/opt/aeterna:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /opt/aeterna/dotnet-aeterna start -c /app/aeterna.yaml
EOF
unshare --pid --fork --mount-proc --net --kill-child sh "$work/c/init.sh" > "$work/c/log" 2>&1 &
container=$!
for _ in $(seq 50); do init=$(awk '{print $1}' /proc/$container/task/$container/children 2>/dev/null || true); [ -n "$init" ] && grep -q dotnet-aeterna "/proc/$init/cmdline" 2>/dev/null && break; sleep 0.2; done
[ -n "$init" ] || { echo "the container did not start:"; cat "$work/c/log"; exit 1; }
in_net() { nsenter --target "$init" --net "$@"; }
exec_in() { nsenter --target "$init" --net --mount --pid --root --wd --setuid 1654 --setgid 1654 -- /usr/bin/env -i PATH=/opt/aeterna:/usr/bin:/bin HOME=/home/app "$@"; }
for _ in $(seq 100); do in_net curl -sf 127.0.0.1:8080/healthz >/dev/null && break; sleep 0.2; done
grep -E '^(NSpid|Uid)' "/proc/$init/status"
in_net curl -s -d '{"text": "My favourite colour is teal."}' 127.0.0.1:8080/sessions/x/messages; echo
in_net curl -s 127.0.0.1:8080/about; echo
exec_in dotnet-aeterna relay -c /app/aeterna.yaml --soak 1s
in_net curl -s 127.0.0.1:8080/about; echo
in_net curl -s -d '{"text": "What is my favourite colour?"}' 127.0.0.1:8080/sessions/x/messages; echo
kill -TERM "$init"; wait "$container" && echo "container stopped: exit 0"
