"""Open TCP connections handed to the next generation at a relay, under load.

The real supervisor runs tests/apps/CounterApp (a line protocol on a handed-connection endpoint,
AddRelayConnections). bench/connclient.c (C, one epoll thread) opens N connections, each sending one
line per second, the N sends spread evenly over the second, and checks every reply: which generation
answered, and that no line was lost, duplicated or reordered (CounterApp's per-connection turn is
the connection's session, so it must be the line's sequence number + 1 whichever generation answers).
A relay runs while they talk. Reported:

- freeze -> last held line answered: from the first line that generation 2 answered being sent (the
  old one had paused by then) to the reply, by generation 2, of the last line sent before generation 2
  answered anything: how long a connection that spoke during the hand-over waited at worst;
- the relay report's own figures (old stops accepting -> new accepting, quiesce, export, import) and
  the connections handed, adopted and refused;
- round trip p50/p99/max of the lines sent before, during (the second around the freeze) and after;
- memory per connection: generation 1's RSS and RssAnon with the N connections open less before any
  was opened, generation 2's once it serves them less generation 1's before any was opened (the same
  app, same warm-up), and generation 1's after it let them go.

With --websocket the connections are WebSockets (CounterApp under COUNTER_PROTOCOL=websocket, its
handed WebSocket endpoint): each line a text message, each reply a text message; the same figures.

Usage: bench/run connections [--connections N] [--seconds S] [--websocket]. Prints a table; writes
bench/results/connections.json. AETERNA_BENCH_PORTS=43000-43999 keeps the listener in a port range.
RLIMIT_NOFILE is raised to its hard limit here, for this process and so for the supervisor, its
generations and the client (each generation keeps N + its own fds open).
"""
import json, os, platform, re, resource, subprocess, sys, tempfile, threading, time

from common import ROOT, TOOL, cli, free_port, machine, pct, write_results

APP = os.path.join(ROOT, "tests", "apps", "CounterApp", "bin", "Release", "net10.0", "CounterApp.dll")
N = int(sys.argv[sys.argv.index("--connections") + 1]) if "--connections" in sys.argv else 10_000
SECONDS = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 20.0
PERIOD_MS = 1000.0
WEBSOCKET = "--websocket" in sys.argv
RELAY_AT = float(os.environ.get("RELAY_AT", "8"))  # seconds into the load: a steady "before"
SOAK = 6        # the old generation lives on this long after the hand-over: its "after" memory


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < N + 1000:
        sys.exit(f"RLIMIT_NOFILE's hard limit is {hard}: too low for {N} connections (each generation holds them all)")
    return hard


class CpuSampler(threading.Thread):
    """utime + stime of the generations (all threads, /proc/<pid>/stat), every 5 ms, with the instant:
    how much CPU each spent in the hand-over window, whatever else the machine was running."""

    def __init__(self):
        super().__init__(daemon=True)
        self.pids, self.samples, self.memory, self.done = [], {}, {}, False
        self.find_next, self.next_pid = None, None  # generation 2, watched from its start

    def watch(self, pid):
        self.samples.setdefault(pid, [])
        self.pids.append(pid)

    def run(self):
        tick = os.sysconf("SC_CLK_TCK")
        while not self.done:
            if self.find_next and not self.next_pid:
                self.next_pid = self.find_next()
                if self.next_pid:
                    self.watch(self.next_pid)
            for pid in list(self.pids):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    self.samples[pid].append((time.monotonic_ns(), (int(fields[11]) + int(fields[12])) * 1000 / tick))
                    if len(self.samples[pid]) % 20 == 0:
                        self.memory.setdefault(pid, []).append((time.monotonic_ns(), memory(pid)))
                except (OSError, IndexError):
                    pass
            time.sleep(0.005)

    def spent_ms(self, pid, start_ns, end_ns):
        """CPU ms between the last sample before start_ns and the first after end_ns (10 ms ticks)."""
        s = self.samples.get(pid, [])
        before = [cpu for t, cpu in s if t <= start_ns]
        after = [cpu for t, cpu in s if t >= end_ns]
        return round(after[0] - before[-1]) if before and after else None


