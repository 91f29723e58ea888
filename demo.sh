#!/usr/bin/env bash
# The demo: a chat agent made from the template, deployed in place while it serves.
#
#   packs Aeterna (the supervisor tool, the runtime, the template) into artifacts/, installs the
#   tool into .demo/tools, creates an agent with `dotnet new aeterna-agent`, starts it under the
#   supervisor and chats with it, then builds version 2 and relays to it while wrk reads the
#   conversation and a client keeps chatting, and reports what the clients saw.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

source scripts/debian-packages.sh
command -v dotnet >/dev/null || { echo "the demo needs the .NET 10 SDK (dotnet on PATH): https://dot.net" >&2; exit 1; }
# gcc (and its arm64 cross compiler) builds the supervisor's exec shim into the package; wrk is the
# load the relay runs under, curl the chatting client, python3 reads the JSON replies.
need_debian_packages "the demo" gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross wrk curl python3

bold() { printf '\033[1m%s\033[0m\n' "$*"; }
step() { printf '\n'; bold "== $*"; }
say() { printf '   %s\n' "$*"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
quietly() { # quietly LOG COMMAND...: runs it with its output in LOG, shown only if it fails
  local log=$1; shift
  "$@" > "$log" 2>&1 || { cat "$log" >&2; echo "failed: $*" >&2; exit 1; }
}
started=$(date +%s)

version=$(grep -oPm1 '(?<=<Version>)[^<]+' Directory.Build.props)
demo=$PWD/.demo
rm -rf "$demo" && mkdir -p "$demo"

step "1/6  Pack Aeterna: the supervisor tool, the runtime, the template"
say "dotnet pack Aeterna.Packages.slnf -c Release -o artifacts   (the root 'dotnet pack' makes the same three)"
quietly "$demo/pack.log" dotnet pack Aeterna.Packages.slnf -c Release -o artifacts -nologo
for p in "aeterna.$version" "Aeterna.Runtime.$version" "Aeterna.Templates.$version"; do say "artifacts/$p.nupkg"; done

# From here on NuGet sees only artifacts/, and caches into .demo/nuget: its global cache may hold
# another build of the same version, which would silently be used instead.
export NUGET_PACKAGES=$demo/nuget
# .demo/ stands outside the repository's build settings (central package management and all), as a new project would.
echo '<Project />' > "$demo/Directory.Build.props"
echo '<Project />' > "$demo/Directory.Packages.props"
cat > "$demo/nuget.config" <<EOF
<configuration><packageSources><clear /><add key="artifacts" value="$PWD/artifacts" /></packageSources></configuration>
EOF

step "2/6  Install the supervisor"
say "dotnet tool install aeterna --tool-path .demo/tools   (or -g, for 'dotnet aeterna' everywhere)"
(cd "$demo" && dotnet tool install aeterna --version "$version" --tool-path "$demo/tools" >/dev/null)
aeterna=$demo/tools/dotnet-aeterna
say "$("$aeterna" --version | head -1)"

step "3/6  Create an agent from the template"
say "dotnet new aeterna-agent -n DemoAgent && dotnet build"
quietly "$demo/new.log" dotnet new install "artifacts/Aeterna.Templates.$version.nupkg" --debug:custom-hive "$demo/hive"
quietly "$demo/new.log" dotnet new aeterna-agent -n DemoAgent -o "$demo/DemoAgent" --debug:custom-hive "$demo/hive"
agent=$demo/DemoAgent
quietly "$demo/build-v1.log" dotnet build "$agent" -nologo
say "DemoAgent: conversations in [RelayState], an embedding cache in RelayMemory<float> (see .demo/DemoAgent/README.md)"

step "4/6  Start it under the supervisor, and chat"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metrics=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s|tcp://127.0.0.1:8080|tcp://127.0.0.1:$port|; s|\"127.0.0.1:9090\"|\"127.0.0.1:$metrics\"|" "$agent/aeterna.yaml"
say "dotnet aeterna start -c aeterna.yaml   (listening on 127.0.0.1:$port; log: .demo/supervisor.log)"
"$aeterna" start -c "$agent/aeterna.yaml" > "$demo/supervisor.log" 2>&1 &
supervisor=$!
trap '"$aeterna" stop -c "$agent/aeterna.yaml" >/dev/null 2>&1 || kill -TERM $supervisor 2>/dev/null; wait $supervisor 2>/dev/null || true' EXIT
url=http://127.0.0.1:$port
for _ in $(seq 150); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "$url/healthz" >/dev/null || { echo "the agent did not start; see .demo/supervisor.log" >&2; exit 1; }

chat() { # chat SESSION TEXT: prints the exchange
  local reply
  reply=$(curl -sf -H 'Content-Type: application/json' -d "$(python3 -c 'import json,sys; print(json.dumps({"text": sys.argv[1]}))' "$2")" "$url/sessions/$1/messages" | json 'd["messages"][1]["text"]')
  printf '   %-6s %s\n   %-6s %s\n' "$1>" "$2" "agent>" "$reply"
}
chat alice "My favourite colour is teal."
chat alice "I live in Lisbon and I keep bees."
chat bob "My dog is called Rex."
chat alice "What is my favourite colour?"
chat bob "What is my dog called?"
about() { curl -sf "$url/about" | json '"generation %s, pid %s, version %s" % (d["generation"], d["pid"], d["version"])'; }
stats() { curl -sf "$url/stats" | json '"%s sessions, %s messages, %s cached embeddings (crc %s)" % (d["sessions"], d["messages"], d["cache"]["entries"], d["cache"]["checksum"])'; }
say ""
say "serving: $(about)"
say "memory:  $(stats)"

step "5/6  Build version 2 and deploy it in place, under load"
sed -i 's|<Version>1.0.0</Version>|<Version>2.0.0</Version>|' "$agent/DemoAgent.csproj"
sed -i 's|"You told me earlier: |"(v2) You told me earlier: |' "$agent/Agent/Replies.cs"
quietly "$demo/build-v2.log" dotnet build "$agent" -nologo -o "$agent/bin/v2"
# A new version is deployed by changing the build the config names, then relaying.
sed -i 's|bin/Debug/net10.0/DemoAgent.dll|bin/v2/DemoAgent.dll|' "$agent/aeterna.yaml"
say "built bin/v2 (version 2.0.0; its answers start with \"(v2)\"); aeterna.yaml now names bin/v2/DemoAgent.dll"
before_about=$(about); before_stats=$(curl -sf "$url/stats"); before_alice=$(curl -sf "$url/sessions/alice")
say "wrk -t1 -c16 -d12s $url/sessions/alice   (reads the conversation), and a client chatting as 'carol'"
wrk -t1 -c16 -d12s --timeout 5s "$url/sessions/alice" > "$demo/wrk.txt" &
load=$!
( ok=0; failed=0; end=$((SECONDS + 11))
  while [ $SECONDS -lt $end ]; do
    if curl -sf -m 5 -d "{\"text\": \"Note $((ok + failed)) from carol.\"}" "$url/sessions/carol/messages" >/dev/null; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
  done
  echo "$ok $failed" > "$demo/chat.txt" ) &
chatter=$!
sleep 3
say "dotnet aeterna relay -c aeterna.yaml"
set +e
"$aeterna" relay -c "$agent/aeterna.yaml" --json > "$demo/relay.json"
relay_code=$?
set -e
python3 - "$demo/relay.json" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if '"report"' in l]
r = json.loads(lines[-1])["report"]
for p in r["phases"]:
    print(f"   {p['name']:<10} {'ok' if p['ok'] else 'FAILED':<6} {p['ms']:>9.1f} ms  {p.get('detail') or ''}")
