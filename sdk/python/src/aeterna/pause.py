"""The pause signal of handed connections: set once, it wakes every connection waiting for the
client's bytes at once, so that each returns at its boundary (docs/protocol.md, section 7.8)."""
from __future__ import annotations

import os
import threading

__all__ = ["PauseSignal"]


class PauseSignal:
    """A flag and a pipe that becomes readable when the flag is set. A waiting connection polls
    its socket and ``wake_fd`` together; the pipe is never drained, so every poll after
    :meth:`request` returns at once (level-triggered). Rounds that wait on it :meth:`attach` and
    :meth:`detach`; once requested and detached by all, its pipe is closed, so each signal costs
    two fds only while it is in use. A served-again connection waits on a fresh signal.

    A pipe rather than a poll timeout: a pause then takes no longer than the handler's message
    in hand, and an idle connection costs no wake-ups."""

    def __init__(self, requested: bool = False) -> None:
        self._lock = threading.Lock()
        self._requested = threading.Event()
        self._users = 0
        self._closed = requested
        if requested:                   # nothing will wait on it: no pipe
            self._requested.set()
            self._r = self._w = -1
        else:
            self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    @property
    def wake_fd(self) -> int:
        return self._r

    def attach(self) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("a pause signal whose pause has completed cannot be waited on again")
            self._users += 1

    def detach(self) -> None:
        with self._lock:
            self._users -= 1
            self._close_if_done()

    def request(self) -> None:
        with self._lock:
            if self._requested.is_set():
                return
            self._requested.set()
            os.write(self._w, b"p")
            self._close_if_done()

    def _close_if_done(self) -> None:
        if self._requested.is_set() and self._users == 0 and not self._closed:
            self._closed = True
            os.close(self._r)
            os.close(self._w)