def next_generation(supervisor, old):
    """The app process the supervisor started after ``old`` (status lists it only later)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (old, supervisor):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if ppid == supervisor and b"CounterApp.dll" in cmdline:
                return int(entry)
    return None


def memory(pid):
    """VmRSS and RssAnon of a process, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                out[key] = int(value.split()[0])
    return out


class Service:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="ae-connections-")
        self.config = os.path.join(self.dir, "aeterna.yaml")
        with open(self.config, "w") as f:
            f.write(f"service:\n  name: bench\n  command: {json.dumps(['dotnet', APP])}\n"
                    + ("  env:\n    - COUNTER_PROTOCOL=websocket\n" if WEBSOCKET else "") +
                    f"listeners:\n  - name: counter\n    address: tcp://127.0.0.1:{self.port}\n"
                    "readiness:\n  mode: auto\n  timeout: 60s\n"
                    f"orchestration:\n  drain_timeout: 5s\n  canary:\n    enabled: true\n    soak_time: {SOAK}s\n"
                    "  state_handoff:\n    timeout: 30s\n")
        self.log = open(os.path.join(self.dir, "supervisor.log"), "w+")
        self.process = subprocess.Popen(["dotnet", TOOL, "start", "-c", self.config], stdout=self.log, stderr=self.log)

    def status(self):
        st = cli("status", "-c", self.config, "--json")
        return json.loads(st.stdout)["status"] if st.returncode == 0 else None

    def pid_of(self, generation, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status()
            for g in (st or {}).get("generations", []):
                if g["generation"] == generation and g.get("pid"):
                    if st.get("active_generation") == generation or generation > 1:
                        return g["pid"]
            time.sleep(0.05)
        raise RuntimeError(f"no generation {generation}; see {self.log.name}")

    def relay(self):
        r = cli("relay", "-c", self.config, "--json")
        lines = [l for l in r.stdout.splitlines() if '"report"' in l]
        if not lines:
            raise RuntimeError(f"relay printed no report: {r.stdout} {r.stderr}")
        return json.loads(lines[-1])["report"]

    def stop(self):
        cli("stop", "-c", self.config)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def rtt_stats(rows):
    rtts = [(r[3] - r[2]) / 1e6 for r in rows]
    if not rtts:
        return {"lines": 0}
    return {"lines": len(rtts), "p50_ms": round(pct(rtts, 50), 3), "p99_ms": round(pct(rtts, 99), 3), "max_ms": round(max(rtts), 3)}


def main():
    hard = raise_fd_limit()
    exe = os.path.join(tempfile.gettempdir(), f"aeterna-connclient-{os.getuid()}")
    subprocess.run(["gcc", "-O2", "-Wall", "-o", exe, os.path.join(ROOT, "bench", "connclient.c")], check=True)
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "tests", "apps", "CounterApp"), "-c", "Release", "-nologo", "-clp:ErrorsOnly"],
                   check=True, stdout=subprocess.DEVNULL)
    service = Service()
    client = None
    try:
        pid1 = service.pid_of(1)
        cpu = CpuSampler()
        cpu.watch(pid1)
        cpu.find_next = lambda: next_generation(service.process.pid, pid1)
        cpu.start()
        time.sleep(2)  # the app's own warm-up settles
        mem1_empty = memory(pid1)
        records = os.path.join(service.dir, "replies.txt")
        client = subprocess.Popen([exe, str(service.port), str(N), str(SECONDS), str(PERIOD_MS), records] + (["websocket"] if WEBSOCKET else []), stdout=subprocess.PIPE, text=True)
        ready = client.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise RuntimeError(f"the client did not get its connections open: {ready}")
        open_ms = float(ready[2])
        time.sleep(RELAY_AT - 1)
        mem1_loaded = memory(pid1)
        load_before = os.getloadavg()
        result = {}
        relay_thread = threading.Thread(target=lambda: result.update(report=service.relay(), ended_ns=time.monotonic_ns()))
        relay_started_ns = time.monotonic_ns()
        relay_thread.start()
        # Not `status` (a .NET CLI process each time, on the cores the hand-over runs on): /proc.
        while not cpu.next_pid and relay_thread.is_alive():
            time.sleep(0.005)
        pid2 = cpu.next_pid or service.pid_of(2)
        relay_thread.join()
        cpu.done = True
        summary = json.loads(client.stdout.readline())
        client.wait(30)
        report = result["report"]
        rows = []
        with open(records) as f:
            for line in f:
                c, seq, sent, got, gen = line.split()
                rows.append((int(c), int(seq), int(sent), int(got), int(gen)))
    finally:
        if client and client.poll() is None:
            client.kill()
        service.stop()

    by_gen2 = [r for r in rows if r[4] == 2]
    freeze_ns = min(r[2] for r in by_gen2)                   # the first line generation 2 answered was sent
    first_reply2_ns = min(r[3] for r in by_gen2)
    held = [r for r in by_gen2 if r[2] < first_reply2_ns]      # lines that waited for the hand-over
    last_held_ns = max(r[3] for r in held)
    during = [r for r in rows if abs(r[2] - freeze_ns) <= 500_000_000]
    before = [r for r in rows if r[2] < freeze_ns - 500_000_000]
    # Memory: generation 2's and generation 1's last samples (generation 1's before it exits at the
    # soak's end, having let go of the connections at the hand-over), both after the last held line.
    late = lambda pid: [m for t, m in cpu.memory.get(pid, []) if t > last_held_ns + 500_000_000 and m.get("VmRSS")]  # a zombie has none
    mem2 = (late(pid2) or [None])[-1]
    mem1_after = (late(pid1) or [None])[-1]
    window = [r for r in rows if freeze_ns - 500_000_000 <= r[2] <= last_held_ns]
    after = [r for r in rows if r[2] > max(last_held_ns, freeze_ns + 500_000_000)]
    handover = report.get("handover") or {}
    service.log.flush()
    with open(service.log.name) as f:
        log = f.read()
    # The last of each: the generations' start-up rehearsals log the same lines, with no connections.
    staged = re.findall(r"connections staged in ([0-9.]+) ms", log)
    served = re.findall(r"commit of transfer \d+\); (\d+) connection\(s\) set serving in ([0-9.]+) ms", log)
    conns = handover.get("connections") or {}

    def per_conn(a, b, key):
        return round((a[key] - b[key]) * 1024 / N) if a and b else None

    data = {
        "machine": {**machine(), "cpu": cpu_model(), "load_average_before_relay": [round(x, 2) for x in load_before]},
        "command": " ".join(["bench/run", "connections"] + sys.argv[1:]),
        "protocol": "websocket" if WEBSOCKET else "raw", "connections": N, "period_ms": PERIOD_MS, "seconds": SECONDS, "rlimit_nofile": hard,
        "open_all_ms": open_ms,
        "client": summary,
        "relay": {"outcome": report.get("outcome"), "total_ms": report.get("total_ms"),
                  "latency_ms": handover.get("latency_ms"), "quiesce_ms": handover.get("quiesce_ms"),
                  "export_ms": handover.get("export_ms"), "import_ms": handover.get("import_ms"),
                  "handed": conns.get("handed"), "adopted": conns.get("adopted"), "refused": conns.get("refused"),
                  "reasons": conns.get("reasons"), "relay_cli_to_freeze_ms": round((freeze_ns - relay_started_ns) / 1e6, 1)},
        "new_generation_stage_ms": float(staged[-1]) if staged else None,
        "new_generation_serve_all_ms": float(served[-1][1]) if served else None,
        "cpu_ms_freeze_to_last_held": {"gen1": cpu.spent_ms(pid1, freeze_ns, last_held_ns), "gen2": cpu.spent_ms(pid2, freeze_ns, last_held_ns)},
        # Generation 1 serving the same load before the relay, per second: what answering the lines costs alone.
        "cpu_ms_per_second_gen1_steady": cpu.spent_ms(pid1, freeze_ns - 3_000_000_000, freeze_ns - 1_000_000_000) / 2
        if cpu.spent_ms(pid1, freeze_ns - 3_000_000_000, freeze_ns - 1_000_000_000) is not None else None,
        "freeze_to_last_held_answered_ms": round((last_held_ns - freeze_ns) / 1e6, 3),
        "freeze_to_first_answer_by_new_ms": round((first_reply2_ns - freeze_ns) / 1e6, 3),
        "held_lines": len(held), "target_ms": 200,
        # "during" is the second around the freeze; "window" from half a second before it to the last
        # held line answered (the whole stall when it lasts longer); "after" the lines sent after that.
        "round_trip": {"before": rtt_stats(before), "during": rtt_stats(during), "window": rtt_stats(window), "after": rtt_stats(after)},
        "memory_kib": {"gen1_no_connections": mem1_empty, "gen1_with_connections": mem1_loaded, "gen1_after_handover": mem1_after, "gen2_serving": mem2},
        "memory_bytes_per_connection": {
            "gen1_rss": per_conn(mem1_loaded, mem1_empty, "VmRSS"), "gen1_rss_anon": per_conn(mem1_loaded, mem1_empty, "RssAnon"),
            "gen2_rss": per_conn(mem2, mem1_empty, "VmRSS"), "gen2_rss_anon": per_conn(mem2, mem1_empty, "RssAnon"),
            "gen1_freed_rss": per_conn(mem1_loaded, mem1_after, "VmRSS"), "gen1_freed_rss_anon": per_conn(mem1_loaded, mem1_after, "RssAnon")},
    }
    write_results("connections-websocket" if WEBSOCKET else "connections", data)
    print_table(data)


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor()


