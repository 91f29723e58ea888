"""CRC-32C (Castagnoli), the checksum of every frame (docs/protocol.md, section 2).

The ``crc32c`` package (Debian: python3-crc32c) computes it at memory speed and is used when it is
installed; otherwise a table-driven pure-Python version (slicing by 8) does, about 70 times
slower (``bench/run handover --python`` measures both). ``IMPLEMENTATION`` says which one runs.
"""
from __future__ import annotations

import struct
from typing import Callable, List, Optional

__all__ = ["crc32c", "crc32c_python", "crc32c_native", "IMPLEMENTATION"]



def _tables() -> List[List[int]]:
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


_TABLES = _tables()
_U32_PAIRS = struct.Struct("<II")


def crc32c_python(data: "bytes | bytearray | memoryview", crc: int = 0) -> int:
    """CRC-32C in pure Python: the same results as :func:`crc32c`."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _TABLES
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


def _load_native() -> Optional[Callable[["bytes | bytearray | memoryview", int], int]]:
    try:
        import crc32c as native  # optional: python3-crc32c
    except ImportError:
        return None
    fn: Callable[..., int] = native.crc32c
    if fn(b"123456789", 0) != 0xE3069283:   # a different package of the same name
        return None

    def native_crc32c(data: "bytes | bytearray | memoryview", crc: int = 0) -> int:
        with memoryview(data) as view, view.cast("B") as mv:
            return fn(mv, crc)
    return native_crc32c


crc32c_native = _load_native()
"""The ``crc32c`` package's implementation, or None when it is not installed."""

IMPLEMENTATION = "crc32c" if crc32c_native is not None else "python"


def crc32c(data: "bytes | bytearray | memoryview", crc: int = 0) -> int:
    """CRC-32C of ``data`` (any bytes-like object). Pass a previous result as ``crc`` to
    continue over more data: ``crc32c(b, crc32c(a)) == crc32c(a + b)``.
    ``crc32c(b"123456789") == 0xE3069283``."""
    if crc32c_native is not None:
        return crc32c_native(data, crc)
    return crc32c_python(data, crc)
