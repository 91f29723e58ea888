"""Connections handed over (docs/protocol.md, section 7): the record codec and every check of
7.2, the fd limit of 7.3 against the real kernel (CMSG_LEN, MSG_CTRUNC, RLIMIT_NOFILE), the
CONNECTIONS frames of a state transfer, and raw endpoints through FREEZE, IMPORT, COMMIT,
RELEASE, RESUME and the drain, with real TCP clients; the supervisor's side is support.Peer."""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import termios
import textwrap
import threading
import time
import unittest

import support
import aeterna
from aeterna import connection_records as records, fd_limit, frames
from aeterna import AeternaClient, ConnectionRecord, ProtocolError, RawEndpoint
from aeterna.handed import HandedConnections

RAW = records.KIND_RAW


def record_bytes(id_=1, kind=RAW, name=b"counter", read_ahead=b"", framing=b"", session=b"", reserved=0):
    return (struct.pack("<QBBHIII", id_, kind, len(name), reserved, len(read_ahead), len(framing), len(session))
            + name + read_ahead + framing + session)


class RecordCodecTests(unittest.TestCase):
    def test_layout_is_the_protocols(self):
        r = ConnectionRecord(0x0102030405060708, RAW, "counter", b"ab", b"", b"\x07" * 8)
        encoded = aeterna.encode_record(r)
        self.assertEqual(encoded, bytes.fromhex("0807060504030201" "01" "07" "0000" "02000000" "00000000" "08000000")
                         + b"counter" + b"ab" + b"\x07" * 8)
        self.assertEqual(records.encoded_length(r), len(encoded))

    def test_round_trip_of_several_records(self):
        rs = [ConnectionRecord(1, RAW, "counter"),
              ConnectionRecord(2**64 - 1, 7, "/sessions/{id}/ws", b"x" * 1000, b"\x01\x00\x00\x00", b"s"),
              ConnectionRecord(3, records.KIND_WEBSOCKET, "é" * 127, b"", b"f", b"\x00" * 300)]
        payload = b"".join(aeterna.encode_record(r) for r in rs)
        self.assertEqual(aeterna.decode_records(payload, 3), rs)

    def test_every_check_of_a_frame(self):
        good = record_bytes()
        cases = {
            "no file descriptor": (good, 0),
            "holds 0 complete records": (good[:23], 1),
            "holds 1 complete records": (good + good[:10], 2),
            "reserved bytes": (record_bytes(reserved=1), 1),
            "empty endpoint name": (record_bytes(name=b""), 1),
            "needs 39 bytes": (record_bytes(session=b"12345678")[:-1], 1),
            "not valid UTF-8": (record_bytes(name=b"\xff\xfe"), 1),
            "bytes after its 1 records": (good + b"!", 1),
        }
        for expected, (payload, nfds) in cases.items():
            with self.subTest(expected):
                with self.assertRaises(ProtocolError) as e:
                    aeterna.decode_records(payload, nfds)
                self.assertEqual(e.exception.code, "Malformed")
                self.assertIn(expected, str(e.exception))

    def test_a_length_that_runs_past_the_payload_allocates_nothing_of_it(self):
        huge = struct.pack("<QBBHIII", 1, RAW, 1, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + b"n"
        with self.assertRaises(ProtocolError) as e:
            aeterna.decode_records(huge, 1)
        self.assertIn("are left in its frame", str(e.exception))

    def test_an_unknown_kind_is_not_a_decoding_error(self):
        self.assertEqual(aeterna.decode_records(record_bytes(kind=200), 1)[0].kind, 200)

    def test_the_encoder_refuses_what_a_receiver_would(self):
        for bad in (ConnectionRecord(1, RAW, ""), ConnectionRecord(1, RAW, "x" * 256),
                    ConnectionRecord(-1, RAW, "a"), ConnectionRecord(2**64, RAW, "a"),
                    ConnectionRecord(1, 256, "a")):
            with self.subTest(bad[:3]), self.assertRaises(ValueError):
                aeterna.encode_record(bad)
        with self.assertRaises(UnicodeEncodeError):
            aeterna.encode_record(ConnectionRecord(1, RAW, "\ud800"))

    def test_packing_keeps_64_records_and_max_frame_size_per_frame_in_order(self):
        rs = [ConnectionRecord(i, RAW, "e", session=b"s" * (i % 7)) for i in range(200)]
        frames_, too_large = records.pack_records(rs, 1 << 20)
        self.assertEqual([len(ix) for _, ix in frames_], [64, 64, 64, 8])
        self.assertEqual([i for _, ix in frames_ for i in ix], list(range(200)))
        self.assertEqual(too_large, [])
        for payload, ix in frames_:
            self.assertEqual(aeterna.decode_records(payload, len(ix)), [rs[i] for i in ix])

        rs = [ConnectionRecord(1, RAW, "e", b"a" * 40), ConnectionRecord(2, RAW, "e", b"b" * 500),
              ConnectionRecord(3, RAW, "e", b"c" * 40), ConnectionRecord(4, RAW, "e", b"d" * 40)]
        frames_, too_large = records.pack_records(rs, 140)
        self.assertEqual(too_large, [1])                      # fits no frame: kept by the exporter
        self.assertEqual([ix for _, ix in frames_], [[0, 2], [3]])
        self.assertTrue(all(len(p) <= 140 for p, _ in frames_))


class TallyTests(unittest.TestCase):
    def test_what_state_begin_announces_is_checked_before_anything_is_received(self):
        with self.assertRaises(ProtocolError) as e:
            records.ConnectionTally(records.MAX_CONNECTIONS + 1, 0)
        self.assertEqual(e.exception.code, "TooLarge")
        for announced, nbytes in ((-1, 0), (0, 10), (1.5, 0), ("3", 0)):
            with self.subTest(announced=announced, nbytes=nbytes), self.assertRaises(ProtocolError) as e:
                records.ConnectionTally(announced, nbytes)
            self.assertEqual(e.exception.code, "Malformed")

    def test_records_and_bytes_must_add_up_and_ids_not_repeat(self):
        a, b = ConnectionRecord(1, RAW, "e"), ConnectionRecord(2, RAW, "e")
        t = records.ConnectionTally(2, 64)
        t.add([a], 32)
        with self.assertRaisesRegex(ProtocolError, "came twice"):
            t.add([a], 32)
        t = records.ConnectionTally(1, 64)
        with self.assertRaisesRegex(ProtocolError, "more than the 1 connections"):
            t.add([a, b], 64)
        t = records.ConnectionTally(2, 40)
        with self.assertRaisesRegex(ProtocolError, "more than the 40 bytes"):
            t.add([a, b], 64)
        t = records.ConnectionTally(2, 64)
        t.add([a], 32)
        with self.assertRaisesRegex(ProtocolError, "1 connections of 32 bytes arrived"):
            t.finish(2)
        t.add([b], 32)
        with self.assertRaisesRegex(ProtocolError, "STATE_END says 3"):
            t.finish(3)
        t.finish(2)


class FdLimitTests(unittest.TestCase):
    def test_the_control_buffer_admits_exactly_k_fds(self):
        self.assertEqual(fd_limit.control_buffer_size(0), 0)
        for k in (1, 2, 3, 63, 64):
            self.assertEqual(fd_limit.control_buffer_size(k), socket.CMSG_LEN(4 * k))
        self.assertLess(fd_limit.control_buffer_size(1), socket.CMSG_SPACE(4))   # SPACE would admit 2

    def test_available_fds_is_the_raised_soft_limit_minus_open_fds_minus_the_reserve(self):
        # A child with soft 150, hard 200: the limit is raised to 200 first.
        code = textwrap.dedent("""
            import os, resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (150, 200))
            from aeterna import fd_limit
            first = fd_limit.available_fds(64)
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            extra = [os.open("/dev/null", os.O_RDONLY) for _ in range(10)]
            print(first, soft, fd_limit.available_fds(64), fd_limit.open_fds(), fd_limit.available_fds(10 ** 6))
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True).stdout
        first, soft, after, open_now, none = map(int, out.split())
        self.assertEqual(soft, 200)
        self.assertEqual(after, first - 10)
        self.assertEqual(after, 200 - open_now - 64)
        self.assertEqual(none, 0)

    def sockets(self, n):
        pairs = [socket.socketpair() for _ in range(n)]
        self.addCleanup(lambda: [s.close() for p in pairs for s in p])
        return pairs

    def test_a_connections_frame_past_the_budget_arrives_short_and_the_stream_goes_on(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        pairs = self.sockets(5)
        rs = [ConnectionRecord(i, RAW, "e") for i in range(5)]
        frames.send_frame(a, frames.CONNECTIONS, b"".join(map(aeterna.encode_record, rs[:3])), [p[0].fileno() for p in pairs[:3]])
        frames.send_frame(a, frames.CONNECTIONS, b"".join(map(aeterna.encode_record, rs[3:])), [p[0].fileno() for p in pairs[3:]])
        frames.send_json(a, frames.STATE_END, {"state_bytes": 0})
        reader = aeterna.FrameReader(b, fd_budget=2)
        first = reader.read_frame(1 << 20, time.monotonic() + 5)
        self.assertEqual(len(first.fds), 3)
        self.assertEqual(first.fds[2], -1)                     # dropped by the kernel (MSG_CTRUNC)
        os.write(first.fds[0], b"0")
        self.assertEqual(pairs[0][1].recv(1), b"0")           # a real fd of the same socket
        second = reader.read_frame(1 << 20, time.monotonic() + 5)
        self.assertEqual(second.fds, [-1, -1])                 # the budget is spent: no room at all
        self.assertEqual(reader.read_frame(1 << 20, time.monotonic() + 5).type, frames.STATE_END)
        first.close_fds()
        self.assertEqual(reader.fd_budget, 0)

    def test_regions_past_the_budget_are_a_broken_stream(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        pairs = self.sockets(3)
        frames.send_frame(a, frames.STATE_REGIONS, b"", [p[0].fileno() for p in pairs])
        reader = aeterna.FrameReader(b, fd_budget=2)
        with self.assertRaisesRegex(ProtocolError, "dropped at this process's fd limit") as e:
            reader.read_frame(1 << 20, time.monotonic() + 5)
        self.assertEqual(e.exception.code, "Malformed")

    def test_the_kernels_rlimit_cuts_a_frame_short_like_the_budget(self):
        # A child at RLIMIT_NOFILE: the kernel itself installs what fits and sets MSG_CTRUNC.
        code = textwrap.dedent("""
            import os, resource, socket, time, aeterna
            from aeterna import frames, ConnectionRecord
            a, b = socket.socketpair()
            pairs = [socket.socketpair() for _ in range(6)]
            frames.send_frame(a, frames.CONNECTIONS,
                              b"".join(aeterna.encode_record(ConnectionRecord(i, 1, "e")) for i in range(6)),
                              [p[0].fileno() for p in pairs])
            for p in pairs: p[0].close()
            opened = len(os.listdir("/proc/self/fd")) - 1
            resource.setrlimit(resource.RLIMIT_NOFILE, (opened + 4, opened + 4))
            frame = aeterna.FrameReader(b, fd_budget=64).read_frame(1 << 20, time.monotonic() + 5)
            print(sum(1 for fd in frame.fds if fd >= 0), len(frame.fds))
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        arrived, announced = map(int, out.stdout.split())
        self.assertEqual(announced, 6)
        self.assertTrue(0 < arrived < 6, out.stdout)


class StagingTests(unittest.TestCase):
    """The importer's decision on each connection (section 7.4), with real sockets."""

    def test_each_refusal_names_its_reason_and_closes_the_fd_at_once(self):
        class Picky(Echo):
            def accepts_session(self, session):
                if session == b"boom":
                    raise ValueError("not a turn count")
                return session != b"no"

        handed = HandedConnections()
        handed.endpoints["echo"] = Picky(b"i")
        pairs = [socket.socketpair() for _ in range(8)]
        self.addCleanup(lambda: [s.close() for p in pairs for s in p])
        null = os.open("/dev/null", os.O_RDONLY)
        cases = [
            (ConnectionRecord(1, RAW, "echo", b"r", b"", b"7"), os.dup(pairs[0][0].fileno()), None),
            (ConnectionRecord(2, RAW, "echo"), -1, "fd_limit"),
            (ConnectionRecord(3, 9, "echo"), os.dup(pairs[2][0].fileno()), "unknown_kind"),
            (ConnectionRecord(4, RAW, "other"), os.dup(pairs[3][0].fileno()), "unknown_endpoint"),
            (ConnectionRecord(5, records.KIND_WEBSOCKET, "echo"), os.dup(pairs[4][0].fileno()), "kind_mismatch"),
            (ConnectionRecord(6, RAW, "echo", b"", b"\x01", b""), os.dup(pairs[5][0].fileno()), "framing"),
            (ConnectionRecord(7, RAW, "echo", session=b"no"), os.dup(pairs[6][0].fileno()), "session"),
            (ConnectionRecord(8, RAW, "echo", session=b"boom"), os.dup(pairs[7][0].fileno()), "session"),
            (ConnectionRecord(9, RAW, "echo"), null, "kind_mismatch"),          # not a socket
        ]
        decided = handed.stage([(r, fd) for r, fd, _ in cases])
        self.assertEqual(decided["adopted"], [1])
        self.assertEqual([(r["id"], r["reason"]) for r in decided["refused"]],
                         [(r.id, why) for r, _, why in cases if why])
        self.assertIn("not a turn count", decided["refused"][6]["detail"])
        for _, fd, why in cases:
            if why and fd >= 0:
                with self.assertRaises(OSError):        # closed at once
                    os.fstat(fd)
        self.assertEqual(handed.count, 1)
        # Staged, untouched until COMMIT: the client's bytes stay in the socket.
        pairs[0][1].sendall(b"x\n")
        time.sleep(0.1)
        handed.serve_all()
        pairs[0][1].settimeout(5)
        self.assertEqual(pairs[0][1].recv(100), b"i 8 rx\n")   # read_ahead first, then the socket
        handed.stop()


class TransferTests(unittest.TestCase):
    """export_state → import_state over a socketpair, with connections."""

    def transfer(self, connections, sent_connections=None, **import_options):
        a, b = socket.socketpair()
        self.addCleanup(b.close)
        info = {}

        def export():
            try:
                info.update(aeterna.export_state(a, {"n": 1}, fmt="json", mechanism="pipe",
                                                 connections=sent_connections, deadline=time.monotonic() + 5))
            except ProtocolError as e:
                info["error"] = e
            finally:
                a.close()
        t = threading.Thread(target=export)
        t.start()
        try:
            state = aeterna.import_state(b, connections=connections, deadline=time.monotonic() + 5, **import_options)
        finally:
            t.join(5)
        return state, info

    def test_connections_travel_after_the_regions_with_their_sockets(self):
        pairs = [socket.socketpair() for _ in range(70)]
        self.addCleanup(lambda: [s.close() for p in pairs for s in p])
        sent = [(ConnectionRecord(i + 1, RAW, "counter", b"ra%d" % i, b"", b"s%d" % i), pairs[i][0].fileno()) for i in range(70)]
        state, info = self.transfer(True, sent)
        self.assertEqual(info["connections"], 70)
        self.assertEqual(info["sent"], list(range(70)))
        self.assertEqual([r for r, _ in state.connections], [r for r, _ in sent])
        for i, (_, fd) in enumerate(state.connections):
            os.write(fd, b"x")
            self.assertEqual(pairs[i][1].recv(1), b"x")
        self.assertEqual(aeterna.decode_context(state, "json"), {"n": 1})
        state.close_connections()
        for p in pairs:                             # the exporter's fds stayed open
            p[0].send(b"y")

    def test_a_transfer_without_the_capability_refuses_connections(self):
        pair = socket.socketpair()
        self.addCleanup(lambda: [s.close() for s in pair])
        with self.assertRaisesRegex(ProtocolError, "not granted connections"):
            self.transfer(False, [(ConnectionRecord(1, RAW, "e"), pair[0].fileno())])

    def test_state_and_connections_together_must_fit_max_state_size(self):
        pair = socket.socketpair()
        self.addCleanup(lambda: [s.close() for s in pair])
        with self.assertRaises(ProtocolError) as e:
            self.transfer(True, [(ConnectionRecord(1, RAW, "e", b"r" * 400), pair[0].fileno())], max_state_size=300)
        self.assertEqual(e.exception.code, "TooLarge")

    def test_connections_that_do_not_add_up_fail_the_import_and_close_what_arrived(self):
        a, b = socket.socketpair()
        self.addCleanup(b.close)
        pair = socket.socketpair()
        self.addCleanup(lambda: [s.close() for s in pair])
        payload = aeterna.encode_record(ConnectionRecord(1, RAW, "e"))
        frames.send_json(a, frames.STATE_BEGIN, {"mechanism": "pipe", "sections": [], "regions": [], "state_bytes": 0,
                                                 "connections": 2, "connection_bytes": 2 * len(payload)})
        frames.send_frame(a, frames.CONNECTIONS, payload, [pair[0].fileno()])
        frames.send_json(a, frames.STATE_END, {"state_bytes": 0, "regions": 0, "connections": 2})
        a.close()
        before = set(os.listdir("/proc/self/fd"))
        with self.assertRaisesRegex(ProtocolError, "1 connections of 25 bytes arrived"):
            aeterna.import_state(b, connections=True, deadline=time.monotonic() + 5)
        self.assertLessEqual(set(os.listdir("/proc/self/fd")), before)


# -- raw endpoints through a relay -----------------------------------------------------------

class Echo(RawEndpoint):
    """Line echo: "{tag} {turn} {line}"; the session is the turn count."""

    def __init__(self, tag, refuse_sessions=False):
        self.tag = tag
        self.refuse_sessions = refuse_sessions

    def serve(self, conn):
        turn = int(conn.session or b"0")
        buffer = conn.read_ahead
        while True:
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                turn += 1
                conn.sendall(b"%s %d %s\n" % (self.tag, turn, line))
                conn.session = b"%d" % turn
            data = conn.recv()
            if data is None:
                conn.read_ahead = buffer
                return
            if not data:
                return
            buffer += data

    def accepts_session(self, session):
        return not self.refuse_sessions

    def end(self, conn, reason):
        conn.sendall(b"BYE %s\n" % reason.encode())


class SlowGoodbye(Echo):
    """An echo whose goodbye takes a while to write."""

    def __init__(self, tag):
        super().__init__(tag)
        self.started, self.said = threading.Event(), threading.Event()

    def end(self, conn, reason):
        self.started.set()
        time.sleep(0.5)
        super().end(conn, reason)
        self.said.set()


class Line:
    """A TCP client of an endpoint."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")

    def ask(self, text):
        self.sock.sendall(text + b"\n")
        return self.file.readline()

    def close(self):
        self.file.close()
        self.sock.close()


def read_by_the_handler(client, timeout=5):
    """Waits until the kernel holds no unread byte for any of the client's connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        socks = [c.sock for c in list(client._connections._all.values())]
        if all(struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0] == 0 for s in socks):
            return
        time.sleep(0.01)
    raise AssertionError("the handler did not read what it was sent")


class EndpointSessionTests(unittest.TestCase):
    def setUp(self):
        self.peer = support.Peer()
        self.clients = []
        self.lines = []

    def tearDown(self):
        for line in self.lines:
            line.close()
        for c in self.clients:
            c.drain()
            c.close()
        self.peer.close()

    def generation(self, number, endpoint, expect_state=False, connections=True):
        extra = {"capabilities": ["connections"]} if connections else {}
        pending = self.peer.expect_session(support.welcome(number, expect_state=expect_state,
                                                           from_generation=number - 1 if expect_state else None, **extra))
        client = AeternaClient(environ=self.peer.environ(number), format="json")
        self.clients.append(client)
        client.add_endpoint("echo", endpoint, fallback=("127.0.0.1", 0))
        if expect_state:
            loaded = support.in_thread(client.load_context, default=dict)
            session = pending.get()
            session.expect(frames.READY)
            return client, session, loaded
        client.load_context(default=lambda: {"n": 0})
        client.ready()
        session = pending.get()
        session.expect(frames.READY)
        return client, session, None

    def line(self, client):
        line = Line(client.get_listener_socket("echo").getsockname()[1])
        self.lines.append(line)
        return line

    @staticmethod
    def transfer(exporter, importer, number=5, connections=True):
        t1, t2 = socket.socketpair()
        importer.send(frames.IMPORT, {"transfer": number, "from_generation": 1, "connections": connections}, [t2.fileno()])
        exporter.send(frames.FREEZE, {"transfer": number, "mechanism": "pipe", "deadline_ms": 5000, "connections": connections}, [t1.fileno()])
        t1.close()
        t2.close()

    def test_hello_offers_the_capability_only_with_an_endpoint(self):
        pending = self.peer.expect_session(support.welcome(1))
        plain = AeternaClient(environ=self.peer.environ(1))
        self.clients.append(plain)
        plain.ready()
        self.assertNotIn("capabilities", pending.get().hello)
        a, sa, _ = self.generation(2, Echo(b"a"))
        self.assertEqual(sa.hello["capabilities"], ["connections"])
        self.assertTrue(a.connections_granted)
        with self.assertRaisesRegex(aeterna.AeternaError, "before load_context"):
            a.add_endpoint("late", Echo(b"x"))

    def test_a_connection_crosses_with_its_read_ahead_and_session_and_the_old_copy_is_only_closed(self):
        a, sa, _ = self.generation(1, Echo(b"a"))
        line = self.line(a)
        self.assertEqual(line.ask(b"one"), b"a 1 one\n")
        self.assertEqual(line.ask(b"two"), b"a 2 two\n")
        b, sb, loaded = self.generation(2, Echo(b"b"), expect_state=True)
        line.sock.sendall(b"thr")                         # read by a, not handled: its read_ahead
        read_by_the_handler(a)

        self.transfer(sa, sb)
        frozen = sa.expect(frames.FROZEN)
        prepared = sb.expect(frames.PREPARED)
        self.assertEqual(frozen["connections"], 1)
        self.assertEqual(frozen["connection_bytes"], 24 + 4 + 3 + 1)
        self.assertEqual(prepared["connections"], {"adopted": [1], "refused": []})
        support.result(loaded)
        # Sent while both hold it: waits in the socket (nobody reads it before COMMIT).
        line.sock.sendall(b"ee\nfou")
        time.sleep(0.2)
        sb.send(frames.COMMIT, {"transfer": 5})
        sb.expect(frames.ACCEPTING)
        sa.send(frames.RELEASE, {"transfer": 5, "adopted": [1], "refused": []})
        self.assertEqual(line.file.readline(), b"b 3 three\n")
        line.sock.sendall(b"r\n")
        self.assertEqual(line.file.readline(), b"b 4 four\n")
        deadline = time.monotonic() + 5
        while a.connection_count and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(a.connection_count, 0)           # close(2) of the old copy only
        self.assertEqual(line.ask(b"five"), b"b 5 five\n")

    def test_refused_connections_are_ended_by_the_old_generation_with_the_reason(self):
        a, sa, _ = self.generation(1, Echo(b"a"))
        line = self.line(a)
        self.assertEqual(line.ask(b"one"), b"a 1 one\n")
        b, sb, loaded = self.generation(2, Echo(b"b", refuse_sessions=True), expect_state=True)
        self.transfer(sa, sb)
        sa.expect(frames.FROZEN)
        refused = sb.expect(frames.PREPARED)["connections"]["refused"]
        self.assertEqual([(r["id"], r["reason"]) for r in refused], [(1, "session")])
        sb.send(frames.COMMIT, {"transfer": 5})
        sa.send(frames.RELEASE, {"transfer": 5, "adopted": [], "refused": [{"id": 1, "reason": "session"}]})
        self.assertEqual(line.file.readline(), b"BYE session\n")
        self.assertEqual(line.file.readline(), b"")

    def test_the_drain_waits_for_the_goodbyes_of_refused_connections(self):
        slow = SlowGoodbye(b"a")
        a, sa, _ = self.generation(1, slow)
        line = self.line(a)
        self.assertEqual(line.ask(b"one"), b"a 1 one\n")
        b, sb, loaded = self.generation(2, Echo(b"b", refuse_sessions=True), expect_state=True)
        self.transfer(sa, sb)
        sa.expect(frames.FROZEN)
        sb.expect(frames.PREPARED)
        sb.send(frames.COMMIT, {"transfer": 5})
        sa.send(frames.RELEASE, {"transfer": 5, "adopted": [], "refused": [{"id": 1, "reason": "session"}]})
        self.assertTrue(slow.started.wait(5))
        done = support.in_thread(a.serve_endpoints)
        a.drain()                              # the generation retires while the goodbye is written
        support.result(done)
        self.assertTrue(slow.said.is_set(), "serve_endpoints returned before the goodbye was written")
        self.assertEqual(line.file.readline(), b"BYE session\n")

    def test_an_importer_without_the_endpoint_refuses_it_as_unknown(self):
        a, sa, _ = self.generation(1, Echo(b"a"))
        self.line(a).ask(b"x")
        pending = self.peer.expect_session(support.welcome(2, expect_state=True, from_generation=1, capabilities=["connections"]))
        b = AeternaClient(environ=self.peer.environ(2), format="json")
        self.clients.append(b)
        b.add_endpoint("other", Echo(b"b"), fallback=("127.0.0.1", 0))
        loaded = support.in_thread(b.load_context, default=dict)
        sb = pending.get()
        sb.expect(frames.READY)
        self.transfer(sa, sb)
        refused = sb.expect(frames.PREPARED)["connections"]["refused"]
        self.assertEqual(refused[0]["reason"], "unknown_endpoint")
        self.assertIn("'echo'", refused[0]["detail"])
        support.result(loaded)

    def test_resume_serves_paused_connections_again_and_a_freeze_without_connections_pauses_them_too(self):
        a, sa, _ = self.generation(1, Echo(b"a"))
        line = self.line(a)
        self.assertEqual(line.ask(b"one"), b"a 1 one\n")
        t1, t2 = socket.socketpair()
        sa.send(frames.FREEZE, {"transfer": 5, "mechanism": "pipe", "deadline_ms": 5000, "connections": False}, [t1.fileno()])
        t1.close()
        reader = aeterna.FrameReader(t2)
        kinds = []
        while True:
            try:
                kinds.append(reader.read_frame(1 << 20, time.monotonic() + 5).type)
            except ProtocolError:
                break
        t2.close()
        self.assertNotIn(frames.CONNECTIONS, kinds)
        self.assertEqual(sa.expect(frames.FROZEN)["connections"], 0)
        line.sock.sendall(b"held\n")
        line.sock.settimeout(0.3)
        with self.assertRaises(socket.timeout):             # paused: not served while frozen
            line.sock.recv(100)
        line.sock.settimeout(5)
        sa.send(frames.RESUME, {"transfer": -5, "reason": "the relay failed"})
        sa.expect(frames.ACCEPTING)
        self.assertEqual(line.file.readline(), b"a 2 held\n")

    def test_a_record_too_large_for_a_frame_is_kept_and_ended_by_the_old_generation(self):
        pending = self.peer.expect_session(support.welcome(1, capabilities=["connections"], max_frame_size=4096))
        a = AeternaClient(environ=self.peer.environ(1), format="json")
        self.clients.append(a)
        a.add_endpoint("echo", Echo(b"a"), fallback=("127.0.0.1", 0))
        a.load_context(default=dict)
        a.ready()
        sa = pending.get()
        sa.expect(frames.READY)
        small, big = self.line(a), self.line(a)
        small.ask(b"hi")
        big.ask(b"hi")
        big.sock.sendall(b"y" * 5000)                        # read and not handled: 5000 bytes of read_ahead
        read_by_the_handler(a)
        b, sb, loaded = self.generation(2, Echo(b"b"), expect_state=True)
        self.transfer(sa, sb)
        frozen = sa.expect(frames.FROZEN)
        self.assertEqual(frozen["connections"], 1)
        self.assertEqual(sb.expect(frames.PREPARED)["connections"]["adopted"], [1])
        sb.send(frames.COMMIT, {"transfer": 5})
        sa.send(frames.RELEASE, {"transfer": 5, "adopted": [1], "refused": []})
        self.assertEqual(big.file.readline(), b"BYE too_large\n")
        self.assertEqual(big.file.readline(), b"")
        self.assertEqual(small.ask(b"on"), b"b 2 on\n")

    def test_hand_back_returns_the_connection_to_the_frozen_generation(self):
        a, sa, _ = self.generation(1, Echo(b"a"))
        line = self.line(a)
        line.ask(b"one")
        b, sb, loaded = self.generation(2, Echo(b"b"), expect_state=True)
        self.transfer(sa, sb)
        sa.expect(frames.FROZEN)
        sb.expect(frames.PREPARED)
        support.result(loaded)
        sb.send(frames.COMMIT, {"transfer": 5})
        sb.expect(frames.ACCEPTING)
        sa.send(frames.RELEASE, {"transfer": 5, "adopted": [1], "refused": []})
        self.assertEqual(line.ask(b"two"), b"b 2 two\n")
        self.transfer(sb, sa, number=6)                      # the rollback: b exports, frozen a imports
        sb.expect(frames.FROZEN)
        self.assertEqual(len(sa.expect(frames.PREPARED)["connections"]["adopted"]), 1)
        sa.send(frames.COMMIT, {"transfer": 6})
        sb.send(frames.RELEASE, {"transfer": 6, "adopted": [1], "refused": []})
        self.assertEqual(line.ask(b"three"), b"a 3 three\n")

    def test_the_drain_says_goodbye_to_every_connection(self):
        a, sa, _ = self.generation(1, Echo(b"a"))
        lines = [self.line(a) for _ in range(3)]
        for i, line in enumerate(lines):
            self.assertEqual(line.ask(b"hi"), b"a 1 hi\n")
        done = support.in_thread(a.serve_endpoints)
        a.drain()
        support.result(done)
        for line in lines:
            self.assertEqual(line.file.readline(), b"BYE stopping\n")
            self.assertEqual(line.file.readline(), b"")


if __name__ == "__main__":
    unittest.main()
