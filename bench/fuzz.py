"""Coverage-guided fuzzing of every decoder (bench/fuzz): builds the harness, instruments the
decoders' assemblies with SharpFuzz, builds the libFuzzer bridge, then runs each target one at a
time for N executions under libFuzzer (nice -n 10) from a corpus of valid encodings.

Prints per target: executions, exec/s, wall time, managed edges covered, libFuzzer's features,
and whether it crashed (the crash input and the exception are kept in bench/results/fuzz/).
Usage: bench/run fuzz [--runs N] [--target NAME ...] [--timeout S]"""
import argparse, glob, json, os, re, shutil, subprocess, sys, time

from common import ROOT, machine, write_results

HARNESS = os.path.join(ROOT, "bench", "fuzz")
WORK = os.environ.get("AETERNA_FUZZ_WORK") or os.path.join(ROOT, ".tmp", "fuzz")
PLAIN = os.path.join(WORK, "plain")
ARTIFACTS = os.path.join(ROOT, "bench", "results", "fuzz")
SHARPFUZZ_VERSION = "2.3.0"
# The assemblies whose code is the decoders (and MemoryPack's, which reads MemoryPack members).
INSTRUMENTED = ["Aeterna.Runtime.dll", "Aeterna.Fuzz.States.dll", "MemoryPack.Core.dll"]


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def clang():
    for name in ("clang", "clang-14"):
        if shutil.which(name):
            return name
    sys.exit("clang is missing: apt-get install clang-14 libclang-rt-14-dev")


def prepare():
    """The instrumented copy of the harness's output and the bridge, under .tmp/fuzz."""
    run(["dotnet", "build", HARNESS, "-c", "Release", "-nologo", "-clp:ErrorsOnly"])
    built = os.path.join(HARNESS, "bin", "Release", "net10.0")
    app = os.path.join(WORK, "app")
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(built, app)
    # An uninstrumented copy lists the targets and writes the seeds (instrumented code needs the fuzzer's edge map).
    shutil.rmtree(PLAIN, ignore_errors=True)
    shutil.copytree(built, PLAIN)
    tools = os.path.join(WORK, "tools")
    sharpfuzz = os.path.join(tools, "sharpfuzz")
    if not os.path.exists(sharpfuzz):
        run(["dotnet", "tool", "install", "SharpFuzz.CommandLine", "--version", SHARPFUZZ_VERSION, "--tool-path", tools])
    for dll in INSTRUMENTED:
        run([sharpfuzz, os.path.join(app, dll)])
    # The bridge itself is not instrumented: only the managed edge map counts as coverage.
    bridge = os.path.join(WORK, "libfuzzer-dotnet")
    cc = clang()
    run([cc, "-O2", "-Wall", "-Werror", "-c", os.path.join(HARNESS, "libfuzzer-dotnet.c"), "-o", bridge + ".o"])
    run([cc, "-fsanitize=fuzzer", bridge + ".o", "-ldl", "-o", bridge])
    return app, bridge


def targets(app):
    out = run(["dotnet", os.path.join(PLAIN, "Aeterna.Fuzz.dll"), "list"])
    return [dict(zip(("name", "max_len", "decoder"), line.split("\t"))) for line in out.splitlines() if line]


def hostfxr():
    """The runtime's host library, beside the dotnet on PATH."""
    root = os.path.dirname(os.path.realpath(shutil.which("dotnet")))
    found = sorted(glob.glob(os.path.join(root, "host", "fxr", "*", "libhostfxr.so")))
    if not found:
        sys.exit(f"no libhostfxr.so under {root}/host/fxr")
    return found[-1]


def fuzz(app, bridge, target, runs, timeout):
    name = target["name"]
    corpus = os.path.join(WORK, "corpus", name)
    seeds = os.path.join(WORK, "seeds", name)
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(seeds, ignore_errors=True)
    os.makedirs(corpus)
    run(["dotnet", os.path.join(PLAIN, "Aeterna.Fuzz.dll"), "seeds", name, seeds])
    os.makedirs(ARTIFACTS, exist_ok=True)
    for old in glob.glob(os.path.join(ARTIFACTS, name + "-*")):
        os.remove(old)
    # The runtime handles SEGV/BUS/FPE/ILL itself (null references, divisions by zero).
    command = ["nice", "-n", "10", bridge,
               f"--hostfxr={hostfxr()}", f"--app={os.path.join(app, 'Aeterna.Fuzz.dll')}", f"--target={name}",
               f"-runs={runs}", f"-max_len={target['max_len']}", f"-timeout={timeout}", "-rss_limit_mb=4096",
               "-handle_segv=0", "-handle_bus=0", "-handle_fpe=0", "-handle_ill=0",
               "-print_final_stats=1", f"-artifact_prefix={os.path.join(ARTIFACTS, name)}-", corpus, seeds]
    log_path = os.path.join(WORK, name + ".log")
    started = time.monotonic()
    with open(log_path, "w") as log:
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - started
    text = open(log_path, errors="replace").read()
    done = re.search(r"Done (\d+) runs in (\d+) second", text)
    status = re.findall(r"#(\d+)\s+\w+\s+.*?ft: (\d+).*?exec/s: (\d+)", text)
    edges = re.search(r"managed edges covered: (\d+)", text)
    executions = int(done.group(1)) if done else (int(status[-1][0]) if status else 0)
    crashes = sorted(glob.glob(os.path.join(ARTIFACTS, name + "-*")))
    if code != 0 and crashes:
        # The exception the .NET process printed, next to the input that caused it.
        with open(crashes[-1] + ".log", "w") as f:
            f.write(text[-20000:])
    return {
        "target": name,
        "decoder": target["decoder"],
        "executions": executions,
        "exec_per_s": round(executions / wall) if wall > 0 else 0,
        "wall_s": round(wall, 1),
        "managed_edges": int(edges.group(1)) if edges else None,
        "features": int(status[-1][1]) if status else None,
        "crashed": code != 0,
        "artifacts": [os.path.relpath(c, ROOT) for c in crashes if not c.endswith(".log")],
        "command": "libfuzzer-dotnet --target=" + name + " " + " ".join(command[7:-3]) + " CORPUS SEEDS",
    }


def main():
    parser = argparse.ArgumentParser(description="Fuzz every decoder under libFuzzer.")
    parser.add_argument("--runs", type=int, default=10_000_000, help="executions per target (default 10,000,000)")
    parser.add_argument("--target", action="append", help="only these targets (default: all)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take before it counts as a hang")
    args = parser.parse_args()
    app, bridge = prepare()
    chosen = [t for t in targets(app) if not args.target or t["name"] in args.target]
    if not chosen:
        sys.exit(f"no such target: {args.target}")
    results = []
    print(f"{'target':18} {'executions':>11} {'exec/s':>8} {'wall s':>8} {'edges':>6} {'ft':>6}  crash")
    for target in chosen:
        r = fuzz(app, bridge, target, args.runs, args.timeout)
        results.append(r)
        print(f"{r['target']:18} {r['executions']:>11} {r['exec_per_s']:>8} {r['wall_s']:>8} {r['managed_edges'] or '-':>6} {r['features'] or '-':>6}  "
              f"{'CRASH ' + ', '.join(r['artifacts']) if r['crashed'] else 'none'}", flush=True)
    if not args.target:
        write_results("fuzz", {"machine": machine(), "runs": args.runs, "results": results})
    sys.exit(1 if any(r["crashed"] for r in results) else 0)


if __name__ == "__main__":
    main()
