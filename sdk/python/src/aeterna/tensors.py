"""SharedTensor: a numpy array or torch tensor over a SharedBuffer, without a copy.

The tensor's bytes are the buffer's pages; its shape and dtype travel with it in the context, its
pages travel by fd (a region). numpy and torch are optional: each view is available when its
package is installed.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

from .checksum import crc32c
from .shared_memory import SharedBuffer

__all__ = ["SharedTensor", "DTYPES"]

# dtype name -> item size. The names are numpy's (torch's bfloat16 has no numpy twin).
DTYPES: Dict[str, int] = {
    "float16": 2, "bfloat16": 2, "float32": 4, "float64": 8,
    "int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8, "bool": 1,
    "complex64": 8, "complex128": 16,
}


class SharedTensor:
    """A tensor whose bytes live in a :class:`SharedBuffer` (row-major, C order).

    ``SharedTensor((8192, 384), "float32", name="embeddings")`` allocates zeroed shared memory;
    :meth:`from_array` and :meth:`from_tensor` copy an existing array or tensor in once.
    :meth:`numpy` and :meth:`torch` return views of the same pages (no copy): take them fresh for
    each piece of work, as with ``SharedBuffer.view``, because a frozen generation's buffer is
    remapped read-only. Put the SharedTensor itself in the context (pickle or JSON format): at a
    relay the next generation gets the same shape, dtype and pages.
    """

    def __init__(self, shape: Sequence[int], dtype: str = "float32", name: str = "tensor", *,
                 buffer: Optional[SharedBuffer] = None) -> None:
        if dtype not in DTYPES:
            raise ValueError("unknown dtype %r; one of %s" % (dtype, ", ".join(sorted(DTYPES))))
        dims = tuple(int(d) for d in shape)
        if any(d < 0 for d in dims):
            raise ValueError("a SharedTensor shape has no negative dimension: %r" % (dims,))
        nbytes = math.prod(dims) * DTYPES[dtype]
        if buffer is None:
            buffer = SharedBuffer(nbytes, name)
        elif buffer.size != nbytes:
            raise ValueError("the buffer %r is %d bytes; shape %r of %s needs %d"
                             % (buffer.name, buffer.size, dims, dtype, nbytes))
        self.shape: Tuple[int, ...] = dims
        self.dtype = dtype
        self.buffer = buffer

    @property
    def name(self) -> str:
        return self.buffer.name

    @property
    def nbytes(self) -> int:
        return self.buffer.size

    @classmethod
    def from_array(cls, array: Any, name: str = "tensor") -> "SharedTensor":
        """A SharedTensor holding a copy of a numpy array."""
        import numpy as np
        a = np.ascontiguousarray(array)
        t = cls(a.shape, str(a.dtype), name)
        if a.size:
            t.numpy()[...] = a
        return t

    @classmethod
    def from_tensor(cls, tensor: Any, name: str = "tensor") -> "SharedTensor":
        """A SharedTensor holding a copy of a torch tensor (moved to the CPU)."""
        src = tensor.detach().to("cpu").contiguous()
        t = cls(tuple(src.shape), str(src.dtype).replace("torch.", ""), name)
        if src.numel():
            t.torch().copy_(src)
        return t

    def numpy(self) -> Any:
        """A numpy array over the shared pages (read-only while this generation is frozen)."""
        import numpy as np
        if self.dtype == "bfloat16":
            raise TypeError("numpy has no bfloat16; use .torch()")
        view = self.buffer.view
        a = np.frombuffer(view, dtype=self.dtype) if len(view) else np.zeros(0, self.dtype)
        return a.reshape(self.shape)

    def torch(self) -> Any:
        """A torch tensor over the shared pages, on the CPU (no copy). While this generation is
        frozen the pages are mapped read-only: do not write to it then."""
        import torch
        dtype = getattr(torch, self.dtype)
        view = self.buffer.view
        if not len(view):
            return torch.zeros(self.shape, dtype=dtype)
        if view.readonly:
            # torch.frombuffer warns about read-only buffers; the frozen contract is ours.
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                flat = torch.frombuffer(view, dtype=dtype)
        else:
            flat = torch.frombuffer(view, dtype=dtype)
        return flat.reshape(self.shape)

    def checksum(self) -> int:
        """CRC-32C of the tensor's bytes (memory speed with the ``crc32c`` package)."""
        with self.buffer.view as v:
            return crc32c(v)

    def close(self) -> None:
        self.buffer.close()

    def __repr__(self) -> str:
        return "SharedTensor(%r, shape=%r, dtype=%s%s)" % (
            self.name, self.shape, self.dtype, "" if self.buffer.writable else ", read-only")
