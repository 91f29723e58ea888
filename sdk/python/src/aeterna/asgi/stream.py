"""A streamed HTTP response (no Content-Length: chunks until the app says it is done) of this
generation: paused between chunks while the generation is frozen, ended with its terminating
chunk when it drains."""
from __future__ import annotations

import asyncio

from .phase import ConnectionPhase
from .types import Message, Send

__all__ = ["StreamGuard"]


class StreamGuard:
    """Wraps the body ``send`` of one streamed response (a :class:`~aeterna.asgi.phase.LongLived`).
    ``ended`` is set once the drain ended it; the request's ``receive`` then says
    ``http.disconnect``, which stops a Starlette ``StreamingResponse``."""

    def __init__(self, phase: ConnectionPhase, send: Send, ended: asyncio.Event) -> None:
        self._phase = phase
        self._send = send
        self._lock = asyncio.Lock()
        self._complete = False
        self.ended = ended

    async def send(self, message: Message) -> None:
        if message.get("more_body", False) and not await self._phase.boundary():
            await self.end()
            return
        async with self._lock:
            if self._complete:
                return
            if not message.get("more_body", False):
                self._complete = True
            await self._send(message)

    async def end(self) -> None:
        async with self._lock:
            if not self._complete:
                self._complete = True
                try:
                    await self._send({"type": "http.response.body", "body": b"", "more_body": False})
                except Exception:            # the client went away meanwhile
                    pass
        self.ended.set()
