"""State transfer: the context serialized into one section, its SharedBuffers as regions, and
the transfer stream (docs/protocol.md, section 5)."""
from __future__ import annotations

import fcntl
import io
import json
import mmap
import os
import pickle
import socket
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from . import checksum
from .connection_records import ConnectionRecord, ConnectionTally, decode_records, pack_records
from .errors import ProtocolError
from .frames import (
    CONNECTIONS, DEFAULT_MAX_FRAME, DEFAULT_MAX_STATE, MAX_FDS_PER_FRAME, STATE_BEGIN, STATE_CHUNK,
    STATE_END, STATE_REGIONS, BytesLike, Frame, FrameReader, close_all, send_frame, send_json,
)
from .shared_memory import F_ADD_SEALS, F_GET_SEALS, SHM_SEALS, SharedBuffer
from .tensors import SharedTensor

__all__ = ["export_state", "import_state", "decode_context", "ImportedState",
           "serialize_context", "deserialize_context", "CONTEXT_SECTION"]

CONTEXT_SECTION = "context"
SHM_THRESHOLD = 64 * 1024        # "auto": state of this size and up travels in a sealed memfd
# ... and this size up when the CRC-32C is pure Python (no crc32c package): each pipe chunk is
# checksummed on both sides at about 0.1 ms per KiB each, while a sealed memfd needs no CRC (its
# seals keep it intact); 50 KiB cost 11.4 ms of CPU by pipe and 1.6 ms by shm (bench/run handover --python).
SHM_THRESHOLD_PURE_PYTHON_CRC = 1024
MAX_SECTIONS = 4096
MAX_REGIONS = 4096
_REGION_KEY = "$aeterna_region"
_TENSOR_KEY = "$aeterna_tensor"
_PICKLE_PROTOCOL = min(5, pickle.HIGHEST_PROTOCOL)


class _RegionPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, buffers: List[SharedBuffer]) -> None:
        super().__init__(file, protocol=_PICKLE_PROTOCOL)
        self._buffers = buffers

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, SharedBuffer):
            return ("aeterna.region", _region_index(self._buffers, obj))
        return None


