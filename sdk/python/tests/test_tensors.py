"""SharedTensor: numpy and torch views over a SharedBuffer without a copy; shape and dtype cross
a transfer with the pages (the same memfd, by fd), in both state formats."""
import socket
import time
import unittest

import support  # noqa: F401
import aeterna
from aeterna import SharedTensor

try:
    import numpy as np
except ImportError:  # optional
    np = None
try:
    import torch
except ImportError:  # optional
    torch = None


def transfer(obj, fmt):
    a, b = socket.socketpair()
    exported = support.in_thread(aeterna.export_state, a, obj, fmt=fmt, deadline=time.monotonic() + 10)
    state = aeterna.import_state(b, deadline=time.monotonic() + 10)
    info = support.result(exported)
    a.close()
    b.close()
    return aeterna.decode_context(state, fmt), info, state


@unittest.skipIf(np is None, "numpy is not installed")
class NumpyTests(unittest.TestCase):
    def test_the_array_is_a_view_of_the_shared_pages(self):
        t = SharedTensor((4, 8), "float32", "emb")
        a = t.numpy()
        a[2, 3] = 1.5
        self.assertEqual(t.buffer.view.cast("f")[2 * 8 + 3], 1.5)
        self.assertEqual(a.shape, (4, 8))
        self.assertFalse(a.flags.owndata)
        del a
        t.close()

    def test_from_array_copies_once_and_keeps_dtype(self):
        src = np.arange(12, dtype=np.int64).reshape(3, 4)
        t = SharedTensor.from_array(src, "ints")
        self.assertEqual((t.shape, t.dtype, t.nbytes), ((3, 4), "int64", 96))
        self.assertTrue((t.numpy() == src).all())
        t.close()

    def test_shape_dtype_and_pages_cross_a_transfer_in_json_and_pickle(self):
        for fmt in ("json", "pickle"):
            t = SharedTensor((16, 3), "float64", "cache")
            t.numpy()[:] = np.random.default_rng(1).random((16, 3))
            crc, identity = t.checksum(), t.buffer.identity
            out, info, state = transfer({"cache": t, "n": 1}, fmt)
            got = out["cache"]
            self.assertIsInstance(got, SharedTensor)
            self.assertEqual((got.shape, got.dtype, got.checksum()), ((16, 3), "float64", crc))
            self.assertEqual(got.buffer.identity, identity)   # the same memfd: the same pages
            self.assertEqual((info["regions"], info["region_bytes"]), (1, 16 * 3 * 8))
            self.assertLess(info["state_bytes"], 200)          # only shape and dtype are copied
            got.numpy()[0, 0] = 42.0                           # shared, not snapshotted
            self.assertEqual(t.numpy()[0, 0], 42.0)
            got.close()
            t.close()

    def test_bad_shape_or_dtype_is_refused_with_the_reason(self):
        with self.assertRaises(ValueError) as e:
            SharedTensor((2, 2), "float31")
        self.assertIn("unknown dtype", str(e.exception))
        b = aeterna.SharedBuffer(10, "odd")
        with self.assertRaises(ValueError) as e:
            SharedTensor((2, 2), "float32", buffer=b)
        self.assertIn("needs 16", str(e.exception))
        b.close()


@unittest.skipIf(torch is None, "torch is not installed")
class TorchTests(unittest.TestCase):
    def test_the_tensor_is_a_view_of_the_shared_pages(self):
        t = SharedTensor.from_tensor(torch.ones(5, 7, dtype=torch.float16), "half")
        self.assertEqual((t.shape, t.dtype), ((5, 7), "float16"))
        x = t.torch()
        x[1, 1] = 3.0
        self.assertEqual(float(t.torch()[1, 1]), 3.0)
        self.assertEqual(x.dtype, torch.float16)
        del x
        t.close()

    def test_bfloat16_crosses_a_transfer(self):
        t = SharedTensor.from_tensor(torch.linspace(0, 1, 64, dtype=torch.bfloat16).reshape(8, 8), "bf")
        before = t.torch().clone()
        out, _, _ = transfer([t], "pickle")
        self.assertTrue(torch.equal(out[0].torch(), before))
        out[0].close()
        t.close()

    def test_frozen_pages_are_read_only_and_writable_again_after_resume(self):
        t = SharedTensor((4,), "float32", "frozen")
        t.buffer.protect(False)
        view = t.torch()                     # readable while frozen
        self.assertEqual(float(view.sum()), 0.0)
        if np is not None:
            with self.assertRaises(ValueError):  # numpy knows the pages are read-only
                t.numpy()[0] = 1.0
        t.buffer.protect(True)
        t.torch()[0] = 2.0
        self.assertEqual(float(t.torch()[0]), 2.0)
        del view
        t.close()
