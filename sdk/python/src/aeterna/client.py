"""AeternaClient: this generation's side of the Aeterna protocol (docs/protocol.md, sections 3,
4 and 7): the session, readiness, the accept gate, requests in flight, FREEZE, IMPORT, COMMIT,
RESUME, hand-back, and the connections of raw endpoints (RELEASE)."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from .connection_records import MAX_ENDPOINT_BYTES
from .endpoint import RawEndpoint
from .errors import AeternaError, HandoverError, ProtocolError, RejectedError
from .fd_limit import FD_RESERVE, available_fds
from .frames import (
    ABORT, ACCEPTING, COMMIT, DEFAULT_MAX_FRAME, DEFAULT_MAX_STATE, DEFAULT_TIMEOUT_MS, FAILED,
    FREEZE, FROZEN, HEALTH, HELLO, HELLO_MAX, IMPORT, PREPARED, PROTOCOL_VERSION, READY, REJECT,
    RELEASE, RESUME, STATUS, TYPE_NAMES, WELCOME, Frame, FrameReader, close_all, json_or_empty,
    send_json,
)
from .gate import AcceptGate
from .handed import HandedConnections
from .notify import sd_notify
from .shared_memory import SharedBuffer
from .state import CONTEXT_SECTION, decode_context, export_state, import_state
from .version import __version__

__all__ = ["AeternaClient"]

RUNTIME = "aeterna-python/%s (%s %d.%d)" % (
    __version__, sys.implementation.name, sys.version_info[0], sys.version_info[1])

log = logging.getLogger("aeterna")

_TOKEN_CACHE: Dict[str, str] = {}

CONNECTIONS_CAPABILITY = "connections"


class AeternaClient:
    """This generation's side of the Aeterna protocol.

    ``AeternaClient(format="pickle", mechanism=None)``: ``format`` is how the context is
    serialized at a relay (``"pickle"`` for any picklable object, ``"json"`` for plain data);
    ``mechanism`` (``"pipe"`` or ``"shm"``) is how the serialized bytes travel when the
    supervisor leaves the choice to the app (``state_handoff.mechanism: auto``, the default);
    left at None, ``auto`` means shm from 64 KiB up (from 1 KiB without the crc32c package). An explicit ``pipe`` or ``shm`` in the
    supervisor's config wins. ``environ`` replaces ``os.environ`` (for tests).

    The session with the supervisor opens on the first call that needs it (``load_context``,
    ``ready``, ``status``, ``health``, or ``connect``) and then runs on a daemon thread. App
    callbacks (``on_freeze``, ``on_import``) run on that thread.
    """

    def __init__(self, *, format: str = "pickle", mechanism: Optional[str] = None,
                 environ: Optional[Mapping[str, str]] = None) -> None:
        if format not in ("pickle", "json"):
            raise ValueError("format must be 'pickle' or 'json', not %r" % (format,))
        if mechanism not in (None, "auto", "pipe", "shm"):
            raise ValueError("mechanism must be None, 'auto', 'pipe' or 'shm', not %r" % (mechanism,))
        env = os.environ if environ is None else environ
        self.format = format
        self.mechanism = mechanism
        self.socket_path = env.get("AETERNA_SOCKET") or None
        token = env.get("AETERNA_TOKEN")
        if environ is None:                          # the real environment: do not pass it on
            if token:
                _TOKEN_CACHE[self.socket_path or ""] = token
                os.environ.pop("AETERNA_TOKEN", None)
            else:
                token = _TOKEN_CACHE.get(self.socket_path or "")
        self._token = token or ""
        self.generation = _env_int(env, "AETERNA_GENERATION", 0)
        self.supervisor_pid = _env_int(env, "AETERNA_SUPERVISOR_PID", 0)
        self.notify_socket = env.get("NOTIFY_SOCKET") or None
        self._listen_fds = _env_int(env, "LISTEN_FDS", 0)
        self._listen_pid = _env_int(env, "LISTEN_PID", -1)
        names = env.get("LISTEN_FDNAMES")
        self._listen_names = names.split(":") if names else []
        self._listeners: Dict[Any, socket.socket] = {}

        self.welcome: Optional[Dict[str, Any]] = None
        self._session: Optional[socket.socket] = None
        self._reader: Optional[FrameReader] = None
        self._thread: Optional[threading.Thread] = None
        self._send_lock = threading.Lock()
        self._connect_lock = threading.Lock()
        self._session_error: Optional[BaseException] = None
        self._session_done = threading.Event()

        self._stateful = False
        self._provider: Optional[Callable[[], Any]] = None
        self._importer: Optional[Callable[[Any], None]] = None
        self._context: Any = None
        self._context_loaded = False
        self._imported = threading.Event()
        self._import_error: Optional[BaseException] = None
        self._ready_sent = False
        self._exported: List[SharedBuffer] = []
        self._draining = False

        self._work = threading.Condition(threading.Lock())
        self._frozen = False
        self._in_flight = 0
        self._gate = AcceptGate(is_open=self.socket_path is None)

        self._connections = HandedConnections()
        self._accept_threads: List[threading.Thread] = []
        self._stopped = threading.Event()          # the drain ended every connection
        self._stop_started = False

    # -- listeners -------------------------------------------------------------------------

    def get_listener_socket(self, name: Optional[str] = None,
                            fallback: Optional[Tuple[str, int]] = ("0.0.0.0", 8080)) -> socket.socket:
        """The listening socket: the one the supervisor passed (fd 3, 4, ... by its
        ``LISTEN_FDNAMES`` name; the first when ``name`` is None), used only when ``LISTEN_PID``
        is this process; otherwise a new socket bound to ``fallback`` (host, port). The same
        call returns the same socket object. Do not close an inherited socket while serving:
        the supervisor and the next generation share it."""
        key = name
        if key in self._listeners:
            return self._listeners[key]
        self._gate.listener_taken()
        if self._listen_fds > 0 and self._listen_pid == os.getpid():
            names = self._listen_names + ["unknown"] * (self._listen_fds - len(self._listen_names))
            if name is None:
                index = 0
            elif name in names[:self._listen_fds]:
                index = names.index(name)
            else:
                raise AeternaError("no inherited listener is named %r; the supervisor passed %s. "
                                   "Fix: use one of these names, or add a listener named %r to "
                                   "aeterna.yaml" % (name, ", ".join(names[:self._listen_fds]), name))
            fd = 3 + index
            try:
                os.set_inheritable(fd, False)
                sock = socket.socket(fileno=fd)
            except OSError as e:
                raise AeternaError("inherited listener fd %d is not a socket (%s). Fix: check "
                                   "LISTEN_FDS, the app was started with broken socket "
                                   "activation variables" % (fd, e)) from None
        else:
            if fallback is None:
                raise AeternaError("no inherited listener (LISTEN_FDS/LISTEN_PID are not set for "
                                   "this process) and no fallback address. Fix: run under "
                                   "`dotnet aeterna start` with a listener, or pass fallback=(host, port)")
            sock = socket.create_server(tuple(fallback), backlog=1024)
        self._listeners[key] = sock
        return sock

    # -- session ---------------------------------------------------------------------------

    @property
    def supervised(self) -> bool:
        """True when a supervisor's session socket is in the environment."""
        return self.socket_path is not None

    @property
    def expect_state(self) -> bool:
        """WELCOME said a relay started this generation to take over state."""
        return bool(self.welcome and self.welcome.get("expect_state"))

    @property
    def frozen(self) -> bool:
        """This generation handed its state over (or is handing it over) and must not serve
        from it; requests on connections it still holds go to the next generation."""
        return self._frozen

    @property
    def draining(self) -> bool:
        """``drain()`` was called: answer with ``Connection: close`` and finish."""
        return self._draining

    def connect(self) -> Optional[Dict[str, Any]]:
        """Opens the session (HELLO, WELCOME) if there is a supervisor and it is not open yet;
        returns WELCOME (None standalone). Raises RejectedError, ProtocolError or AeternaError."""
        if self.socket_path is None:
            return None
        with self._connect_lock:
            if self.welcome is not None:
                return self.welcome
            if self._session_done.is_set():
                raise AeternaError("the session with the supervisor has ended: %s" % self._session_error)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            path = self.socket_path
            address = "\0" + path[1:] if path.startswith("@") else path
            try:
                sock.settimeout(10)
                sock.connect(address)
                hello: Dict[str, Any] = {
                    "versions": [PROTOCOL_VERSION, PROTOCOL_VERSION], "token": self._token,
                    "pid": os.getpid(), "runtime": RUNTIME, "stateful": self._stateful,
                    "state_types": [CONTEXT_SECTION] if self._stateful else [], "schema": None,
                }
                if self._connections.endpoints:
                    hello["capabilities"] = [CONNECTIONS_CAPABILITY]
                send_json(sock, HELLO, hello)
                reader = FrameReader(sock)
                frame = reader.read_frame(HELLO_MAX, time.monotonic() + 10)
                frame.close_fds()
                if frame.type == REJECT:
                    body = json_or_empty(frame.payload)
                    raise RejectedError(str(body.get("code", "unknown")), str(body.get("message", "")))
                if frame.type != WELCOME:
                    raise ProtocolError("Malformed", "the supervisor answered HELLO with %s" % frame.name)
                welcome = frame.json()
                if welcome.get("version") != PROTOCOL_VERSION:
                    raise ProtocolError("WrongVersion", "WELCOME chose protocol version %r; this "
                                        "client speaks %d" % (welcome.get("version"), PROTOCOL_VERSION))
            except (socket.timeout, ProtocolError, RejectedError, OSError) as e:
                sock.close()
                if isinstance(e, AeternaError):
                    raise
                raise AeternaError("cannot open the session at AETERNA_SOCKET=%s: %s. Fix: is the "
                                   "supervisor running? The variable is set only for its "
                                   "generations" % (path, e)) from None
            sock.settimeout(None)
            self.welcome, self._session, self._reader = welcome, sock, reader
            if welcome.get("generation"):
                self.generation = welcome["generation"] if type(welcome["generation"]) is int else self.generation
            self._thread = threading.Thread(target=self._run, name="aeterna-session", daemon=True)
            self._thread.start()
            return welcome

    def _limit(self, key: str, default: int) -> int:
        v = (self.welcome or {}).get(key)
        return v if type(v) is int and v > 0 else default

    def _send(self, type_: int, obj: Dict[str, Any]) -> bool:
        sock = self._session
        if sock is None or self._session_done.is_set():
            return False
        try:
            with self._send_lock:
                send_json(sock, type_, obj)
            return True
        except OSError as e:
            log.warning("aeterna: cannot send %s: %s", TYPE_NAMES[type_], e)
            return False

    # -- state -----------------------------------------------------------------------------

    def load_context(self, default: Any = None, timeout: Optional[float] = None) -> Any:
        """The state handed over by the previous generation, or ``default`` (called if it is
        callable) when there is none: standalone, first start, or a stateless relay.

        Call it once warm (models loaded, caches built): when this generation takes over state,
        it sends READY, waits for the state, checks it completely and returns it; connections
        are accepted only after the supervisor's COMMIT (through :meth:`accept`). The returned
        object is what the next relay hands over, unless :meth:`on_freeze` says otherwise.
        Raises HandoverError when the hand-over fails (the old generation keeps serving)."""
        if self._context_loaded:
            return self._context
        self._stateful = True
        welcome = self.connect()
        if welcome is not None and welcome.get("expect_state"):
            self._send_ready("warm; waiting for generation %s's state" % welcome.get("from_generation"))
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._imported.is_set():
                if self._import_error is not None:
                    raise self._import_error
                if self._session_done.is_set():
                    raise HandoverError("the session ended before the state arrived: %s" % self._session_error)
                if self._draining:
                    raise HandoverError("drain() (SIGTERM) came before the state arrived")
                if deadline is not None and time.monotonic() > deadline:
                    raise HandoverError("no state within %.1f s" % (timeout or 0))
                self._imported.wait(0.05)
            if self._import_error is not None:
                raise self._import_error
            context = self._context
        else:
            context = default() if callable(default) else default
        self._context, self._context_loaded = context, True
        return context

    def on_freeze(self, provider: Callable[[], Any]) -> Callable[[], Any]:
        """Registers the function that returns the object to hand over at FREEZE (by default
        the object ``load_context`` returned). It runs once every request in :meth:`work` has
        finished, and may contain SharedBuffers. Usable as a decorator."""
        self._provider = provider
        self._stateful = True
        return provider

    def on_import(self, apply: Callable[[Any], None]) -> Callable[[Any], None]:
        """Registers the function that adopts state handed *back* to this frozen generation
        by a failed canary (rollback). It receives the complete, checked object; if it raises,
        the hand-back fails and this generation resumes from the state it froze with. Without
        it, a dict context is updated in place (``clear()`` then ``update()``). Decorator too."""
        self._importer = apply
        return apply

    @contextlib.contextmanager
    def work(self) -> Iterator[bool]:
        """``with client.work() as live:`` around a request that reads or changes the state.
        FREEZE waits for every such block to end before exporting. ``live`` is False once this
        generation is frozen: then do not touch the state; forward the request to the next
        generation (connect to the listener's address) or refuse it."""
        live = self.begin_request()
        try:
            yield live
        finally:
            if live:
                self.end_request()

    def begin_request(self) -> bool:
        """Counts a request in flight (what :meth:`work` does, for code that cannot use a
        ``with`` block, e.g. an ASGI middleware). False when frozen: then it is not counted and
        must not touch the state. Every True is followed by one :meth:`end_request`."""
        with self._work:
            if self._frozen:
                return False
            self._in_flight += 1
            return True

    def end_request(self) -> None:
        """Ends a request counted by :meth:`begin_request`."""
        with self._work:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._work.notify_all()

    @property
    def in_flight(self) -> int:
        """Requests counted by :meth:`work` or :meth:`begin_request` that have not ended."""
        return self._in_flight

    @property
    def accept_gate(self) -> AcceptGate:
        """The gate accept loops go through; a server with its own accept loop registers an
        :class:`aeterna.gate.AcceptController` on it (``aeterna.asgi`` does)."""
        return self._gate

    # -- raw endpoints (connections handed over) -------------------------------------------

    def add_endpoint(self, listener: str, endpoint: RawEndpoint,
                     fallback: Optional[Tuple[str, int]] = ("127.0.0.1", 9100)) -> None:
        """Serves the listener named ``listener`` (``get_listener_socket(listener, fallback)``)
        with ``endpoint``, and hands its open connections to the next generation at every relay
        (docs/protocol.md, section 7): this generation offers the ``connections`` capability.
        The listener's name is the endpoint's name in the hand-over: keep it across versions.
        Call it before the session opens (before ``load_context``, ``ready``, ``connect``). The
        client accepts on that listener itself, through the accept gate, and serves each
        connection with ``endpoint.serve`` on a thread of its own."""
        if self.welcome is not None or self._session is not None:
            raise AeternaError("add_endpoint(%r) after the session opened: the capability is "
                               "offered in HELLO. Fix: register endpoints before load_context(), "
                               "ready() or connect()" % listener)
        if not isinstance(endpoint, RawEndpoint):
            raise TypeError("endpoint must be a RawEndpoint, not %s" % type(endpoint).__name__)
        if not 1 <= len(listener.encode("utf-8")) <= MAX_ENDPOINT_BYTES:
            raise ValueError("an endpoint name is 1 to %d bytes of UTF-8" % MAX_ENDPOINT_BYTES)
        if listener in self._connections.endpoints:
            raise AeternaError("listener %r already has an endpoint" % listener)
        sock = self.get_listener_socket(listener, fallback)
        self._connections.endpoints[listener] = endpoint
        thread = threading.Thread(target=self._accept_connections, args=(listener, sock),
                                  name="aeterna-accept-%s" % listener, daemon=True)
        self._accept_threads.append(thread)
        thread.start()

    def _accept_connections(self, name: str, sock: socket.socket) -> None:
        # The gate, not client.accept(): that would send READY before the app is warm.
        while True:
            try:
                accepted = self._gate.accept(sock)
            except OSError as e:
                log.error("aeterna: accepting on listener %r failed: %s; its endpoint takes no "
                          "more connections", name, e)
                return
            if accepted is None:
                return
            self._connections.accepted(name, accepted[0])

    @property
    def connections_granted(self) -> bool:
        """The supervisor granted the ``connections`` capability (WELCOME)."""
        caps = (self.welcome or {}).get("capabilities")
        return isinstance(caps, list) and CONNECTIONS_CAPABILITY in caps

    @property
    def connection_count(self) -> int:
        """Connections of raw endpoints this generation holds (served, paused or staged)."""
        return self._connections.count

    def serve_endpoints(self) -> None:
        """Blocks until :meth:`drain` has ended every connection of the raw endpoints (each
        paused and said goodbye to with ``end(conn, "stopping")``), for a main thread that has
        nothing else to do. Calls :meth:`ready` first if the app has not."""
        if not self._ready_sent:
            self.ready()
        self._stopped.wait()

    def _stop_connections(self) -> None:
        try:
            for t in self._accept_threads:
                t.join()
            self._connections.stop(1.0)         # as long as the .NET runtime gives a handler
        finally:
            self._stopped.set()

    # -- readiness and accepting -----------------------------------------------------------

    def _send_ready(self, detail: str) -> None:
        if self._ready_sent:
            return
        self._ready_sent = True
        if self._session is not None:
            self._send(READY, {"detail": detail})
        elif self.notify_socket:
            sd_notify("READY=1\nSTATUS=" + detail, self.notify_socket)

    def ready(self, detail: str = "serving") -> None:
        """Says this generation is ready (READY, or sd_notify ``READY=1`` without a session).
        Unless it takes over state (then COMMIT does), accepting starts now."""
        welcome = self.connect()
        self._send_ready(detail)
        if welcome is None or not welcome.get("expect_state"):
            self._gate.open()

    def accept(self, sock: socket.socket) -> Optional[Tuple[socket.socket, Any]]:
        """Accepts one connection from ``sock`` when this generation may: blocks while the gate
        is closed (before READY/COMMIT, and while frozen). Returns ``(conn, address)``, or None
        once :meth:`drain` was called. Calls :meth:`ready` first if the app has not. Several
        threads may accept at once. The listener is made non-blocking."""
        if not self._ready_sent:
            self.ready()
        return self._gate.accept(sock)

    def serve(self, server: Any, sock: Optional[socket.socket] = None) -> None:
        """Runs a ``socketserver`` server (e.g. ``ThreadingHTTPServer`` built with
        ``bind_and_activate=False`` and ``server.socket = listener``) through the accept gate
        until :meth:`drain`; then ``server.server_close()`` waits for its request threads."""
        sock = sock or server.socket
        try:
            while True:
                accepted = self.accept(sock)
                if accepted is None:
                    break
                conn, addr = accepted
                if server.verify_request(conn, addr):
                    try:
                        server.process_request(conn, addr)
                    except Exception:
                        server.handle_error(conn, addr)
                        server.shutdown_request(conn)
                else:
                    server.shutdown_request(conn)
        finally:
            server.server_close()

    def drain(self) -> None:
        """Lame duck (SIGTERM): stop accepting for good, ``accept`` returns None. Safe to call
        from a signal handler. Answer further requests with ``Connection: close``."""
        self._draining = True
        self._gate.shut()
        if not self._stop_started:
            # Ending connections waits and writes: on a thread, not in the signal handler.
            self._stop_started = True
            threading.Thread(target=self._stop_connections, name="aeterna-drain", daemon=True).start()
        if self.notify_socket:
            try:
                sd_notify("STOPPING=1", self.notify_socket)
            except OSError:
                pass

    def status(self, text: str) -> None:
        """A status line for the supervisor's status (STATUS, or sd_notify ``STATUS=``)."""
        if self.connect() is not None:
            self._send(STATUS, {"text": text})
        elif self.notify_socket:
            sd_notify("STATUS=" + text, self.notify_socket)

    def health(self, ok: bool = True, detail: Optional[str] = None, requests: Optional[int] = None,
               errors: Optional[int] = None) -> None:
        """HEALTH for the supervisor's soak watch (no-op without a session)."""
        if self.connect() is None:
            return
        msg: Dict[str, Any] = {"ok": bool(ok)}
        if detail is not None:
            msg["detail"] = detail
        if requests is not None:
            msg["requests"] = int(requests)
        if errors is not None:
            msg["errors"] = int(errors)
        self._send(HEALTH, msg)

    def watchdog(self) -> None:
        """``WATCHDOG=1`` on NOTIFY_SOCKET (when ``readiness.watchdog`` is set)."""
        if self.notify_socket:
            sd_notify("WATCHDOG=1", self.notify_socket)

    def close(self) -> None:
        """Ends the session (closing it is not an error to the supervisor)."""
        sock = self._session
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2)

    # -- the session thread ----------------------------------------------------------------

    def _run(self) -> None:
        reader, session = self._reader, self._session
        assert reader is not None and session is not None
        try:
            while True:
                frame = reader.read_frame(self._limit("max_frame_size", DEFAULT_MAX_FRAME))
                self._dispatch(frame)
        except ProtocolError as e:
            self._session_error = e
            if e.code != "Closed":
                log.error("aeterna: session with the supervisor broken: %s", e)
        except BaseException as e:   # a bug must not pass silently
            self._session_error = e
            log.exception("aeterna: session thread failed")
        finally:
            self._session_done.set()
            reader.close()
            try:
                session.close()
            except OSError:
                pass

    def _dispatch(self, frame: Frame) -> None:
        try:
            msg = frame.json()
        except ProtocolError:
            frame.close_fds()
            raise
        if frame.type == FREEZE:
            self._handle_freeze(msg, _socket_from_fd(frame.fds[0]))
        elif frame.type == IMPORT:
            self._handle_import(msg, _socket_from_fd(frame.fds[0]))
        elif frame.type == COMMIT:
            self._start_accepting(msg.get("transfer"))
        elif frame.type == RESUME:
            for b in self._exported:
                b.protect(True)
            self._exported = []
            log.warning("aeterna: resuming: %s", msg.get("reason", "the relay failed"))
            self._start_accepting(msg.get("transfer"))
        elif frame.type == RELEASE:
            adopted, refused = msg.get("adopted"), msg.get("refused")
            ended = self._connections.release(adopted if isinstance(adopted, list) else [],
                                              refused if isinstance(refused, list) else [])
            log.info("aeterna: transfer %s released: %d connection(s) adopted by the next "
                     "generation, %d ended here", msg.get("transfer"),
                     len(adopted) if isinstance(adopted, list) else 0, ended)
        elif frame.type == ABORT:
            self._connections.discard_staged()
            log.warning("aeterna: hand-over aborted: %s", msg.get("reason", ""))
            if not self._imported.is_set() and not self._context_loaded and self._import_error is None:
                self._import_error = HandoverError("the supervisor aborted the hand-over: %s"
                                                   % msg.get("reason", "no reason given"))
        else:
            frame.close_fds()
            raise ProtocolError("Malformed", "unexpected %s from the supervisor" % frame.name)

    def _start_accepting(self, transfer: Any) -> None:
        with self._work:
            self._frozen = False
        self._connections.serve_all()
        def accepting(ns: int) -> None:
            self._send(ACCEPTING, {"transfer": transfer, "accepting_ns": ns})
        self._gate.open(accepting)

    def _fail(self, transfer: Any, error: ProtocolError) -> None:
        log.error("aeterna: hand-over failed: %s", error)
        self._send(FAILED, {"transfer": transfer, "code": error.code, "error": error.detail})

    def _handle_freeze(self, msg: Dict[str, Any], transfer_sock: socket.socket) -> None:
        transfer = msg.get("transfer")
        deadline_ms = msg.get("deadline_ms")
        if not isinstance(deadline_ms, (int, float)) or deadline_ms <= 0:
            deadline_ms = self._limit("timeout_ms", DEFAULT_TIMEOUT_MS)
        deadline = time.monotonic() + deadline_ms / 1000.0
        try:
            stopped_ns = self._gate.close()
            t0 = time.monotonic()
            with self._work:
                self._frozen = True
                while self._in_flight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise ProtocolError("Timeout", "%d requests were still in flight at the "
                                            "deadline" % self._in_flight)
                    self._work.wait(remaining)
            # Connections reach a boundary within the same deadline, and are held from now on
            # whether they are sent or not: none is served from the state being handed over.
            paused = self._connections.pause_all(deadline) if self._connections.endpoints else []
            t1 = time.monotonic()
            try:
                obj = self._provider() if self._provider is not None else self._context
            except Exception as e:
                raise ProtocolError("StateFormat", "the on_freeze provider raised %s: %s"
                                    % (type(e).__name__, e)) from None
            asked = msg.get("mechanism")
            mechanism = asked if isinstance(asked, str) and asked in ("pipe", "shm") else (self.mechanism or "auto")
            send_connections = msg.get("connections") is True and self.connections_granted
            info = export_state(transfer_sock, obj, fmt=self.format, mechanism=mechanism,
                                max_frame_size=self._limit("max_frame_size", DEFAULT_MAX_FRAME),
                                deadline=deadline,
                                connections=HandedConnections.records(paused) if send_connections else None)
            for i in info.pop("sent"):
                paused[i].sent = True
            for i in info.pop("too_large"):
                paused[i].too_large = True
        except ProtocolError as e:
            transfer_sock.close()
            self._fail(transfer, e)        # stay frozen: the supervisor answers with RESUME
            return
        transfer_sock.close()
        self._exported = info.pop("buffers")
        self._send(FROZEN, dict(info, transfer=transfer, stopped_accepting_ns=stopped_ns,
                                quiesce_ms=round((t1 - t0) * 1000, 3),
                                export_ms=round((time.monotonic() - t1) * 1000, 3)))
        # The next generation owns these pages now: fresh views are read-only from here on. A
        # new mapping, after FROZEN: the writable one is kept, not unmapped (SharedBuffer.protect).
        for b in self._exported:
            b.protect(False)

    def _handle_import(self, msg: Dict[str, Any], transfer_sock: socket.socket) -> None:
        transfer = msg.get("transfer")
        t0 = time.monotonic()
        deadline = t0 + self._limit("timeout_ms", DEFAULT_TIMEOUT_MS) / 1000.0
        handback = self._frozen
        connections = msg.get("connections") is True
        state = None
        try:
            if not handback and (self._imported.is_set() or not self.expect_state):
                transfer_sock.close()
                raise ProtocolError("Malformed", "IMPORT to a generation that serves from its own "
                                    "state (not frozen, not waiting for state)")
            try:
                # Each connection costs an fd: receive no more than this process may still open;
                # the ones dropped at the limit are refused (their exporter still holds them).
                state = import_state(transfer_sock, max_frame_size=self._limit("max_frame_size", DEFAULT_MAX_FRAME),
                                     max_state_size=self._limit("max_state_size", DEFAULT_MAX_STATE),
                                     deadline=deadline, connections=connections,
                                     fd_budget=available_fds(FD_RESERVE) if connections else None)
            finally:
                transfer_sock.close()
            missing = object()
            context = decode_context(state, self.format, missing=missing)
            if handback:
                if context is missing:
                    raise ProtocolError("StateFormat", "the handed-back state has no %r section" % CONTEXT_SECTION)
                try:
                    self._apply_handback(context)
                except ProtocolError:
                    state.close()          # discard it all: this generation resumes as it froze
                    raise
            # Adopted connections are staged, untouched, until COMMIT; refused ones closed now.
            decided = self._connections.stage(state.connections) if connections else None
            state.connections = []
            if not handback:
                self._context = None if context is missing else context
        except ProtocolError as e:
            if state is not None:
                state.close_connections()   # the exporter still holds them: none is lost
            self._fail(transfer, e)
            if not handback:
                self._import_error = HandoverError("the state from generation %s could not be "
                                                   "imported: %s" % (msg.get("from_generation"), e))
            return
        prepared: Dict[str, Any] = {"transfer": transfer, "import_ms": round((time.monotonic() - t0) * 1000, 3),
                                    "state_bytes": state.state_bytes, "regions": len(state.buffers)}
        if decided is not None:
            prepared["connections"] = decided
            for r in decided["refused"]:
                log.warning("aeterna: refused handed connection %s (%s): %s", r["id"], r["reason"], r["detail"])
        self._send(PREPARED, prepared)
        if not handback:
            # Woken only now: the app's start-up code after load_context() would otherwise take
            # the GIL from this thread while it encodes and sends PREPARED.
            self._imported.set()

    def _apply_handback(self, context: Any) -> None:
        try:
            if self._importer is not None:
                self._importer(context)
            elif isinstance(self._context, dict) and isinstance(context, dict) and self._provider is None:
                self._context.clear()
                self._context.update(context)
            else:
                raise TypeError("register client.on_import(apply) to adopt handed-back state "
                                "(only a dict context is updated in place)")
        except Exception as e:
            raise ProtocolError("StateFormat", "the handed-back state was not applied: %s: %s"
                                % (type(e).__name__, e)) from None
        self._exported = []   # now superseded by the handed-back buffers


def _socket_from_fd(fd: int) -> socket.socket:
    try:
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd)
    except OSError:
        close_all([fd])
        raise ProtocolError("Malformed", "the transfer fd is not a socket") from None


def _env_int(env: Mapping[str, str], key: str, default: int) -> int:
    try:
        return int(env.get(key, ""))
    except ValueError:
        return default
