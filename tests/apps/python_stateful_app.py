"""The stateful Python service the tensor relay test and `bench/run handover --python` relay.

An HTTP/1.1 server on the inherited listener, on the aeterna package (AeternaClient, pickle
format). Its context is a dict of string items and at most one torch tensor in shared memory (a
SharedTensor, float32), which crosses every relay by fd:

  GET  /                          {"pid", "generation", "items"}
  PUT  /items/{key}               stores the body; {"stored": key}
  GET  /items/{key}               the body back, 404 if unknown
  POST /tensor?bytes=N&seed=S     a new tensor of N bytes, value i = i * 0.25 + S (as float32)
  GET  /tensor                    its size, CRC-32C, the memfd's identity, where its pages are
                                  mapped (the /proc/self/maps line of data_ptr()) and this
                                  process's RssAnon/RssShmem after the checksum read every page

STATEFUL_BOOT_BYTES=N: a cold boot that rebuilds an N-byte tensor before it is ready (the
baseline a hand-over is measured against). After a relay that brought a tensor, a background
thread maps every page readable (MADV_POPULATE_READ) once accepting runs and reports
"memory regions readable: B bytes mapped in X ms" as its status, as Aeterna.Runtime does.
"""
import ctypes, http.server, json, os, re, signal, threading, time, urllib.parse

import torch

import aeterna

CHUNK = 1 << 22                      # floats written per step when filling a tensor
MADV_POPULATE_READ = 22

client = aeterna.AeternaClient(format="pickle")
generation = os.environ.get("AETERNA_GENERATION", "0")


def fill(nbytes, seed):
    t = aeterna.SharedTensor((nbytes // 4,), "float32", name="tensor")
    flat = t.torch()
    for start in range(0, flat.numel(), CHUNK):
        end = min(start + CHUNK, flat.numel())
        flat[start:end] = torch.arange(start, end, dtype=torch.float64).mul_(0.25).add_(seed)
    del flat
    return t


def new_state():
    state = {"items": {}, "tensor": None}
    boot = int(os.environ.get("STATEFUL_BOOT_BYTES") or 0)
    if boot:
        state["tensor"] = fill(boot, 1)
    return state


def memory_kib():
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssShmem")}


def mapping_of(address):
    """The /proc/self/maps entry that holds ``address``: its inode and path."""
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            if lo <= address < hi:
                return {"start": lo, "end": hi, "perms": parts[1], "inode": int(parts[4]),
                        "path": parts[5].strip() if len(parts) > 5 else ""}
    return None


def tensor_info(t):
    if t is None:
        return {"bytes": 0}
    started = time.monotonic()
    crc = t.checksum()
    checksum_ms = (time.monotonic() - started) * 1000
    view = t.torch()
    dev, ino = t.buffer.identity
    return {"bytes": t.nbytes, "shape": list(t.shape), "dtype": t.dtype, "crc32c": crc,
            "checksum_ms": round(checksum_ms, 1), "device": dev, "inode": ino,
            "mapping": mapping_of(view.data_ptr()), "memory_kib": memory_kib()}


def populate_when_accepting(t):
    """Maps every page of the adopted tensor readable once this generation accepts."""
    while not client.accept_gate.is_open:
        time.sleep(0.01)
    view = t.torch()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    started = time.monotonic()
    if libc.madvise(view.data_ptr(), t.nbytes, MADV_POPULATE_READ) != 0:
        client.status("memory regions not populated: errno %d" % ctypes.get_errno())
        return
    ms = (time.monotonic() - started) * 1000
    client.status("memory regions readable: %d bytes mapped in %.3f ms" % (t.nbytes, ms))


state = client.load_context(new_state)
lock = threading.Lock()
if client.expect_state and state["tensor"] is not None:
    threading.Thread(target=populate_when_accepting, args=(state["tensor"],), daemon=True).start()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5

    def log_request(self, *args):
        pass                          # no access log; errors (log_error) still go to stderr

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        # A connection that ends after this reply says so (the request asked to close, or
        # draining): a client that saw no "Connection: close" may send its next request on it.
        if client.draining or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def handle_request(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with client.work() as live:
            if not live:
                return self.reply(503, {"error": "frozen"})
            item = re.fullmatch(r"/items/([^/]+)", url.path)
            if method == "GET" and url.path == "/":
                return self.reply(200, {"pid": os.getpid(), "generation": generation, "items": len(state["items"])})
            if item and method == "PUT":
                with lock:
                    state["items"][item.group(1)] = body.decode()
                return self.reply(200, {"stored": item.group(1)})
            if item and method == "GET":
                value = state["items"].get(item.group(1))
                return self.reply(404, {"error": "unknown"}) if value is None else self.reply(200, value.encode(), "text/plain")
            if url.path == "/tensor" and method == "POST":
                t = fill(int(query["bytes"]), int(query.get("seed", "0")))
                with lock:
                    old, state["tensor"] = state["tensor"], t
                if old is not None:
                    old.close()
                return self.reply(200, tensor_info(t))
            if url.path == "/tensor" and method == "GET":
                return self.reply(200, tensor_info(state["tensor"]))
            return self.reply(404, {"error": "no such endpoint"})

    def do_GET(self):
        self.handle_request("GET")

    def do_PUT(self):
        self.handle_request("PUT")

    def do_POST(self):
        self.handle_request("POST")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = client.get_listener_socket()
signal.signal(signal.SIGTERM, lambda *_: client.drain())
client.serve(server)
