"""Handed WebSockets and handed reply streams through many relays and rollbacks (evidence, not a test).

The real supervisor runs the template's agent (tests/apps/TemplateAgent, its JIT build) with its
listener `ws`, which carries both the handed WebSocket endpoint (/sessions/{id}/ws) and the
handed reply streams (POST /sessions/{id}/messages with Accept: text/event-stream). While
--websockets WebSocket clients each send a message every --period seconds and --streams clients
each ask for one streamed reply after another on one keep-alive connection, the script runs
--relays relays, every --rollback-every-th of them rolled back: its new generation fails its soak
(the canary probe fails while a marker file exists), so the connections it was handed go back to
the old generation with their sessions as it left them.

Checked on the client side, then against the agent's memory (GET /sessions/{id}):
- no connection is closed, no close frame, no `event: cut`;
- every WebSocket message is answered once and in order (the turn numbers 1, 2, 3, ...);
- every stream is one well-formed chunked response: each chunk one event, token indexes
  0, 1, 2, ... once each, then `event: done` with the turn and the token count, then the last chunk;
- every conversation's history is exactly the turns the client saw, a streamed reply whole and once.

Usage: bench/run soak [--websockets N] [--streams N] [--relays N] [--rollback-every K] [--period S]
Writes bench/results/soak.json."""
import argparse, asyncio, base64, json, os, statistics, subprocess, sys, tempfile, time, urllib.request

from common import ROOT, TOOL, cli, free_port, machine, pct, write_results

APP = os.path.join(ROOT, "tests", "apps", "TemplateAgent", "bin", "Release", "net10.0", "TemplateAgent.dll")


class Failure(Exception):
    pass


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:] if l)}
    return status, headers


