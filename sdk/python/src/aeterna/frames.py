"""Frames: the header, its checks, fds by SCM_RIGHTS, and the reader (docs/protocol.md,
section 2). Both the session and the transfer socket carry them."""
from __future__ import annotations

import array
import json
import os
import socket
import struct
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .checksum import crc32c
from .errors import ProtocolError
from .fd_limit import control_buffer_size

__all__ = [
    "Frame", "FrameReader", "encode_frame", "decode_header", "send_frame", "send_json",
    "parse_json_object", "TYPE_NAMES", "HEADER_SIZE", "MAX_FDS_PER_FRAME",
]

BytesLike = Union[bytes, bytearray, memoryview]

MAGIC = b"AETR"
FRAME_VERSION = 1
PROTOCOL_VERSION = 1
HEADER_SIZE = 16
MAX_FDS_PER_FRAME = 64
HELLO_MAX = 64 * 1024            # limit for frames before WELCOME told us max_frame_size
DEFAULT_MAX_FRAME = 1 << 20
DEFAULT_MAX_STATE = 1 << 30
DEFAULT_TIMEOUT_MS = 5000

HELLO, WELCOME, REJECT, READY, STATUS, HEALTH = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
FREEZE, FROZEN, IMPORT, PREPARED, COMMIT, ACCEPTING, ABORT, RESUME, FAILED = (
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18)
RELEASE = 0x19
CHECKPOINT = 0x20
STATE_BEGIN, STATE_CHUNK, STATE_REGIONS, STATE_END = 0x30, 0x31, 0x32, 0x33
CONNECTIONS = 0x34

TYPE_NAMES: Dict[int, str] = {
    HELLO: "HELLO", WELCOME: "WELCOME", REJECT: "REJECT", READY: "READY", STATUS: "STATUS",
    HEALTH: "HEALTH", FREEZE: "FREEZE", FROZEN: "FROZEN", IMPORT: "IMPORT",
    PREPARED: "PREPARED", COMMIT: "COMMIT", ACCEPTING: "ACCEPTING", ABORT: "ABORT",
    RESUME: "RESUME", FAILED: "FAILED", RELEASE: "RELEASE", CHECKPOINT: "CHECKPOINT",
    STATE_BEGIN: "STATE_BEGIN", STATE_CHUNK: "STATE_CHUNK", STATE_REGIONS: "STATE_REGIONS",
    STATE_END: "STATE_END", CONNECTIONS: "CONNECTIONS",
}

# How many fds each type must carry: (low, high).
_FDS_BY_TYPE: Dict[int, Tuple[int, int]] = {t: (0, 0) for t in TYPE_NAMES}
_FDS_BY_TYPE.update({FREEZE: (1, 1), IMPORT: (1, 1), STATE_REGIONS: (1, MAX_FDS_PER_FRAME),
                     CHECKPOINT: (1, MAX_FDS_PER_FRAME), CONNECTIONS: (1, MAX_FDS_PER_FRAME)})

_HEADER = struct.Struct("<4sBBBBII")
_CRC = struct.Struct("<I")


def fd_range(type: int) -> Tuple[int, int]:
    """How many fds a frame of this type carries: (at least, at most)."""
    return _FDS_BY_TYPE[type]


class Frame:
    """One received frame: ``type``, ``payload`` (bytes) and ``fds`` (the fds it took from the
    queue; the receiver owns them and must close them)."""

    __slots__ = ("type", "payload", "fds")

    def __init__(self, type: int, payload: bytes, fds: Sequence[int] = ()) -> None:
        self.type = type
        self.payload = payload
        self.fds = list(fds)

    @property
    def name(self) -> str:
        return TYPE_NAMES.get(self.type, "0x%02x" % self.type)

    def json(self) -> Dict[str, Any]:
        """The payload as a JSON object, or ProtocolError(Malformed)."""
        return parse_json_object(self.payload, self.name)

    def close_fds(self) -> None:
        close_all(self.fds)
        self.fds = []

    def __repr__(self) -> str:
        return "Frame(%s, %d bytes, fds=%s)" % (self.name, len(self.payload), self.fds)


