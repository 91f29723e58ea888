"""CRC-32C: the optional native package and the pure-Python fallback agree."""
import os
import unittest

from aeterna import checksum


class ChecksumTests(unittest.TestCase):
    def test_check_value_of_both_implementations(self):
        self.assertEqual(checksum.crc32c_python(b"123456789"), 0xE3069283)
        self.assertEqual(checksum.crc32c(b"123456789"), 0xE3069283)

    @unittest.skipIf(checksum.crc32c_native is None, "the crc32c package is not installed")
    def test_native_and_python_agree_on_any_length_and_continuation(self):
        self.assertEqual(checksum.IMPLEMENTATION, "crc32c")
        for n in (0, 1, 7, 8, 9, 63, 64, 1000, 65537):
            data = os.urandom(n)
            self.assertEqual(checksum.crc32c_native(data, 0), checksum.crc32c_python(data), n)
            half = n // 2
            self.assertEqual(checksum.crc32c(data[half:], checksum.crc32c(data[:half])),
                             checksum.crc32c_python(data), n)
        view = memoryview(bytearray(range(256)) * 4).cast("I")   # not a byte view
        self.assertEqual(checksum.crc32c(view), checksum.crc32c_python(view))
