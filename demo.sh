#!/usr/bin/env bash
# The demo: a real relay, end to end, on this machine.
#   packs the tool, installs it into .demo/tools, starts samples/hello under the supervisor,
#   sends traffic with wrk, deploys v2 and v3 by relaying while the traffic runs, and reports.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

for tool in wrk python3 curl gcc; do
  command -v "$tool" >/dev/null || { echo "demo needs $tool: apt-get install wrk python3 curl gcc" >&2; exit 1; }
done

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "pack the tool (dotnet pack -c Release -o artifacts)"
dotnet pack src/Aeterna.Tool -c Release -o artifacts -nologo -clp:ErrorsOnly | grep -E "Successfully|error" || true
rm -rf .demo && mkdir -p .demo/tools
dotnet tool install --tool-path .demo/tools aeterna --add-source artifacts --version "$(grep -oPm1 '(?<=<Version>)[^<]+' Directory.Build.props)" >/dev/null
aeterna=.demo/tools/dotnet-aeterna
echo "installed: $aeterna"

step "start samples/hello under the supervisor"
cp samples/hello/app.py samples/hello/aeterna.yaml .demo/
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/127.0.0.1:8080/127.0.0.1:$port/" .demo/aeterna.yaml
"$aeterna" start -c .demo/aeterna.yaml 2> .demo/supervisor.log &
supervisor=$!
trap 'kill -TERM $supervisor 2>/dev/null || true; wait $supervisor 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
before=$(curl -s "http://127.0.0.1:$port/")
echo "serving: $before"

step "traffic: wrk -t2 -c32 -d20s, while we deploy v2 and v3 by relaying"
wrk -t2 -c32 -d20s "http://127.0.0.1:$port/" > .demo/wrk.txt &
load=$!
sleep 3
for version in v2 v3; do
  sed -i "s/APP_VERSION=v[0-9]*/APP_VERSION=$version/" .demo/aeterna.yaml
  echo "-- relay to $version"
  "$aeterna" relay -c .demo/aeterna.yaml
  sleep 2
done
wait $load
after=$(curl -s "http://127.0.0.1:$port/")

step "report"
requests=$(grep -Eo '^ +[0-9]+ requests' .demo/wrk.txt | grep -Eo '[0-9]+')
errors=$(grep -Eo 'Socket errors: .*' .demo/wrk.txt || echo "Socket errors: none")
non2xx=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' .demo/wrk.txt | grep -Eo '[0-9]+$' || echo 0)
echo "requests sent:      $requests"
echo "failed:             $errors; non-2xx responses: $non2xx"
echo "before the relays:  $before"
echo "after the relays:   $after"
echo "supervisor log:     .demo/supervisor.log"
