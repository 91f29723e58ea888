"""CRC-32C, frame encoding and decoding, header checks, fds with SCM_RIGHTS."""
import os
import socket
import struct
import time
import unittest

import support  # noqa: F401
import aeterna
from aeterna import frames, shared_memory, state as state_transfer  # noqa: F401
from aeterna import ProtocolError


def frame_bytes(type_=frames.READY, payload=b"{}", nfds=0):
    return aeterna.encode_frame(type_, payload, nfds)


def patched(data, offset, value):
    b = bytearray(data)
    b[offset] = value
    return bytes(b)


def with_crc(header12, payload=b""):
    """A frame from a (possibly bad) 12-byte header, with a correct CRC."""
    crc = aeterna.crc32c(payload, aeterna.crc32c(header12))
    return header12 + struct.pack("<I", crc) + payload


class Crc32cTests(unittest.TestCase):
    def test_check_value(self):
        self.assertEqual(aeterna.crc32c(b"123456789"), 0xE3069283)

    def test_rfc3720_vectors(self):
        # iSCSI (RFC 3720, B.4) test vectors.
        self.assertEqual(aeterna.crc32c(bytes(32)), 0x8A9136AA)
        self.assertEqual(aeterna.crc32c(b"\xff" * 32), 0x62A8AB43)
        self.assertEqual(aeterna.crc32c(bytes(range(32))), 0x46DD794E)
        self.assertEqual(aeterna.crc32c(bytes(range(31, -1, -1))), 0x113FDB5C)

    def test_empty_and_incremental(self):
        self.assertEqual(aeterna.crc32c(b""), 0)
        data = os.urandom(1000)
        for cut in (0, 1, 7, 8, 9, 500, 999, 1000):
            self.assertEqual(aeterna.crc32c(data[cut:], aeterna.crc32c(data[:cut])), aeterna.crc32c(data))

    def test_not_zlib_crc32(self):
        import zlib
        self.assertNotEqual(aeterna.crc32c(b"123456789"), zlib.crc32(b"123456789"))

    def test_accepts_memoryview_bytearray_and_odd_lengths(self):
        data = bytes(range(256)) * 3 + b"xyz"
        reference = aeterna.crc32c(data)
        self.assertEqual(aeterna.crc32c(bytearray(data)), reference)
        self.assertEqual(aeterna.crc32c(memoryview(data)), reference)
        # The bytewise definition, for every length from 0 to 40.
        for n in range(41):
            crc = 0xFFFFFFFF
            for b in data[:n]:
                crc ^= b
                for _ in range(8):
                    crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
            self.assertEqual(aeterna.crc32c(data[:n]), crc ^ 0xFFFFFFFF, n)


class FrameTests(unittest.TestCase):
    def setUp(self):
        self.a, self.b = socket.socketpair()
        self.reader = aeterna.FrameReader(self.b)

    def tearDown(self):
        self.reader.close()
        self.a.close()
        self.b.close()

    def read(self, max_length=1 << 20):
        return self.reader.read_frame(max_length, time.monotonic() + 5)

    def test_layout(self):
        data = aeterna.encode_frame(frames.STATUS, b'{"text":"x"}')
        self.assertEqual(data[:4], b"AETR")
        self.assertEqual(data[4:8], bytes([1, frames.STATUS, 0, 0]))
        self.assertEqual(struct.unpack("<I", data[8:12])[0], 12)
        self.assertEqual(struct.unpack("<I", data[12:16])[0], aeterna.crc32c(data[16:], aeterna.crc32c(data[:12])))

    def test_round_trip_of_every_type(self):
        for type_ in frames.TYPE_NAMES:
            if frames.fd_range(type_)[0] > 0:   # types that must carry fds: tested with them
                continue
            payload = os.urandom(type_ * 7)
            self.a.sendall(aeterna.encode_frame(type_, payload))
            frame = self.read()
            self.assertEqual((frame.type, frame.payload, frame.fds), (type_, payload, []))

    def test_frames_split_and_merged_arbitrarily(self):
        encoded = [aeterna.encode_frame(frames.STATE_CHUNK, os.urandom(n)) for n in (0, 1, 100, 70000)]
        stream = b"".join(encoded)
        for i in range(0, len(stream), 977):   # tiny writes
            self.a.sendall(stream[i:i + 977])
        for f in encoded:
            self.assertEqual(self.read().payload, f[16:])

    def test_fds_travel_in_a_queue_in_order(self):
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        aeterna.send_frame(self.a, frames.STATE_REGIONS, b"", [w1])
        aeterna.send_frame(self.a, frames.STATE_CHUNK, b"between")
        aeterna.send_frame(self.a, frames.STATE_REGIONS, b"", [w2, r2])
        f1, f2, f3 = self.read(), self.read(), self.read()
        self.assertEqual(len(f1.fds), 1)
        self.assertEqual(f2.payload, b"between")
        self.assertEqual(len(f3.fds), 2)
        os.write(f1.fds[0], b"one")
        self.assertEqual(os.read(r1, 3), b"one")
        os.write(f3.fds[0], b"two")
        self.assertEqual(os.read(f3.fds[1], 3), b"two")
        for fd in (r1, w1, r2, w2):
            os.close(fd)
        f1.close_fds()
        f3.close_fds()

    def test_64_fds_in_one_frame(self):
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(64)]
        try:
            aeterna.send_frame(self.a, frames.STATE_REGIONS, b"", fds)
            frame = self.read()
            self.assertEqual(len(frame.fds), 64)
            frame.close_fds()
        finally:
            for fd in fds:
                os.close(fd)

    def test_json_payload(self):
        frames.send_json(self.a, frames.STATUS, {"text": "héllo"})
        self.assertEqual(self.read().json(), {"text": "héllo"})
        for bad in (b"", b"[1]", b"\xff\xfe", b"{", b"1" * 10, b"[" * 100000):
            self.a.sendall(aeterna.encode_frame(frames.STATUS, bad))
            with self.assertRaises(ProtocolError) as e:
                self.read().json()
            self.assertEqual(e.exception.code, "Malformed")


