"""SharedBuffer: memfd-backed memory that crosses relays by file descriptor (docs/protocol.md,
section 5, regions)."""
from __future__ import annotations

import fcntl
import mmap
import os
from typing import List, NoReturn, Optional, Tuple

from .errors import ProtocolError
from .frames import close_all

__all__ = ["SharedBuffer"]

F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 0x1, 0x2, 0x4, 0x8
F_ADD_SEALS: int = getattr(fcntl, "F_ADD_SEALS", 1033)
F_GET_SEALS: int = getattr(fcntl, "F_GET_SEALS", 1034)
SHM_SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL
REGION_SEALS = F_SEAL_SHRINK | F_SEAL_GROW


class SharedBuffer:
    """A fixed-size block of shared memory (a memfd) that crosses relays without a copy.

    ``SharedBuffer(size, name)`` creates a memfd, sizes it, seals its size (F_SEAL_SHRINK,
    F_SEAL_GROW, F_SEAL_SEAL: nobody can truncate it under a mapping) and maps it shared
    read-write. Put it anywhere in the object :meth:`AeternaClient.load_context` returns: at a
    relay it travels as a *region* (its fd), and the next generation maps the same pages.

    Use ``buf.view`` (a memoryview; ``buf.view.cast("f")`` for float32) fresh for each piece
    of work rather than keeping it: while this generation is frozen the buffer is remapped
    read-only (the next generation owns the pages), and a view taken before that would still
    write. ``buf.writable`` says which it is. :class:`aeterna.SharedTensor` gives a numpy array
    or torch tensor over the same pages.
    """

    def __init__(self, size: int, name: str = "buffer", *, _fd: Optional[int] = None) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError("SharedBuffer size must be a non-negative int, not %r" % (size,))
        if not isinstance(name, str) or not name:
            raise ValueError("SharedBuffer name must be a non-empty string")
        self.name = name
        self.size = size
        self._retired: List[mmap.mmap] = []
        self._map: Optional[mmap.mmap] = None
        self._kept: Optional[mmap.mmap] = None     # the writable mapping, kept while frozen
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
                raise ProtocolError("Malformed", "region %r is not a sealable memfd (%s)"
                                    % (name, e)) from None
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
            close_all([fd])
            raise
        except OSError as e:
            close_all([fd])
            raise ProtocolError("Malformed", "region %r cannot be mapped: %s" % (name, e)) from None

    def _mmap(self, writable: bool) -> Optional[mmap.mmap]:
        if self.size == 0:
            return None
        prot = mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0)
        return mmap.mmap(self._fd, self.size, flags=mmap.MAP_SHARED, prot=prot)

    def protect(self, writable: bool) -> None:
        """Remaps read-only (frozen) or read-write (resumed). Views taken before keep the old
        mapping, which is released once they are gone."""
        if self._fd < 0 or writable == self._writable:
            return
        if not writable:
            # The writable mapping is kept, not unmapped: unmapping a populated GiB takes about
            # 140 ms of kernel CPU here, right while the next generation and the supervisor need
            # the cores to take over. Nothing hands it out while frozen (``view`` maps the new,
            # read-only mapping); RESUME takes it back and close() releases it.
            self._kept, self._map, self._writable = self._map, self._mmap(False), False
            self._retired = [m for m in self._retired if not _try_close(m)]
            return
        new, old = (self._kept, self._map) if self._kept is not None else (self._mmap(True), self._map)
        self._kept, self._map, self._writable = None, new, True
        if old is not None:
            try:
                old.close()
            except BufferError:
                self._retired.append(old)   # a view still uses it; freed when that goes
        self._retired = [m for m in self._retired if not _try_close(m)]

    _protect = protect   # the name earlier versions used

    @property
    def view(self) -> memoryview:
        """A memoryview of the whole buffer (read-only while this generation is frozen)."""
        if self._fd < 0:
            raise ValueError("SharedBuffer %r is closed" % self.name)
        return memoryview(self._map) if self._map is not None else memoryview(b"")

    @property
    def writable(self) -> bool:
        return self._writable and self._fd >= 0

    @property
    def identity(self) -> Tuple[int, int]:
        """``(st_dev, st_ino)`` of the memfd: the same in every generation that maps these pages."""
        st = os.fstat(self._fd)
        return st.st_dev, st.st_ino

    def fileno(self) -> int:
        return self._fd

    def __len__(self) -> int:
        return self.size

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        """Unmaps and closes this process's fd (other generations keep their own). A mapping
        that a view (or a tensor) still uses is unmapped when that view goes."""
        if self._fd < 0:
            return
        for m in [self._map, self._kept] + self._retired:
            if m is not None:
                _try_close(m)
        self._map, self._kept, self._retired = None, None, []
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> "SharedBuffer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> NoReturn:
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
