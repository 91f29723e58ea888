"""Aeterna client for Python: zero-downtime relays with in-memory state.

A single-file, standard-library-only client of the Aeterna protocol (``docs/protocol.md``),
for services run by the ``dotnet aeterna`` supervisor. Python 3.9+, Linux.

The whole API, in the order an app uses it::

    import signal
    from aeterna import AeternaClient, SharedBuffer

    client = AeternaClient()                          # reads AETERNA_*, LISTEN_*, NOTIFY_SOCKET
    listener = client.get_listener_socket("http")     # inherited fd 3.., or binds 0.0.0.0:8080
    state = client.load_context(default=lambda: {"history": [], "vectors": SharedBuffer(1 << 20)})
    client.ready()                                    # READY; accepting starts now (or at COMMIT)
    signal.signal(signal.SIGTERM, lambda *_: client.drain())
    while (accepted := client.accept(listener)) is not None:
        conn, addr = accepted
        ...                                           # serve; wrap state changes in client.work()

- ``load_context()`` returns the state the previous generation handed over (or ``default``
  when there is none: standalone, first start, stateless relay). It is also what gets handed
  over at the next relay, unless you register ``client.on_freeze(provider)``.
- ``client.accept(sock)`` is the *accept gate*: it accepts only while this generation may
  (after READY, or after the supervisor's COMMIT for a generation that takes over state), stops
  at FREEZE and returns ``None`` once ``drain()`` was called.
- ``with client.work() as live:`` marks a request that reads or changes the state. At FREEZE the
  client waits for every such request to finish before it exports; once frozen, ``live`` is
  False and the request must not be served from this generation's state (forward it to the
  listener, where the next generation accepts it, or refuse it).
- ``SharedBuffer(size)`` is a memfd-backed buffer (``.view`` is a memoryview). Put it anywhere in
  the context: it is handed over by file descriptor and the next generation maps the same pages,
  without a copy.

Without ``AETERNA_SOCKET`` the same code runs standalone: ``load_context`` returns the default,
the gate is open, readiness goes to ``NOTIFY_SOCKET`` (sd_notify) when that is set.

Errors are :class:`AeternaError` subclasses whose message names the cause and the fix;
:class:`ProtocolError` carries one of the protocol's error codes in ``.code``.
"""
from __future__ import annotations

import array
import contextlib
import errno
import fcntl
import io
import json
import logging
import mmap
import os
import pickle
import select
import socket
import struct
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "AeternaClient", "SharedBuffer", "AeternaError", "ProtocolError", "RejectedError",
    "HandoverError", "crc32c", "encode_frame", "decode_header", "FrameReader", "send_frame",
    "export_state", "import_state", "decode_context", "sd_notify", "Frame", "ImportedState",
]

__version__ = "0.1.0"
RUNTIME = "aeterna-python/%s (%s %d.%d)" % (
    __version__, sys.implementation.name, sys.version_info[0], sys.version_info[1])

log = logging.getLogger("aeterna")

# ---------------------------------------------------------------------------------------------
# Protocol constants (docs/protocol.md, section 2)
# ---------------------------------------------------------------------------------------------

MAGIC = b"AETR"
FRAME_VERSION = 1
PROTOCOL_VERSION = 1
HEADER_SIZE = 16
MAX_FDS_PER_FRAME = 64
HELLO_MAX = 64 * 1024            # limit for frames before WELCOME told us max_frame_size
DEFAULT_MAX_FRAME = 1 << 20
DEFAULT_MAX_STATE = 1 << 30
DEFAULT_TIMEOUT_MS = 5000
SHM_THRESHOLD = 64 * 1024        # "auto": state of this size and up travels in a sealed memfd
MAX_SECTIONS = 4096
MAX_REGIONS = 4096

HELLO, WELCOME, REJECT, READY, STATUS, HEALTH = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
FREEZE, FROZEN, IMPORT, PREPARED, COMMIT, ACCEPTING, ABORT, RESUME, FAILED = (
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18)
STATE_BEGIN, STATE_CHUNK, STATE_REGIONS, STATE_END = 0x30, 0x31, 0x32, 0x33

TYPE_NAMES = {
    HELLO: "HELLO", WELCOME: "WELCOME", REJECT: "REJECT", READY: "READY", STATUS: "STATUS",
    HEALTH: "HEALTH", FREEZE: "FREEZE", FROZEN: "FROZEN", IMPORT: "IMPORT",
    PREPARED: "PREPARED", COMMIT: "COMMIT", ACCEPTING: "ACCEPTING", ABORT: "ABORT",
    RESUME: "RESUME", FAILED: "FAILED", STATE_BEGIN: "STATE_BEGIN", STATE_CHUNK: "STATE_CHUNK",
    STATE_REGIONS: "STATE_REGIONS", STATE_END: "STATE_END",
}

# How many fds each type must carry: an int, or a (low, high) range.
_FDS_BY_TYPE = {t: 0 for t in TYPE_NAMES}
_FDS_BY_TYPE.update({FREEZE: 1, IMPORT: 1, STATE_REGIONS: (1, MAX_FDS_PER_FRAME)})

_HEADER = struct.Struct("<4sBBBBII")

