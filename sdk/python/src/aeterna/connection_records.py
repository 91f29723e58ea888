"""Connection records: what a CONNECTIONS frame (type 0x34) carries for each handed connection,
and an importer's account of a transfer's records (docs/protocol.md, section 7.2).

A record, little-endian, records back to back with no padding::

    0  id          u64  unique among the transfer's connections
    8  kind        u8   1 raw, 2 websocket, 3 http_stream (an unknown one refuses that connection only)
    9  name_len    u8   1..255 bytes of endpoint name
    10 reserved    u16  0
    12 read_ahead  u32  bytes received from the client and not handled
    16 framing     u32  bytes of the kind's framing state
    20 session     u32  bytes of the endpoint's session
    24 ...         name (UTF-8), read_ahead, framing, session

The i-th fd of the frame is the socket of the i-th record.
"""
from __future__ import annotations

import struct
from typing import Iterable, List, NamedTuple, Set, Tuple

from .errors import ProtocolError
from .frames import BytesLike, MAX_FDS_PER_FRAME

__all__ = ["ConnectionRecord", "ConnectionTally", "encode_record", "decode_records",
           "pack_records", "KIND_RAW", "KIND_WEBSOCKET", "KIND_HTTP_STREAM", "KIND_NAMES",
           "RECORD_HEADER_SIZE", "MAX_ENDPOINT_BYTES", "MAX_CONNECTIONS"]

KIND_RAW, KIND_WEBSOCKET, KIND_HTTP_STREAM = 1, 2, 3
KIND_NAMES = {KIND_RAW: "raw", KIND_WEBSOCKET: "websocket", KIND_HTTP_STREAM: "http_stream"}
RECORD_HEADER_SIZE = 24
MAX_ENDPOINT_BYTES = 255
# More connections than this in one transfer is refused before anything is received.
MAX_CONNECTIONS = 1 << 20

_HEADER = struct.Struct("<QBBHIII")
_U32 = 0xFFFFFFFF


class ConnectionRecord(NamedTuple):
    """One handed connection as it travels: its socket is the frame's fd of the same index."""
    id: int
    kind: int
    endpoint: str
    read_ahead: bytes = b""
    framing: bytes = b""
    session: bytes = b""


def _name_bytes(endpoint: str) -> bytes:
    name = endpoint.encode("utf-8")     # a str with lone surrogates raises UnicodeEncodeError
    if not 1 <= len(name) <= MAX_ENDPOINT_BYTES:
        raise ValueError("an endpoint name is 1 to %d bytes of UTF-8; %r is %d"
                         % (MAX_ENDPOINT_BYTES, endpoint, len(name)))
    return name


def encoded_length(record: ConnectionRecord) -> int:
    """The bytes ``record`` takes in a frame."""
    return (RECORD_HEADER_SIZE + len(_name_bytes(record.endpoint)) + len(record.read_ahead)
            + len(record.framing) + len(record.session))


def encode_record(record: ConnectionRecord) -> bytes:
    """The record's bytes. Raises ValueError for what a receiver would refuse (an id outside u64,
    a kind outside u8, an empty or over-long name, a part of 4 GiB or more)."""
    name = _name_bytes(record.endpoint)
    if not 0 <= record.id <= 0xFFFFFFFFFFFFFFFF:
        raise ValueError("a connection id is a u64, not %d" % record.id)
    if not 0 <= record.kind <= 0xFF:
        raise ValueError("a connection kind is a u8, not %d" % record.kind)
    parts = (record.read_ahead, record.framing, record.session)
    if any(len(p) > _U32 for p in parts):
        raise ValueError("read_ahead, framing and session are each under 4 GiB")
    head = _HEADER.pack(record.id, record.kind, len(name), 0, len(record.read_ahead),
                        len(record.framing), len(record.session))
    return b"".join((head, name) + tuple(bytes(p) for p in parts))