def encode_frame(type: int, payload: BytesLike = b"", nfds: int = 0) -> bytes:
    """Header and payload of one frame, with its CRC-32C. ``nfds`` is the number of fds that
    will travel with it (sent by :func:`send_frame`)."""
    if type not in TYPE_NAMES:
        raise ValueError("unknown frame type 0x%02x" % type)
    if not 0 <= nfds <= MAX_FDS_PER_FRAME:
        raise ValueError("a frame carries 0..64 fds, not %d" % nfds)
    payload = bytes(payload)
    if len(payload) > 0xFFFFFFFF:
        raise ValueError("payload over 4 GiB")
    head = _HEADER.pack(MAGIC, FRAME_VERSION, type, nfds, 0, len(payload), 0)[:12]
    crc = crc32c(payload, crc32c(head))
    return head + _CRC.pack(crc) + payload


def decode_header(header: BytesLike, max_length: int) -> Tuple[int, int, int, int]:
    """Checks a 16-byte header before anything of the payload is read or allocated, and returns
    ``(type, fds, length, crc)``. Raises ProtocolError (BadMagic, WrongVersion, UnknownType,
    TooManyFds, Malformed, TooLarge)."""
    if len(header) != HEADER_SIZE:
        raise ProtocolError("Closed", "the stream ended inside a frame header")
    magic, version, type_, nfds, reserved, length, crc = _HEADER.unpack(bytes(header))
    if magic != MAGIC:
        raise ProtocolError("BadMagic", "expected the bytes 'AETR', got %r" % magic)
    if version != FRAME_VERSION:
        raise ProtocolError("WrongVersion", "framing version %d, this client speaks 1" % version)
    if type_ not in TYPE_NAMES:
        raise ProtocolError("UnknownType", "unknown message type 0x%02x" % type_)
    if nfds > MAX_FDS_PER_FRAME:
        raise ProtocolError("TooManyFds", "%d fds announced, at most 64" % nfds)
    if reserved != 0:
        raise ProtocolError("Malformed", "reserved header byte is %d, must be 0" % reserved)
    if length > max_length:
        raise ProtocolError("TooLarge", "%s frame of %d bytes is over the limit of %d"
                            % (TYPE_NAMES[type_], length, max_length))
    return type_, nfds, length, crc


def send_frame(sock: socket.socket, type: int, payload: BytesLike = b"",
               fds: Sequence[int] = ()) -> None:
    """Sends one frame; ``fds`` travel as SCM_RIGHTS attached to the first byte of the header."""
    data = encode_frame(type, payload, len(fds))
    if fds:
        anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = sock.sendmsg([data], anc)
        if sent < len(data):
            sock.sendall(data[sent:])
    else:
        sock.sendall(data)


def send_json(sock: socket.socket, type: int, obj: Dict[str, Any], fds: Sequence[int] = ()) -> None:
    """Sends a control frame whose payload is ``obj`` as UTF-8 JSON."""
    send_frame(sock, type, json.dumps(obj, separators=(",", ":")).encode("utf-8"), fds)


def parse_json_object(payload: BytesLike, what: str = "payload") -> Dict[str, Any]:
    """A control payload: a UTF-8 JSON object. Anything else is ProtocolError(Malformed)."""
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise ProtocolError("Malformed", "%s payload is not UTF-8 JSON (%s)" % (what, e)) from None
    if not isinstance(obj, dict):
        raise ProtocolError("Malformed", "%s payload is not a JSON object" % what)
    return obj


def json_or_empty(payload: BytesLike) -> Dict[str, Any]:
    try:
        return parse_json_object(payload)
    except ProtocolError:
        return {}


def close_all(fds: Iterable[int]) -> None:
    """Closes every fd (-1, an fd that never arrived, is skipped)."""
    for fd in fds:
        if fd < 0:
            continue
        try:
            os.close(fd)
        except OSError:
            pass


