"""A raw endpoint: any protocol over TCP whose open connections are handed to the next
generation at every relay (docs/protocol.md, section 7, kind 1 ``raw``).

Subclass :class:`RawEndpoint`, and register it for a listener with
``client.add_endpoint(listener_name, endpoint)`` before the session opens. The client accepts
on that listener itself; each connection is served by :meth:`RawEndpoint.serve` on a thread of
its own. At a relay every connection is asked to pause at a boundary of its protocol; its
socket, the bytes read and not handled (``read_ahead``) and its ``session`` go to the next
generation, which serves it from there; the client notices nothing.
"""
from __future__ import annotations

import select
import socket
import time
from typing import Any, Optional, Union

from .pause import PauseSignal

__all__ = ["RawEndpoint", "RawConnection"]

_SEND_FLAGS = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL


class RawConnection:
    """One client connection of a raw endpoint, as :meth:`RawEndpoint.serve` sees it.

    - ``read_ahead``: what the client sent that was read and not handled (in this generation or
      the previous one). Handle it first; before returning at a pause, set it to what you have
      read and not handled.
    - ``session``: the connection's own state, handed over with it (``b""`` for a connection
      just accepted). Keep it current after each message handled: it is read when the
      connection pauses.
    - ``pause_requested``: the client needs this connection at a boundary (a relay, or the
      drain). :meth:`recv` returns None then.
    - ``socket``: the connection's socket, for its address and options. Read it only with
      :meth:`recv` and write it with :meth:`sendall`; never ``shutdown()`` it, never close it:
      the next generation may hold the same connection.
    """

    def __init__(self, endpoint: str, sock: socket.socket, pause: PauseSignal, *,
                 read_ahead: bytes = b"", session: bytes = b"", handed_over: bool = False) -> None:
        self.endpoint = endpoint
        self.socket = sock
        self.read_ahead = read_ahead
        self.session = session
        self.handed_over = handed_over
        self._pause = pause
        self._detached = False
        self._send_deadline: Optional[float] = None   # set for a goodbye (end)

    @property
    def pause_requested(self) -> bool:
        return self._pause.requested

    @property
    def peer(self) -> Any:
        """The client's address (None when the client has already reset the connection)."""
        try:
            return self.socket.getpeername()
        except OSError:
            return None

    def recv(self, size: int = 65536) -> Optional[bytes]:
        """The client's next bytes, waiting for them: ``b""`` when the client ended the stream,
        None when a pause was requested (then return from ``serve`` at this boundary, with
        ``read_ahead`` set to what you have not handled). Raises OSError for a reset.

        It waits for readiness and then takes the bytes with ``recv(MSG_DONTWAIT)``, so that no
        read is ever in progress when the connection pauses (its bytes would go with it)."""
        self._check()
        if self._pause.requested:
            return None
        poller = select.poll()
        poller.register(self.socket.fileno(), select.POLLIN)
        poller.register(self._pause.wake_fd, select.POLLIN)
        while True:
            if self._pause.requested:
                return None
            try:
                poller.poll()
            except InterruptedError:
                continue
            if self._pause.requested:
                return None
            try:
                return self.socket.recv(size, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue

    def sendall(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Sends all of ``data``; a reply is complete when this returns (the kernel's send
        buffer travels with the socket). Not interrupted by a pause: finish the reply, then
        pause. Raises OSError when the client is gone."""
        self._check()
        with memoryview(data) as view:
            view = view.cast("B")
            poller: Optional[select.poll] = None
            while view:
                try:
                    n = self.socket.send(view, _SEND_FLAGS)
                except InterruptedError:
                    continue
                except BlockingIOError:              # the send buffer is full: wait for room
                    if poller is None:
                        poller = select.poll()
                        poller.register(self.socket.fileno(), select.POLLOUT)
                    timeout_ms: Optional[float] = None
                    if self._send_deadline is not None:
                        timeout_ms = (self._send_deadline - time.monotonic()) * 1000
                        if timeout_ms <= 0:
                            raise TimeoutError("the client of endpoint %r does not read what it "
                                               "is sent" % self.endpoint)
                    try:
                        poller.poll(timeout_ms)
                    except InterruptedError:
                        pass
                    continue
                view = view[n:]

    def _check(self) -> None:
        if self._detached:
            raise RuntimeError("this connection of endpoint %r has paused or ended: it can no "
                               "longer be used by this handler" % self.endpoint)


class RawEndpoint:
    """Serves the connections of one handed-connection endpoint, for any protocol over TCP.

    One instance serves every connection of its endpoint, each on a thread of its own. State
    that must survive a relay per connection lives in ``conn.session``; locals of
    :meth:`serve` start afresh whenever a connection is served again (after a resume, or in
    the next generation). State shared by all connections belongs in the client's context:
    FREEZE exports it only once every connection has paused, so handlers change it without
    ``client.work()``."""

    def serve(self, conn: RawConnection) -> None:
        """Serves ``conn``, in outline::

            buffer = conn.read_ahead
            while True:
                while buffer holds a complete message: handle it, conn.sendall(its reply), update conn.session
                data = conn.recv()
                if data is None: conn.read_ahead = buffer; return     # paused, at a boundary
                if not data: return                                   # the client ended
                buffer += data

        Returning (or raising) while no pause was requested ends the connection: the client
        closes it. Returning after ``pause_requested`` hands it over as it stands."""
        raise NotImplementedError

    def accepts_session(self, session: bytes) -> bool:
        """Whether this generation can serve a connection with ``session``, as the previous
        generation left it. A refused one is not adopted: the previous generation, which still
        holds it, ends it (:meth:`end`, reason ``session``). Must not touch live state. The
        default takes every session."""
        return True

    def end(self, conn: RawConnection, reason: str) -> None:
        """Ends a connection this generation holds at a boundary and will not serve again: the
        next generation refused it (``reason``: ``fd_limit``, ``session``, ``unknown_endpoint``,
        ``kind_mismatch``, ``too_large``, ...), or this generation drains (``stopping``). Send
        the protocol's goodbye here with ``conn.sendall``; the client closes the socket after.
        The default sends nothing."""