def decode_records(payload: BytesLike, nfds: int) -> List[ConnectionRecord]:
    """The records of one CONNECTIONS frame that came with ``nfds`` fds, each checked before it
    is used: at least one, one per fd, filling the payload exactly, no length running past it,
    names of 1..255 bytes of valid UTF-8, reserved bytes 0. Nothing larger than the payload is
    allocated. Raises ProtocolError(Malformed). An unknown kind is not an error here: it refuses
    that connection only (the caller decides)."""
    data = bytes(payload)
    if nfds < 1:
        raise ProtocolError("Malformed", "a CONNECTIONS frame carries no file descriptor; it must "
                            "carry one per connection")
    records: List[ConnectionRecord] = []
    at = 0
    for i in range(nfds):
        if len(data) - at < RECORD_HEADER_SIZE:
            raise ProtocolError("Malformed", "a CONNECTIONS frame with %d file descriptors holds %d "
                                "complete records; record %d needs %d header bytes, %d are left"
                                % (nfds, i, i + 1, RECORD_HEADER_SIZE, len(data) - at))
        id_, kind, name_len, reserved, read_ahead, framing, session = _HEADER.unpack_from(data, at)
        if reserved != 0:
            raise ProtocolError("Malformed", "connection %d's record has reserved bytes 0x%04x; they "
                                "must be 0" % (id_, reserved))
        if name_len == 0:
            raise ProtocolError("Malformed", "connection %d's record has an empty endpoint name" % id_)
        length = RECORD_HEADER_SIZE + name_len + read_ahead + framing + session
        if length > len(data) - at:
            raise ProtocolError("Malformed", "connection %d's record needs %d bytes (%d name, %d read "
                                "ahead, %d framing, %d session); %d are left in its frame"
                                % (id_, length, name_len, read_ahead, framing, session, len(data) - at))
        body = at + RECORD_HEADER_SIZE
        try:
            endpoint = data[body:body + name_len].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("Malformed", "connection %d's endpoint name is not valid UTF-8"
                                % id_) from None
        body += name_len
        records.append(ConnectionRecord(
            id_, kind, endpoint, data[body:body + read_ahead],
            data[body + read_ahead:body + read_ahead + framing],
            data[body + read_ahead + framing:body + read_ahead + framing + session]))
        at += length
    if at != len(data):
        raise ProtocolError("Malformed", "a CONNECTIONS frame with %d file descriptors has %d bytes "
                            "after its %d records" % (nfds, len(data) - at, nfds))
    return records


def pack_records(records: List[ConnectionRecord], max_frame_size: int
                 ) -> Tuple[List[Tuple[bytes, List[int]]], List[int]]:
    """Packs records into CONNECTIONS payloads, in order: at most 64 records (one fd each) and at
    most ``max_frame_size`` bytes per frame. Returns the frames (each its payload and the indexes
    of its records) and the indexes of records too large for any frame (their exporter keeps
    those connections and ends them itself)."""
    frames: List[Tuple[bytes, List[int]]] = []
    too_large: List[int] = []
    current: List[int] = []
    parts: List[bytes] = []
    size = 0
    for i, record in enumerate(records):
        encoded = encode_record(record)
        if len(encoded) > max_frame_size:
            too_large.append(i)
            continue
        if len(current) == MAX_FDS_PER_FRAME or size + len(encoded) > max_frame_size:
            frames.append((b"".join(parts), current))
            current, parts, size = [], [], 0
        current.append(i)
        parts.append(encoded)
        size += len(encoded)
    if current:
        frames.append((b"".join(parts), current))
    return frames, too_large


class ConnectionTally:
    """An importer's account of one transfer's CONNECTIONS frames against STATE_BEGIN: ids never
    repeat, and records and bytes add up, as STATE_END repeats. Anything else is a broken
    transfer (Malformed): the whole import fails."""

    def __init__(self, announced: object, announced_bytes: object) -> None:
        if type(announced) is not int or type(announced_bytes) is not int \
                or announced < 0 or announced_bytes < 0:
            raise ProtocolError("Malformed", "STATE_BEGIN announces %r connections of %r bytes"
                                % (announced, announced_bytes))
        if announced > MAX_CONNECTIONS:
            raise ProtocolError("TooLarge", "STATE_BEGIN announces %d connections; at most %d are "
                                "accepted in one transfer" % (announced, MAX_CONNECTIONS))
        if announced == 0 and announced_bytes != 0:
            raise ProtocolError("Malformed", "STATE_BEGIN announces no connection but %d bytes of "
                                "them" % announced_bytes)
        self.announced = announced
        self.announced_bytes = announced_bytes
        self.received_bytes = 0
        self._ids: Set[int] = set()

    @property
    def received(self) -> int:
        return len(self._ids)

    def add(self, records: Iterable[ConnectionRecord], payload_bytes: int) -> None:
        """Counts one frame's records (``payload_bytes`` in all)."""
        records = list(records)
        if self.received + len(records) > self.announced:
            raise ProtocolError("Malformed", "the exporter sent more than the %d connections "
                                "STATE_BEGIN announced" % self.announced)
        if self.received_bytes + payload_bytes > self.announced_bytes:
            raise ProtocolError("Malformed", "the exporter sent more than the %d bytes of "
                                "connections STATE_BEGIN announced" % self.announced_bytes)
        for r in records:
            if r.id in self._ids:
                raise ProtocolError("Malformed", "connection id %d came twice in one transfer" % r.id)
            self._ids.add(r.id)
        self.received_bytes += payload_bytes

    def finish(self, state_end_connections: object) -> None:
        """At STATE_END: everything announced arrived, and STATE_END says the same."""
        if state_end_connections != self.announced or type(state_end_connections) is not int:
            raise ProtocolError("Malformed", "STATE_END says %r connections; STATE_BEGIN said %d"
                                % (state_end_connections, self.announced))
        if self.received != self.announced or self.received_bytes != self.announced_bytes:
            raise ProtocolError("Malformed", "%d connections of %d bytes arrived; STATE_BEGIN "
                                "announced %d of %d" % (self.received, self.received_bytes,
                                                       self.announced, self.announced_bytes))
