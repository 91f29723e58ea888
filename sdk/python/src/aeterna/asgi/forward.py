"""Forwarding a request to the listener: what a frozen generation does with a request that
arrives on a keep-alive connection it still holds. The next generation accepts it there and
answers (docs/protocol.md, section 4, the exporter's step 2); the client notices nothing."""
from __future__ import annotations

import asyncio
import urllib.parse
from typing import List, Optional, Set, Tuple, Union

from .types import Receive, Scope, Send

__all__ = ["forward_request", "Address"]

Address = Union[Tuple[str, int], str]     # (host, port), or a Unix socket's path

HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
              b"transfer-encoding", b"upgrade", b"expect"}
# uvicorn writes its own; the client gets one of each.
SERVER_HEADERS = {b"date", b"server"}
CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024
CONNECT_TIMEOUT = 10.0

Headers = List[Tuple[bytes, bytes]]


async def forward_request(scope: Scope, receive: Receive, send: Send, address: Address, *,
                          closing: bool) -> int:
    """Sends the request of ``scope`` (its body read from ``receive``) to ``address`` on a new
    connection, and relays the answer through ``send``, streamed as it comes. ``closing`` adds
    ``Connection: close`` (the generation is draining). Returns the status relayed: 502 when
    the next generation did not answer, 0 when the client left first."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return 0
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    writer: Optional[asyncio.StreamWriter] = None
    started = False
    try:
        if isinstance(address, str):
            connecting = asyncio.open_unix_connection(address, limit=MAX_HEAD)
        else:
            connecting = asyncio.open_connection(address[0], address[1], limit=MAX_HEAD)
        reader, connection = await asyncio.wait_for(connecting, CONNECT_TIMEOUT)
        writer = connection
        connection.write(_request_head(scope, len(body), address) + bytes(body))
        await connection.drain()
        status, headers = await _read_response_head(reader)
        length, chunked = _body_framing(scope, status, headers)
        out = [(k, v) for k, v in headers if k not in HOP_BY_HOP and k not in SERVER_HEADERS
               and k not in _connection_tokens(headers)]
        if closing:
            out.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": out})
        started = True
        if chunked:
            await _relay_chunked(reader, send)
        elif length is not None:
            await _relay_length(reader, send, length)
        else:
            await _relay_until_eof(reader, send)
        return status
    except (OSError, EOFError, asyncio.TimeoutError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError, ValueError) as e:
        if started:
            raise ConnectionError("the next generation's answer broke off: %s" % (e,)) from None
        text = ("the next generation did not answer: %s: %s" % (type(e).__name__, e)).encode()
        await send({"type": "http.response.start", "status": 502,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(text)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": text})
        return 502
    finally:
        if writer is not None:
            writer.close()


def _request_head(scope: Scope, body_length: int, address: Address) -> bytes:
    raw_path = scope.get("raw_path")
    target = raw_path if isinstance(raw_path, bytes) and raw_path else \
        urllib.parse.quote(scope.get("path", "/")).encode("ascii")
    query = scope.get("query_string", b"")
    if query:
        target += b"?" + query
    headers: Headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", [])]
    dropped = HOP_BY_HOP | {b"content-length"} | _connection_tokens(headers)
    lines = [b"%s %s HTTP/1.1" % (scope["method"].encode("ascii"), target)]
    lines += [b"%s: %s" % (k, v) for k, v in headers if k not in dropped]
    if not any(k == b"host" for k, _ in headers):
        host = "localhost" if isinstance(address, str) else "%s:%d" % address
        lines.append(b"host: " + host.encode("ascii"))
    if body_length or scope["method"] not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        lines.append(b"content-length: %d" % body_length)
    lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _connection_tokens(headers: Headers) -> Set[bytes]:
    """Headers the Connection header names: hop-by-hop too (RFC 9110, 7.6.1)."""
    return {t.strip().lower() for k, v in headers if k == b"connection" for t in v.split(b",") if t.strip()}


async def _read_response_head(reader: asyncio.StreamReader) -> Tuple[int, Headers]:
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError("not an HTTP/1.x status line: %r" % lines[0][:100])
        status = int(parts[1])
        headers: Headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ValueError("a malformed header line: %r" % line[:100])
            headers.append((name.strip().lower(), value.strip()))
        if not 100 <= status < 200:         # an interim 1xx answer: the real one follows
            return status, headers


def _body_framing(scope: Scope, status: int, headers: Headers) -> Tuple[Optional[int], bool]:
    """(Content-Length, chunked) of the answer's body; (0, False) for an answer without one."""
    if scope["method"] == "HEAD" or status in (204, 304):
        return 0, False
    if any(k == b"transfer-encoding" and b"chunked" in v.lower() for k, v in headers):
        return None, True
    for k, v in headers:
        if k == b"content-length":
            return int(v), False
    return None, False


async def _relay_chunked(reader: asyncio.StreamReader, send: Send) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":   # trailers: dropped
                pass
            break
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _relay_length(reader: asyncio.StreamReader, send: Send, length: int) -> None:
    while length > CHUNK:
        data = await reader.readexactly(CHUNK)
        length -= len(data)
        await send({"type": "http.response.body", "body": data, "more_body": True})
    data = await reader.readexactly(length)
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _relay_until_eof(reader: asyncio.StreamReader, send: Send) -> None:
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        await send({"type": "http.response.body", "body": data, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})
