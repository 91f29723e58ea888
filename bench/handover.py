"""Handover latency of stateful relays, side by side with a cold boot and the kernel's own costs.

Measures the product's handover targets on this machine with the real supervisor and a real Kestrel app on
Aeterna.Runtime (tests/apps/StatefulApp), every scenario in one run:

  chat state, 50 KiB, copied by pipe        (target: ~15 ms)
  RAG cache, 100 MiB in RelayMemory (fd)     (target: ~40 ms)
  large context, 1 GiB in RelayMemory (fd)   (target: ~120 ms)
  copied state, 100 MiB by shm (memfd)       (state that must be copied)
  cold boot that rebuilds the 1 GiB state    (target: 4,500 ms)

With --python, the same run also relays a Python service on the aeterna package
(tests/apps/python_stateful_app.py, Debian's python3 in artifacts/python-venv): the 50 KiB context
by pipe, a 100 MiB and a 1 GiB torch tensor in shared memory (SharedTensor, by fd), and a cold boot
that rebuilds the 1 GiB tensor; and the CRC-32C of the Python client both ways (the crc32c
package, pure Python).

The handover latency is the relay report's: the old generation stopped accepting -> the new one
accepting (both CLOCK_MONOTONIC). Beside it: a raw stream of the same bytes over a Unix socket into
a reused buffer, and one fd passed with SCM_RIGHTS (bench/rawstream.c), and, for shared memory, how
long the new generation took to map every page readable (MADV_POPULATE_READ, after it accepted).

The supervisor is the NativeAOT executable the container images run (--supervisor native, the
default; bench/run publishes it as bench/run relay does) or the JIT build (--supervisor jit).

Usage: bench/run handover [--quick] [--runs N] [--python] [--only python|dotnet] [--supervisor native|jit]
[--scenario TEXT] (only the scenarios whose name contains TEXT, e.g. "chat state" or "cold boot").
Prints a table; writes bench/results/handover.json. AETERNA_BENCH_PORTS=23000-23099 keeps the
listeners in a port range.
"""
import json, os, platform, re, statistics, subprocess, sys, tempfile, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

from common import NATIVE_TOOL, ROOT, TOOL, free_port, machine, pct, write_results

APP = os.path.join(ROOT, "tests", "apps", "StatefulApp", "bin", "Release", "net10.0", "StatefulApp.dll")
PYTHON = os.path.join(ROOT, "artifacts", "python-venv", "bin", "python3")
PYTHON_APP = os.path.join(ROOT, "tests", "apps", "python_stateful_app.py")
COMMANDS = {"dotnet": ["dotnet", APP], "python": [PYTHON, PYTHON_APP]}
QUICK = "--quick" in sys.argv
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
RUNTIMES = [r for r in (["dotnet"] + (["python"] if "--python" in sys.argv or ONLY == "python" else [])) if ONLY in (None, r)]
RUNS = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5 if QUICK else 15
SUPERVISOR_KIND = sys.argv[sys.argv.index("--supervisor") + 1] if "--supervisor" in sys.argv else "native"
SUPERVISOR = {"native": [NATIVE_TOOL], "jit": ["dotnet", TOOL]}[SUPERVISOR_KIND]
SCENARIO = sys.argv[sys.argv.index("--scenario") + 1] if "--scenario" in sys.argv else ""


def cli(*args):
    return subprocess.run([*SUPERVISOR, *args], capture_output=True, text=True)
GIB = 1 << 30


