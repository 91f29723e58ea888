"""State transfer over a real socketpair: pipe, shm and regions, and every refusal of section 5."""
import fcntl
import json
import mmap
import os
import socket
import threading
import time
import unittest
import unittest.mock

import support
import aeterna
from aeterna import frames, shared_memory, state as state_transfer  # noqa: F401
from aeterna import ProtocolError, SharedBuffer


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def transfer(obj, fmt="pickle", mechanism="auto", max_frame_size=1 << 20, **import_args):
    """Exports obj on one end of a socketpair (in a thread) and imports it on the other."""
    a, b = socket.socketpair()
    try:
        exported = support.in_thread(aeterna.export_state, a, obj, fmt=fmt, mechanism=mechanism,
                                     max_frame_size=max_frame_size, deadline=time.monotonic() + 10)
        try:
            state = aeterna.import_state(b, max_frame_size=max_frame_size, deadline=time.monotonic() + 10, **import_args)
        finally:
            b.close()
        info = support.result(exported)
        return info, state
    finally:
        a.close()


def raw_stream(stream):
    """A state stream from (type, payload-or-dict, fds) triples, written by a thread."""
    a, b = socket.socketpair()

    def write():
        for type_, payload, fds in stream:
            if isinstance(payload, dict):
                payload = json.dumps(payload).encode()
            aeterna.send_frame(a, type_, payload, fds)
        a.close()
    t = threading.Thread(target=write, daemon=True)
    t.start()
    return b, t


