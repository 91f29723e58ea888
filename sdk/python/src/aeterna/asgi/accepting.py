"""Accepting for uvicorn: the :class:`~aeterna.gate.AcceptController` that the accept gate pauses
at FREEZE and resumes at READY, COMMIT and RESUME.

uvicorn does not accept itself: asyncio does, one ``asyncio.Server`` per listening socket, whose
reader on the socket accepts every pending connection and hands it to uvicorn's protocol. asyncio
has no pause: ``Server.close()`` stops accepting by closing the socket it serves. So each asyncio
server here serves a ``dup`` of the listener: pausing closes the server and with it only the dup
(the listener itself stays open: the supervisor and the next generation share it), resuming starts
a new asyncio server on a new dup, with uvicorn's protocol factory. Connections that arrive in
between wait in the kernel's accept queue; connections accepted before stay this generation's.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import socket
import time
from typing import Any, Callable, Coroutine, List, Optional, Sequence

from .phase import ConnectionPhase

__all__ = ["UvicornAccepting"]

log = logging.getLogger("aeterna")

# How long the gate (on the session's thread) waits for the event loop to pause or resume.
LOOP_TIMEOUT = 10.0


class UvicornAccepting:
    """Pauses and resumes a started ``uvicorn.Server``'s accepting on ``listeners``. ``pause`` and
    ``resume`` may be called from any thread: they run on ``loop`` and return once accepting has
    stopped or runs. ``stop`` ends accepting for good (the drain)."""

    def __init__(self, server: Any, listeners: Sequence[socket.socket], loop: asyncio.AbstractEventLoop,
                 phase: ConnectionPhase) -> None:
        self._server = server
        self._listeners = list(listeners)
        self._loop = loop
        self._phase = phase
        self._factory = _protocol_factory(server)
        self._servers: List[asyncio.AbstractServer] = []
        self._want = False                 # the gate's last word: accept or not
        self._stopped = False
        self._starting: Optional[asyncio.Lock] = None

    @property
    def accepting(self) -> bool:
        return bool(self._servers)

    def pause(self) -> int:
        return self._on_loop(self._pause_now, None)

    def resume(self) -> int:
        return self._on_loop(None, self._resume_now)

    def stop(self) -> None:
        """Stops accepting for good (on the loop's thread)."""
        self._stopped = True
        self._pause_now()

    def _on_loop(self, sync: Optional[Callable[[], int]],
                 coro: Optional[Callable[[], Coroutine[Any, Any, int]]]) -> int:
        try:
            running: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            if sync is not None:
                return sync()
            assert coro is not None
            # Called from the loop itself (an app that calls client.ready() in a coroutine): it
            # cannot wait for itself; accepting starts on the loop's next turn.
            self._loop.create_task(coro())
            return time.monotonic_ns()
        if self._loop.is_closed():
            return time.monotonic_ns()
        if sync is not None:
            now = sync
            async def run_sync() -> int:
                return now()
            future = asyncio.run_coroutine_threadsafe(run_sync(), self._loop)
        else:
            assert coro is not None
            future = asyncio.run_coroutine_threadsafe(coro(), self._loop)
        try:
            return future.result(LOOP_TIMEOUT)
        except concurrent.futures.TimeoutError:
            log.error("aeterna: the event loop did not %s accepting within %.0f s (is it blocked "
                      "by synchronous work in a coroutine?)", "pause" if sync else "resume", LOOP_TIMEOUT)
            return time.monotonic_ns()

    def _pause_now(self) -> int:
        self._want = False
        self._phase.pause()
        servers, self._servers = self._servers, []
        for s in servers:
            s.close()                      # removes the reader and closes the dup, at once
            if s in self._server.servers:
                self._server.servers.remove(s)
        return time.monotonic_ns()

    async def _resume_now(self) -> int:
        if self._stopped:
            return time.monotonic_ns()
        self._want = True
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if not self._servers and self._want and not self._stopped:
                config = self._server.config
                for listener in self._listeners:
                    sock = listener.dup()
                    try:
                        server = await self._loop.create_server(self._factory, sock=sock, ssl=config.ssl,
                                                                backlog=config.backlog)
                    except BaseException:
                        sock.close()
                        raise
                    self._servers.append(server)
                    self._server.servers.append(server)   # uvicorn's shutdown closes it too
                if not self._want or self._stopped:   # a pause came while the servers started
                    self._pause_now()
                    return time.monotonic_ns()
        if self._want:
            self._phase.resume()
        return time.monotonic_ns()


def _protocol_factory(server: Any) -> Callable[[], asyncio.Protocol]:
    """What uvicorn's own startup gives asyncio: its HTTP protocol with its config and state
    (``app_state`` too from uvicorn 0.24 on)."""
    config = server.config
    cls = config.http_protocol_class
    kwargs = {"config": config, "server_state": server.server_state}
    if "app_state" in inspect.signature(cls).parameters:
        kwargs["app_state"] = server.lifespan.state
    factory: Callable[[], asyncio.Protocol] = functools.partial(cls, **kwargs)
    return factory