F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 0x1, 0x2, 0x4, 0x8
F_ADD_SEALS = getattr(fcntl, "F_ADD_SEALS", 1033)
F_GET_SEALS = getattr(fcntl, "F_GET_SEALS", 1034)
SHM_SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL
REGION_SEALS = F_SEAL_SHRINK | F_SEAL_GROW


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

class AeternaError(Exception):
    """Base class of every error this module raises."""


class ProtocolError(AeternaError):
    """A broken stream or hand-over. ``code`` is one of the protocol's error codes
    (docs/protocol.md, section 6): Closed, BadMagic, WrongVersion, UnknownType, TooManyFds,
    TooLarge, BadChecksum, Malformed, StateFormat, Timeout."""

    CODES = ("Closed", "BadMagic", "WrongVersion", "UnknownType", "TooManyFds", "TooLarge",
             "BadChecksum", "Malformed", "StateFormat", "Timeout")

    def __init__(self, code: str, message: str):
        assert code in self.CODES, code
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.detail = message


class RejectedError(AeternaError):
    """The supervisor refused the session (REJECT). ``code`` is its reject code."""

    FIXES = {
        "version": "upgrade the supervisor or this client: they share no protocol version",
        "unknown_token": "AETERNA_TOKEN is not one of this supervisor's generations; start the "
                         "app through `dotnet aeterna start`, and do not copy AETERNA_* into "
                         "other processes",
        "duplicate": "this generation already has a session: create one AeternaClient per "
                     "process",
        "permission_denied": "run the app as the supervisor's user (or root)",
    }

    def __init__(self, code: str, message: str):
        fix = self.FIXES.get(code, "see the supervisor's log")
        super().__init__("the supervisor rejected the session (%s): %s. Fix: %s"
                         % (code, message or "no message", fix))
        self.code = code


class HandoverError(AeternaError):
    """The state hand-over into this generation failed or was aborted; the previous generation
    keeps serving and the supervisor stops this one."""


# ---------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, slicing by 8
# ---------------------------------------------------------------------------------------------

def _crc_tables() -> List[List[int]]:
    base = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        base.append(c)
    tables = [base]
    for _ in range(7):
        prev = tables[-1]
        tables.append([(prev[i] >> 8) ^ base[prev[i] & 0xFF] for i in range(256)])
    return tables


_CRC_TABLES = _crc_tables()
_U32_PAIRS = struct.Struct("<II")


