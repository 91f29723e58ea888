"""The supervisor's cost, JIT beside NativeAOT beside tini, in one run: memory idle and after 100
relays, CLI start-up (hyperfine), and the relay's own time.

Runs the JIT supervisor (the Release build, `dotnet dotnet-aeterna.dll`) and the native one (the
NativeAOT executable bench/run relay publishes into artifacts/bench/native-tool) side by side, each
with one listener and a trivial service, and relays them in turn with --soak 0, each through its
own CLI: the two share whatever else the machine is doing. tini (`tini -s -- sleep 600`) is the
floor for a PID 1. Prints a table and writes bench/results/relay.json; every time is a median.
"""
import json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

from common import NATIVE_TOOL, TOOL, free_port, machine, pct, write_results

QUICK = "--quick" in sys.argv
RELAYS = 20 if QUICK else 100          # of `sleep`: the memory after them is the figure
PYTHON_RELAYS = 10 if QUICK else 40
WARMUP = 3                             # relays not timed (first use of the relay path; JIT compiles)
HYPERFINE_RUNS = 10 if QUICK else 20
QUIET = 5                              # seconds before reading memory: once quiet the supervisor trims its heap, then pages out its code (2 to 4 s)
AFTER_QUIET_RUNS = 5                   # first command and first relay after a quiet spell: they fault the code back in

SUPERVISORS = {"jit": ["dotnet", TOOL], "native": [NATIVE_TOOL]}

# Trivial services: one that is ready the moment it runs (READY=1 from a shell through socat is not
# available everywhere, so Python sends it), and `sleep`, ready by a fixed 0 ms delay: the latter
# measures the supervisor's own overhead.
NOTIFY_APP = ("import os, socket, signal, time\n"
              "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(os.environ['NOTIFY_SOCKET']); s.send(b'READY=1')\n"
              "signal.signal(signal.SIGTERM, lambda *a: os._exit(0))\n"
              "while True: time.sleep(60)\n")


def memory_kib(pid):
    """VmRSS, and its parts: RssAnon (the process's own memory) and RssFile (mapped files: the
    executable, the .NET runtime's libraries and assemblies, shared with other processes)."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0])
    return fields


def cli(kind, *args):
    return subprocess.run([*SUPERVISORS[kind], *args], capture_output=True, text=True)


class Supervisor:
    def __init__(self, kind, command, readiness):
        self.kind = kind
        self.work = tempfile.mkdtemp(prefix=f"ae-bench-{kind}-")
        self.config = os.path.join(self.work, "aeterna.yaml")
        with open(self.config, "w") as f:
            f.write(f"service:\n  name: bench-{kind}\n  command: {json.dumps(command)}\n"
                    f"listeners:\n  - name: http\n    address: tcp://127.0.0.1:{free_port()}\n"
                    f"readiness:\n  mode: {readiness}\n  delay: 0s\n"
                    "orchestration:\n  drain_timeout: 5s\n  canary:\n    enabled: false\n")
        self.process = subprocess.Popen([*SUPERVISORS[kind], "start", "-c", self.config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.totals, self.cli_ms, self.phases = [], [], {}

    def wait_active(self):
        for _ in range(400):
            st = cli(self.kind, "status", "-c", self.config, "--json")
            if st.returncode == 0 and json.loads(st.stdout)["status"].get("active_generation"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"the {self.kind} supervisor never had an active generation")

    def relay(self, timed):
        t0 = time.perf_counter()
        r = cli(self.kind, "relay", "-c", self.config, "--json", "--soak", "0")
        elapsed = (time.perf_counter() - t0) * 1000
        report = json.loads([l for l in r.stdout.splitlines() if '"report"' in l][-1])["report"]
        assert report["outcome"] == "committed", report
        if timed:
            self.totals.append(report["total_ms"])
            self.cli_ms.append(elapsed)
            for p in report["phases"]:
                self.phases.setdefault(p["name"], []).append(p["ms"])
        return report

    def relay_summary(self):
        return {
            "runs": len(self.totals),
            "relay_ms_p50": round(statistics.median(self.totals), 2), "relay_ms_p95": round(pct(self.totals, 95), 2),
            "cli_relay_ms_p50": round(statistics.median(self.cli_ms), 2),
            "phases_ms_p50": {k: round(statistics.median(v), 2) for k, v in self.phases.items()},
        }

    def stop(self):
        cli(self.kind, "stop", "-c", self.config)
        self.process.wait(30)
        shutil.rmtree(self.work, ignore_errors=True)


def after_quiet(supervisors):
    """The first `status` and the first relay after QUIET seconds of nothing, when the supervisor
    has paged its code out: medians of AFTER_QUIET_RUNS, ms (status: the whole CLI process)."""
    status, relay = {s.kind: [] for s in supervisors}, {s.kind: [] for s in supervisors}
    for _ in range(AFTER_QUIET_RUNS):
        time.sleep(QUIET)
        for s in supervisors:
            t0 = time.perf_counter()
            assert cli(s.kind, "status", "-c", s.config).returncode == 0
            status[s.kind].append((time.perf_counter() - t0) * 1000)
        time.sleep(QUIET)
        for s in supervisors:
            relay[s.kind].append(s.relay(timed=False)["total_ms"])
    return {s.kind: {"status_ms_p50": round(statistics.median(status[s.kind]), 2),
                     "relay_ms_p50": round(statistics.median(relay[s.kind]), 2)} for s in supervisors}


def relay_in_turn(supervisors, relays):
    """Relays every supervisor `relays` times, one after the other and the order swapped each
    round, so the machine's load hits both alike."""
    for i in range(relays):
        for s in (supervisors if i % 2 == 0 else supervisors[::-1]):
            s.relay(timed=i >= WARMUP)


