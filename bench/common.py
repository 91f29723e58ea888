"""What bench/relay.py and bench/handover.py share: the tool's paths (JIT and native), the CLI, free ports,
percentiles, and writing bench/results/<name>.json with the machine beside the numbers."""
import json, os, platform, socket, subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "src", "Aeterna.Tool", "bin", "Release", "net10.0", "dotnet-aeterna.dll")
# The NativeAOT supervisor, as bench/run relay publishes it (the executable of the aeterna.linux-x64 package).
NATIVE_TOOL = os.path.join(ROOT, "artifacts", "bench", "native-tool", "dotnet-aeterna")


def machine():
    return {"host": platform.node(), "cores": os.cpu_count(), "kernel": platform.release()}


def free_port():
    """A free loopback port: the kernel's pick, or one of AETERNA_BENCH_PORTS ("23000-23099")
    when that is set (a shared machine where each user keeps to a range)."""
    first, _, last = os.environ.get("AETERNA_BENCH_PORTS", "").partition("-")
    candidates = range(int(first), int(last or first) + 1) if first else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port == 0 or port not in _given:
                _given.add(port)
                return s.getsockname()[1]
    raise RuntimeError("no free port in AETERNA_BENCH_PORTS=" + os.environ["AETERNA_BENCH_PORTS"])


_given = set()   # ports of the range handed out already: the supervisor that got one may not have bound it yet


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cli(*args):
    return subprocess.run(["dotnet", TOOL, *args], capture_output=True, text=True)


def write_results(name, data):
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", name + ".json"), "w") as f:
        json.dump(data, f, indent=2)