def crc32c(data, crc: int = 0) -> int:
    """CRC-32C of ``data`` (any bytes-like object). Pass a previous result as ``crc`` to
    continue over more data: ``crc32c(b, crc32c(a)) == crc32c(a + b)``.
    ``crc32c(b"123456789") == 0xE3069283``."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _CRC_TABLES
    crc ^= 0xFFFFFFFF
    with memoryview(data) as view, view.cast("B") as mv:
        n = len(mv) & ~7
        if n:
            with mv[:n] as head:
                for lo, hi in _U32_PAIRS.iter_unpack(head):
                    lo ^= crc
                    crc = (t7[lo & 0xFF] ^ t6[(lo >> 8) & 0xFF] ^ t5[(lo >> 16) & 0xFF]
                           ^ t4[lo >> 24] ^ t3[hi & 0xFF] ^ t2[(hi >> 8) & 0xFF]
                           ^ t1[(hi >> 16) & 0xFF] ^ t0[hi >> 24])
        for b in mv[n:]:
            crc = t0[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------------

class Frame:
    """One received frame: ``type``, ``payload`` (bytes) and ``fds`` (the fds it took from the
    queue; the receiver owns them and must close them)."""

    __slots__ = ("type", "payload", "fds")

    def __init__(self, type: int, payload: bytes, fds: Sequence[int] = ()):
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
        _close_all(self.fds)
        self.fds = []

    def __repr__(self) -> str:
        return "Frame(%s, %d bytes, fds=%s)" % (self.name, len(self.payload), self.fds)


def encode_frame(type: int, payload=b"", nfds: int = 0) -> bytes:
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
    return head + struct.pack("<I", crc) + payload


def decode_header(header, max_length: int) -> Tuple[int, int, int, int]:
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


def send_frame(sock: socket.socket, type: int, payload=b"", fds: Sequence[int] = ()) -> None:
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


def parse_json_object(payload, what: str = "payload") -> Dict[str, Any]:
    """A control payload: a UTF-8 JSON object. Anything else is ProtocolError(Malformed)."""
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise ProtocolError("Malformed", "%s payload is not UTF-8 JSON (%s)" % (what, e)) from None
    if not isinstance(obj, dict):
        raise ProtocolError("Malformed", "%s payload is not a JSON object" % what)
    return obj


def _close_all(fds) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class FrameReader:
    """Reads frames from a stream socket with ``recvmsg`` only, keeping received fds in a
    queue in arrival order (docs/protocol.md, section 2). Not thread-safe: one reader per
    socket. ``close()`` closes fds still queued."""

    RECV_SIZE = 256 * 1024
    ANC_SIZE = socket.CMSG_SPACE(253 * 4)   # SCM_MAX_FD

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buf = bytearray()
        self._fds: List[int] = []

    def _fill(self, need: int, deadline: Optional[float]) -> bool:
        """Reads until the buffer holds ``need`` bytes; False at a clean end of stream."""
        while len(self._buf) < need:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProtocolError("Timeout", "no data before the deadline")
                self.sock.settimeout(remaining)
            try:
                data, anc, flags, _ = self.sock.recvmsg(self.RECV_SIZE, self.ANC_SIZE)
            except socket.timeout:
                raise ProtocolError("Timeout", "no data before the deadline") from None
            except InterruptedError:
                continue
            except OSError as e:
                raise ProtocolError("Closed", "reading failed: %s" % e) from None
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
                    self._fds.extend(fds)
            if flags & socket.MSG_CTRUNC:
                raise ProtocolError("TooManyFds", "file descriptors were cut off (MSG_CTRUNC)")
            if not data:
                return False
            self._buf += data
        return True

    def read_frame(self, max_length: int, deadline: Optional[float] = None) -> Frame:
        """The next frame, checked (header before allocation, then the CRC). ``deadline`` is a
        ``time.monotonic()`` instant. Raises ProtocolError; ``Closed`` at the end of stream."""
        if not self._fill(HEADER_SIZE, deadline):
            if self._buf:
                raise ProtocolError("Closed", "the stream ended inside a frame header")
            raise ProtocolError("Closed", "the peer closed the stream")
        type_, nfds, length, crc = decode_header(self._buf[:HEADER_SIZE], max_length)
        if len(self._fds) < nfds:
            raise ProtocolError("Malformed", "%s announces %d fds, %d arrived"
                                % (TYPE_NAMES[type_], nfds, len(self._fds)))
        fds, self._fds = self._fds[:nfds], self._fds[nfds:]
        try:
            if not self._fill(HEADER_SIZE + length, deadline):
                raise ProtocolError("Closed", "the stream was cut inside a %s frame (%d of %d bytes)"
                                    % (TYPE_NAMES[type_], len(self._buf) - HEADER_SIZE, length))
            with memoryview(self._buf) as mv, mv[:12] as head, mv[HEADER_SIZE:HEADER_SIZE + length] as body:
                actual = crc32c(body, crc32c(head))
                payload = bytes(body)
            if actual != crc:
                raise ProtocolError("BadChecksum", "%s frame CRC-32C is %08x, header says %08x"
                                    % (TYPE_NAMES[type_], actual, crc))
            expected = _FDS_BY_TYPE[type_]
            low, high = expected if isinstance(expected, tuple) else (expected, expected)
            if not low <= nfds <= high:
                raise ProtocolError("Malformed", "%s frame with %d fds" % (TYPE_NAMES[type_], nfds))
            del self._buf[:HEADER_SIZE + length]
            return Frame(type_, payload, fds)
        except BaseException:
            _close_all(fds)
            raise

    def close(self) -> None:
        _close_all(self._fds)
        self._fds = []
        self._buf = bytearray()


# ---------------------------------------------------------------------------------------------
# SharedBuffer: memfd-backed memory handed over by fd
# ---------------------------------------------------------------------------------------------

class SharedBuffer:
    """A fixed-size block of shared memory (a memfd) that crosses relays without a copy.

    ``SharedBuffer(size, name)`` creates a memfd, sizes it, seals its size (F_SEAL_SHRINK,
    F_SEAL_GROW, F_SEAL_SEAL: nobody can truncate it under a mapping) and maps it shared
    read-write. Put it anywhere in the object :meth:`AeternaClient.load_context` returns: at a
    relay it travels as a *region* (its fd), and the next generation maps the same pages.

    Use ``buf.view`` (a memoryview; ``buf.view.cast("f")`` for float32) fresh for each piece
    of work rather than keeping it: while this generation is frozen the buffer is remapped
    read-only (the next generation owns the pages), and a view taken before that would still
    write. ``buf.writable`` says which it is.
    """

    def __init__(self, size: int, name: str = "buffer", *, _fd: Optional[int] = None):
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("SharedBuffer size must be a non-negative int, not %r" % (size,))
        if not isinstance(name, str) or not name:
            raise ValueError("SharedBuffer name must be a non-empty string")
        self.name = name
        self.size = size
        self._retired: List[mmap.mmap] = []
        self._map: Optional[mmap.mmap] = None
        if _fd is None:
            fd = os.memfd_create("aeterna:" + name[:200], os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            try:
                os.ftruncate(fd, size)
                fcntl.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
            except BaseException:
                os.close(fd)
                raise
        else:
            fd = _fd
        self._fd = fd
        try:
            self._map = self._mmap(True)
        except BaseException:
            os.close(fd)
            raise
        self._writable = True

    @classmethod
    def adopt(cls, fd: int, name: str, size: int) -> "SharedBuffer":
        """Takes ownership of a region fd received from another generation, after checking it is
        a memfd whose size is sealed and equals ``size``. Raises ProtocolError(Malformed);
        the fd is closed on failure."""
        try:
            try:
                seals = fcntl.fcntl(fd, F_GET_SEALS)
            except OSError as e:
                raise ProtocolError("Malformed", "region %r is not a sealable memfd (%s)" % (name, e)) from None
            if seals & REGION_SEALS != REGION_SEALS:
                raise ProtocolError("Malformed", "region %r is not size-sealed (seals 0x%x, need "
                                    "F_SEAL_SHRINK|F_SEAL_GROW)" % (name, seals))
            if seals & F_SEAL_WRITE:
                raise ProtocolError("Malformed", "region %r is sealed against writes" % name)
            actual = os.fstat(fd).st_size
            if actual != size:
                raise ProtocolError("Malformed", "region %r is %d bytes, STATE_BEGIN says %d"
                                    % (name, actual, size))
            return cls(size, name or "region", _fd=fd)
        except ProtocolError:
            _close_all([fd])
            raise
        except OSError as e:
            _close_all([fd])
            raise ProtocolError("Malformed", "region %r cannot be mapped: %s" % (name, e)) from None

    def _mmap(self, writable: bool) -> Optional[mmap.mmap]:
        if self.size == 0:
            return None
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        return mmap.mmap(self._fd, self.size, flags=mmap.MAP_SHARED, prot=prot)

    def _protect(self, writable: bool) -> None:
        """Remaps read-only (frozen) or read-write (resumed). Views taken before keep the old
        mapping, which is released once they are gone."""
        if self._fd < 0 or writable == self._writable:
            return
        new, old = self._mmap(writable), self._map
        self._map, self._writable = new, writable
        if old is not None:
            try:
                old.close()
            except BufferError:
                self._retired.append(old)   # a view still uses it; freed when that goes
        self._retired = [m for m in self._retired if not _try_close(m)]

    @property
    def view(self) -> memoryview:
        """A memoryview of the whole buffer (read-only while this generation is frozen)."""
        if self._fd < 0:
            raise ValueError("SharedBuffer %r is closed" % self.name)
        return memoryview(self._map) if self._map is not None else memoryview(b"")

    @property
    def writable(self) -> bool:
        return self._writable and self._fd >= 0

    def fileno(self) -> int:
        return self._fd

    def __len__(self) -> int:
        return self.size

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        """Unmaps and closes this process's fd (other generations keep their own)."""
        if self._fd < 0:
            return
        for m in [self._map] + self._retired:
            if m is not None:
                _try_close(m)
        self._map, self._retired = None, []
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> "SharedBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError("a SharedBuffer crosses relays by fd: put it in the context that "
                        "AeternaClient exports, do not pickle it yourself")

    def __repr__(self) -> str:
        return "SharedBuffer(%r, %d bytes%s)" % (self.name, self.size,
                                                 "" if self.writable else ", read-only")