class RoundTripTests(unittest.TestCase):
    def setUp(self):
        self.fds_before = open_fds()

    def tearDown(self):
        leaked = open_fds() - self.fds_before
        self.assertFalse(leaked, "fds leaked: %s" % leaked)

    def roundtrip(self, fmt, mechanism, size):
        history = [{"role": "user", "text": "word %d" % i} for i in range(size)]
        buf = SharedBuffer(4096 * 3, "embeddings")
        buf.view[:8] = b"ABCDEFGH"
        ctx = {"history": history, "emb": buf, "again": buf, "n": 3}
        info, state = transfer(ctx, fmt, mechanism)
        out = aeterna.decode_context(state, fmt)
        self.assertEqual(out["history"], history)
        self.assertEqual(out["n"], 3)
        self.assertIs(out["emb"], out["again"], "one buffer referenced twice is one region")
        self.assertEqual(info["regions"], 1)
        self.assertEqual(info["region_bytes"], 4096 * 3)
        self.assertEqual(state.state_bytes, info["state_bytes"])
        self.assertEqual(bytes(out["emb"].view[:8]), b"ABCDEFGH")
        # Zero copy: the importer maps the same pages.
        out["emb"].view[100:105] = b"later"
        self.assertEqual(bytes(buf.view[100:105]), b"later")
        out["emb"].close()
        buf.close()
        return info

    def test_pickle_by_pipe(self):
        self.assertEqual(self.roundtrip("pickle", "pipe", 10)["mechanism"], "pipe")

    def test_json_by_pipe(self):
        self.assertEqual(self.roundtrip("json", "pipe", 10)["mechanism"], "pipe")

    def test_pickle_by_shm(self):
        self.assertEqual(self.roundtrip("pickle", "shm", 10)["mechanism"], "shm")

    def test_json_by_shm(self):
        self.assertEqual(self.roundtrip("json", "shm", 10)["mechanism"], "shm")

    def test_auto_picks_pipe_for_small_and_shm_for_large_state(self):
        self.assertEqual(self.roundtrip("json", "auto", 10)["mechanism"], "pipe")
        self.assertEqual(self.roundtrip("json", "auto", 5000)["mechanism"], "shm")

    def test_auto_picks_shm_from_1_KiB_when_the_crc_is_pure_python(self):
        # Pipe chunks are checksummed, a sealed memfd is not: without the crc32c package the
        # pure-Python CRC makes the pipe the slow way much sooner.
        with unittest.mock.patch.object(aeterna.checksum, "crc32c_native", None):
            self.assertEqual(state_transfer.auto_mechanism(1023), "pipe")
            self.assertEqual(self.roundtrip("json", "auto", 100)["mechanism"], "shm")
        self.assertEqual(state_transfer.auto_mechanism(1 << 10), "pipe" if aeterna.checksum.crc32c_native else "shm")

    def test_pipe_state_over_several_chunks(self):
        ctx = {"blob": os.urandom(300000)}
        info, state = transfer(ctx, "pickle", "pipe", max_frame_size=65536)
        self.assertEqual(aeterna.decode_context(state)["blob"], ctx["blob"])

    def test_empty_state_and_no_regions(self):
        for mechanism in ("pipe", "shm"):
            info, state = transfer(None, "json", mechanism)
            self.assertIsNone(aeterna.decode_context(state, "json"))
            self.assertEqual(info["regions"], 0)

    def test_more_than_64_regions_take_several_frames(self):
        buffers = [SharedBuffer(4096, "b%d" % i) for i in range(70)]
        for i, b in enumerate(buffers):
            b.view[0] = i
        info, state = transfer({"bufs": buffers}, "pickle", "shm")
        out = aeterna.decode_context(state)["bufs"]
        self.assertEqual([b.view[0] for b in out], list(range(70)))
        self.assertEqual([b.name for b in out], ["b%d" % i for i in range(70)])
        for b in out + buffers:
            b.close()

    def test_zero_size_buffer(self):
        empty = SharedBuffer(0, "empty")
        info, state = transfer({"e": empty}, "json", "pipe")
        out = aeterna.decode_context(state, "json")["e"]
        self.assertEqual(len(out), 0)
        self.assertEqual(bytes(out.view), b"")
        out.close()
        empty.close()

    def test_shm_state_is_sealed_against_any_change(self):
        # Intercept the stream: read the memfd the exporter sent and look at it.
        a, b = socket.socketpair()
        support.result(support.in_thread(aeterna.export_state, a, {"x": "y" * 100000}, fmt="json", mechanism="shm"))
        reader = aeterna.FrameReader(b)
        received = []
        while True:
            try:
                received.append(reader.read_frame(1 << 20, time.monotonic() + 5))
            except ProtocolError:
                break
        regions = [f for f in received if f.type == frames.STATE_REGIONS]
        fd = regions[0].fds[0]
        seals = fcntl.fcntl(fd, shared_memory.F_GET_SEALS)
        self.assertEqual(seals & shared_memory.SHM_SEALS, shared_memory.SHM_SEALS)
        with self.assertRaises(OSError):
            os.write(fd, b"x")
        with self.assertRaises(OSError):
            os.ftruncate(fd, 1)
        with self.assertRaises(OSError):
            mmap.mmap(fd, 100, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        for f in received:
            f.close_fds()
        reader.close()
        a.close()
        b.close()

    def test_region_size_is_sealed(self):
        buf = SharedBuffer(8192, "r")
        with self.assertRaises(OSError):
            os.ftruncate(buf.fileno(), 4096)
        with self.assertRaises(OSError):
            os.ftruncate(buf.fileno(), 16384)
        buf.close()

    def test_frozen_buffer_is_read_only_and_resumes_writable(self):
        buf = SharedBuffer(4096, "r")
        buf._protect(False)
        self.assertFalse(buf.writable)
        with self.assertRaises(TypeError):
            buf.view[0] = 1
        buf._protect(True)
        buf.view[0] = 7
        self.assertEqual(buf.view[0], 7)
        buf.close()

    def test_freezing_keeps_the_writable_mapping_instead_of_unmapping_it(self):
        # Unmapping populated pages at FREEZE costs kernel CPU while the next generation takes
        # over: the writable mapping stays (unreachable) until RESUME or close().
        def mappings(buf):
            ino = os.fstat(buf.fileno()).st_ino
            with open("/proc/self/maps") as f:
                return sorted(p[1] for p in (line.split() for line in f) if len(p) > 4 and int(p[4]) == ino)
        buf = SharedBuffer(1 << 20, "kept")
        buf.view[:] = b"\x05" * (1 << 20)
        other = SharedBuffer.adopt(os.dup(buf.fileno()), "kept", 1 << 20)
        self.assertEqual(mappings(buf), ["rw-s", "rw-s"])
        buf.protect(False)
        self.assertEqual(mappings(buf), ["r--s", "rw-s", "rw-s"])
        self.assertTrue(buf.view.readonly)
        buf.protect(True)
        self.assertEqual(mappings(buf), ["rw-s", "rw-s"])
        buf.view[0] = 9                      # the same pages as the other generation's
        self.assertEqual(other.view[0], 9)
        self.assertEqual(other.view[1], 5)
        buf.protect(False)
        buf.close()
        self.assertEqual(mappings(other), ["rw-s"])
        other.close()

    def test_serialization_errors_name_the_cause(self):
        a, b = socket.socketpair()
        with self.assertRaises(ProtocolError) as e:
            aeterna.export_state(a, {"s": {1, 2}}, fmt="json")
        self.assertEqual(e.exception.code, "StateFormat")
        self.assertIn("set", str(e.exception))
        with self.assertRaises(ProtocolError) as e:
            aeterna.export_state(a, {"f": lambda: 1}, fmt="pickle")
        self.assertEqual(e.exception.code, "StateFormat")
        a.close()
        b.close()

    def test_unknown_sections_are_skipped_and_a_missing_one_gives_the_default(self):
        data = b'{"a":1}'
        b, t = raw_stream([
            (frames.STATE_BEGIN, {"mechanism": "pipe", "sections": [{"name": "Other", "bytes": 3},
                                                                     {"name": "context", "bytes": len(data), "format": "json"}],
                                   "regions": [], "state_bytes": 3 + len(data)}, []),
            (frames.STATE_CHUNK, b"xyz" + data, []),
            (frames.STATE_END, {"state_bytes": 3 + len(data), "regions": 0}, []),
        ])
        state = aeterna.import_state(b, deadline=time.monotonic() + 5)
        self.assertEqual(aeterna.decode_context(state), {"a": 1})
        self.assertEqual(aeterna.decode_context(state, name="nothing", missing="default"), "default")
        t.join()
        b.close()


class RefusalTests(unittest.TestCase):
    """An importer applies nothing and releases everything on any of these."""

    def setUp(self):
        self.fds_before = open_fds()

    def tearDown(self):
        leaked = open_fds() - self.fds_before
        self.assertFalse(leaked, "fds leaked: %s" % leaked)

    def refused(self, stream, code, max_state_size=1 << 30, timeout=5):
        b, t = raw_stream(stream)
        try:
            with self.assertRaises(ProtocolError) as e:
                aeterna.import_state(b, max_state_size=max_state_size, deadline=time.monotonic() + timeout)
            self.assertEqual(e.exception.code, code, str(e.exception))
            return e.exception
        finally:
            b.close()
            t.join()
            for _, _, fds in stream:
                for fd in fds:
                    os.close(fd)

    @staticmethod
    def begin(state_bytes=3, sections=None, regions=(), mechanism="pipe"):
        return (frames.STATE_BEGIN, {"mechanism": mechanism,
                                      "sections": sections if sections is not None else [{"name": "context", "bytes": state_bytes}],
                                      "regions": list(regions), "state_bytes": state_bytes}, [])

    @staticmethod
    def end(state_bytes=3, regions=0):
        return (frames.STATE_END, {"state_bytes": state_bytes, "regions": regions}, [])

    def test_over_max_state_size_before_any_byte(self):
        e = self.refused([self.begin(1 << 20)], "TooLarge", max_state_size=1024)
        self.assertIn("max_state_size", str(e))

    def test_sections_not_adding_up(self):
        self.refused([self.begin(10, sections=[{"name": "context", "bytes": 3}])], "Malformed")

    def test_malformed_begin(self):
        for begin in ({"mechanism": "carrier-pigeon", "sections": [], "state_bytes": 0},
                      {"mechanism": "pipe", "sections": "x", "state_bytes": 0},
                      {"mechanism": "pipe", "sections": [{"bytes": 1}], "state_bytes": 1},
                      {"mechanism": "pipe", "sections": [{"name": "c", "bytes": -1}], "state_bytes": -1},
                      {"mechanism": "pipe", "sections": [{"name": "c", "bytes": 1.5}], "state_bytes": 1.5},
                      {"mechanism": "pipe", "sections": [{"name": "c", "bytes": True}], "state_bytes": True},
                      {"mechanism": "pipe", "sections": [], "regions": [{"name": 3, "bytes": 1}], "state_bytes": 0}):
            self.refused([(frames.STATE_BEGIN, begin, [])], "Malformed")

    def test_not_starting_with_begin(self):
        self.refused([(frames.STATE_CHUNK, b"abc", [])], "Malformed")

    def test_cut_stream(self):
        self.refused([self.begin(), (frames.STATE_CHUNK, b"ab", [])], "Closed")

    def test_more_chunk_bytes_than_announced(self):
        self.refused([self.begin(), (frames.STATE_CHUNK, b"abcd", [])], "Malformed")

    def test_end_disagrees_with_begin(self):
        self.refused([self.begin(), (frames.STATE_CHUNK, b"abc", []), self.end(4)], "Malformed")
        self.refused([self.begin(), (frames.STATE_CHUNK, b"abc", []), self.end(3, regions=1)], "Malformed")

    def test_end_too_early(self):
        self.refused([self.begin(), (frames.STATE_CHUNK, b"ab", []), self.end()], "Malformed")

    def test_bad_chunk_crc(self):
        a, b = socket.socketpair()
        frame = bytearray(aeterna.encode_frame(frames.STATE_CHUNK, b"abc"))
        frame[-1] ^= 0xFF
        frames.send_json(a, frames.STATE_BEGIN, self.begin()[1])
        a.sendall(bytes(frame))
        with self.assertRaises(ProtocolError) as e:
            aeterna.import_state(b, deadline=time.monotonic() + 5)
        self.assertEqual(e.exception.code, "BadChecksum")
        a.close()
        b.close()

    def test_region_without_size_seals(self):
        fd = os.memfd_create("unsealed", os.MFD_ALLOW_SEALING)
        os.ftruncate(fd, 4096)
        self.refused([self.begin(0, sections=[], regions=[{"name": "r", "bytes": 4096}]),
                      (frames.STATE_REGIONS, b"", [fd]), self.end(0, 1)], "Malformed")

    def test_region_that_is_not_a_memfd(self):
        r, w = os.pipe()
        os.close(w)
        self.refused([self.begin(0, sections=[], regions=[{"name": "r", "bytes": 0}]),
                      (frames.STATE_REGIONS, b"", [r]), self.end(0, 1)], "Malformed")

    def test_region_of_the_wrong_size(self):
        buf = SharedBuffer(4096, "r")
        fd = os.dup(buf.fileno())
        buf.close()
        self.refused([self.begin(0, sections=[], regions=[{"name": "r", "bytes": 8192}]),
                      (frames.STATE_REGIONS, b"", [fd]), self.end(0, 1)], "Malformed")

    def test_fewer_region_fds_than_announced(self):
        buf = SharedBuffer(4096, "r")
        fd = os.dup(buf.fileno())
        buf.close()
        self.refused([self.begin(0, sections=[], regions=[{"name": "r", "bytes": 4096}, {"name": "s", "bytes": 4096}]),
                      (frames.STATE_REGIONS, b"", [fd]), self.end(0, 2)], "Malformed")

    def test_shm_state_without_write_seal(self):
        fd = os.memfd_create("state", os.MFD_ALLOW_SEALING)
        os.write(fd, b"abc")
        fcntl.fcntl(fd, shared_memory.F_ADD_SEALS, shared_memory.F_SEAL_SHRINK | shared_memory.F_SEAL_GROW)
        e = self.refused([self.begin(mechanism="shm"), (frames.STATE_REGIONS, b"", [fd]), self.end()], "Malformed")
        self.assertIn("seals", str(e))

    def test_shm_state_of_the_wrong_size(self):
        fd = os.memfd_create("state", os.MFD_ALLOW_SEALING)
        os.write(fd, b"abcdef")
        fcntl.fcntl(fd, shared_memory.F_ADD_SEALS, shared_memory.SHM_SEALS)
        self.refused([self.begin(mechanism="shm"), (frames.STATE_REGIONS, b"", [fd]), self.end()], "Malformed")

    def test_stalled_exporter_times_out(self):
        started = time.monotonic()
        self.refused_open_stream([self.begin()], "Timeout", timeout=0.3)
        self.assertLess(time.monotonic() - started, 3)

    def refused_open_stream(self, stream, code, timeout):
        a, b = socket.socketpair()
        for type_, payload, fds in stream:
            frames.send_json(a, type_, payload, fds)
        with self.assertRaises(ProtocolError) as e:
            aeterna.import_state(b, deadline=time.monotonic() + timeout)
        self.assertEqual(e.exception.code, code)
        a.close()
        b.close()

    def test_undecodable_section_is_a_state_format_error_and_releases_regions(self):
        buf = SharedBuffer(4096, "r")
        fd = os.dup(buf.fileno())
        buf.close()
        b, t = raw_stream([self.begin(3, sections=[{"name": "context", "bytes": 3, "format": "json"}],
                                      regions=[{"name": "r", "bytes": 4096}]),
                           (frames.STATE_CHUNK, b"{{{", []), (frames.STATE_REGIONS, b"", [fd]), self.end(3, 1)])
        state = aeterna.import_state(b, deadline=time.monotonic() + 5)
        with self.assertRaises(ProtocolError) as e:
            aeterna.decode_context(state)
        self.assertEqual(e.exception.code, "StateFormat")
        self.assertTrue(state.buffers[0].closed)
        b.close()
        t.join()
        os.close(fd)


if __name__ == "__main__":
    unittest.main()
