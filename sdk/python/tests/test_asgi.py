"""aeterna.asgi: a FastAPI app on a real uvicorn server, on real sockets, through the session
with the supervisor's side played by support.Peer: READY once uvicorn is up, no accept before
COMMIT, FREEZE waiting for requests in flight but not for WebSockets and streams, a frozen
generation forwarding to the next one, RESUME, and the lame-duck drain (in-process, and by a real
SIGTERM to `python3 -m aeterna.asgi`)."""
import asyncio
import base64
import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

import support
import aeterna
from aeterna import AeternaClient, frames
from aeterna.asgi import AsgiRunner

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse


def make_app(name, state=None):
    """A FastAPI app: /who names it, /slow takes 300 ms, /ws echoes, /ticks streams."""
    app = FastAPI()
    app.state.started = False
    app.state.entered = []
    app.state.finished = []
    app.state.taken_in = []

    @app.on_event("startup")
    async def startup():
        await asyncio.sleep(0.05)            # READY must wait for this
        app.state.started = True

    @app.get("/who")
    async def who():
        return {"name": name, "state": state}

    @app.get("/slow")
    async def slow():
        app.state.entered.append(time.monotonic())
        await asyncio.sleep(0.2)
        app.state.finished.append(time.monotonic())
        return {"slow": "done"}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(name + ": " + await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    @app.websocket("/ws-slow")
    async def ws_slow(websocket: WebSocket):
        """Echoes after 300 ms, as an app busy with each message; records what it took in."""
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                app.state.taken_in.append(text)
                await asyncio.sleep(0.3)
                await websocket.send_text(name + ": " + text)
        except WebSocketDisconnect:
            pass

    @app.get("/ticks")
    async def ticks():
        async def gen():
            for i in range(10000):
                yield b"tick %d\n" % i
                await asyncio.sleep(0.02)
        return StreamingResponse(gen(), media_type="text/plain")
    return app


class Served:
    """An AsgiRunner on its own thread (its own event loop)."""

    def __init__(self, app, client, listener):
        self.runner = AsgiRunner(app, client=client, listener=listener, log_level="warning", drain_timeout=3)
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()

    def wait_serving(self):
        deadline = time.monotonic() + support.TIMEOUT
        while self.runner.accepting is None or not self.runner.accepting.accepting:
            assert time.monotonic() < deadline, "uvicorn did not start accepting"
            time.sleep(0.01)

    def drain(self):
        self.runner.drain()
        self.thread.join(support.TIMEOUT)
        assert not self.thread.is_alive(), "the drain did not end the server"


def get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.getheader("connection"), support.json_loads(response.read())


def new_connection(listener):
    return http.client.HTTPConnection(*listener.getsockname()[:2], timeout=support.TIMEOUT)


class WebSocketClient:
    """The client side of RFC 6455, enough to echo and to see a close code."""

    def __init__(self, address, path="/ws"):
        self.sock = socket.create_connection(address, timeout=support.TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send_text(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the server closed the connection")
            data += chunk
        return data

    def receive(self, timeout=support.TIMEOUT):
        """(opcode, payload) of the next frame."""
        self.sock.settimeout(timeout)
        first, second = self._exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._exactly(8))[0]
        return first & 0x0F, self._exactly(length)

    def close_code(self):
        opcode, payload = self.receive()
        assert opcode == 8, "expected a close frame, got opcode %d %r" % (opcode, payload)
        mask = os.urandom(4)                  # the closing handshake: the client's close frame
        self.sock.sendall(bytes([0x88, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        return struct.unpack("!H", payload[:2])[0]

    def close(self):
        self.sock.close()


def read_to_end(sock):
    sock.settimeout(support.TIMEOUT)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def nothing_within(sock, seconds):
    """True if nothing arrives on sock within seconds."""
    sock.settimeout(seconds)
    try:
        sock.recv(1, socket.MSG_PEEK)
    except socket.timeout:
        return True
    return False


class AsgiTests(unittest.TestCase):
    def setUp(self):
        self.peer = support.Peer()
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.address = self.listener.getsockname()[:2]
        self.served = []
        self.sockets = []

    def tearDown(self):
        for sock in self.sockets:
            sock.close()
        for s in self.served:
            if s.thread.is_alive():
                s.drain()
        self.peer.close()
        self.listener.close()

    def serve(self, app, client):
        s = Served(app, client, self.listener)
        self.served.append(s)
        return s

    def freeze(self, session, transfer=5):
        t1, t2 = socket.socketpair()
        session.send(frames.FREEZE, {"transfer": transfer, "mechanism": "auto", "deadline_ms": 5000}, [t1.fileno()])
        t1.close()
        return t2

    def test_standalone_it_serves_and_drains_as_a_lame_duck(self):
        app = make_app("alone")
        served = self.serve(app, AeternaClient(environ={}))
        served.wait_serving()
        conn = new_connection(self.listener)
        self.assertEqual(get(conn, "/who")[:2], (200, None))
        served.runner.drain()
        while not served.runner.client.draining:
            time.sleep(0.01)
        status, connection, body = get(conn, "/who")   # the same keep-alive connection
        self.assertEqual((status, connection, body["name"]), (200, "close", "alone"))
        served.thread.join(support.TIMEOUT)
        self.assertFalse(served.thread.is_alive())
        conn.close()

    def test_ready_once_uvicorn_is_up_freeze_waits_for_requests_in_flight_and_a_frozen_generation_forwards(self):
        pending = self.peer.expect_session(support.welcome(1, health_interval_ms=50))
        app = make_app("gen1")
        gen1 = self.serve(app, AeternaClient(environ=self.peer.environ(1)))
        session = pending.get()
        session.expect(frames.READY)
        self.assertTrue(app.state.started, "READY before the app's startup had finished")
        keep_alive = new_connection(self.listener)
        self.assertEqual(get(keep_alive, "/who")[2]["name"], "gen1")
        while session.expect(frames.HEALTH, skip=(frames.STATUS,)).get("requests", 0) < 1:
            pass                             # HEALTH counts the answers, for the soak watch

        slow = support.in_thread(get, new_connection(self.listener), "/slow")
        while not app.state.entered:
            time.sleep(0.005)
        transfer = self.freeze(session)
        session.expect(frames.FROZEN)
        frozen_at = time.monotonic()
        self.assertEqual(len(app.state.finished), 1, "FROZEN before the request in flight had finished")
        self.assertLess(app.state.finished[0], frozen_at)
        self.assertEqual(support.result(slow)[2], {"slow": "done"})
        transfer.close()

        # Frozen: a new connection waits in the accept queue, unanswered.
        waiting = socket.create_connection(self.address, timeout=support.TIMEOUT)
        waiting.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(nothing_within(waiting, 0.2), "a frozen generation accepted a connection")

        # The next generation starts on the same listener: it answers the queued connection, and
        # the request on generation 1's keep-alive connection is forwarded to it.
        gen2 = self.serve(make_app("gen2"), AeternaClient(environ={}))
        gen2.wait_serving()
        self.assertIn(b'"name":"gen2"', read_to_end(waiting))
        waiting.close()
        status, _, body = get(keep_alive, "/who")
        self.assertEqual((status, body["name"]), (200, "gen2"))

        # The relay fails: generation 2 goes, generation 1 resumes and accepts again.
        gen2.drain()
        session.send(frames.RESUME, {"transfer": -6, "reason": "test"})
        self.assertEqual(session.expect(frames.ACCEPTING)["transfer"], -6)
        self.assertEqual(get(new_connection(self.listener), "/who")[2]["name"], "gen1")
        self.assertEqual(get(keep_alive, "/who")[2]["name"], "gen1")
        keep_alive.close()

    def test_a_generation_that_takes_over_state_accepts_only_after_commit(self):
        pending = self.peer.expect_session(support.welcome(2, expect_state=True, from_generation=1))
        client = AeternaClient(format="json", environ=self.peer.environ(2))
        loaded = support.in_thread(client.load_context, default=dict)
        session = pending.get()
        session.expect(frames.READY)
        t1, t2 = socket.socketpair()
        session.send(frames.IMPORT, {"transfer": 5, "from_generation": 1}, [t2.fileno()])
        t2.close()
        aeterna.export_state(t1, {"greeting": "from generation 1"}, fmt="json", mechanism="pipe")
        t1.close()
        state = support.result(loaded)
        session.expect(frames.PREPARED)
        waiting = socket.create_connection(self.address, timeout=support.TIMEOUT)
        waiting.sendall(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        # COMMIT comes before uvicorn is up (the app loaded its state first): accepting starts,
        # and ACCEPTING goes out, once it is.
        session.send(frames.COMMIT, {"transfer": 5})
        self.assertTrue(nothing_within(waiting, 0.2))
        self.serve(make_app("gen2", state), client)
        self.assertEqual(session.expect(frames.ACCEPTING)["transfer"], 5)
        self.assertIn(b'"greeting":"from generation 1"', read_to_end(waiting))
        waiting.close()

    def test_websockets_and_streams_never_block_a_freeze_pause_while_frozen_and_end_at_the_drain(self):
        pending = self.peer.expect_session(support.welcome(1))
        gen1 = self.serve(make_app("gen1"), AeternaClient(environ=self.peer.environ(1)))
        session = pending.get()
        session.expect(frames.READY)
        gen1.wait_serving()
        ws = WebSocketClient(self.address)
        ws.send_text("hello")
        self.assertEqual(ws.receive(), (1, b"gen1: hello"))
        stream = socket.create_connection(self.address, timeout=support.TIMEOUT)
        self.sockets += [ws.sock, stream]
        stream.sendall(b"GET /ticks HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"tick 0" not in head:
            head += stream.recv(65536)

        transfer = self.freeze(session)
        session.expect(frames.FROZEN)        # neither the WebSocket nor the stream held it up
        transfer.close()
        self.assertEqual(gen1.runner.client.in_flight, 0)
        ws.send_text("while frozen")
        time.sleep(0.1)                      # a tick already on its way may still arrive
        stream.settimeout(0.1)
        try:
            while stream.recv(65536):
                pass
        except socket.timeout:
            pass
        self.assertTrue(nothing_within(ws.sock, 0.2), "a frozen generation served a WebSocket message")
        self.assertTrue(nothing_within(stream, 0.2), "a frozen generation went on streaming")

        session.send(frames.RESUME, {"transfer": -6, "reason": "test"})
        session.expect(frames.ACCEPTING)
        self.assertEqual(ws.receive(), (1, b"gen1: while frozen"))
        stream.settimeout(support.TIMEOUT)
        self.assertIn(b"tick", stream.recv(65536))

        gen1.runner.drain()
        self.assertEqual(ws.close_code(), aeterna.asgi.SERVICE_RESTART)
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = stream.recv(65536)
            self.assertTrue(chunk, "the stream was cut off without its terminating chunk")
            rest += chunk
        ws.close()
        stream.close()
        gen1.drain()


    def test_the_drain_answers_the_message_in_hand_before_its_1012_and_takes_no_later_one_in(self):
        pending = self.peer.expect_session(support.welcome(1))
        app = make_app("gen1")
        gen1 = self.serve(app, AeternaClient(environ=self.peer.environ(1)))
        pending.get().expect(frames.READY)
        gen1.wait_serving()
        ws = WebSocketClient(self.address, "/ws-slow")
        self.sockets.append(ws.sock)
        ws.send_text("in hand")
        deadline = time.monotonic() + support.TIMEOUT
        while "in hand" not in app.state.taken_in:
            self.assertLess(time.monotonic(), deadline, "the app never took the message in")
            time.sleep(0.01)

        gen1.runner.drain()
        ws.send_text("late")                 # crosses the close: never taken in, never lost unanswered
        self.assertEqual(ws.receive(), (1, b"gen1: in hand"))
        self.assertEqual(ws.close_code(), aeterna.asgi.SERVICE_RESTART)
        ws.close()
        gen1.drain()
        self.assertEqual(app.state.taken_in, ["in hand"])


class CommandTests(unittest.TestCase):
    def test_sigterm_drains_the_command_as_a_lame_duck(self):
        listener = socket.create_server(("127.0.0.1", 0))
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "service.py"), "w") as f:
                f.write(textwrap.dedent("""
                    import os
                    from fastapi import FastAPI, WebSocket
                    import aeterna
                    client = aeterna.AeternaClient()
                    app = FastAPI()

                    @app.get("/who")
                    async def who():
                        return {"pid": os.getpid(), "mine": client is RUNNER_CLIENT[0]}

                    @app.websocket("/ws")
                    async def ws(websocket: WebSocket):
                        await websocket.accept()
                        while True:
                            await websocket.send_text(await websocket.receive_text())

                    RUNNER_CLIENT = [None]
                    @app.on_event("startup")
                    async def startup():
                        import gc
                        from aeterna.asgi import AsgiRunner
                        RUNNER_CLIENT[0] = next(o.client for o in gc.get_objects() if isinstance(o, AsgiRunner))
                """))
            env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "AETERNA_", "NOTIFY_"))}
            env["LISTEN_FDS"] = "1"
            wrapper = ("import os, sys\n"
                       "os.dup2(int(sys.argv[1]), 3)\n"
                       "os.environ['LISTEN_PID'] = str(os.getpid())\n"
                       "os.execv(sys.executable, [sys.executable, '-m', 'aeterna.asgi', 'service:app', '--log-level', 'warning'])\n")
            child = subprocess.Popen([sys.executable, "-c", wrapper, str(listener.fileno())], cwd=tmp, env=env,
                                     pass_fds=[listener.fileno()], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                conn = new_connection(listener)
                status, connection, body = get(conn, "/who")     # waits in the queue until it serves
                self.assertEqual((status, connection, body["pid"]), (200, None, child.pid))
                self.assertTrue(body["mine"], "the runner did not use the app's own AeternaClient")
                ws = WebSocketClient(listener.getsockname()[:2])
                ws.send_text("ping")
                self.assertEqual(ws.receive(), (1, b"ping"))
                child.send_signal(signal.SIGTERM)
                self.assertEqual(ws.close_code(), aeterna.asgi.SERVICE_RESTART)
                status, connection, _ = get(conn, "/who")        # the lame duck's last answer
                self.assertEqual((status, connection), (200, "close"))
                ws.close()
                conn.close()
                out, err = child.communicate(timeout=support.TIMEOUT)
                self.assertEqual(child.returncode, 0, err.decode())
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
                listener.close()


if __name__ == "__main__":
    unittest.main()