def _try_close(m: mmap.mmap) -> bool:
    try:
        m.close()
        return True
    except BufferError:
        return False


# ---------------------------------------------------------------------------------------------
# State: serialization and the transfer stream (docs/protocol.md, section 5)
# ---------------------------------------------------------------------------------------------

CONTEXT_SECTION = "context"
_REGION_KEY = "$aeterna_region"
_PICKLE_PROTOCOL = min(5, pickle.HIGHEST_PROTOCOL)


class _RegionPickler(pickle.Pickler):
    def __init__(self, file, buffers: List[SharedBuffer]):
        super().__init__(file, protocol=_PICKLE_PROTOCOL)
        self._buffers = buffers

    def persistent_id(self, obj):
        if isinstance(obj, SharedBuffer):
            return ("aeterna.region", _region_index(self._buffers, obj))
        return None


class _RegionUnpickler(pickle.Unpickler):
    def __init__(self, file, buffers: List[SharedBuffer], used: set):
        super().__init__(file)
        self._buffers, self._used = buffers, used

    def persistent_load(self, pid):
        if (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "aeterna.region"
                and type(pid[1]) is int and 0 <= pid[1] < len(self._buffers)):
            self._used.add(pid[1])
            return self._buffers[pid[1]]
        raise pickle.UnpicklingError("unknown persistent id %r" % (pid,))


def _region_index(buffers: List[SharedBuffer], buf: SharedBuffer) -> int:
    if buf.closed:
        raise ValueError("SharedBuffer %r is closed and cannot be handed over" % buf.name)
    for i, b in enumerate(buffers):
        if b is buf:
            return i
    buffers.append(buf)
    return len(buffers) - 1


