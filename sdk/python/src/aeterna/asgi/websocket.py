"""A WebSocket of this generation, between the app and uvicorn: paused between messages while the
generation is frozen, ended with close code 1012 (service restart) when it drains."""
from __future__ import annotations

import asyncio

from .phase import ConnectionPhase, PendingReceive
from .types import Message, Receive, Send

__all__ = ["WebSocketGuard", "SERVICE_RESTART"]

SERVICE_RESTART = 1012

# How long the drain's close waits for the app to finish the message in hand (to answer it) and
# wait for the next one; an app that never does gets the close then.
END_PATIENCE = 1.0


class WebSocketGuard:
    """Wraps one WebSocket's ``receive`` and ``send`` (a :class:`~aeterna.asgi.phase.LongLived`).

    A message from the client that arrives while the generation is frozen is held until RESUME;
    so is a message the app sends. At the drain the connection gets a close frame with code 1012
    once the app has answered the message in hand and waits for the next one (at most
    ``END_PATIENCE`` later), a pending ``receive`` returns ``websocket.disconnect`` (code 1012),
    a message that arrives after the drain began never reaches the app (it could take it in but no
    longer answer it), and what the app sends after the close is dropped.
    """

    def __init__(self, phase: ConnectionPhase, receive: Receive, send: Send) -> None:
        self._phase = phase
        self._receive = receive
        self._pending = PendingReceive(receive)
        self._send = send
        self._lock = asyncio.Lock()        # one message at a time: the close is never interleaved
        self._connected = False
        self._closed = False
        self._ended = asyncio.Event()
        self._waiting = asyncio.Event()    # the app waits in receive for the client's next message

    async def receive(self) -> Message:
        if not self._connected:            # websocket.connect: the handshake, not a message
            self._connected = True
            return await self._receive()
        self._waiting.set()
        try:
            message = await self._pending.next_or_end(self._ended)
        finally:
            self._waiting.clear()
        if message is None:
            return {"type": "websocket.disconnect", "code": SERVICE_RESTART}
        if message["type"] == "websocket.receive" and not await self._phase.boundary():
            await self._close()            # the app is between messages: now
            return {"type": "websocket.disconnect", "code": SERVICE_RESTART}
        return message

    async def send(self, message: Message) -> None:
        # While the drain's close waits for it, the app's answer to the message in hand goes out.
        await self._phase.boundary()
        async with self._lock:
            if self._closed:               # ended by the drain (or closed): nowhere to go
                return
            if message["type"] == "websocket.close":
                self._closed = True
            await self._send(message)

    async def end(self) -> None:
        try:
            await asyncio.wait_for(self._waiting.wait(), END_PATIENCE)
        except asyncio.TimeoutError:
            pass
        await self._close()

    async def _close(self) -> None:
        async with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    await self._send({"type": "websocket.close", "code": SERVICE_RESTART,
                                      "reason": "service restart"})
                except Exception:            # the client went away meanwhile: nothing to end
                    pass
        self._ended.set()

    def close(self) -> None:
        """The app returned: stop waiting for the client."""
        self._pending.cancel()
