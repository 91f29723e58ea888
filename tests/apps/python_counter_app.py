"""A raw TCP line counter on the aeterna package, whose open connections cross every relay: the
Python twin of tests/apps/CounterApp, on the listener "counter" (a RawEndpoint), no HTTP.

Each line is answered "{generation} {pid} {turn} {total} {line}": turn counts this connection's
lines (its session, 8 bytes little-endian), total every line the service has answered (the
context, JSON, which crosses with the state). A connection the next generation refuses, or one
still open at the drain, is told "BYE {reason}" and closed.
"""
import os
import signal
import struct
import threading

import aeterna

GENERATION = os.environ.get("AETERNA_GENERATION", "0").encode()
PID = os.getpid()

client = aeterna.AeternaClient(format="json")
loaded = threading.Event()          # handlers may start (at COMMIT) before load_context returns
lock = threading.Lock()
state = {"lines": 0}


def count():
    loaded.wait()
    with lock:
        state["lines"] += 1
        return state["lines"]


class LineCounter(aeterna.RawEndpoint):
    def serve(self, conn):
        turn = struct.unpack("<q", conn.session)[0] if len(conn.session) == 8 else 0
        buffer = conn.read_ahead
        while True:
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                turn += 1
                conn.sendall(b"%s %d %d %d %s\n" % (GENERATION, PID, turn, count(), line.rstrip(b"\r")))
                conn.session = struct.pack("<q", turn)
            data = conn.recv()
            if data is None:                # a pause: hand over what is not handled yet
                conn.read_ahead = buffer
                return
            if not data:
                return
            buffer += data

    def accepts_session(self, session):
        return len(session) in (0, 8)

    def end(self, conn, reason):
        conn.sendall(b"BYE %s\n" % reason.encode())


client.add_endpoint("counter", LineCounter())
signal.signal(signal.SIGTERM, lambda *_: client.drain())
state = client.load_context(default=lambda: {"lines": 0})
loaded.set()
client.ready()
client.serve_endpoints()