def serialize_context(obj: Any, fmt: str) -> Tuple[bytes, List[SharedBuffer]]:
    """``obj`` as bytes in ``fmt`` ("pickle" or "json"), and the SharedBuffers it contains
    (each replaced by a reference to its region index)."""
    buffers: List[SharedBuffer] = []
    if fmt == "pickle":
        out = io.BytesIO()
        _RegionPickler(out, buffers).dump(obj)
        return out.getvalue(), buffers
    if fmt == "json":
        def default(o):
            if isinstance(o, SharedBuffer):
                return {_REGION_KEY: _region_index(buffers, o)}
            raise TypeError("%s is not JSON serializable; use format='pickle' or convert it"
                            % type(o).__name__)
        text = json.dumps(obj, default=default, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8"), buffers
    raise ValueError("format must be 'json' or 'pickle', not %r" % (fmt,))


def deserialize_context(data, fmt: str, buffers: List[SharedBuffer], used: Optional[set] = None) -> Any:
    """The inverse of :func:`serialize_context`. Raises ProtocolError(StateFormat)."""
    used = set() if used is None else used
    try:
        if fmt == "pickle":
            return _RegionUnpickler(io.BytesIO(data), buffers, used).load()
        if fmt == "json":
            def hook(d):
                if len(d) == 1 and _REGION_KEY in d:
                    i = d[_REGION_KEY]
                    if type(i) is not int or not 0 <= i < len(buffers):
                        raise ValueError("bad region reference %r" % (i,))
                    used.add(i)
                    return buffers[i]
                return d
            return json.loads(bytes(data).decode("utf-8"), object_hook=hook)
    except Exception as e:   # pickle can raise nearly anything on bad input
        raise ProtocolError("StateFormat", "the %s state cannot be read: %s: %s"
                            % (fmt, type(e).__name__, e)) from None
    raise ProtocolError("StateFormat", "unknown state format %r (this client reads json, pickle)" % (fmt,))


def export_state(sock: socket.socket, obj: Any, *, fmt: str = "pickle", mechanism: str = "auto",
                 max_frame_size: int = DEFAULT_MAX_FRAME, deadline: Optional[float] = None) -> Dict[str, Any]:
    """Writes ``obj`` to a transfer socket: STATE_BEGIN, STATE_CHUNKs (pipe) or a sealed memfd
    (shm), STATE_REGIONS with the fds of the SharedBuffers in ``obj``, STATE_END. Does not
    close ``sock``. Returns the numbers FROZEN reports plus ``buffers`` (the SharedBuffers sent).
    Serialization errors raise ProtocolError(StateFormat); a stalled peer ProtocolError(Timeout).
    """
    try:
        data, buffers = serialize_context(obj, fmt)
    except ProtocolError:
        raise
    except Exception as e:
        raise ProtocolError("StateFormat", "the state cannot be serialized as %s: %s: %s"
                            % (fmt, type(e).__name__, e)) from None
    if mechanism not in ("pipe", "shm"):
        mechanism = "shm" if len(data) >= SHM_THRESHOLD else "pipe"
    begin = {
        "mechanism": mechanism,
        "sections": [{"name": CONTEXT_SECTION, "bytes": len(data), "format": fmt}],
        "regions": [{"name": b.name, "bytes": b.size} for b in buffers],
        "state_bytes": len(data),
    }
    fds = [b.fileno() for b in buffers]
    shm_fd = -1

    def timed(fn, *args):
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError("Timeout", "the export passed its deadline")
            sock.settimeout(remaining)
        try:
            fn(sock, *args)
        except socket.timeout:
            raise ProtocolError("Timeout", "the importer did not read the state before the deadline") from None
        except OSError as e:
            raise ProtocolError("Closed", "the transfer socket broke: %s" % e) from None

    try:
        timed(send_json, STATE_BEGIN, begin)
        if mechanism == "pipe":
            step = max(1, max_frame_size)
            with memoryview(data) as mv:
                for off in range(0, len(data), step):
                    timed(send_frame, STATE_CHUNK, mv[off:off + step])
        else:
            shm_fd = os.memfd_create("aeterna:state", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            with memoryview(data) as mv:
                off = 0
                while off < len(data):
                    off += os.write(shm_fd, mv[off:])
            fcntl.fcntl(shm_fd, F_ADD_SEALS, SHM_SEALS)
            fds = [shm_fd] + fds
        for i in range(0, len(fds), MAX_FDS_PER_FRAME):
            timed(send_frame, STATE_REGIONS, b"", fds[i:i + MAX_FDS_PER_FRAME])
        timed(send_json, STATE_END, {"state_bytes": len(data), "regions": len(buffers)})
    finally:
        if shm_fd >= 0:
            os.close(shm_fd)
    return {"mechanism": mechanism, "state_bytes": len(data), "regions": len(buffers),
            "region_bytes": sum(b.size for b in buffers), "buffers": buffers}


class ImportedState:
    """What :func:`import_state` read and checked: ``sections`` (list of dicts with name,
    bytes, format and data), ``buffers`` (adopted SharedBuffers, in region order),
    ``mechanism``, ``state_bytes``, ``region_bytes``. ``close()`` releases the buffers."""

    def __init__(self, mechanism: str, sections: List[Dict[str, Any]], buffers: List[SharedBuffer]):
        self.mechanism = mechanism
        self.sections = sections
        self.buffers = buffers
        self.state_bytes = sum(s["bytes"] for s in sections)
        self.region_bytes = sum(b.size for b in buffers)

    def section(self, name: str) -> Optional[Dict[str, Any]]:
        for s in self.sections:
            if s["name"] == name:
                return s
        return None

    def close(self) -> None:
        for b in self.buffers:
            b.close()


def _int_field(obj: Dict[str, Any], key: str, what: str) -> int:
    v = obj.get(key)
    if type(v) is not int or v < 0:
        raise ProtocolError("Malformed", "%s: %r must be a non-negative integer, got %r" % (what, key, v))
    return v


def _check_begin(begin: Dict[str, Any], max_state_size: int):
    mechanism = begin.get("mechanism")
    if mechanism not in ("pipe", "shm"):
        raise ProtocolError("Malformed", "STATE_BEGIN mechanism %r is neither pipe nor shm" % (mechanism,))
    sections, regions = begin.get("sections"), begin.get("regions", [])
    if not isinstance(sections, list) or not isinstance(regions, list):
        raise ProtocolError("Malformed", "STATE_BEGIN sections and regions must be lists")
    if len(sections) > MAX_SECTIONS or len(regions) > MAX_REGIONS:
        raise ProtocolError("TooLarge", "STATE_BEGIN lists %d sections and %d regions (at most %d each)"
                            % (len(sections), len(regions), MAX_SECTIONS))
    state_bytes = _int_field(begin, "state_bytes", "STATE_BEGIN")
    if state_bytes > max_state_size:
        raise ProtocolError("TooLarge", "the state is %d bytes, over max_state_size %d"
                            % (state_bytes, max_state_size))
    checked_sections, checked_regions = [], []
    for s in sections:
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise ProtocolError("Malformed", "STATE_BEGIN section %r has no name" % (s,))
        fmt = s.get("format")
        checked_sections.append({"name": s["name"], "bytes": _int_field(s, "bytes", "section"),
                                 "format": fmt if isinstance(fmt, str) else None})
    if sum(s["bytes"] for s in checked_sections) != state_bytes:
        raise ProtocolError("Malformed", "STATE_BEGIN sections add up to %d bytes, state_bytes says %d"
                            % (sum(s["bytes"] for s in checked_sections), state_bytes))
    for r in regions:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise ProtocolError("Malformed", "STATE_BEGIN region %r has no name" % (r,))
        checked_regions.append({"name": r["name"], "bytes": _int_field(r, "bytes", "region")})
    return mechanism, checked_sections, checked_regions, state_bytes


def import_state(sock: socket.socket, *, max_frame_size: int = DEFAULT_MAX_FRAME,
                 max_state_size: int = DEFAULT_MAX_STATE, deadline: Optional[float] = None) -> ImportedState:
    """Reads and checks a whole state stream from a transfer socket (does not close it). Nothing
    is applied here; on any failure everything received is released and ProtocolError raised:
    a STATE_BEGIN over ``max_state_size`` is refused before any state byte is read."""
    reader = FrameReader(sock)
    received_fds: List[int] = []
    buffers: List[SharedBuffer] = []
    shm_map = None
    try:
        def next_frame() -> Frame:
            f = reader.read_frame(max_frame_size, deadline)
            received_fds.extend(f.fds)
            return f

        first = next_frame()
        if first.type != STATE_BEGIN:
            raise ProtocolError("Malformed", "the state stream starts with %s, not STATE_BEGIN" % first.name)
        mechanism, sections, regions, state_bytes = _check_begin(first.json(), max_state_size)

        data = bytearray()
        frame = next_frame()
        if mechanism == "pipe":
            while frame.type == STATE_CHUNK:
                if len(data) + len(frame.payload) > state_bytes:
                    raise ProtocolError("Malformed", "STATE_CHUNKs carry more than the %d bytes announced" % state_bytes)
                data += frame.payload
                frame = next_frame()
            if len(data) != state_bytes:
                raise ProtocolError("Malformed", "%d of %d state bytes arrived before %s"
                                    % (len(data), state_bytes, frame.name))
        want_fds = (1 if mechanism == "shm" else 0) + len(regions)
        fds: List[int] = []
        while frame.type == STATE_REGIONS:
            if frame.payload:
                raise ProtocolError("Malformed", "STATE_REGIONS has a payload")
            fds.extend(frame.fds)
            if len(fds) > want_fds:
                raise ProtocolError("Malformed", "%d fds arrived, %d announced" % (len(fds), want_fds))
            frame = next_frame()
        if len(fds) != want_fds:
            raise ProtocolError("Malformed", "%d of %d fds arrived before %s" % (len(fds), want_fds, frame.name))
        if frame.type != STATE_END:
            raise ProtocolError("Malformed", "%s where STATE_END was expected" % frame.name)
        end = frame.json()
        if end.get("state_bytes") != state_bytes or end.get("regions") != len(regions):
            raise ProtocolError("Malformed", "STATE_END (%r bytes, %r regions) disagrees with STATE_BEGIN "
                                "(%d bytes, %d regions)" % (end.get("state_bytes"), end.get("regions"),
                                                             state_bytes, len(regions)))
        if mechanism == "shm":
            shm_fd = fds.pop(0)
            try:
                seals = fcntl.fcntl(shm_fd, F_GET_SEALS)
            except OSError as e:
                raise ProtocolError("Malformed", "the shm state fd is not a memfd (%s)" % e) from None
            if seals & SHM_SEALS != SHM_SEALS:
                raise ProtocolError("Malformed", "the shm state memfd has seals 0x%x, needs "
                                    "SHRINK|GROW|WRITE|SEAL (0x%x)" % (seals, SHM_SEALS))
            size = os.fstat(shm_fd).st_size
            if size != state_bytes:
                raise ProtocolError("Malformed", "the shm state memfd is %d bytes, state_bytes says %d"
                                    % (size, state_bytes))
            if size:
                shm_map = mmap.mmap(shm_fd, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
                data = shm_map
        for fd, r in zip(fds, regions):
            received_fds.remove(fd)          # adopt() owns it now, and closes it on failure
            buffers.append(SharedBuffer.adopt(fd, r["name"], r["bytes"]))
        off = 0
        for s in sections:
            s["data"] = bytes(data[off:off + s["bytes"]])
            off += s["bytes"]
        return ImportedState(mechanism, sections, buffers)
    except BaseException:
        for b in buffers:
            b.close()
        raise
    finally:
        if shm_map is not None:
            shm_map.close()
        _close_all(received_fds)
        reader.close()


def decode_context(state: ImportedState, default_format: str = "pickle", name: str = CONTEXT_SECTION,
                   missing: Any = None) -> Any:
    """The object in section ``name`` of an imported state (``missing`` when there is no such
    section). SharedBuffers nobody references are closed. Raises ProtocolError(StateFormat)."""
    section = state.section(name)
    used: set = set()
    try:
        if section is None:
            obj = missing
        else:
            obj = deserialize_context(section["data"], section.get("format") or default_format,
                                      state.buffers, used)
    except BaseException:
        state.close()
        raise
    for i, b in enumerate(state.buffers):
        if i not in used:
            b.close()
    return obj


# ---------------------------------------------------------------------------------------------
# sd_notify
# ---------------------------------------------------------------------------------------------

def sd_notify(message: str, path: Optional[str] = None) -> bool:
    """Sends one sd_notify datagram (``READY=1``, ``STATUS=...``, ``STOPPING=1``,
    ``WATCHDOG=1``) to ``path`` or ``$NOTIFY_SOCKET``. False when there is no socket."""
    path = path or os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.connect(address)
        s.send(message.encode("utf-8"))
    return True


# ---------------------------------------------------------------------------------------------
# The accept gate
# ---------------------------------------------------------------------------------------------

class _AcceptGate:
    """Decides when ``accept`` may take connections. ``close()`` is the instant accepting
    stops (no accept starts after it returns); ``open()`` lets accept loops run again and calls
    back once one actually runs (for ACCEPTING); ``shut()`` ends every accept loop for good and
    is safe to call from a signal handler."""

    def __init__(self, is_open: bool):
        self._cond = threading.Condition(threading.Lock())
        self._open = is_open
        self._shut = False
        self._armed = False                        # an accept loop has run
        self._on_running: Optional[Callable[[int], None]] = None
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def is_open(self) -> bool:
        return self._open and not self._shut

    def open(self, on_running: Optional[Callable[[int], None]] = None) -> None:
        run_now = None
        with self._cond:
            self._open = True
            if on_running is not None:
                if self._armed:
                    run_now = time.monotonic_ns()
                else:
                    self._on_running = on_running
            self._cond.notify_all()
        if run_now is not None:
            on_running(run_now)

    def close(self) -> int:
        with self._cond:
            self._open = False
            return time.monotonic_ns()

    def shut(self) -> None:
        self._shut = True
        try:
            os.write(self._wake_w, b"x")          # level-triggered: never drained
        except OSError:
            pass
        if self._cond.acquire(blocking=False):    # never blocks: safe in a signal handler
            try:
                self._cond.notify_all()
            finally:
                self._cond.release()

    def accept(self, sock: socket.socket):
        if sock.gettimeout() != 0.0:
            sock.setblocking(False)
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            if self._shut:
                return None
            callback, now = None, 0
            with self._cond:
                self._armed = True
                if not self._open:
                    self._cond.wait(0.25)
                    continue
                if self._on_running is not None:
                    callback, self._on_running, now = self._on_running, None, time.monotonic_ns()
            if callback is not None:
                callback(now)
            try:
                poller.poll()
            except InterruptedError:
                pass
            if self._shut:
                return None
            with self._cond:
                if not self._open:
                    continue
                try:
                    conn, addr = sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue                       # another process took it
                except OSError as e:
                    if e.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                        continue
                    if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        log.error("accept: %s; retrying in 100 ms", e)
                        time.sleep(0.1)
                        continue
                    raise
            conn.setblocking(True)
            return conn, addr


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------

_TOKEN_CACHE: Dict[str, str] = {}


class AeternaClient:
    """This generation's side of the Aeterna protocol.

    ``AeternaClient(format="pickle", mechanism=None)``: ``format`` is how the context is
    serialized at a relay (``"pickle"`` for any picklable object, ``"json"`` for plain data);
    ``mechanism`` (``"pipe"`` or ``"shm"``) is how the serialized bytes travel when the
    supervisor leaves the choice to the app (``state_handoff.mechanism: auto``, the default);
    left at None, ``auto`` means shm from 64 KiB up. An explicit ``pipe`` or ``shm`` in the
    supervisor's config wins. ``environ`` replaces ``os.environ`` (for tests).

    The session with the supervisor opens on the first call that needs it (``load_context``,
    ``ready``, ``status``, ``health``, or ``connect``) and then runs on a daemon thread. App
    callbacks (``on_freeze``, ``on_import``) run on that thread.
    """

    def __init__(self, *, format: str = "pickle", mechanism: Optional[str] = None,
                 environ: Optional[Dict[str, str]] = None):
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
        self._gate = _AcceptGate(is_open=self.socket_path is None)

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
                send_json(sock, HELLO, {
                    "versions": [PROTOCOL_VERSION, PROTOCOL_VERSION], "token": self._token,
                    "pid": os.getpid(), "runtime": RUNTIME, "stateful": self._stateful,
                    "state_types": [CONTEXT_SECTION] if self._stateful else [], "schema": None,
                })
                reader = FrameReader(sock)
                frame = reader.read_frame(HELLO_MAX, time.monotonic() + 10)
                frame.close_fds()
                if frame.type == REJECT:
                    body = _json_or_empty(frame.payload)
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
                    raise HandoverError("no state within %.1f s" % timeout)
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
    def work(self):
        """``with client.work() as live:`` around a request that reads or changes the state.
        FREEZE waits for every such block to end before exporting. ``live`` is False once this
        generation is frozen: then do not touch the state; forward the request to the next
        generation (connect to the listener's address) or refuse it."""
        with self._work:
            live = not self._frozen
            if live:
                self._in_flight += 1
        try:
            yield live
        finally:
            if live:
                with self._work:
                    self._in_flight -= 1
                    if self._in_flight == 0:
                        self._work.notify_all()

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

    def accept(self, sock: socket.socket):
        """Accepts one connection from ``sock`` when this generation may: blocks while the gate
        is closed (before READY/COMMIT, and while frozen). Returns ``(conn, address)``, or None
        once :meth:`drain` was called. Calls :meth:`ready` first if the app has not. Several
        threads may accept at once. The listener is made non-blocking."""
        if not self._ready_sent:
            self.ready()
        return self._gate.accept(sock)

    def serve(self, server, sock: Optional[socket.socket] = None) -> None:
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
        try:
            while True:
                frame = self._reader.read_frame(self._limit("max_frame_size", DEFAULT_MAX_FRAME))
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
            self._reader.close()
            try:
                self._session.close()
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
                b._protect(True)
            self._exported = []
            log.warning("aeterna: resuming: %s", msg.get("reason", "the relay failed"))
            self._start_accepting(msg.get("transfer"))
        elif frame.type == ABORT:
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
        self._gate.open(lambda ns: self._send(ACCEPTING, {"transfer": transfer, "accepting_ns": ns}))

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
            t1 = time.monotonic()
            try:
                obj = self._provider() if self._provider is not None else self._context
            except Exception as e:
                raise ProtocolError("StateFormat", "the on_freeze provider raised %s: %s"
                                    % (type(e).__name__, e)) from None
            mechanism = msg.get("mechanism") if msg.get("mechanism") in ("pipe", "shm") else (self.mechanism or "auto")
            info = export_state(transfer_sock, obj, fmt=self.format, mechanism=mechanism,
                                max_frame_size=self._limit("max_frame_size", DEFAULT_MAX_FRAME),
                                deadline=deadline)
        except ProtocolError as e:
            transfer_sock.close()
            self._fail(transfer, e)        # stay frozen: the supervisor answers with RESUME
            return
        transfer_sock.close()
        self._exported = info.pop("buffers")
        self._send(FROZEN, dict(info, transfer=transfer, stopped_accepting_ns=stopped_ns,
                                quiesce_ms=round((t1 - t0) * 1000, 3),
                                export_ms=round((time.monotonic() - t1) * 1000, 3)))
        # The next generation owns these pages now. Protected after FROZEN, not before: it costs
        # about 30 ms per GiB, which would otherwise be spent while new connections wait.
        for b in self._exported:
            b._protect(False)

    def _handle_import(self, msg: Dict[str, Any], transfer_sock: socket.socket) -> None:
        transfer = msg.get("transfer")
        t0 = time.monotonic()
        deadline = t0 + self._limit("timeout_ms", DEFAULT_TIMEOUT_MS) / 1000.0
        handback = self._frozen
        try:
            if not handback and (self._imported.is_set() or not self.expect_state):
                transfer_sock.close()
                raise ProtocolError("Malformed", "IMPORT to a generation that serves from its own "
                                    "state (not frozen, not waiting for state)")
            try:
                state = import_state(transfer_sock, max_frame_size=self._limit("max_frame_size", DEFAULT_MAX_FRAME),
                                     max_state_size=self._limit("max_state_size", DEFAULT_MAX_STATE),
                                     deadline=deadline)
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
            else:
                self._context = None if context is missing else context
                self._imported.set()
        except ProtocolError as e:
            self._fail(transfer, e)
            if not handback:
                self._import_error = HandoverError("the state from generation %s could not be "
                                                   "imported: %s" % (msg.get("from_generation"), e))
            return
        self._send(PREPARED, {"transfer": transfer, "import_ms": round((time.monotonic() - t0) * 1000, 3),
                              "state_bytes": state.state_bytes, "regions": len(state.buffers)})

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
        _close_all([fd])
        raise ProtocolError("Malformed", "the transfer fd is not a socket") from None


def _json_or_empty(payload: bytes) -> Dict[str, Any]:
    try:
        return parse_json_object(payload)
    except ProtocolError:
        return {}


def _env_int(env, key: str, default: int) -> int:
    try:
        return int(env.get(key, ""))
    except ValueError:
        return default
