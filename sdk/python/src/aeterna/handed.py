"""The connections of this generation's raw endpoints through a relay (docs/protocol.md,
section 7): served, each by its endpoint on a thread of its own; paused at a boundary on FREEZE
and held, sent or not, until RELEASE (close the adopted, end the refused) or RESUME (serve
again); adopted at IMPORT and staged, untouched, until COMMIT serves them (or ABORT closes them).

Threads, not an event loop: a handler is plain blocking code (``conn.recv()``,
``conn.sendall()``), one thread per connection while it is served. Every wait of a served
connection is a ``poll(2)`` of its socket and the current :class:`PauseSignal`'s pipe, so one
write wakes them all for a pause. No socket is ever registered in an epoll instance that would
outlive its fd, and a handed socket is only ever closed with ``close(2)``, never shut down: the
other generation may hold the same connection.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .connection_records import KIND_NAMES, KIND_RAW, ConnectionRecord
from .endpoint import RawConnection, RawEndpoint
from .errors import ProtocolError
from .frames import close_all
from .pause import PauseSignal

__all__ = ["HandedConnection", "HandedConnections"]

log = logging.getLogger("aeterna")

# How long a goodbye (RawEndpoint.end) may take to be written before the connection is closed.
END_GRACE = 5.0


class HandedConnection:
    """One client socket of a raw endpoint and where it stands: served by a round (a thread
    running the endpoint's ``serve``), paused at a boundary with its read-ahead and session
    (held, perhaps sent to the next generation), or closed. A connection accepted while the
    generation froze has never been served: it stands at a boundary too, with nothing read."""

    def __init__(self, id: int, endpoint: str, sock: socket.socket, handler: RawEndpoint, *,
                 read_ahead: bytes = b"", session: bytes = b"", handed_over: bool = False) -> None:
        self.id = id
        self.endpoint = endpoint
        self.sock = sock
        self.handler = handler
        self.read_ahead = read_ahead
        self.session = session
        self.handed_over = handed_over
        self.sent = False          # in this transfer's CONNECTIONS: not ours to touch until told
        self.too_large = False     # its record fitted no frame: kept, and ended at RELEASE
        self.closed = False
        self._done = threading.Event()
        self._done.set()
        self._paused = True

    @property
    def at_boundary(self) -> bool:
        """Not being served, and not closed: its read_ahead and session are current."""
        return self._done.is_set() and self._paused and not self.closed

    @property
    def serving(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: Optional[float]) -> bool:
        """Waits until the current round (if any) has ended; False at the timeout."""
        return self._done.wait(None if timeout is None else max(0.0, timeout))

    def serve(self, pause: PauseSignal, on_ended: Any) -> None:
        """Starts a round: the endpoint serves the connection from read_ahead, then the socket."""
        pause.attach()
        self._done.clear()
        thread = threading.Thread(target=self._round, args=(pause, on_ended),
                                  name="aeterna-%s-%d" % (self.endpoint, self.id), daemon=True)
        thread.start()

    def _round(self, pause: PauseSignal, on_ended: Any) -> None:
        conn = RawConnection(self.endpoint, self.sock, pause, read_ahead=self.read_ahead,
                             session=self.session, handed_over=self.handed_over)
        failed = False
        try:
            self.handler.serve(conn)
        except Exception:
            failed = True
            log.warning("aeterna: the handler of endpoint %r failed on connection %d; the "
                        "connection is closed", self.endpoint, self.id, exc_info=True)
        conn._detached = True
        paused = pause.requested and not failed
        if paused:
            try:
                self.read_ahead, self.session = bytes(conn.read_ahead), bytes(conn.session)
            except TypeError:
                log.warning("aeterna: the handler of endpoint %r left read_ahead or session of "
                            "connection %d as something other than bytes; it is closed",
                            self.endpoint, self.id)
                paused = False
        pause.detach()
        self._paused = paused
        if not paused:
            self.close()
        self._done.set()
        if not paused:
            on_ended(self)

    def end(self, reason: str) -> None:
        """Lets the endpoint say goodbye (``RawEndpoint.end``), then closes the socket."""
        if self.closed:
            return
        conn = RawConnection(self.endpoint, self.sock, PauseSignal(requested=True),
                             read_ahead=self.read_ahead, session=self.session,
                             handed_over=self.handed_over)
        conn._send_deadline = time.monotonic() + END_GRACE
        try:
            self.handler.end(conn, reason)
        except Exception as e:
            log.warning("aeterna: ending connection %d of endpoint %r (%s) failed: %s",
                        self.id, self.endpoint, reason, e)
        conn._detached = True
        self.close()

    def close(self) -> None:
        """close(2) of this process's copy; the connection lives on wherever else it is held."""
        if not self.closed:
            self.closed = True
            self.sock.close()


class HandedConnections:
    """The connections of this generation's raw endpoints (see the module's text). Thread-safe:
    the session thread drives FREEZE, IMPORT, COMMIT, RESUME, RELEASE and ABORT; accept loops
    add connections; rounds end on their own threads."""

    def __init__(self) -> None:
        self.endpoints: Dict[str, RawEndpoint] = {}
        self._lock = threading.Lock()
        self._all: Dict[int, HandedConnection] = {}
        self._staged: List[HandedConnection] = []
        self._next_id = 0
        self._frozen = False
        self._stopping = False
        self._pause = PauseSignal()
        self._goodbyes: List[threading.Thread] = []   # RELEASE's endings, which stop() waits for

    @property
    def count(self) -> int:
        """Connections this generation holds (served, paused or staged)."""
        with self._lock:
            return len(self._all) + len(self._staged)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def accepted(self, endpoint: str, sock: socket.socket) -> None:
        """A connection just accepted on ``endpoint``'s listener: served at once, or, when it
        slipped in as the generation froze, held unserved with the others."""
        with self._lock:
            if self._stopping:
                sock.close()
                return
            c = HandedConnection(self._new_id(), endpoint, sock, self.endpoints[endpoint])
            self._all[c.id] = c
            serve, pause = not self._frozen, self._pause
        if serve:
            c.serve(pause, self._forget)

    def _forget(self, c: HandedConnection) -> None:
        with self._lock:
            if self._all.get(c.id) is c:
                del self._all[c.id]

    # -- FREEZE ----------------------------------------------------------------------------

    def pause_all(self, deadline: float) -> List[HandedConnection]:
        """Every served connection to a boundary before ``deadline`` (a ``time.monotonic()``
        instant); returns those held, in id order. Raises ProtocolError(Timeout) when one does
        not get there in time (it pauses later and is held like the others)."""
        with self._lock:
            self._frozen = True
            everyone = list(self._all.values())
            pause = self._pause
        pause.request()
        late = sum(1 for c in everyone if not c.wait(deadline - time.monotonic()))
        if late:
            raise ProtocolError("Timeout", "%d handed connection(s) did not reach a boundary within "
                                "the freeze's deadline (their handlers were still in a message)" % late)
        with self._lock:       # including any accepted as the freeze began (never served)
            return sorted((c for c in self._all.values() if c.at_boundary), key=lambda c: c.id)

    @staticmethod
    def records(paused: Sequence[HandedConnection]) -> List[Tuple[ConnectionRecord, int]]:
        """Their CONNECTIONS records and fds (kind raw, no framing)."""
        return [(ConnectionRecord(c.id, KIND_RAW, c.endpoint, c.read_ahead, b"", c.session),
                 c.sock.fileno()) for c in paused]

    # -- IMPORT ----------------------------------------------------------------------------

    def stage(self, received: Sequence[Tuple[ConnectionRecord, int]]) -> Dict[str, Any]:
        """Decides on each connection received, touching nothing live: adopted ones are staged
        (not read nor written before COMMIT); the fds of refused ones are closed at once.
        Returns PREPARED's ``connections``: ``{"adopted": [ids], "refused": [{id, reason, detail}]}``."""
        adopted: List[int] = []
        refused: List[Dict[str, Any]] = []
        for record, fd in received:
            why = self._judge(record, fd)
            if why is None:
                try:
                    sock = socket.socket(fileno=fd)
                except OSError as e:
                    why = ("kind_mismatch", "the fd that came with it is not a socket: %s" % e)
            if why is not None:
                close_all([fd])
                refused.append({"id": record.id, "reason": why[0], "detail": why[1]})
                continue
            with self._lock:
                self._staged.append(HandedConnection(
                    self._new_id(), record.endpoint, sock, self.endpoints[record.endpoint],
                    read_ahead=record.read_ahead, session=record.session, handed_over=True))
            adopted.append(record.id)
        return {"adopted": adopted, "refused": refused}

    def _judge(self, record: ConnectionRecord, fd: int) -> Optional[Tuple[str, str]]:
        if fd < 0:
            return ("fd_limit", "its socket did not arrive: this process is at its file "
                    "descriptor limit (RLIMIT_NOFILE)")
        if record.kind not in KIND_NAMES:
            return ("unknown_kind", "kind %d is not one this client knows" % record.kind)
        handler = self.endpoints.get(record.endpoint)
        if handler is None:
            return ("unknown_endpoint", "this version has no handed-connection endpoint %r"
                    % record.endpoint)
        if record.kind != KIND_RAW:
            return ("kind_mismatch", "endpoint %r takes raw connections, not %s"
                    % (record.endpoint, KIND_NAMES[record.kind]))
        if record.framing:
            return ("framing", "a raw connection carries no framing state; this one has %d bytes"
                    % len(record.framing))
        try:
            valid = handler.accepts_session(record.session)
        except Exception as e:
            return ("session", "endpoint %r could not read the session: %s: %s"
                    % (record.endpoint, type(e).__name__, e))
        if not valid:
            return ("session", "endpoint %r refused the session (%d bytes)"
                    % (record.endpoint, len(record.session)))
        return None

    def discard_staged(self) -> None:
        """ABORT to an importer (or a hand-back that failed): what it staged is not its own."""
        with self._lock:
            staged, self._staged = self._staged, []
        for c in staged:
            c.close()

    # -- COMMIT, RESUME --------------------------------------------------------------------

    def serve_all(self) -> int:
        """Serves what is staged and every connection held here; returns how many. One still on
        its way to a boundary (the freeze timed out) is served again once it gets there."""
        with self._lock:
            self._frozen = False
            for c in self._staged:
                self._all[c.id] = c
            self._staged = []
            held = list(self._all.values())
            if self._pause.requested:
                self._pause = PauseSignal()
            pause = self._pause
        for c in held:
            c.sent = c.too_large = False
            if c.serving:
                threading.Thread(target=self._serve_when_paused, args=(c, pause), daemon=True).start()
            elif c.at_boundary:
                c.serve(pause, self._forget)
        return len(held)

    def _serve_when_paused(self, c: HandedConnection, pause: PauseSignal) -> None:
        c.wait(None)
        if c.at_boundary and not pause.requested:
            c.serve(pause, self._forget)

    # -- RELEASE ---------------------------------------------------------------------------

    def release(self, adopted: Sequence[Any], refused: Sequence[Any]) -> int:
        """The next generation committed: close(2) our copy of each adopted connection; end the
        refused ones (and any sent in neither list, or too large to send) by their endpoint, on
        threads of their own. Returns how many are ended here."""
        adopted_ids = {i for i in adopted if type(i) is int}
        reasons: Dict[int, str] = {}
        for r in refused:
            if isinstance(r, dict) and type(r.get("id")) is int and r["id"] not in reasons:
                reasons[r["id"]] = str(r.get("reason") or "refused")
        endings: List[Tuple[HandedConnection, str]] = []
        with self._lock:
            for c in [c for c in self._all.values() if c.sent or c.too_large]:
                del self._all[c.id]
                if c.sent and c.id in adopted_ids:
                    c.close()
                else:
                    endings.append((c, "too_large" if c.too_large else reasons.get(c.id, "refused")))
        for c, reason in endings:
            t = threading.Thread(target=c.end, args=(reason,), daemon=True)
            with self._lock:          # started and listed at once: stop() sees it from its first line
                t.start()
                self._goodbyes = [g for g in self._goodbyes if g.is_alive()] + [t]
        return len(endings)

    # -- the drain -------------------------------------------------------------------------

    def stop(self, grace: float = 1.0) -> None:
        """The generation stops: served connections pause (within ``grace``) and are ended by
        their endpoint (reason ``stopping``), as are held ones not sent; a sent one whose fate
        was never told is only closed (the next generation may serve it), staged ones likewise.
        Blocks until every goodbye is written (or its END_GRACE passed)."""
        with self._lock:
            self._stopping = True
            everyone = list(self._all.values())
            staged = self._staged
            self._all, self._staged = {}, []
            pause = self._pause
        for c in staged:
            c.close()
        pause.request()
        deadline = time.monotonic() + grace
        endings: List[threading.Thread] = []
        for c in everyone:
            if c.sent:
                c.close()
            elif not c.wait(deadline - time.monotonic()) or not c.at_boundary:
                if not c.serving:
                    c.close()      # one still in a message past the grace is left to the exit
            else:
                t = threading.Thread(target=c.end, args=("stopping",), daemon=True)
                t.start()
                endings.append(t)
        with self._lock:
            endings += self._goodbyes     # a retiring generation exits only after its goodbyes
            self._goodbyes = []
        for t in endings:
            t.join(END_GRACE + 1)
