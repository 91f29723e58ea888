"""The ASGI middleware that does for an ASGI app what ``client.work()`` does for a thread-served
one: counts requests in flight (FREEZE waits for them), forwards the requests a frozen
generation must not serve, says ``Connection: close`` while draining, and keeps long-lived
connections (WebSockets, streamed responses) to the rules of :mod:`aeterna.asgi.phase`."""
from __future__ import annotations

import asyncio
from typing import Optional

from ..client import AeternaClient
from .forward import Address, forward_request
from .phase import ConnectionPhase, PendingReceive
from .stream import StreamGuard
from .types import ASGIApp, Message, Receive, Scope, Send
from .websocket import SERVICE_RESTART, WebSocketGuard

__all__ = ["AeternaMiddleware"]


class AeternaMiddleware:
    """``AeternaMiddleware(app, client, forward_to=(host, port))``; :func:`aeterna.asgi.run`
    puts it around the app. ``forward_to`` is the listener's address (where the next generation
    accepts); ``phase`` is shared with the server's accept control.

    An HTTP request counts as in flight from its start until the app returns, unless its
    response is a stream (started without Content-Length): that one stops counting when it
    starts, so a stream never holds up a freeze. ``requests`` and ``errors`` (5xx) count answers
    for the supervisor's HEALTH."""

    def __init__(self, app: ASGIApp, client: AeternaClient, forward_to: Address,
                 phase: Optional[ConnectionPhase] = None) -> None:
        self.app = app
        self.client = client
        self.forward_to = forward_to
        self.phase = phase if phase is not None else ConnectionPhase()
        self.requests = 0
        self.errors = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:                                # lifespan
            await self.app(scope, receive, send)

    def _answered(self, status: int) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.client
        if not client.begin_request():
            # Frozen: the state is the next generation's. It answers, through the listener.
            status = await forward_request(scope, receive, send, self.forward_to, closing=client.draining)
            if status:
                self._answered(status)
            return
        counted = True
        stream: Optional[StreamGuard] = None
        ended = asyncio.Event()            # a stream's: set when the drain ended it
        body_read = False
        pending = PendingReceive(receive)

        async def receive_() -> Message:
            nonlocal body_read
            if not body_read:
                first = await receive()
                body_read = first["type"] != "http.request" or not first.get("more_body", False)
                return first
            # The body is read: what comes now is the disconnect, or the end of a stream.
            later = await pending.next_or_end(ended)
            return {"type": "http.disconnect"} if later is None else later

        async def send_(message: Message) -> None:
            nonlocal counted, stream
            if message["type"] == "http.response.start":
                self._answered(int(message["status"]))
                headers = list(message.get("headers", []))
                if client.draining:
                    headers = [(k, v) for k, v in headers if bytes(k).lower() != b"connection"]
                    headers.append((b"connection", b"close"))
                    message = dict(message, headers=headers)
                if _is_stream(scope, int(message["status"]), headers):
                    stream = StreamGuard(self.phase, send, ended)
                    self.phase.add(stream)
                    counted = False
                    client.end_request()
                await send(message)
            elif stream is not None and message["type"] == "http.response.body":
                await stream.send(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive_, send_)
        finally:
            if counted:
                client.end_request()
            if stream is not None:
                self.phase.discard(stream)
            pending.cancel()

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Not a request in flight: a WebSocket never holds up a freeze. One that arrives on a
        # keep-alive connection of a frozen generation waits for RESUME, or is refused at the drain.
        if not await self.phase.boundary():
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": SERVICE_RESTART})
            return
        guard = WebSocketGuard(self.phase, receive, send)
        self.phase.add(guard)
        try:
            await self.app(scope, guard.receive, guard.send)
        finally:
            self.phase.discard(guard)
            guard.close()


def _is_stream(scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    """A response started without Content-Length goes on until the app ends it: a stream."""
    if scope.get("method") == "HEAD" or status in (204, 304) or status < 200:
        return False
    return not any(bytes(k).lower() == b"content-length" for k, _ in headers)