print(f"   {r['outcome']} in {r['total_ms'] / 1000:.2f} s: generation {r['to_generation']} (pid {r['to_pid']}) serves" if r["outcome"] == "committed" else f"   {r['outcome']}: {r.get('reason')}")
EOF
wait $load $chatter
after_about=$(about); after_stats=$(curl -sf "$url/stats"); after_alice=$(curl -sf "$url/sessions/alice")
curl -sf "$url/sessions/carol" > "$demo/carol.json"

step "6/6  Report"
read -r chat_ok chat_failed < "$demo/chat.txt"
python3 - "$demo/wrk.txt" "$demo/relay.json" "$chat_ok" "$chat_failed" "$before_about" "$after_about" "$before_stats" "$after_stats" "$before_alice" "$after_alice" "$demo/carol.json" <<'EOF'
import json, re, sys
wrk, relay, chat_ok, chat_failed, before_about, after_about, before, after, alice_before, alice_after, carol = sys.argv[1:]
text = open(wrk).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = [int(g) for g in errors.groups()] if errors else [0, 0, 0, 0]
non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
failed = sum(errors) + non2xx + int(chat_failed)
r = json.loads([l for l in open(relay) if '"report"' in l][-1])["report"]
h = r.get("handover") or {}
b, a = json.loads(before), json.loads(after)
carol_turns = len(json.load(open(carol))["messages"])
kept = json.loads(alice_before) == json.loads(alice_after) and carol_turns == 2 * int(chat_ok) and a["messages"] == b["messages"] + carol_turns
def mem(d): return f"{d['sessions']} sessions, {d['messages']} messages, {d['cache']['entries']} cached embeddings"
print(f"   requests sent       {requests} reads (wrk) + {chat_ok} chat messages during the relay")
print(f"   failed              {failed}  (wrk: connect {errors[0]}, read {errors[1]}, write {errors[2]}, timeout {errors[3]}, non-2xx {non2xx}; chat: {chat_failed})")
print(f"   before              {before_about}; {mem(b)}")
print(f"   after               {after_about}; {mem(a)}")
print(f"   memory kept         {'yes' if kept else 'NO'}: every conversation as before, plus each of carol's {carol_turns // 2} answered messages")
if h:
    print(f"   handover latency    {h['latency_ms']:.1f} ms: connections waited this long in the kernel's queue, none refused")
    print(f"   state handed over   {h['state_bytes']} B by {h['mechanism']}, {h['regions']} memory region(s) of {h['region_bytes'] / 2**20:.1f} MiB by file descriptor")
EOF
say ""
say "the conversation, answered by version 2:"
chat alice "Where do I live?"
echo
elapsed=$(( $(date +%s) - started ))
if [ "$relay_code" -eq 0 ]; then
  bold "Deployed version 2 in place in ${elapsed} s of demo: same socket, same memory, new code."
else
  bold "The relay did not commit (exit $relay_code): version 1 kept serving. See .demo/supervisor.log."
fi
say "next: .demo/DemoAgent/README.md (the API, the container, Kubernetes); ./test.sh runs every test"