class HeaderCheckTests(unittest.TestCase):
    """Every check fails before any of the payload is read: the payload is never even sent."""

    def check(self, data, code, max_length=1 << 20):
        a, b = socket.socketpair()
        reader = aeterna.FrameReader(b)
        try:
            a.sendall(data)   # the peer keeps the stream open: a read past the header would hang
            with self.assertRaises(ProtocolError) as e:
                reader.read_frame(max_length, time.monotonic() + 5)
            self.assertEqual(e.exception.code, code, str(e.exception))
            return e.exception
        finally:
            reader.close()
            a.close()
            b.close()

    def test_bad_magic(self):
        self.check(b"AETX" + frame_bytes()[4:16], "BadMagic")

    def test_wrong_version(self):
        self.check(patched(frame_bytes(), 4, 2)[:16], "WrongVersion")

    def test_unknown_type(self):
        self.check(patched(frame_bytes(), 5, 0x7F)[:16], "UnknownType")

    def test_too_many_fds(self):
        self.check(patched(frame_bytes(), 6, 65)[:16], "TooManyFds")

    def test_reserved_not_zero(self):
        self.check(patched(frame_bytes(), 7, 1)[:16], "Malformed")

    def test_too_large_refused_from_the_header_alone(self):
        header = b"AETR" + bytes([1, frames.STATE_CHUNK, 0, 0]) + struct.pack("<I", 0xFFFFFFFF) + b"\0\0\0\0"
        e = self.check(header, "TooLarge")
        self.assertIn("4294967295", str(e))
        self.check(with_crc(b"AETR" + bytes([1, frames.HELLO, 0, 0]) + struct.pack("<I", 65537), b"x" * 65537)[:16],
                   "TooLarge", max_length=65536)

    def test_at_the_limit_is_fine(self):
        a, b = socket.socketpair()
        reader = aeterna.FrameReader(b)
        a.sendall(aeterna.encode_frame(frames.STATE_CHUNK, b"x" * 1000))
        self.assertEqual(len(reader.read_frame(1000, time.monotonic() + 5).payload), 1000)
        for s in (a, b):
            s.close()

    def test_bad_crc_in_payload_and_in_header(self):
        good = frame_bytes(frames.STATUS, b'{"text":"abc"}')
        self.check(patched(good, 20, good[20] ^ 1), "BadChecksum")
        self.check(patched(good, 12, good[12] ^ 0x80), "BadChecksum")

    def test_fds_announced_but_missing(self):
        self.check(with_crc(b"AETR" + bytes([1, frames.STATE_REGIONS, 1, 0]) + struct.pack("<I", 0)), "Malformed")

    def test_fds_on_a_type_that_carries_none(self):
        a, b = socket.socketpair()
        reader = aeterna.FrameReader(b)
        r, w = os.pipe()
        data = with_crc(b"AETR" + bytes([1, frames.STATUS, 1, 0]) + struct.pack("<I", 2), b"{}")
        a.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", r))])
        with self.assertRaises(ProtocolError) as e:
            reader.read_frame(1 << 20, time.monotonic() + 5)
        self.assertEqual(e.exception.code, "Malformed")
        # The received fd was closed, not leaked: only our own two ends of the pipe remain.
        self.assertEqual(reader._fds, [])
        reader.close()
        for x in (a, b):
            x.close()
        os.close(r)
        os.close(w)

    def test_cut_stream_is_closed(self):
        a, b = socket.socketpair()
        reader = aeterna.FrameReader(b)
        a.sendall(frame_bytes(frames.STATUS, b'{"text":"abc"}')[:-3])
        a.close()
        with self.assertRaises(ProtocolError) as e:
            reader.read_frame(1 << 20, time.monotonic() + 5)
        self.assertEqual(e.exception.code, "Closed")
        b.close()

    def test_deadline(self):
        a, b = socket.socketpair()
        reader = aeterna.FrameReader(b)
        a.sendall(frame_bytes()[:10])
        started = time.monotonic()
        with self.assertRaises(ProtocolError) as e:
            reader.read_frame(1 << 20, time.monotonic() + 0.2)
        self.assertEqual(e.exception.code, "Timeout")
        self.assertLess(time.monotonic() - started, 2)
        for s in (a, b):
            s.close()

    def test_encoder_refuses_what_a_receiver_would(self):
        with self.assertRaises(ValueError):
            aeterna.encode_frame(0x7F)
        with self.assertRaises(ValueError):
            aeterna.encode_frame(frames.STATE_REGIONS, b"", 65)


if __name__ == "__main__":
    unittest.main()
