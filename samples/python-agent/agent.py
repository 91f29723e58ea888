"""A small chat agent whose memory survives every relay.

Run it under the supervisor (`dotnet aeterna start -c aeterna.yaml`) or alone (`python3 agent.py`,
port 8080). Its state is the context of the Aeterna Python client (the `aeterna` package, sdk/python):

- per-session conversation history, handed over as JSON through the transfer socket;
- an embedding cache: one 32-float vector per user turn in a SharedBuffer (a memfd), handed over
  by file descriptor, so the next generation maps the very same pages.

HTTP API:
  POST /sessions/{id}/messages  {"text": "..."} -> {"id": ..., "messages": [user turn, agent turn]}
  GET  /sessions/{id}           -> {"id": ..., "messages": [{"role": "user"|"agent", "text": ...}]}, 404 if unknown
  GET  /healthz                 -> {"ok": true}
  GET  /about                   -> {"generation": n, "pid": p, "version": "...", "sessions": n}
  GET  /embeddings              -> the cache's size, a SHA-256 of its used bytes, and how many
                                   stored vectors differ from their message's text (0 if intact)
Bad input gets a 400 with {"error": ...} and changes nothing.

The reply is deterministic and local: the agent embeds your message (hashed bag of words), finds
the most similar earlier message of the same session through the cache, and tells you about it.

Freeze and drain: requests that touch the state run inside `client.work()`. Once this generation
is frozen (it handed its state to the next one) such a request arriving on a keep-alive
connection it still holds is forwarded to the listener, where the next generation answers it.
On SIGTERM it stops accepting, answers with `Connection: close`, and exits when its connections
are done.
"""
import hashlib
import http.client
import http.server
import json
import math
import os
import re
import signal
import socketserver
import struct
import sys
import threading
import urllib.parse
import zlib

import aeterna  # pip install ./sdk/python

VERSION = os.environ.get("APP_VERSION", "1.0")
DIM = 32                       # floats per embedding
CAPACITY = 8192                # embeddings the cache holds (1 MiB)
MAX_BODY = 64 * 1024
MAX_TEXT = 4000
SESSION_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
WORD = re.compile(r"[a-z0-9']+")

client = aeterna.AeternaClient(format="json")
lock = threading.Lock()        # guards `state`
counters = {"requests": 0, "errors": 0}


def new_state():
    return {"sessions": {}, "slots_used": 0,
            "embeddings": aeterna.SharedBuffer(CAPACITY * DIM * 4, "embeddings")}


def embed(text):
    """A deterministic, normalized hashed bag-of-words vector."""
    v = [0.0] * DIM
    for word in WORD.findall(text.lower()):
        h = zlib.crc32(word.encode())
        v[h % DIM] += 1.0 if (h >> 16) & 1 else -1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def read_slot(floats, slot):
    return floats[slot * DIM:(slot + 1) * DIM].tolist()


def reply_for(history, floats, text, vector):
    best, best_score = None, -2.0
    for role, earlier, slot in history:
        if role == "user" and slot is not None:
            score = sum(a * b for a, b in zip(vector, read_slot(floats, slot)))
            if score > best_score:
                best, best_score = earlier, score
    turns = sum(1 for t in history if t[0] == "user") + 1
    if best is None:
        return "Noted. That is the first thing you told me in this session."
    return 'Noted (message %d). Closest earlier message: "%s" (similarity %.2f).' % (turns, best[:200], best_score)


def append_message(session_id, text):
    """Appends the user turn and the agent's reply; returns both."""
    vector = embed(text)
    with lock, state["embeddings"].view.cast("f") as floats:
        history = state["sessions"].setdefault(session_id, [])
        answer = reply_for(history, floats, text, vector)
        slot = None
        if state["slots_used"] < CAPACITY:
            slot = state["slots_used"]
            floats[slot * DIM:(slot + 1) * DIM] = _as_float_view(vector)
            state["slots_used"] = slot + 1
        history.append(["user", text, slot])
        history.append(["agent", answer, None])
    return [{"role": "user", "text": text}, {"role": "agent", "text": answer}]


def _as_float_view(vector):
    return memoryview(struct.pack("%df" % DIM, *vector)).cast("f")


