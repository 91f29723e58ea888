"""Test helpers: plays the supervisor's side of a session over a
real Unix socket (the protocol peer; nothing of the OS is faked)."""
import json
import os
import queue
import socket
import sys
import tempfile
import threading
import time

import aeterna
from aeterna import frames

TIMEOUT = 10.0


def welcome(generation=1, expect_state=False, from_generation=None, **extra):
    w = {"version": 1, "generation": generation, "expect_state": expect_state,
         "from_generation": from_generation, "mechanism": "auto", "max_frame_size": 1 << 20,
         "max_state_size": 1 << 30, "timeout_ms": 5000, "drain_timeout_ms": 30000}
    w.update(extra)
    return w


class Session:
    """The supervisor's end of one session."""

    def __init__(self, conn, hello):
        self.conn = conn
        self.hello = hello
        self.reader = aeterna.FrameReader(conn)

    def send(self, type_, obj, fds=()):
        frames.send_json(self.conn, type_, obj, fds)

    def read(self, timeout=TIMEOUT):
        return self.reader.read_frame(1 << 20, time.monotonic() + timeout)

    def expect(self, type_, timeout=TIMEOUT, skip=(frames.HEALTH, frames.STATUS)):
        """The next frame of ``type_`` (skipping HEALTH/STATUS) as JSON; fails on anything else."""
        while True:
            frame = self.read(timeout)
            if frame.type in skip and frame.type != type_:
                continue
            if frame.type != type_:
                raise AssertionError("expected %s, got %s %r" % (frames.TYPE_NAMES[type_], frame.name, frame.payload))
            return frame.json()

    def close(self):
        self.reader.close()
        self.conn.close()


class Peer:
    """A listening session socket that answers HELLO with a WELCOME (or REJECT) per session."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="aet-")
        self.path = os.path.join(self.dir.name, "session.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        self.sessions = []

    def environ(self, generation=1, **extra):
        env = {"AETERNA_SOCKET": self.path, "AETERNA_TOKEN": "secret-%d" % generation,
               "AETERNA_GENERATION": str(generation)}
        env.update(extra)
        return env

    def expect_session(self, answer, reject=False):
        """Accepts the next session in a thread; ``.get()`` returns the Session."""
        result = queue.Queue()

        def run():
            try:
                conn, _ = self.listener.accept()
                reader = aeterna.FrameReader(conn)
                hello = reader.read_frame(64 * 1024, time.monotonic() + TIMEOUT)
                reader.close()
                frames.send_json(conn, frames.REJECT if reject else frames.WELCOME, answer)
                session = Session(conn, hello.json())
                self.sessions.append(session)
                result.put(session)
            except BaseException as e:  # surfaces in get()
                result.put(e)

        threading.Thread(target=run, daemon=True).start()

        class Pending:
            def get(self, timeout=TIMEOUT):
                r = result.get(timeout=timeout)
                if isinstance(r, BaseException):
                    raise r
                return r
        return Pending()

    def close(self):
        for s in self.sessions:
            s.close()
        self.listener.close()
        self.dir.cleanup()


def in_thread(fn, *args, **kwargs):
    """Runs fn in a thread; returns a queue that receives its result or exception."""
    q = queue.Queue()

    def run():
        try:
            q.put(("ok", fn(*args, **kwargs)))
        except BaseException as e:
            q.put(("error", e))
    threading.Thread(target=run, daemon=True).start()
    return q


def result(q, timeout=TIMEOUT):
    kind, value = q.get(timeout=timeout)
    if kind == "error":
        raise value
    return value


def json_loads(b):
    return json.loads(b.decode())


# The client logs failures it handles (on stderr by default); the tests provoke them on purpose.
import logging  # noqa: E402
logging.getLogger("aeterna").setLevel(logging.CRITICAL)
