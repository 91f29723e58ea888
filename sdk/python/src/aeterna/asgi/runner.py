"""Running an ASGI app on uvicorn under the supervisor: the inherited listener, READY once uvicorn
is up, accepting paused at FREEZE and resumed at COMMIT or RESUME, HEALTH, and the lame-duck
drain at SIGTERM."""
from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from types import FrameType
from typing import Any, Optional, Tuple, Union

from ..client import AeternaClient
from .accepting import UvicornAccepting
from .forward import Address
from .middleware import AeternaMiddleware
from .phase import ConnectionPhase
from .types import ASGIApp

__all__ = ["AsgiRunner", "run"]

log = logging.getLogger("aeterna")

# uvicorn's options that the runner sets unless told otherwise.
DEFAULTS = {
    "loop": "asyncio",            # what the accept control is written for (an asyncio.Server)
    "lifespan": "auto",
    "access_log": False,          # a line per request is the load balancer's job
    "timeout_keep_alive": 5,      # idle keep-alive connections end this long after their last answer
}


class AsgiRunner:
    """One ASGI app on uvicorn, under the supervisor or standalone.

    ``listener``: the inherited listener's name (``None``: the first one), or a listening socket.
    Standalone (no ``LISTEN_FDS``) the client binds ``fallback``. ``client``: the app's own
    :class:`AeternaClient`, if it has one (one session per process: the app and the runner share
    it); else a new one. ``drain_timeout``: how long the drain waits for connections to finish
    (default: the supervisor's ``drain_timeout_ms`` less 2 s, or 30 s). Other keyword arguments go
    to ``uvicorn.Config`` (``log_level``, ``timeout_keep_alive``, ``ws``, ...).

    :meth:`serve` is the coroutine, :meth:`drain` starts the drain from any thread (SIGTERM and
    SIGINT do it when uvicorn runs on the main thread).
    """

    def __init__(self, app: ASGIApp, *, client: Optional[AeternaClient] = None,
                 listener: Union[str, socket.socket, None] = None,
                 fallback: Tuple[str, int] = ("127.0.0.1", 8000),
                 drain_timeout: Optional[float] = None, **uvicorn_options: Any) -> None:
        import uvicorn

        self.client = client if client is not None else AeternaClient()
        if isinstance(listener, socket.socket):
            self.listener = listener
        else:
            self.listener = self.client.get_listener_socket(listener, fallback=fallback)
        self.drain_timeout = drain_timeout
        self.phase: Optional[ConnectionPhase] = None
        self.middleware = AeternaMiddleware(app, self.client, _forward_address(self.listener))
        options = dict(DEFAULTS)
        options.update(uvicorn_options)
        host, port = _host_port(self.listener)
        # host and port only name the listener in uvicorn's log: the runner hands it the socket.
        self.config = uvicorn.Config(self.middleware, host=host, port=port, **options)
        self.server = uvicorn.Server(self.config)
        # uvicorn's SIGTERM/SIGINT handler (when it runs on the main thread) drains instead of
        # stopping at once: set on the instance, it is what uvicorn installs.
        setattr(self.server, "handle_exit", self._on_signal)
        self.accepting: Optional[UvicornAccepting] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._drain_asked = False
        self._draining: Optional["asyncio.Task[None]"] = None
        self._signals = 0

    @property
    def requests(self) -> int:
        return self.middleware.requests

    async def serve(self) -> None:
        """Runs uvicorn until the drain has ended: READY once uvicorn is up, accepting through the
        gate."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.phase = self.middleware.phase = ConnectionPhase()
        # No socket for uvicorn itself: the accept control starts and stops its asyncio servers.
        serving = asyncio.ensure_future(self.server.serve(sockets=[]))
        health: Optional["asyncio.Task[None]"] = None
        gate = self.client.accept_gate
        try:
            while not self.server.started:
                if serving.done():
                    await serving              # the lifespan startup failed: uvicorn said why
                    return
                await asyncio.sleep(0.005)
            self.accepting = UvicornAccepting(self.server, [self.listener], loop, self.phase)
            # From threads: the gate waits for the loop to pause or resume accepting.
            await asyncio.to_thread(gate.add_controller, self.accepting)
            host, port = _host_port(self.listener)
            await asyncio.to_thread(self.client.ready, "uvicorn serving on %s:%s" % (host, port))
            if self.client.supervised:
                health = asyncio.ensure_future(self._report_health())
            if self._drain_asked:
                self._start_drain()
            await serving
        finally:
            if self.accepting is not None:
                gate.remove_controller(self.accepting)
            if health is not None:
                health.cancel()
            if not serving.done():
                self.server.should_exit = True
                await serving
            if self._draining is not None:
                await self._draining

    def run(self) -> None:
        """Runs :meth:`serve` in a new event loop until the drain has ended; exits with status 3
        (uvicorn's) when the app's lifespan startup failed."""
        asyncio.run(self.serve())
        if not self.server.started:
            sys.exit(3)

    def drain(self) -> None:
        """Lame duck (from any thread): stop accepting for good, end WebSockets (1012) and
        streams, answer with ``Connection: close``, and stop once connections are done."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self._drain_asked = True
            return
        loop.call_soon_threadsafe(self._start_drain)

    def _on_signal(self, sig: int, frame: Optional[FrameType]) -> None:
        self._signals += 1
        if self._signals > 1:                  # a second signal: stop now
            self.server.should_exit = self.server.force_exit = True
            return
        if not self.server.started:
            self.client.drain()
            self.server.should_exit = True
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        if self._draining is not None:
            return
        if self.accepting is None:             # not serving yet: drain once it does
            self._drain_asked = True
            return
        self._draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        assert self.accepting is not None and self.phase is not None and self._loop is not None
        self.client.drain()                    # the gate shuts; responses say Connection: close
        self.accepting.stop()
        await self.phase.end_all()
        deadline = self._loop.time() + self._drain_timeout()
        connections = self.server.server_state.connections
        while connections and self._loop.time() < deadline:
            await asyncio.sleep(0.05)
        if connections:
            log.warning("aeterna: %d connections still open at the drain timeout; closing them",
                        len(connections))
        self.server.should_exit = True

    def _drain_timeout(self) -> float:
        if self.drain_timeout is not None:
            return self.drain_timeout
        ms = (self.client.welcome or {}).get("drain_timeout_ms")
        if isinstance(ms, int) and ms > 0:
            return max(1.0, ms / 1000.0 - 2.0)
        return 30.0

    async def _report_health(self) -> None:
        interval = (self.client.welcome or {}).get("health_interval_ms")
        seconds = interval / 1000.0 if isinstance(interval, int) and interval > 0 else 1.0
        while True:
            await asyncio.sleep(seconds)
            self.client.health(ok=True, requests=self.middleware.requests, errors=self.middleware.errors)


def run(app: ASGIApp, *, client: Optional[AeternaClient] = None,
        listener: Union[str, socket.socket, None] = None,
        fallback: Tuple[str, int] = ("127.0.0.1", 8000),
        drain_timeout: Optional[float] = None, **uvicorn_options: Any) -> None:
    """Serves ``app`` (FastAPI, Starlette, any ASGI app) on uvicorn until SIGTERM has drained it.
    See :class:`AsgiRunner` for the arguments."""
    AsgiRunner(app, client=client, listener=listener, fallback=fallback,
               drain_timeout=drain_timeout, **uvicorn_options).run()


def _host_port(sock: socket.socket) -> Tuple[str, int]:
    name = sock.getsockname()
    if isinstance(name, tuple):
        return str(name[0]), int(name[1])
    return "unix:" + (name.decode() if isinstance(name, bytes) else str(name)), 0


def _forward_address(sock: socket.socket) -> Address:
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        path = name.decode() if isinstance(name, bytes) else str(name)
        return "\0" + path[1:] if path.startswith("\0") or path.startswith("@") else path
    host, port = str(name[0]), int(name[1])
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), port
