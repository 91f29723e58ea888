"""The Python service the supervisor tests relay.

An HTTP/1.1 keep-alive server on the listener inherited at fd 3 (socket activation: LISTEN_FDS,
LISTEN_PID) that answers every GET with {"pid": ..., "generation": ...}. It speaks sd_notify:
READY=1 once it serves, WATCHDOG=1 at a third of WATCHDOG_USEC, STOPPING=1 at SIGTERM. On SIGTERM
it stops accepting, answers further requests on open connections with "Connection: close", and
exits once every connection is done.

--mode changes the behaviour for failure tests:
  normal                 as above
  no-notify              never sends anything on NOTIFY_SOCKET (readiness by listening detection)
  exit-at-once           exits with code 3 before serving
  never-ready            runs but never serves or notifies
  slow-ready=S           waits S seconds before serving
  crash-after=S          serves, then exits with code 70 after S seconds
  stop-watchdog-after=S  serves, but stops sending WATCHDOG=1 after S seconds
  unhealthy              serves, but its health socket says 503

--health-socket DIR opens DIR/gen-$AETERNA_GENERATION.sock, a Unix socket answering GET /healthz
for this generation alone: what a per-generation canary probe reaches.
"""
import argparse, http.server, json, os, signal, socket, socketserver, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="normal")
parser.add_argument("--health-socket")
arguments = parser.parse_args()
mode, _, value = arguments.mode.partition("=")
seconds = float(value) if value else 0.0


def notify(message):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path or mode == "no-notify":
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect("\0" + path[1:] if path.startswith("@") else path)
        s.send(message.encode())


if mode == "exit-at-once":
    sys.exit(3)
if mode == "never-ready":
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        time.sleep(60)
if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
    sys.exit("python_server.py: expected one inherited listener (LISTEN_FDS=1, LISTEN_PID=own pid)")
if mode == "slow-ready":
    time.sleep(seconds)

draining = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10

    def do_GET(self):
        body = json.dumps({"pid": os.getpid(), "generation": os.environ.get("AETERNA_GENERATION")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # A connection that ends after this reply says so (the request asked to close, or
        # draining): a client that saw no "Connection: close" may send its next request on it.
        if draining.is_set() or self.close_connection:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = False
    block_on_close = True
    request_queue_size = 4096

    def handle_error(self, request, client_address):
        # A client that goes away mid-request (wrk stopping at the end of a test) is not our error.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


server = Server(("", 0), Handler, bind_and_activate=False)
server.socket.close()
server.socket = socket.socket(fileno=3)


def stop(*_):
    draining.set()
    notify("STOPPING=1")
    threading.Thread(target=server.shutdown).start()


def watchdog():
    usec = int(os.environ.get("WATCHDOG_USEC", "0"))
    if not usec or os.environ.get("WATCHDOG_PID") != str(os.getpid()):
        return
    started = time.monotonic()
    while not (mode == "stop-watchdog-after" and time.monotonic() - started > seconds):
        notify("WATCHDOG=1")
        time.sleep(usec / 3e6)


def crash():
    time.sleep(seconds)
    os._exit(70)


class HealthHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        healthy = mode != "unhealthy"
        self.send_response(200 if healthy else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class UnixHealthServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ("health", 0)


if arguments.health_socket:
    path = os.path.join(arguments.health_socket, f"gen-{os.environ.get('AETERNA_GENERATION', '0')}.sock")
    if os.path.exists(path):
        os.unlink(path)
    threading.Thread(target=UnixHealthServer(path, HealthHandler).serve_forever, daemon=True).start()

signal.signal(signal.SIGTERM, stop)
threading.Thread(target=watchdog, daemon=True).start()
if mode == "crash-after":
    threading.Thread(target=crash, daemon=True).start()
notify("READY=1\nSTATUS=serving")
server.serve_forever()
server.server_close()
