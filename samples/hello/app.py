"""A tiny HTTP service run by the Aeterna supervisor: the smallest complete example.

It takes its listening socket from systemd-style socket activation (fd 3, LISTEN_PID), says
READY=1 on NOTIFY_SOCKET once it serves, and on SIGTERM stops accepting, finishes what it is
answering, and exits. Standalone (no supervisor) it binds port 8080 itself.
"""
import http.server, json, os, signal, socket, socketserver, threading

VERSION = os.environ.get("APP_VERSION", "v1")


def listener():
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and int(os.environ.get("LISTEN_FDS", "0")) >= 1:
        return socket.socket(fileno=3)
    s = socket.create_server(("0.0.0.0", 8080))
    return s


def notify(message):
    path = os.environ.get("NOTIFY_SOCKET")
    if path:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect("\0" + path[1:] if path.startswith("@") else path)
            s.send(message.encode())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections end after 5 s, so a drain never waits on them long

    def do_GET(self):
        body = json.dumps({"version": VERSION, "pid": os.getpid(),
                           "generation": os.environ.get("AETERNA_GENERATION", "")}).encode()
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


draining = threading.Event()
server = Server(("", 0), Handler, bind_and_activate=False)
server.socket = listener()


def stop(*_):
    draining.set()
    notify("STOPPING=1")
    threading.Thread(target=server.shutdown).start()


signal.signal(signal.SIGTERM, stop)
notify(f"READY=1\nSTATUS=serving {VERSION}")
server.serve_forever()
server.server_close()