def hyperfine(commands):
    """Median seconds → ms of each command, `hyperfine -N` (no shell: the process alone)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(HYPERFINE_RUNS), "--style", "none",
                        "--export-json", out.name, *commands], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # its warnings: the load, in the JSON
        results = json.load(open(out.name))["results"]
    return {r["command"]: round(r["median"] * 1000, 2) for r in results}


def cli_times(supervisors):
    """`--version`, `validate` and `status` (against the running supervisor) by each CLI."""
    commands = {}
    for s in supervisors:
        exe = " ".join(SUPERVISORS[s.kind])
        commands[s.kind] = {"--version": f"{exe} --version", "validate": f"{exe} validate -c {s.config}",
                            "status": f"{exe} status -c {s.config}"}
    floor = "tini -s -- true"
    medians = hyperfine([c for cs in commands.values() for c in cs.values()] + [floor])
    result = {kind: {name: medians[c] for name, c in cs.items()} for kind, cs in commands.items()}
    result["tini -s -- true"] = medians[floor]
    return result


def tini_memory():
    p = subprocess.Popen(["tini", "-s", "--", "sleep", "600"])
    time.sleep(1)
    m = memory_kib(p.pid)
    p.terminate(); p.wait()
    return m


def main():
    load_before = os.getloadavg()
    tini = tini_memory()

    # `sleep`: memory idle and after RELAYS relays, the CLIs, and the supervisor's own relay time.
    sups = [Supervisor(kind, ["sleep", "600"], "delay") for kind in SUPERVISORS]
    try:
        for s in sups: s.wait_active()
        time.sleep(QUIET)
        idle = {s.kind: memory_kib(s.process.pid) for s in sups}
        cli_ms = cli_times(sups)
        relay_in_turn(sups, RELAYS)
        time.sleep(QUIET)
        after = {s.kind: memory_kib(s.process.pid) for s in sups}
        sleep_relays = {s.kind: s.relay_summary() for s in sups}
        quiet = after_quiet(sups)
    finally:
        for s in sups: s.stop()

    # A Python service that sends READY=1 as its first act: `ready` is Python's start-up.
    sups = [Supervisor(kind, ["python3", "-c", NOTIFY_APP], "notify") for kind in SUPERVISORS]
    try:
        for s in sups: s.wait_active()
        relay_in_turn(sups, PYTHON_RELAYS)
        python_relays = {s.kind: s.relay_summary() for s in sups}
    finally:
        for s in sups: s.stop()
    load_after = os.getloadavg()

    mib = lambda kib: f"{kib / 1024:.1f}"
    print(f"on {platform.node()}, {os.cpu_count()} cores, load average {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(f"\nmemory, MiB (VmRSS / RssAnon / RssFile), one generation of `sleep`, {QUIET} s after the last action")
    print(f"{'':<8} {'idle':>20} {f'after {RELAYS} relays':>22}")
    for kind in SUPERVISORS:
        i, a = idle[kind], after[kind]
        print(f"{kind:<8} {mib(i['VmRSS']):>6} / {mib(i['RssAnon']):>4} / {mib(i['RssFile']):>4}   {mib(a['VmRSS']):>6} / {mib(a['RssAnon']):>4} / {mib(a['RssFile']):>4}")
    print(f"{'tini':<8} {mib(tini['VmRSS']):>6} / {mib(tini['RssAnon']):>4} / {mib(tini['RssFile']):>4}")
    print(f"\nCLI, whole process, hyperfine -N median of {HYPERFINE_RUNS} (tini -s -- true: {cli_ms['tini -s -- true']:.1f} ms)")
    print(f"{'':<8} {'--version':>10} {'validate':>10} {'status':>10}")
    for kind in SUPERVISORS:
        c = cli_ms[kind]
        print(f"{kind:<8} {c['--version']:>8.1f}ms {c['validate']:>8.1f}ms {c['status']:>8.1f}ms")
    print(f"\nafter {QUIET} s of nothing (code paged out), medians of {AFTER_QUIET_RUNS}: the first command and the first relay")
    print(f"{'':<8} {'status':>10} {'relay':>10}")
    for kind in SUPERVISORS:
        q = quiet[kind]
        print(f"{kind:<8} {q['status_ms_p50']:>8.1f}ms {q['relay_ms_p50']:>8.1f}ms")
    for title, results in ((f"sleep, ready at once: the supervisor's own overhead", sleep_relays), ("python, READY=1 via sd_notify", python_relays)):
        print(f"\nrelay, {title}: medians of {results['jit']['runs']} (p95 beside the total)")
        print(f"{'':<8} {'total':>9} {'p95':>9} {'start':>8} {'ready':>8} {'commit':>8} {'CLI':>8}")
        for kind in SUPERVISORS:
            r = results[kind]; ph = r["phases_ms_p50"]
            print(f"{kind:<8} {r['relay_ms_p50']:>7.1f}ms {r['relay_ms_p95']:>7.1f}ms {ph['start']:>6.1f}ms {ph['ready']:>6.1f}ms {ph['commit']:>6.1f}ms {r['cli_relay_ms_p50']:>6.0f}ms")

    write_results("relay", {
        "machine": {**machine(), "loadavg_before": load_before, "loadavg_after": load_after},
        "relays": RELAYS, "memory_kib": {"idle": idle, f"after_{RELAYS}_relays": after, "tini_idle": tini},
        "cli_ms_p50": cli_ms, "after_quiet": quiet, "relay_sleep": sleep_relays, "relay_python": python_relays,
    })


if __name__ == "__main__":
    main()
