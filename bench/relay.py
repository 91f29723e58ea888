"""Relay time of a trivial app, and the supervisor's idle memory beside tini's.

Runs the real supervisor (Release build) with a listener and a trivial service, relays it N times
with --soak 0, and reads each relay's phase timings from the report. Prints a table and writes
bench/results/relay.json.
"""
import json, os, platform, statistics, subprocess, sys, tempfile, time

from common import TOOL, cli, free_port, machine, pct, write_results

QUICK = "--quick" in sys.argv
RUNS = 10 if QUICK else 40

# Trivial services: one that is ready the moment it runs (READY=1 from a shell through socat is not
# available everywhere, so Python sends it), and `sleep`, ready by a fixed 0 ms delay: the latter
# measures the supervisor's own overhead.
NOTIFY_APP = ("import os, socket, signal, time\n"
              "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(os.environ['NOTIFY_SOCKET']); s.send(b'READY=1')\n"
              "signal.signal(signal.SIGTERM, lambda *a: os._exit(0))\n"
              "while True: time.sleep(60)\n")


def rss_kib(pid, field="VmRSS"):
    """VmRSS counts the runtime's mapped files (shared by every .NET process on the machine);
    RssAnon is the memory that is the supervisor's own."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def scenario(name, command, readiness):
    work = tempfile.mkdtemp(prefix="ae-bench-")
    config = os.path.join(work, "aeterna.yaml")
    with open(config, "w") as f:
        f.write(f"service:\n  name: bench\n  command: {json.dumps(command)}\n"
                f"listeners:\n  - name: http\n    address: tcp://127.0.0.1:{free_port()}\n"
                f"readiness:\n  mode: {readiness}\n  delay: 0s\n"
                "orchestration:\n  drain_timeout: 5s\n  canary:\n    enabled: false\n")
    sup = subprocess.Popen(["dotnet", TOOL, "start", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            st = cli("status", "-c", config, "--json")
            if st.returncode == 0 and json.loads(st.stdout)["status"].get("active_generation"):
                break
            time.sleep(0.05)
        time.sleep(2)
        idle_rss, idle_anon = rss_kib(sup.pid), rss_kib(sup.pid, "RssAnon")
        phases, totals, cli_ms = {}, [], []
        for i in range(RUNS + 3):
            t0 = time.perf_counter()
            r = cli("relay", "-c", config, "--json", "--soak", "0")
            elapsed = (time.perf_counter() - t0) * 1000
            report = json.loads([l for l in r.stdout.splitlines() if '"report"' in l][-1])["report"]
            assert report["outcome"] == "committed", report
            if i < 3:
                continue  # warm-up: JIT, first-use paths
            totals.append(report["total_ms"])
            cli_ms.append(elapsed)
            for p in report["phases"]:
                phases.setdefault(p["name"], []).append(p["ms"])
        after_rss, after_anon = rss_kib(sup.pid), rss_kib(sup.pid, "RssAnon")
    finally:
        cli("stop", "-c", config)
        sup.wait(30)
    return {
        "scenario": name, "runs": RUNS,
        "relay_ms_p50": round(statistics.median(totals), 2), "relay_ms_p95": round(pct(totals, 95), 2),
        "cli_relay_ms_p50": round(statistics.median(cli_ms), 2),
        "phases_ms_p50": {k: round(statistics.median(v), 2) for k, v in phases.items()},
        "supervisor_idle_rss_kib": idle_rss, "supervisor_rss_after_relays_kib": after_rss,
        "supervisor_idle_anon_kib": idle_anon, "supervisor_anon_after_relays_kib": after_anon,
    }


def tini_rss():
    p = subprocess.Popen(["tini", "-s", "--", "sleep", "600"])
    time.sleep(1)
    rss = rss_kib(p.pid), rss_kib(p.pid, "RssAnon")
    p.terminate(); p.wait()
    return rss


def main():
    results = [
        scenario("sleep, ready at once (supervisor overhead)", ["sleep", "600"], "delay"),
        scenario("python, READY=1 via sd_notify", ["python3", "-c", NOTIFY_APP], "notify"),
    ]
    tini = tini_rss()
    print(f"relay time, {RUNS} relays each with --soak 0 (medians; p95 in the JSON) on {platform.node()}, {os.cpu_count()} cores")
    print(f"{'scenario':<45} {'total':>9} {'p95':>9} {'start':>8} {'ready':>8} {'commit':>8} {'CLI':>8}")
    for r in results:
        ph = r["phases_ms_p50"]
        print(f"{r['scenario']:<45} {r['relay_ms_p50']:>7.1f}ms {r['relay_ms_p95']:>7.1f}ms {ph['start']:>6.1f}ms {ph['ready']:>6.1f}ms {ph['commit']:>6.1f}ms {r['cli_relay_ms_p50']:>6.0f}ms")
    r = results[0]
    print(f"memory, idle: supervisor RSS {r['supervisor_idle_rss_kib'] / 1024:.1f} MiB of which private (RssAnon) {r['supervisor_idle_anon_kib'] / 1024:.1f} MiB; "
          f"after {RUNS + 3} relays {r['supervisor_rss_after_relays_kib'] / 1024:.1f} / {r['supervisor_anon_after_relays_kib'] / 1024:.1f} MiB; "
          f"tini {tini[0] / 1024:.1f} / {tini[1] / 1024:.1f} MiB")
    write_results("relay", {"machine": machine(), "results": results, "tini_idle_rss_kib": tini[0], "tini_idle_anon_kib": tini[1]})


if __name__ == "__main__":
    main()
