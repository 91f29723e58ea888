"""The template's agent, JIT beside NativeAOT, in one run: time from start to ready, memory idle,
and the hand-over latency of a relay under the supervisor.

Both builds are tests/apps/TemplateAgent (templates/aeterna-agent's sources on this repository's
runtime): the JIT one `dotnet TemplateAgent.dll` (Release), the native one the executable
`dotnet publish -p:PublishAot=true` makes (bench/run agent builds both). Each runs under its own
native supervisor (bench/run relay's, so the supervisor's cost is the same on both sides), with
the conversations of SESSIONS sessions in its [RelayState] and the embedding cache in RelayMemory.
Every round relays both (`relay --soak 0 --json`), the order swapped each round, and reads, from
the report, the new generation's spawn (`start`) and its time to READY (`ready`: the runtime's
start-up, the state's import, the listeners), and the hand-over latency (the old generation
stopped accepting -> the new one accepting); then, QUIET seconds later, the new generation's
/proc/PID/status. Prints a table of medians; writes bench/results/agent.json.

Usage: bench/run agent [--quick] [--rounds N].
"""
import json, os, shutil, statistics, subprocess, sys, tempfile, time, urllib.request

from common import NATIVE_TOOL, ROOT, free_port, machine, pct, write_results

QUICK = "--quick" in sys.argv
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3 if QUICK else 9
WARMUP = 1                     # relays not counted: the first relay of each (first use of the relay path)
SESSIONS, MESSAGES = 20, 10    # the conversations every generation hands over
QUIET = 3                      # seconds after a relay before reading memory (the old generation gone, start-up garbage collected)

AGENT = os.path.join(ROOT, "tests", "apps", "TemplateAgent")
BUILDS = {
    "jit": ["dotnet", os.path.join(AGENT, "bin", "Release", "net10.0", "TemplateAgent.dll")],
    "native": [os.path.join(ROOT, "artifacts", "bench", "native-agent", "TemplateAgent")],
}


def memory_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0])
    return fields


def cli(*args):
    return subprocess.run([NATIVE_TOOL, *args], capture_output=True, text=True)


class Agent:
    def __init__(self, kind):
        self.kind = kind
        self.port = free_port()
        self.work = tempfile.mkdtemp(prefix=f"ae-bench-agent-{kind}-")
        self.config = os.path.join(self.work, "aeterna.yaml")
        with open(self.config, "w") as f:
            f.write(f"service:\n  name: agent-{kind}\n  command: {json.dumps(BUILDS[kind])}\n"
                    f"listeners:\n  - name: http\n    address: tcp://127.0.0.1:{self.port}\n"
                    "readiness:\n  mode: auto\n  timeout: 60s\n"
                    "orchestration:\n  drain_timeout: 3s\n  canary:\n    enabled: false\n"
                    "  state_handoff:\n    enabled: true\n    timeout: 10s\n")
        self.log = open(os.path.join(self.work, "supervisor.log"), "w+")
        self.process = subprocess.Popen([NATIVE_TOOL, "start", "-c", self.config], stdout=self.log, stderr=self.log)
        self.ready_ms, self.start_ms, self.latency_ms, self.memory = [], [], [], []

    def status(self):
        st = cli("status", "-c", self.config, "--json")
        return json.loads(st.stdout)["status"] if st.returncode == 0 else None

    def active_pid(self):
        st = self.status()
        return next(g["pid"] for g in st["generations"] if g["active"])

    def wait_active(self):
        for _ in range(600):
            st = self.status()
            if st and st.get("active_generation") and st.get("ready"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the {self.kind} agent never became active; see {self.log.name}")

    def chat(self):
        for s in range(SESSIONS):
            for m in range(MESSAGES):
                body = json.dumps({"text": f"Note {m} of session {s}: the colour of item {m} is shade {s * m}."}).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{self.port}/sessions/s{s}/messages", data=body, method="POST")
                urllib.request.urlopen(req, timeout=30).read()

    def stats(self):
        return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=30).read()

    def relay(self, counted):
        before = self.stats()
        r = cli("relay", "-c", self.config, "--json", "--soak", "0")
        report = json.loads([l for l in r.stdout.splitlines() if '"report"' in l][-1])["report"]
        assert report["outcome"] == "committed", report
        assert self.stats() == before, "the state changed across the relay"
        if counted:
            phases = {p["name"]: p["ms"] for p in report["phases"]}
            self.start_ms.append(phases["start"])
            self.ready_ms.append(phases["ready"])
            self.latency_ms.append(report["handover"]["latency_ms"])

    def read_memory(self):
        self.memory.append(memory_kib(self.active_pid()))

    def summary(self):
        med = lambda xs: round(statistics.median(xs), 2)
        return {
            "relays": len(self.ready_ms),
            "start_ms_p50": med(self.start_ms), "ready_ms_p50": med(self.ready_ms), "ready_ms_p95": round(pct(self.ready_ms, 95), 2),
            "start_to_ready_ms_p50": med([s + r for s, r in zip(self.start_ms, self.ready_ms)]),
            "start_to_ready_ms_p95": round(pct([s + r for s, r in zip(self.start_ms, self.ready_ms)], 95), 2),
            "handover_latency_ms_p50": med(self.latency_ms), "handover_latency_ms_p95": round(pct(self.latency_ms, 95), 2),
            "memory_kib_p50": {k: statistics.median(m[k] for m in self.memory) for k in ("VmRSS", "RssAnon", "RssFile")},
        }

    def stop(self):
        cli("stop", "-c", self.config)
        self.process.wait(30)
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    load_before = os.getloadavg()
    agents = [Agent(kind) for kind in BUILDS]
    try:
        for a in agents: a.wait_active()
        for a in agents: a.chat()
        time.sleep(QUIET)
        first = {a.kind: memory_kib(a.active_pid()) for a in agents}
        for i in range(ROUNDS + WARMUP):
            for a in (agents if i % 2 == 0 else agents[::-1]):
                a.relay(counted=i >= WARMUP)
            time.sleep(QUIET)
            if i >= WARMUP:
                for a in agents: a.read_memory()
        results = {a.kind: a.summary() for a in agents}
    finally:
        for a in agents: a.stop()
    load_after = os.getloadavg()

    mib = lambda kib: f"{kib / 1024:.1f}"
    print(f"{machine()['host']}, {os.cpu_count()} cores, load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"\nthe template's agent, {SESSIONS} sessions x {MESSAGES} messages; medians of {ROUNDS} relays each, order swapped every round")
    print(f"{'':<8} {'start->ready':>13} {'(p95)':>8} {'handover':>9} {'(p95)':>8} {'VmRSS':>7} {'RssAnon':>8} {'RssFile':>8} {'VmRSS gen 1':>12}")
    for kind, r in results.items():
        m = r["memory_kib_p50"]
        print(f"{kind:<8} {r['start_to_ready_ms_p50']:>11.1f}ms {r['start_to_ready_ms_p95']:>6.1f}ms "
              f"{r['handover_latency_ms_p50']:>7.2f}ms {r['handover_latency_ms_p95']:>6.2f}ms "
              f"{mib(m['VmRSS']):>7} {mib(m['RssAnon']):>8} {mib(m['RssFile']):>8} {mib(first[kind]['VmRSS']):>12}")
    write_results("agent", {
        "machine": {**machine(), "loadavg_before": load_before, "loadavg_after": load_after},
        "rounds": ROUNDS, "sessions": SESSIONS, "messages": MESSAGES,
        "first_generation_memory_kib": first, "results": results,
    })


if __name__ == "__main__":
    main()
