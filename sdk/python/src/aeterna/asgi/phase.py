"""Where this generation's long-lived connections stand: served, paused at a boundary (while the
generation is frozen), or ended (at the drain).

A long-lived connection (a WebSocket, a streamed response) never blocks a freeze: it is not a
request in flight. While the generation is frozen it must not be served from the state just
handed over, so it waits at its next boundary (between messages, between chunks) and goes on at
RESUME. A generation that drains ends it: a WebSocket with close code 1012 (service restart), a
stream with its terminating chunk. These are the .NET runtime's rules (docs/protocol.md, 7.1).
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional, Protocol, Set

from .types import Message, Receive

__all__ = ["ConnectionPhase", "LongLived", "PendingReceive"]


class LongLived(Protocol):
    """A connection the drain ends itself."""

    async def end(self) -> None:
        """Ends the connection at its boundary (close 1012, or the terminating chunk)."""


class ConnectionPhase:
    """Served, paused or ending, for every long-lived connection of this generation. Used on the
    event loop's thread only."""

    def __init__(self) -> None:
        self._live = asyncio.Event()       # accepting runs: the generation is not frozen
        self._ending = asyncio.Event()     # the drain began
        self._open: Set[LongLived] = set()

    @property
    def ending(self) -> asyncio.Event:
        return self._ending

    @property
    def live(self) -> bool:
        return self._live.is_set() and not self._ending.is_set()

    def pause(self) -> None:
        self._live.clear()

    def resume(self) -> None:
        self._live.set()

    async def boundary(self) -> bool:
        """At a connection's boundary: waits while the generation is frozen. True to go on
        serving, False when the connection must end (the drain began)."""
        if not self._live.is_set() and not self._ending.is_set():
            live = asyncio.ensure_future(self._live.wait())
            ending = asyncio.ensure_future(self._ending.wait())
            try:
                await asyncio.wait({live, ending}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                live.cancel()
                ending.cancel()
        return not self._ending.is_set()

    def add(self, connection: LongLived) -> None:
        self._open.add(connection)

    def discard(self, connection: LongLived) -> None:
        self._open.discard(connection)

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def end_all(self) -> None:
        """The drain: every long-lived connection ends, and those that come later end at once."""
        self._ending.set()
        connections = list(self._open)
        if connections:
            await asyncio.gather(*(c.end() for c in connections), return_exceptions=True)


class PendingReceive:
    """An ASGI ``receive`` that can be given up on when a connection ends, without losing the
    message it was waiting for: the server's receive runs as a task kept from call to call."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: Optional["asyncio.Future[Message]"] = None

    async def next_or_end(self, ended: asyncio.Event) -> Optional[Message]:
        """The next message, or None once ``ended`` is set."""
        if ended.is_set():
            return None
        if self._task is None:
            self._task = asyncio.ensure_future(self._receive())
        waiter = asyncio.ensure_future(ended.wait())
        either: Set["asyncio.Future[Any]"] = {self._task, waiter}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not self._task.done():
            return None
        task, self._task = self._task, None
        return task.result()

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