class _RegionUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, buffers: List[SharedBuffer], used: Set[int]) -> None:
        super().__init__(file)
        self._buffers, self._used = buffers, used

    def persistent_load(self, pid: Any) -> Any:
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
    (each replaced by a reference to its region index; a SharedTensor keeps its shape and
    dtype beside it)."""
    buffers: List[SharedBuffer] = []
    if fmt == "pickle":
        out = io.BytesIO()
        _RegionPickler(out, buffers).dump(obj)
        return out.getvalue(), buffers
    if fmt == "json":
        def default(o: Any) -> Any:
            if isinstance(o, SharedBuffer):
                return {_REGION_KEY: _region_index(buffers, o)}
            if isinstance(o, SharedTensor):
                return {_TENSOR_KEY: {"region": _region_index(buffers, o.buffer),
                                      "shape": list(o.shape), "dtype": o.dtype}}
            raise TypeError("%s is not JSON serializable; use format='pickle' or convert it"
                            % type(o).__name__)
        text = json.dumps(obj, default=default, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8"), buffers
    raise ValueError("format must be 'json' or 'pickle', not %r" % (fmt,))


def _json_hook(buffers: List[SharedBuffer], used: Set[int]) -> Callable[[Dict[str, Any]], Any]:
    def region(i: Any) -> SharedBuffer:
        if type(i) is not int or not 0 <= i < len(buffers):
            raise ValueError("bad region reference %r" % (i,))
        used.add(i)
        return buffers[i]

    def hook(d: Dict[str, Any]) -> Any:
        if len(d) == 1 and _REGION_KEY in d:
            return region(d[_REGION_KEY])
        if len(d) == 1 and _TENSOR_KEY in d and isinstance(d[_TENSOR_KEY], dict):
            t = d[_TENSOR_KEY]
            shape = t.get("shape")
            if not isinstance(shape, list) or not all(type(x) is int for x in shape):
                raise ValueError("bad tensor shape %r" % (shape,))
            return SharedTensor(shape, str(t.get("dtype")), buffer=region(t.get("region")))
        return d
    return hook


def deserialize_context(data: BytesLike, fmt: str, buffers: List[SharedBuffer],
                        used: Optional[Set[int]] = None) -> Any:
    """The inverse of :func:`serialize_context`. Raises ProtocolError(StateFormat)."""
    used = set() if used is None else used
    try:
        if fmt == "pickle":
            return _RegionUnpickler(io.BytesIO(data), buffers, used).load()
        if fmt == "json":
            return json.loads(bytes(data).decode("utf-8"), object_hook=_json_hook(buffers, used))
    except Exception as e:   # pickle can raise nearly anything on bad input
        raise ProtocolError("StateFormat", "the %s state cannot be read: %s: %s"
                            % (fmt, type(e).__name__, e)) from None
    raise ProtocolError("StateFormat", "unknown state format %r (this client reads json, pickle)"
                        % (fmt,))


def auto_mechanism(state_bytes: int) -> str:
    """What ``mechanism="auto"`` picks for state of this size: shm from 64 KiB, or from 1 KiB
    when the CRC-32C runs in pure Python."""
    threshold = SHM_THRESHOLD if checksum.crc32c_native is not None else SHM_THRESHOLD_PURE_PYTHON_CRC
    return "shm" if state_bytes >= threshold else "pipe"


def export_state(sock: socket.socket, obj: Any, *, fmt: str = "pickle", mechanism: str = "auto",
                 max_frame_size: int = DEFAULT_MAX_FRAME,
                 deadline: Optional[float] = None,
                 connections: Optional[List[Tuple[ConnectionRecord, int]]] = None) -> Dict[str, Any]:
    """Writes ``obj`` to a transfer socket: STATE_BEGIN, STATE_CHUNKs (pipe) or a sealed memfd
    (shm), STATE_REGIONS with the fds of the SharedBuffers in ``obj``, CONNECTIONS frames with
    ``connections`` (each a record and its socket's fd; the fds stay open), STATE_END. Does not
    close ``sock``. Returns the numbers FROZEN reports plus ``buffers`` (the SharedBuffers sent),
    ``sent`` and ``too_large`` (indexes into ``connections``: a record too large for one frame is
    not sent). Serialization errors raise ProtocolError(StateFormat); a stalled peer
    ProtocolError(Timeout).
    """
    try:
        data, buffers = serialize_context(obj, fmt)
    except ProtocolError:
        raise
    except Exception as e:
        raise ProtocolError("StateFormat", "the state cannot be serialized as %s: %s: %s"
                            % (fmt, type(e).__name__, e)) from None
    if mechanism not in ("pipe", "shm"):
        mechanism = auto_mechanism(len(data))
    connections = connections or []
    # Packed first: STATE_BEGIN announces how many connections follow and their bytes.
    connection_frames, too_large = pack_records([r for r, _ in connections], max(1, max_frame_size))
    sent = [i for _, indexes in connection_frames for i in indexes]
    connection_bytes = sum(len(payload) for payload, _ in connection_frames)
    begin: Dict[str, Any] = {
        "mechanism": mechanism,
        "sections": [{"name": CONTEXT_SECTION, "bytes": len(data), "format": fmt}],
        "regions": [{"name": b.name, "bytes": b.size} for b in buffers],
        "state_bytes": len(data),
    }
    if sent:
        begin.update(connections=len(sent), connection_bytes=connection_bytes)
    fds = [b.fileno() for b in buffers]
    shm_fd = -1

    def timed(fn: Callable[..., None], *args: Any) -> None:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProtocolError("Timeout", "the export passed its deadline")
            sock.settimeout(remaining)
        try:
            fn(sock, *args)
        except socket.timeout:
            raise ProtocolError("Timeout", "the importer did not read the state before the "
                                "deadline") from None
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
        for payload, indexes in connection_frames:
            timed(send_frame, CONNECTIONS, payload, [connections[i][1] for i in indexes])
        end: Dict[str, Any] = {"state_bytes": len(data), "regions": len(buffers)}
        if sent:
            end["connections"] = len(sent)
        timed(send_json, STATE_END, end)
    finally:
        if shm_fd >= 0:
            os.close(shm_fd)
    return {"mechanism": mechanism, "state_bytes": len(data), "regions": len(buffers),
            "region_bytes": sum(b.size for b in buffers), "buffers": buffers,
            "connections": len(sent), "connection_bytes": connection_bytes, "sent": sent,
            "too_large": too_large}


class ImportedState:
    """What :func:`import_state` read and checked: ``sections`` (list of dicts with name,
    bytes, format and data), ``buffers`` (adopted SharedBuffers, in region order),
    ``mechanism``, ``state_bytes``, ``region_bytes``, ``connections`` (the handed connections
    received: each a record and its socket's fd, -1 when the fd limit dropped it; the caller
    owns the fds). ``close()`` releases the buffers, ``close_connections()`` the fds."""

    def __init__(self, mechanism: str, sections: List[Dict[str, Any]],
                 buffers: List[SharedBuffer],
                 connections: Optional[List[Tuple[ConnectionRecord, int]]] = None) -> None:
        self.mechanism = mechanism
        self.sections = sections
        self.buffers = buffers
        self.connections = connections or []
        self.state_bytes: int = sum(s["bytes"] for s in sections)
        self.region_bytes: int = sum(b.size for b in buffers)

    def section(self, name: str) -> Optional[Dict[str, Any]]:
        for s in self.sections:
            if s["name"] == name:
                return s
        return None

    def close(self) -> None:
        for b in self.buffers:
            b.close()

    def close_connections(self) -> None:
        close_all(fd for _, fd in self.connections)
        self.connections = []


def _int_field(obj: Dict[str, Any], key: str, what: str) -> int:
    v = obj.get(key)
    if type(v) is not int or v < 0:
        raise ProtocolError("Malformed", "%s: %r must be a non-negative integer, got %r"
                            % (what, key, v))
    return v


def _check_begin(begin: Dict[str, Any], max_state_size: int
                 ) -> Tuple[str, List[Dict[str, Any]], List[Dict[str, Any]], int]:
    mechanism = begin.get("mechanism")
    if mechanism not in ("pipe", "shm"):
        raise ProtocolError("Malformed", "STATE_BEGIN mechanism %r is neither pipe nor shm"
                            % (mechanism,))
    sections, regions = begin.get("sections"), begin.get("regions", [])
    if not isinstance(sections, list) or not isinstance(regions, list):
        raise ProtocolError("Malformed", "STATE_BEGIN sections and regions must be lists")
    if len(sections) > MAX_SECTIONS or len(regions) > MAX_REGIONS:
        raise ProtocolError("TooLarge", "STATE_BEGIN lists %d sections and %d regions (at most "
                            "%d each)" % (len(sections), len(regions), MAX_SECTIONS))
    state_bytes = _int_field(begin, "state_bytes", "STATE_BEGIN")
    if state_bytes > max_state_size:
        raise ProtocolError("TooLarge", "the state is %d bytes, over max_state_size %d"
                            % (state_bytes, max_state_size))
    checked_sections: List[Dict[str, Any]] = []
    checked_regions: List[Dict[str, Any]] = []
    for s in sections:
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise ProtocolError("Malformed", "STATE_BEGIN section %r has no name" % (s,))
        fmt = s.get("format")
        checked_sections.append({"name": s["name"], "bytes": _int_field(s, "bytes", "section"),
                                 "format": fmt if isinstance(fmt, str) else None})
    total = sum(s["bytes"] for s in checked_sections)
    if total != state_bytes:
        raise ProtocolError("Malformed", "STATE_BEGIN sections add up to %d bytes, state_bytes "
                            "says %d" % (total, state_bytes))
    for r in regions:
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise ProtocolError("Malformed", "STATE_BEGIN region %r has no name" % (r,))
        checked_regions.append({"name": r["name"], "bytes": _int_field(r, "bytes", "region")})
    return str(mechanism), checked_sections, checked_regions, state_bytes


def import_state(sock: socket.socket, *, max_frame_size: int = DEFAULT_MAX_FRAME,
                 max_state_size: int = DEFAULT_MAX_STATE,
                 deadline: Optional[float] = None, connections: bool = False,
                 fd_budget: Optional[int] = None) -> ImportedState:
    """Reads and checks a whole state stream from a transfer socket (does not close it). Nothing
    is applied here; on any failure everything received is released and ProtocolError raised:
    a STATE_BEGIN over ``max_state_size`` is refused before any state byte is read. With
    ``connections`` (IMPORT's), CONNECTIONS frames may follow the regions; their records are
    checked (section 7.2) and returned with their fds. ``fd_budget`` is how many fds this
    process may still take (section 7.3): the regions must fit in it; connections past it
    arrive without their fd (-1)."""
    reader = FrameReader(sock, fd_budget)
    received_fds: List[int] = []
    buffers: List[SharedBuffer] = []
    shm_map: Optional[mmap.mmap] = None
    try:
        def next_frame() -> Frame:
            f = reader.read_frame(max_frame_size, deadline)
            received_fds.extend(f.fds)
            return f

        first = next_frame()
        if first.type != STATE_BEGIN:
            raise ProtocolError("Malformed", "the state stream starts with %s, not STATE_BEGIN"
                                % first.name)
        begin = first.json()
        mechanism, sections, regions, state_bytes = _check_begin(begin, max_state_size)
        tally = ConnectionTally(begin.get("connections", 0), begin.get("connection_bytes", 0))
        if tally.announced and not connections:
            raise ProtocolError("Malformed", "STATE_BEGIN announces %d connections, but this "
                                "transfer was not granted connections" % tally.announced)
        if state_bytes + tally.announced_bytes > max_state_size:
            raise ProtocolError("TooLarge", "the state is %d bytes and its connections %d; the "
                                "limit is %d (max_state_size)"
                                % (state_bytes, tally.announced_bytes, max_state_size))
        handed: List[Tuple[ConnectionRecord, int]] = []

        data: Union[bytearray, mmap.mmap] = bytearray()
        frame = next_frame()
        if mechanism == "pipe":
            chunks = bytearray()
            while frame.type == STATE_CHUNK:
                if len(chunks) + len(frame.payload) > state_bytes:
                    raise ProtocolError("Malformed", "STATE_CHUNKs carry more than the %d bytes "
                                        "announced" % state_bytes)
                chunks += frame.payload
                frame = next_frame()
            if len(chunks) != state_bytes:
                raise ProtocolError("Malformed", "%d of %d state bytes arrived before %s"
                                    % (len(chunks), state_bytes, frame.name))
            data = chunks
        want_fds = (1 if mechanism == "shm" else 0) + len(regions)
        fds: List[int] = []
        while frame.type == STATE_REGIONS:
            if frame.payload:
                raise ProtocolError("Malformed", "STATE_REGIONS has a payload")
            fds.extend(frame.fds)
            if len(fds) > want_fds:
                raise ProtocolError("Malformed", "%d fds arrived, %d announced"
                                    % (len(fds), want_fds))
            frame = next_frame()
        if len(fds) != want_fds:
            raise ProtocolError("Malformed", "%d of %d fds arrived before %s"
                                % (len(fds), want_fds, frame.name))
        while frame.type == CONNECTIONS and connections:
            records = decode_records(frame.payload, len(frame.fds))
            tally.add(records, len(frame.payload))
            for record, fd in zip(records, frame.fds):
                handed.append((record, fd))
            frame = next_frame()
        if frame.type != STATE_END:
            raise ProtocolError("Malformed", "%s where STATE_END was expected" % frame.name)
        end = frame.json()
        tally.finish(end.get("connections", 0))
        if end.get("state_bytes") != state_bytes or end.get("regions") != len(regions):
            raise ProtocolError("Malformed", "STATE_END (%r bytes, %r regions) disagrees with "
                                "STATE_BEGIN (%d bytes, %d regions)"
                                % (end.get("state_bytes"), end.get("regions"), state_bytes,
                                   len(regions)))
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
                raise ProtocolError("Malformed", "the shm state memfd is %d bytes, state_bytes "
                                    "says %d" % (size, state_bytes))
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
        owned = {fd for _, fd in handed if fd >= 0}              # the caller owns these now
        received_fds[:] = [fd for fd in received_fds if fd not in owned]
        return ImportedState(mechanism, sections, buffers, handed)
    except BaseException:
        for b in buffers:
            b.close()
        raise
    finally:
        if shm_map is not None:
            shm_map.close()
        close_all(received_fds)
        reader.close()


def decode_context(state: ImportedState, default_format: str = "pickle",
                   name: str = CONTEXT_SECTION, missing: Any = None) -> Any:
    """The object in section ``name`` of an imported state (``missing`` when there is no such
    section). SharedBuffers nobody references are closed. Raises ProtocolError(StateFormat)."""
    section = state.section(name)
    used: Set[int] = set()
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