def print_table(d):
    r, c = d["relay"], d["client"]
    m = d["machine"]
    print(f"{d['connections']} {d['protocol']} connections, one line each per {d['period_ms']:.0f} ms; {m['cpu']}, {m['cores']} cores, load {m['load_average_before_relay']}")
    print(f"relay {r['outcome']}: handed {r['handed']}, adopted {r['adopted']}, refused {r['refused']} {r['reasons'] or ''}")
    print(f"freeze -> last held line answered by generation 2: {d['freeze_to_last_held_answered_ms']:.1f} ms ({d['held_lines']} lines held; target {d['target_ms']} ms)")
    print(f"relay report: stop accepting -> accepting {r['latency_ms']} ms (quiesce {r['quiesce_ms']}, export {r['export_ms']}, import {r['import_ms']})")
    print(f"new generation: staged the connections in {d['new_generation_stage_ms']} ms, set them serving in {d['new_generation_serve_all_ms']} ms;"
          f" CPU spent from the freeze to the last held line answered: old {d['cpu_ms_freeze_to_last_held']['gen1']} ms, new {d['cpu_ms_freeze_to_last_held']['gen2']} ms"
          f" (the old one served the same load with {d['cpu_ms_per_second_gen1_steady']} ms a second before)")
    print(f"client: {c['replies']} replies, lost/unanswered {c['unanswered']}, out of sequence {c['out_of_sequence']}, bad turn {c['bad_turn']}, closed {c['closed']}, max send lag {c['max_send_lag_ms']} ms")
    print(f"{'round trip':<10} {'lines':>8} {'p50':>9} {'p99':>9} {'max':>9}")
    for k, v in d["round_trip"].items():
        if v["lines"]:
            print(f"{k:<10} {v['lines']:>8} {v['p50_ms']:>7.2f}ms {v['p99_ms']:>7.2f}ms {v['max_ms']:>7.2f}ms")
    print("memory per connection (bytes):", json.dumps(d["memory_bytes_per_connection"]))


if __name__ == "__main__":
    main()