class FrameReader:
    """Reads frames from a stream socket with ``recvmsg`` only, keeping received fds in a
    queue in arrival order (docs/protocol.md, section 2). Not thread-safe: one reader per
    socket. ``close()`` closes fds still queued.

    With ``fd_budget`` set (an importer taking connections, section 7.3), each ``recvmsg`` has
    room for no more fds than are left of the budget (``CMSG_LEN(4 * k)``), and the fds of each
    call are kept together as one delivery: a frame that announces fds takes the next delivery,
    since Linux returns the fds of at most one ``sendmsg`` per call. Only a CONNECTIONS frame
    may then come short of fds because the kernel cut them off (``MSG_CTRUNC``); its missing
    ones are -1 in ``Frame.fds``."""

    RECV_SIZE = 256 * 1024
    ANC_SIZE = socket.CMSG_SPACE(253 * 4)   # SCM_MAX_FD

    def __init__(self, sock: socket.socket, fd_budget: Optional[int] = None) -> None:
        self.sock = sock
        self._buf = bytearray()
        self._fds: List[int] = []
        self.fd_budget = fd_budget
        self._deliveries: List[Tuple[List[int], bool]] = []

    def _fill(self, need: int, deadline: Optional[float]) -> bool:
        """Reads until the buffer holds ``need`` bytes; False at a clean end of stream."""
        while len(self._buf) < need:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProtocolError("Timeout", "no data before the deadline")
                self.sock.settimeout(remaining)
            budget = self.fd_budget
            if budget is None:
                anc_size, flags_in = self.ANC_SIZE, 0
            else:
                anc_size = control_buffer_size(min(max(budget, 0), MAX_FDS_PER_FRAME))
                flags_in = socket.MSG_CMSG_CLOEXEC
            try:
                data, anc, flags, _ = self.sock.recvmsg(self.RECV_SIZE, anc_size, flags_in)
            except socket.timeout:
                raise ProtocolError("Timeout", "no data before the deadline") from None
            except InterruptedError:
                continue
            except OSError as e:
                raise ProtocolError("Closed", "reading failed: %s" % e) from None
            received: List[int] = []
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
                    received.extend(fds)
            truncated = bool(flags & socket.MSG_CTRUNC)
            if budget is None:
                self._fds.extend(received)
                if truncated:
                    raise ProtocolError("TooManyFds", "file descriptors were cut off (MSG_CTRUNC)")
            elif received or truncated:
                self._deliveries.append((received, truncated))
                self.fd_budget = max(0, budget - len(received))
            if not data:
                return False
            self._buf += data
        return True

    def _take_fds(self, type_: int, nfds: int) -> List[int]:
        if self.fd_budget is None and not self._deliveries:
            if len(self._fds) < nfds:
                raise ProtocolError("Malformed", "%s announces %d fds, %d arrived"
                                    % (TYPE_NAMES[type_], nfds, len(self._fds)))
            fds, self._fds = self._fds[:nfds], self._fds[nfds:]
            return fds
        if nfds == 0:
            return []
        if not self._deliveries:
            raise ProtocolError("Malformed", "%s announces %d fds, none arrived with it"
                                % (TYPE_NAMES[type_], nfds))
        fds, truncated = self._deliveries.pop(0)
        if len(fds) > nfds or (len(fds) < nfds and not (truncated and type_ == CONNECTIONS)):
            close_all(fds)
            why = "; the rest were dropped at this process's fd limit" if truncated else ""
            raise ProtocolError("Malformed", "%s announces %d fds, %d arrived with it%s"
                                % (TYPE_NAMES[type_], nfds, len(fds), why))
        return fds + [-1] * (nfds - len(fds))

    def read_frame(self, max_length: int, deadline: Optional[float] = None) -> Frame:
        """The next frame, checked (header before allocation, then the CRC). ``deadline`` is a
        ``time.monotonic()`` instant. Raises ProtocolError; ``Closed`` at the end of stream."""
        if not self._fill(HEADER_SIZE, deadline):
            if self._buf:
                raise ProtocolError("Closed", "the stream ended inside a frame header")
            raise ProtocolError("Closed", "the peer closed the stream")
        type_, nfds, length, crc = decode_header(self._buf[:HEADER_SIZE], max_length)
        fds = self._take_fds(type_, nfds)
        try:
            if not self._fill(HEADER_SIZE + length, deadline):
                raise ProtocolError("Closed", "the stream was cut inside a %s frame (%d of %d bytes)"
                                    % (TYPE_NAMES[type_], len(self._buf) - HEADER_SIZE, length))
            with memoryview(self._buf) as mv, mv[:12] as head, \
                    mv[HEADER_SIZE:HEADER_SIZE + length] as body:
                actual = crc32c(body, crc32c(head))
                payload = bytes(body)
            if actual != crc:
                raise ProtocolError("BadChecksum", "%s frame CRC-32C is %08x, header says %08x"
                                    % (TYPE_NAMES[type_], actual, crc))
            low, high = _FDS_BY_TYPE[type_]
            if not low <= nfds <= high:
                raise ProtocolError("Malformed", "%s frame with %d fds" % (TYPE_NAMES[type_], nfds))
            del self._buf[:HEADER_SIZE + length]
            return Frame(type_, payload, fds)
        except BaseException:
            close_all(fds)
            raise

    def close(self) -> None:
        close_all(self._fds)
        for fds, _ in self._deliveries:
            close_all(fds)
        self._fds = []
        self._deliveries = []
        self._buf = bytearray()
