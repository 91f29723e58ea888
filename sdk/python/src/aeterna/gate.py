"""The accept gate: when this generation may accept connections.

Closed before READY (or COMMIT, for a generation that takes over state) and while frozen, open
otherwise, shut for good by a drain. Accept loops that run in threads go through
:meth:`AcceptGate.accept`; a server that owns its accept loop (uvicorn's, through
``aeterna.asgi``) registers an :class:`AcceptController` that the gate pauses and resumes.
"""
from __future__ import annotations

import errno
import logging
import os
import select
import socket
import threading
import time
from typing import Callable, List, Optional, Protocol, Tuple

__all__ = ["AcceptGate", "AcceptController"]

log = logging.getLogger("aeterna")

# How long an opened gate waits for an accept loop of an app that took a listener before it
# reports ACCEPTING anyway (the app serves the listener some other way).
ACCEPT_LOOP_GRACE = 1.0


class AcceptController(Protocol):
    """A server's own accept loop, as the gate drives it."""

    def pause(self) -> int:
        """Stops accepting; returns the ``time.monotonic_ns()`` instant it stopped, once no
        accept can start any more."""

    def resume(self) -> int:
        """Starts accepting again; returns the instant accepting runs again."""


class AcceptGate:
    """Decides when connections may be accepted. ``close()`` is the instant accepting stops (no
    accept starts after it returns); ``open()`` lets accept loops run again and calls back once
    one actually runs (for ACCEPTING); ``shut()`` ends every accept loop for good and is safe to
    call from a signal handler."""

    def __init__(self, is_open: bool) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._open = is_open
        self._shut = False
        self._armed = False                        # a thread accept loop has run
        self._listener_taken = False               # the app took a listener to serve
        self._controllers: List[AcceptController] = []
        self._on_running: Optional[Callable[[int], None]] = None
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def is_open(self) -> bool:
        return self._open and not self._shut

    def listener_taken(self) -> None:
        """The app took a listener: ACCEPTING waits until its accept loop runs."""
        self._listener_taken = True

    def add_controller(self, controller: AcceptController) -> None:
        """Registers a server's accept loop: paused at once if the gate is closed, resumed if it
        is open (the gate may have opened, at READY or COMMIT, before the server was up; then the
        pending ACCEPTING goes out now that accepting runs)."""
        callback: Optional[Callable[[int], None]] = None
        with self._cond:
            self._controllers.append(controller)
            is_open = self.is_open
            if is_open:
                callback, self._on_running = self._on_running, None
        if not is_open:
            controller.pause()
            return
        running_ns = controller.resume()
        if callback is not None:
            callback(running_ns)

    def remove_controller(self, controller: AcceptController) -> None:
        with self._cond:
            if controller in self._controllers:
                self._controllers.remove(controller)

    def open(self, on_running: Optional[Callable[[int], None]] = None) -> None:
        with self._cond:
            self._open = True
            controllers = list(self._controllers)
            armed = self._armed
            self._cond.notify_all()
        running_ns = 0
        for c in controllers:
            running_ns = max(running_ns, c.resume())
        if on_running is None:
            return
        if controllers or armed or not self._listener_taken:
            # Accepting runs now (or there is nothing to accept: an agent without a listener).
            on_running(running_ns or time.monotonic_ns())
            return
        with self._cond:
            self._on_running = on_running
        threading.Timer(ACCEPT_LOOP_GRACE, self._no_accept_loop).start()

    def _no_accept_loop(self) -> None:
        with self._cond:
            callback, self._on_running = self._on_running, None
        if callback is not None:
            log.warning("aeterna: the app took a listener but no client.accept() ran within %.0f s "
                        "of accepting being allowed; reporting ACCEPTING anyway. Fix: accept "
                        "through client.accept() or client.serve(), or run uvicorn through "
                        "aeterna.asgi", ACCEPT_LOOP_GRACE)
            callback(time.monotonic_ns())

    def close(self) -> int:
        with self._cond:
            self._open = False
            stopped = time.monotonic_ns()
            controllers = list(self._controllers)
        for c in controllers:
            stopped = max(stopped, c.pause())
        return stopped

    def shut(self) -> None:
        self._shut = True
        try:
            os.write(self._wake_w, b"x")          # level-triggered: never drained
        except OSError:
            pass
        if self._cond.acquire(blocking=False):    # never blocks: safe in a signal handler
            try:
                self._cond.notify_all()
            finally:
                self._cond.release()

    def accept(self, sock: socket.socket) -> Optional[Tuple[socket.socket, object]]:
        if sock.gettimeout() != 0.0:
            sock.setblocking(False)
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            if self._shut:
                return None
            callback: Optional[Callable[[int], None]] = None
            now = 0
            with self._cond:
                self._armed = True
                if not self._open:
                    self._cond.wait(0.25)
                    continue
                if self._on_running is not None:
                    callback, self._on_running, now = self._on_running, None, time.monotonic_ns()
            if callback is not None:
                callback(now)
            try:
                poller.poll()
            except InterruptedError:
                pass
            if self._shut:
                return None
            with self._cond:
                if not self._open:
                    continue
                try:
                    conn, addr = sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue                       # another process took it
                except OSError as e:
                    if e.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                        continue
                    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        log.error("accept: %s; retrying in 100 ms", e)
                        time.sleep(0.1)
                        continue
                    raise
            conn.setblocking(True)
            return conn, addr