class Service:
    """The supervisor running StatefulApp on a free port, in a temporary directory."""

    def __init__(self, mechanism="auto", env=(), runtime="dotnet"):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="ae-handover-")
        self.config = os.path.join(self.dir, "aeterna.yaml")
        with open(self.config, "w") as f:
            f.write(f"service:\n  name: bench\n  command: {json.dumps(COMMANDS[runtime])}\n")
            if env:
                f.write("  env: [" + ", ".join(f'"{e}"' for e in env) + "]\n")
            f.write(f"listeners:\n  - name: http\n    address: tcp://127.0.0.1:{self.port}\n"
                    "readiness:\n  mode: auto\n  timeout: 120s\n"
                    "orchestration:\n  drain_timeout: 3s\n  canary:\n    enabled: false\n"
                    f"  state_handoff:\n    mechanism: {mechanism}\n    timeout: 60s\n    max_state_size: 2GiB\n")
        self.log = open(os.path.join(self.dir, "supervisor.log"), "w+")
        self.started = time.perf_counter()
        self.process = subprocess.Popen([*SUPERVISOR, "start", "-c", self.config], stdout=self.log, stderr=self.log)

    def wait_active(self, timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = cli("status", "-c", self.config, "--json")
            if st.returncode == 0 and json.loads(st.stdout)["status"].get("active_generation"):
                return json.loads(st.stdout)["status"]
            time.sleep(0.05)
        raise RuntimeError("no active generation; see " + self.log.name)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None):
        with urllib.request.urlopen(urllib.request.Request(self.url(path), data=body, method=method), timeout=600) as r:
            return r.read()

    def relay(self):
        r = cli("relay", "-c", self.config, "--json", "--soak", "0")
        report = json.loads([l for l in r.stdout.splitlines() if '"report"' in l][-1])["report"]
        assert report["outcome"] == "committed", report
        return report

    def readable_ms(self, generation, timeout=30):
        """The new generation's STATUS after it mapped its adopted memory."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = json.loads(cli("status", "-c", self.config, "--json").stdout)["status"]
            for g in status["generations"]:
                m = re.search(r"mapped in ([0-9.]+) ms", g.get("status_text") or "")
                if g["generation"] == generation and m:
                    return float(m.group(1))
            time.sleep(0.05)
        return None

    def ready_ms(self):
        """Generation 1's start to ready, from the supervisor's log."""
        self.log.flush()
        with open(self.log.name) as f:
            m = re.search(r"generation 1 \(pid \d+\) is ready .* after (\d+) ms", f.read())
        return float(m.group(1)) if m else None

    def stop(self):
        cli("stop", "-c", self.config)
        self.process.wait(60)


def raw(bytes_, runs):
    exe = os.path.join(tempfile.gettempdir(), "aeterna-rawstream")
    subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(ROOT, "bench", "rawstream.c"), "-lpthread"], check=True)
    return json.loads(subprocess.run([exe, str(bytes_), str(runs)], capture_output=True, text=True, check=True).stdout)


def put_items(service, count, value_bytes):
    body = b"x" * value_bytes
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: service.request("PUT", f"/items/item{i:06d}", body), range(count)))


def relay_scenario(name, mechanism, setup, runs, target_ms, runtime="dotnet"):
    service = Service(mechanism, runtime=runtime)
    try:
        service.wait_active()
        setup(service)
        latencies, readable, reports = [], [], []
        for _ in range(runs):
            report = service.relay()
            h = report["handover"]
            latencies.append(h["latency_ms"])
            reports.append(h)
            if h["regions"] > 0:
                ms = service.readable_ms(report["to_generation"])
                if ms is not None:
                    readable.append(ms)
        h = reports[-1]
        return {
            "runtime": runtime, "scenario": name, "mechanism": h["mechanism"] + (" + regions by fd" if h["regions"] else ""),
            "state_bytes": h["state_bytes"] + h["region_bytes"], "copied_bytes": h["state_bytes"], "region_bytes": h["region_bytes"],
            "runs": runs, "handover_ms_p50": round(statistics.median(latencies), 3), "handover_ms_p95": round(pct(latencies, 95), 3),
            "handover_ms_first": round(latencies[0], 3), "handover_ms_all": latencies,
            "export_ms_p50": round(statistics.median(r["export_ms"] for r in reports), 3),
            "import_ms_p50": round(statistics.median(r["import_ms"] for r in reports), 3),
            "readable_ms_p50": round(statistics.median(readable), 3) if readable else None,
            "target_ms": target_ms,
        }
    finally:
        service.stop()


def cold_boot(nbytes, runs, runtime="dotnet"):
    ready = []
    env = [f"STATEFUL_BOOT_FLOATS={nbytes // 4}"] if runtime == "dotnet" else [f"STATEFUL_BOOT_BYTES={nbytes}"]
    for _ in range(runs):
        service = Service(env=env, runtime=runtime)
        try:
            service.wait_active()
            ready.append(service.ready_ms())
        finally:
            service.stop()
    return {"runtime": runtime, "scenario": f"cold boot rebuilding {nbytes >> 20} MiB", "mechanism": "none (rebuilds)", "state_bytes": nbytes,
            "runs": runs, "ready_ms_p50": round(statistics.median(ready), 1), "ready_ms_all": ready, "target_ms": 4500}


def python_crc(runs):
    """The Python client's CRC-32C over 100 MiB with the crc32c package and over 10 MiB in pure
    Python, each the median of ``runs`` (in the venv's interpreter, as the agents run it)."""
    code = ("import json, statistics, time\n"
            "from aeterna.checksum import crc32c_native, crc32c_python\n"
            "def median(fn, data, runs):\n"
            "    times = []\n"
            "    for _ in range(runs):\n"
            "        t = time.perf_counter(); fn(data); times.append((time.perf_counter() - t) * 1000)\n"
            "    return statistics.median(times)\n"
            f"big, small = bytes(100 << 20), bytes(10 << 20)\n"
            f"print(json.dumps({{'native_100MiB_ms': median(crc32c_native, big, {runs}) if crc32c_native else None,\n"
            f"                  'python_10MiB_ms': median(crc32c_python, small, {max(1, runs // 3)})}}))\n")
    return json.loads(subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout)


def scenarios(runtime, big):
    """The hand-over scenarios of one runtime, each with its setup and the reference figure."""
    if runtime == "dotnet":
        return [
            ("chat state, 50 KiB", "pipe", lambda s: put_items(s, 1000, 40), RUNS, 15),
            ("RAG cache, 100 MiB RelayMemory", "auto", lambda s: s.request("POST", f"/memory?floats={(100 << 20) // 4}&seed=3"), RUNS, 40),
            (f"large context, {big >> 20} MiB RelayMemory", "auto", lambda s: s.request("POST", f"/memory?floats={big // 4}&seed=4"), max(3, RUNS // 3), 120),
            (f"copied state, {10 if QUICK else 100} MiB", "shm", lambda s: put_items(s, 100 if QUICK else 1000, 100 << 10), max(3, RUNS // 3), None),
        ]
    return [
        ("chat state, 50 KiB", "pipe", lambda s: put_items(s, 1000, 40), RUNS, 15),
        ("RAG cache, 100 MiB SharedTensor", "auto", lambda s: s.request("POST", f"/tensor?bytes={100 << 20}&seed=3"), RUNS, 40),
        (f"large context, {big >> 20} MiB SharedTensor", "auto", lambda s: s.request("POST", f"/tensor?bytes={big}&seed=4"), max(3, RUNS // 3), 120),
    ]


def print_table(results):
    print(f"handover latency (old stops accepting -> new accepting), medians of {RUNS} relays unless noted; {SUPERVISOR_KIND} supervisor; {platform.node()}, {os.cpu_count()} cores")
    print(f"{'runtime':<7} {'scenario':<38} {'how':<22} {'p50':>9} {'p95':>9} {'first':>9} {'readable':>10} {'target':>9}")
    for r in results:
        if "ready_ms_p50" in r:
            print(f"{r['runtime']:<7} {r['scenario']:<38} {r['mechanism']:<22} {r['ready_ms_p50']:>7.0f}ms {'':>9} {'':>9} {'':>10} {r['target_ms']:>7}ms")
            continue
        readable = f"{r['readable_ms_p50']:.1f}ms" if r["readable_ms_p50"] is not None else "-"
        target = f"{r['target_ms']}ms" if r["target_ms"] else "-"
        print(f"{r['runtime']:<7} {r['scenario']:<38} {r['mechanism']:<22} {r['handover_ms_p50']:>7.2f}ms {r['handover_ms_p95']:>7.2f}ms {r['handover_ms_first']:>7.2f}ms {readable:>10} {target:>9}")


def main():
    builds = [os.path.join(ROOT, "src", "Aeterna.Tool")] + ([os.path.join(ROOT, "tests", "apps", "StatefulApp")] if "dotnet" in RUNTIMES else [])
    for project in builds:
        subprocess.run(["dotnet", "build", project, "-c", "Release", "-nologo", "-clp:ErrorsOnly"], check=True, stdout=subprocess.DEVNULL)
    big = (100 << 20) if QUICK else GIB
    results = []
    for runtime in RUNTIMES:
        results += [relay_scenario(*s, runtime=runtime) for s in scenarios(runtime, big) if SCENARIO in s[0]]
        if SCENARIO in "cold boot":
            results.append(cold_boot(big, 1 if QUICK else 3, runtime))
    print_table(results)
    extra = {"machine": machine(), "supervisor": SUPERVISOR_KIND}
    copied = next((r for r in results if r["runtime"] == "dotnet" and r["scenario"].startswith("copied")), None)
    if copied is not None:
        baselines = {"stream_50KiB": raw(51200, 50), "stream_copied": raw(copied["copied_bytes"], 10)}
        extra.update(baselines)
        print(f"baselines: raw stream of 50 KiB {baselines['stream_50KiB']['stream_ms_p50']:.3f} ms; of {copied['copied_bytes'] >> 20} MiB "
              f"{baselines['stream_copied']['stream_ms_p50']:.1f} ms (copied state: export {copied['export_ms_p50']:.1f} ms + import {copied['import_ms_p50']:.1f} ms, "
              f"handover {copied['handover_ms_p50']:.1f} ms = {copied['handover_ms_p50'] / baselines['stream_copied']['stream_ms_p50']:.2f}x); one fd passed {baselines['stream_50KiB']['fd_pass_ms_p50']:.4f} ms")
    if "python" in RUNTIMES:
        crc = python_crc(5 if QUICK else 15)
        extra["python_crc32c"] = crc
        extra["python"] = subprocess.run([PYTHON, "-c", "import sys, torch, numpy; print(sys.version.split()[0], torch.__version__, numpy.__version__)"],
                                         capture_output=True, text=True).stdout.strip()
        native = f"{crc['native_100MiB_ms']:.1f} ms" if crc["native_100MiB_ms"] is not None else "not installed"
        print(f"python {extra['python']} (python, torch, numpy); CRC-32C in the client: crc32c package 100 MiB {native}, pure Python 10 MiB {crc['python_10MiB_ms']:.0f} ms")
    if SCENARIO:
        print("--scenario: a partial run; bench/results/handover.json is left as it was")
    else:
        write_results("handover", results + [{"scenario": "baselines", **extra}])


if __name__ == "__main__":
    main()