class Chat:
    """One WebSocket conversation: a message, its one answer, the next message after --period."""

    def __init__(self, port, session, period):
        self.port, self.session, self.period = port, session, period
        self.turns, self.rtts, self.generations = [], [], []
        self.error = None

    async def run(self, stop):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(f"GET /sessions/{self.session}/ws HTTP/1.1\r\nHost: agent\r\nUpgrade: websocket\r\n"
                         f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
            status, _ = await read_head(reader)
            if status != 101:
                raise Failure(f"handshake answered {status}")
            i = 0
            while not stop.is_set():
                text = f"Note {i} of {self.session}."
                started = time.monotonic()
                writer.write(frame(text.encode()))
                opcode, payload = await asyncio.wait_for(read_frame(reader), 30)
                if opcode != 1:
                    raise Failure(f"expected a text message, got opcode {opcode} {payload[:2].hex()} {payload[2:]!r}")
                answer = json.loads(payload)
                self.rtts.append((time.monotonic() - started) * 1000)
                if answer.get("turn") != i + 1:
                    raise Failure(f"message {i} answered as turn {answer.get('turn')}: {answer}")
                self.turns.append((text, answer["reply"]))
                self.generations.append(answer["generation"])
                i += 1
                try:
                    await asyncio.wait_for(stop.wait(), self.period)
                except asyncio.TimeoutError:
                    pass
            writer.close()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"


def frame(payload):
    """A masked client text frame."""
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_frame(reader):
    first, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    return first & 0x0F, await reader.readexactly(n)


class Typist:
    """One conversation of streamed replies on one keep-alive connection, read chunk by chunk."""

    def __init__(self, port, session):
        self.port, self.session = port, session
        self.streams = []   # (sent, turn, tokens, generations)
        self.error = None

    async def run(self, stop):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            i = 0
            while not stop.is_set():
                text = f"Fact {i} of {self.session}."
                body = json.dumps({"text": text}).encode()
                writer.write(f"POST /sessions/{self.session}/messages HTTP/1.1\r\nHost: agent\r\nAccept: text/event-stream\r\n"
                             f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                status, headers = await read_head(reader)
                if status != 200 or headers.get("transfer-encoding") != "chunked":
                    raise Failure(f"stream {i} answered {status} {headers}")
                tokens, generations, turn = [], [], None
                while True:
                    size = int((await asyncio.wait_for(reader.readuntil(b"\r\n"), 30))[:-2], 16)
                    if size == 0:
                        if await reader.readexactly(2) != b"\r\n":
                            raise Failure("trailers after the last chunk")
                        break
                    chunk = (await reader.readexactly(size + 2))[:-2].decode()
                    if not chunk.endswith("\n\n") or chunk.count("\n\n") != 1:
                        raise Failure(f"a chunk that is not one whole event: {chunk!r}")
                    fields = dict(line.split(": ", 1) for line in chunk.strip("\n").split("\n"))
                    data = json.loads(fields["data"])
                    if fields.get("event") == "done":
                        turn = data["turn"]
                        if data["tokens"] != len(tokens):
                            raise Failure(f"done says {data['tokens']} tokens, {len(tokens)} came")
                    elif "event" in fields:
                        raise Failure(f"stream {i} got event {fields['event']}: {fields['data']}")
                    else:
                        if data["index"] != len(tokens):
                            raise Failure(f"token {data['index']} came as number {len(tokens)}")
                        tokens.append(data["token"])
                        generations.append(data["generation"])
                if turn != i + 1:
                    raise Failure(f"stream {i} was turn {turn}")
                self.streams.append((text, turn, tokens, generations))
                i += 1
            writer.close()
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"


async def history(port, session):
    def get():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/sessions/{session}", timeout=30) as r:
            return [(m["role"], m["text"]) for m in json.load(r)["messages"]]
    return await asyncio.to_thread(get)


def runs(values):
    out = []
    for v in values:
        if not out or out[-1] != v:
            out.append(v)
    return out


class Supervisor:
    def __init__(self, args):
        self.http, self.ws = free_port(), free_port()
        self.dir = tempfile.mkdtemp(prefix="ae-soak-")
        self.marker = os.path.join(self.dir, "fail")
        self.config = os.path.join(self.dir, "aeterna.yaml")
        probe = json.dumps(["sh", "-c", f"test ! -e {self.marker}"])
        with open(self.config, "w") as f:
            f.write(f"service:\n  name: soak\n  command: {json.dumps(['dotnet', APP])}\n"
                    f"  env: [\"AGENT_TOKEN_DELAY_MS={args.token_delay_ms}\"]\n"
                    f"listeners:\n  - name: http\n    address: tcp://127.0.0.1:{self.http}\n"
                    f"  - name: ws\n    address: tcp://127.0.0.1:{self.ws}\n"
                    "readiness:\n  mode: auto\n  timeout: 60s\n"
                    "orchestration:\n  drain_timeout: 5s\n"
                    f"  canary:\n    enabled: true\n    soak_time: {args.soak}s\n    failure_threshold: 2\n"
                    f"    probe: {{run: {probe}, interval: 200ms, timeout: 2s}}\n"
                    "  state_handoff:\n    timeout: 30s\n")
        self.log = open(os.path.join(self.dir, "supervisor.log"), "w+")
        self.process = subprocess.Popen(["dotnet", TOOL, "start", "-c", self.config], stdout=self.log, stderr=self.log)

    def wait_active(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = cli("status", "-c", self.config, "--json")
            if st.returncode == 0 and json.loads(st.stdout)["status"].get("active_generation"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"no active generation; see {self.log.name}")

    def relay(self, fail):
        if fail:
            open(self.marker, "w").close()
        try:
            r = cli("relay", "-c", self.config, "--json")
        finally:
            if fail:
                os.remove(self.marker)
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


async def soak(args, service):
    stop = asyncio.Event()
    chats = [Chat(service.ws, f"chat-{i}", args.period) for i in range(args.websockets)]
    typists = [Typist(service.ws, f"typist-{i}") for i in range(args.streams)]
    tasks = [asyncio.create_task(c.run(stop)) for c in chats] + [asyncio.create_task(t.run(stop)) for t in typists]
    await asyncio.sleep(2)
    reports = []
    started = time.monotonic()
    for n in range(args.relays):
        fail = (n + 1) % args.rollback_every == 0
        report = await asyncio.to_thread(service.relay, fail)
        conns = (report.get("handover") or {}).get("connections") or {}
        reports.append(report)
        print(f"relay {n + 1:2}: {report.get('outcome'):11} handed {conns.get('handed')}, adopted {conns.get('adopted')}, "
              f"refused {conns.get('refused')}, handover {report.get('handover', {}).get('latency_ms')} ms"
              + (f"; {report.get('rollback')}" if fail else ""), flush=True)
        expected = "rolled_back" if fail else "committed"
        if report.get("outcome") != expected:
            raise RuntimeError(f"relay {n + 1}: {report.get('outcome')} ({report.get('reason')}), expected {expected}")
        broken = [c.error for c in chats + typists if c.error]
        if broken:
            break
        await asyncio.sleep(args.pause)
    stop.set()
    await asyncio.gather(*tasks)
    wall = time.monotonic() - started

    errors = [f"{c.session}: {c.error}" for c in chats + typists if c.error]
    mismatched = 0
    for c in chats:
        if await history(service.http, c.session) != [m for sent, reply in c.turns for m in (("user", sent), ("agent", reply))]:
            mismatched += 1
    for t in typists:
        expected = [m for sent, _, tokens, _ in t.streams for m in (("user", sent), ("agent", "".join(tokens)))]
        if await history(service.http, t.session) != expected:
            mismatched += 1
    rtts = [r for c in chats for r in c.rtts]
    streams = [s for t in typists for s in t.streams]
    latencies = [r["handover"]["latency_ms"] for r in reports if (r.get("handover") or {}).get("latency_ms") is not None]
    return {
        "websockets": args.websockets, "streams": args.streams, "period_s": args.period, "token_delay_ms": args.token_delay_ms,
        "relays": len(reports), "committed": sum(r.get("outcome") == "committed" for r in reports),
        "rolled_back": sum(r.get("outcome") == "rolled_back" for r in reports),
        "wall_s": round(wall, 1),
        "errors": errors, "closed": len(errors), "histories_mismatched": mismatched,
        "messages_answered": sum(len(c.turns) for c in chats),
        "message_rtt_ms": {"p50": round(pct(rtts, 50), 2), "p99": round(pct(rtts, 99), 2), "max": round(max(rtts), 2)} if rtts else None,
        "websocket_generation_runs_max": max((len(runs(c.generations)) for c in chats), default=0),
        "streams_complete": len(streams), "tokens": sum(len(s[2]) for s in streams),
        "streams_across_a_relay": sum(len(set(s[3])) > 1 for s in streams),
        "handover_latency_ms": {"median": round(statistics.median(latencies), 2), "max": round(max(latencies), 2)} if latencies else None,
        "rollbacks": [r.get("rollback") for r in reports if r.get("outcome") == "rolled_back"],
        "handed_per_relay": sorted({((r.get("handover") or {}).get("connections") or {}).get("handed") for r in reports}, key=lambda v: v or 0),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--websockets", type=int, default=100)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--relays", type=int, default=25, help="relays in all (default 25: 20 committed, 5 rolled back)")
    parser.add_argument("--rollback-every", type=int, default=5, help="every k-th relay is rolled back (default 5)")
    parser.add_argument("--period", type=float, default=0.5, help="seconds between two messages of a WebSocket client")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between two relays")
    parser.add_argument("--soak", type=float, default=1.5, help="soak_time in seconds")
    parser.add_argument("--token-delay-ms", type=int, default=50)
    args = parser.parse_args()
    subprocess.run(["dotnet", "build", os.path.join(ROOT, "tests", "apps", "TemplateAgent"), "-c", "Release", "-nologo", "-clp:ErrorsOnly"],
                   check=True, stdout=subprocess.DEVNULL)
    service = Supervisor(args)
    try:
        service.wait_active()
        result = asyncio.run(soak(args, service))
    finally:
        service.stop()
    result = {"machine": {**machine(), "load_average_after": [round(x, 2) for x in os.getloadavg()]}, **result,
              "command": "bench/run soak " + " ".join(sys.argv[1:])}
    write_results("soak", result)
    print(json.dumps(result, indent=2))
    ok = result["closed"] == 0 and result["histories_mismatched"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