def embeddings_report():
    with lock, state["embeddings"].view as raw, raw.cast("f") as floats:
        used = state["slots_used"]
        digest = hashlib.sha256(raw[:used * DIM * 4]).hexdigest()
        mismatches = 0
        for history in state["sessions"].values():
            for role, text, slot in history:
                if slot is not None and floats[slot * DIM:(slot + 1) * DIM].tobytes() != _as_float_view(embed(text)).tobytes():
                    mismatches += 1
        return {"dim": DIM, "capacity": CAPACITY, "slots_used": used, "sha256": digest,
                "mismatches": mismatches}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "python-agent/" + VERSION
    timeout = 5     # idle keep-alive connections end after 5 s, so a drain does not wait long

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if client.draining or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        counters["requests"] += 1
        if status >= 500:
            counters["errors"] += 1

    def error(self, status, message):
        self.reply(status, {"error": message})

    def read_body(self):
        """The request body, or None after answering 400 (nothing changes then)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.error(400, "chunked bodies are not supported: send Content-Length")
            return None
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.error(400, "a JSON body with Content-Length is required")
            return None
        if int(length) > MAX_BODY:
            self.close_connection = True     # the body is left unread
            self.error(400, "the body is over %d bytes" % MAX_BODY)
            return None
        return self.rfile.read(int(length))

    def route(self):
        path = urllib.parse.urlsplit(self.path).path
        parts = [p for p in path.split("/") if p]
        if parts == ["healthz"]:
            return "healthz", None
        if parts == ["about"]:
            return "about", None
        if parts == ["embeddings"]:
            return "embeddings", None
        if len(parts) == 2 and parts[0] == "sessions":
            return "session", urllib.parse.unquote(parts[1])
        if len(parts) == 3 and parts[0] == "sessions" and parts[2] == "messages":
            return "messages", urllib.parse.unquote(parts[1])
        return None, None

    def do_GET(self):
        what, session_id = self.route()
        if what == "healthz":
            return self.reply(200, {"ok": True})
        if what == "about":
            return self.reply(200, {"generation": client.generation, "pid": os.getpid(), "version": VERSION,
                                    "sessions": len(state["sessions"])})
        if what in ("session", "embeddings"):
            with client.work() as live:
                if not live:
                    return self.forward(b"")
                if what == "embeddings":
                    return self.reply(200, embeddings_report())
                with lock:
                    history = state["sessions"].get(session_id)
                    messages = None if history is None else [{"role": r, "text": t} for r, t, _ in history]
                if messages is None:
                    return self.error(404, "no session %r" % session_id)
                return self.reply(200, {"id": session_id, "messages": messages})
        if what == "messages":
            return self.error(405, "use POST to add a message")
        return self.error(404, "no such resource: %s" % self.path)

    def do_POST(self):
        what, session_id = self.route()
        if what != "messages":
            return self.error(405 if what else 404, "POST goes to /sessions/{id}/messages")
        body = self.read_body()
        if body is None:
            return
        if not SESSION_ID.match(session_id):
            return self.error(400, "a session id is 1 to 64 characters from [A-Za-z0-9_.-]")
        try:
            message = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):
            return self.error(400, "the body is not UTF-8 JSON")
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text.strip():
            return self.error(400, 'the body must be {"text": "<non-empty string>"}')
        if len(text) > MAX_TEXT:
            return self.error(400, "text is over %d characters" % MAX_TEXT)
        with client.work() as live:
            if not live:
                return self.forward(body)
            turns = append_message(session_id, text)
        self.reply(200, {"id": session_id, "messages": turns})

    def forward(self, body):
        """This generation is frozen: the next one owns the state. Send the request to the
        listener, where the next generation accepts it, and relay its answer."""
        hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in hop}
        headers["Connection"] = "close"
        try:
            upstream = http.client.HTTPConnection(*forward_address, timeout=30)
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            upstream.close()
        except OSError as e:
            self.close_connection = True
            return self.error(503, "the next generation did not answer: %s" % e)
        self.send_response(response.status, response.reason)
        for k, v in response.getheaders():
            if k.lower() not in hop and k.lower() not in ("server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        if client.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = False       # drain waits for every connection's thread
    block_on_close = True


def report_health(stop):
    while not stop.wait(1.0):
        client.health(ok=True, requests=counters["requests"], errors=counters["errors"])


listener = client.get_listener_socket("http", fallback=("127.0.0.1", int(os.environ.get("PORT", "8080"))))
host, port = listener.getsockname()[:2]
forward_address = ({"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), port)
signal.signal(signal.SIGTERM, lambda *_: client.drain())
signal.signal(signal.SIGINT, lambda *_: client.drain())
try:
    state = client.load_context(default=new_state)   # READY, then the previous generation's state
except aeterna.HandoverError as e:                    # the old generation keeps serving
    sys.exit("python-agent: %s" % e)
server = Server(listener.getsockname(), Handler, bind_and_activate=False)
server.socket = listener
stop_health = threading.Event()
if client.supervised:
    threading.Thread(target=report_health, args=(stop_health,), daemon=True).start()
client.ready("serving %d sessions, %d embeddings" % (len(state["sessions"]), state["slots_used"]))
print("python-agent %s: generation %s, pid %d, %d sessions, listening on %s:%d"
      % (VERSION, client.generation or "-", os.getpid(), len(state["sessions"]), host, port), flush=True)
client.serve(server)
stop_health.set()
client.close()
