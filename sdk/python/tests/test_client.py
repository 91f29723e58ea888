"""The client's session: HELLO/WELCOME/REJECT, READY, the accept gate, FREEZE/IMPORT/COMMIT/
ACCEPTING, RESUME, hand-back, failures; socket activation and sd_notify. Real sockets, real
connections, subprocesses where the pid matters; the supervisor's side is played by support.Peer."""
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import support
import aeterna
from aeterna import frames, shared_memory, state as state_transfer  # noqa: F401
from aeterna import AeternaClient, SharedBuffer



class Acceptor:
    """Runs client.accept(listener) in a thread and queues what it accepts."""

    def __init__(self, client, listener):
        self.accepted = queue.Queue()
        self.thread = threading.Thread(target=self.run, args=(client, listener), daemon=True)
        self.thread.start()

    def run(self, client, listener):
        while True:
            try:
                got = client.accept(listener)
            except (OSError, ValueError):
                if listener.fileno() == -1:
                    return  # the test is over and closed the listener under this thread
                raise
            self.accepted.put(got)
            if got is None:
                return

    def get(self, timeout=support.TIMEOUT):
        return self.accepted.get(timeout=timeout)

    def nothing_within(self, seconds):
        try:
            got = self.accepted.get(timeout=seconds)
        except queue.Empty:
            return True
        self.accepted.put(got)
        return False


def connect(listener):
    return socket.create_connection(listener.getsockname()[:2], timeout=5)


class StandaloneTests(unittest.TestCase):
    def test_without_a_supervisor_everything_works_alone(self):
        client = AeternaClient(environ={})
        self.assertFalse(client.supervised)
        self.assertEqual(client.load_context(default=lambda: {"fresh": True}), {"fresh": True})
        listener = client.get_listener_socket(fallback=("127.0.0.1", 0))
        self.assertIs(client.get_listener_socket(fallback=("127.0.0.1", 0)), listener)
        acceptor = Acceptor(client, listener)
        with connect(listener):
            conn, _ = acceptor.get()
            conn.close()
        with client.work() as live:
            self.assertTrue(live)
        client.drain()
        self.assertIsNone(acceptor.get())
        listener.close()

    def test_no_listener_and_no_fallback_names_the_fix(self):
        with self.assertRaises(aeterna.AeternaError) as e:
            AeternaClient(environ={}).get_listener_socket(fallback=None)
        self.assertIn("Fix:", str(e.exception))

    def test_sd_notify_without_a_session(self):
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            peer = support.Peer()   # only for its temp dir
            path = os.path.join(peer.dir.name, "notify.sock")
            notify.bind(path)
            notify.settimeout(5)
            client = AeternaClient(environ={"NOTIFY_SOCKET": path})
            client.ready("warm")
            self.assertEqual(notify.recv(1000), b"READY=1\nSTATUS=warm")
            client.status("indexing 40%")
            self.assertEqual(notify.recv(1000), b"STATUS=indexing 40%")
            client.watchdog()
            self.assertEqual(notify.recv(1000), b"WATCHDOG=1")
            client.health(ok=False)          # no sd_notify equivalent: nothing sent
            client.drain()
            self.assertEqual(notify.recv(1000), b"STOPPING=1")
            peer.close()

    def run_child(self, code, fds, env_extra, own_pid=True):
        """Runs Python code with the given sockets at fd 3, 4, ... and LISTEN_PID set to its own
        pid (a small exec wrapper keeps the pid) or to another one."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "AETERNA_", "NOTIFY_"))}
        env.update(env_extra)
        wrapper = ("import os, sys\n"
                   "fds = [int(x) for x in sys.argv[2:]]\n"
                   "for i, fd in enumerate(fds): os.dup2(fd, 3 + i)\n"
                   "os.environ['LISTEN_PID'] = str(os.getpid() if %r else 1)\n"
                   "os.execv(sys.executable, [sys.executable, '-c', sys.argv[1]])\n" % own_pid)
        out = subprocess.run([sys.executable, "-c", wrapper, textwrap.dedent(code)] + [str(fd) for fd in fds],
                             env=env, pass_fds=fds, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_inherited_listeners_by_name_only_for_this_pid(self):
        http = socket.create_server(("127.0.0.1", 0))
        admin = socket.create_server(("127.0.0.1", 0))
        code = """
            import json, aeterna
            c = aeterna.AeternaClient()
            out = {"http": c.get_listener_socket("http").getsockname()[1],
                   "admin": c.get_listener_socket("admin").getsockname()[1],
                   "first": c.get_listener_socket().getsockname()[1],
                   "same": c.get_listener_socket("http") is c.get_listener_socket("http")}
            try:
                c.get_listener_socket("grpc")
            except aeterna.AeternaError as e:
                out["error"] = str(e)
            print(json.dumps(out))
        """
        env = {"LISTEN_FDS": "2", "LISTEN_FDNAMES": "http:admin"}
        got = self.run_child(code, [http.fileno(), admin.fileno()], env)
        self.assertEqual(got["http"], http.getsockname()[1])
        self.assertEqual(got["admin"], admin.getsockname()[1])
        self.assertEqual(got["first"], http.getsockname()[1])
        self.assertTrue(got["same"])
        self.assertIn("'grpc'", got["error"])
        self.assertIn("http, admin", got["error"])
        # LISTEN_PID of another process: the fds are not ours, the fallback is bound instead.
        code = """
            import json, aeterna
            print(json.dumps({"port": aeterna.AeternaClient().get_listener_socket("http", fallback=("127.0.0.1", 0)).getsockname()[1]}))
        """
        got = self.run_child(code, [http.fileno(), admin.fileno()], env, own_pid=False)
        self.assertNotIn(got["port"], (http.getsockname()[1], admin.getsockname()[1]))
        http.close()
        admin.close()

    def test_drain_from_a_signal_handler_ends_the_accept_loop(self):
        code = """
            import signal, sys, aeterna
            c = aeterna.AeternaClient()
            listener = c.get_listener_socket(fallback=("127.0.0.1", 0))
            signal.signal(signal.SIGTERM, lambda *_: c.drain())
            print(listener.getsockname()[1], flush=True)
            while c.accept(listener) is not None:
                pass
            print("drained", flush=True)
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "AETERNA_", "NOTIFY_"))}
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                                 stdout=subprocess.PIPE, text=True)
        try:
            port = int(child.stdout.readline())
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            time.sleep(0.2)
            started = time.monotonic()
            child.send_signal(signal.SIGTERM)
            self.assertEqual(child.wait(5), 0)
            self.assertLess(time.monotonic() - started, 2)
            self.assertEqual(child.stdout.read().strip(), "drained")
        finally:
            if child.poll() is None:
                child.kill()
            child.stdout.close()


class SessionTests(unittest.TestCase):
    def setUp(self):
        self.peer = support.Peer()
        self.clients = []
        self.listeners = []

    def tearDown(self):
        for c in self.clients:
            c.drain()
            c.close()
        for s in self.listeners:
            s.close()
        self.peer.close()

    def client(self, generation, answer, **kwargs):
        pending = self.peer.expect_session(answer)
        client = AeternaClient(environ=self.peer.environ(generation), **kwargs)
        self.clients.append(client)
        return client, pending

    def listener(self):
        s = socket.create_server(("127.0.0.1", 0))
        self.listeners.append(s)
        return s

    def serving_exporter(self, fmt="json"):
        """Generation 1: stateful, serving, with a history and a SharedBuffer."""
        a, pending = self.client(1, support.welcome(1), format=fmt)
        buf = SharedBuffer(8192, "embeddings")
        buf.view[:5] = b"hello"
        ctx = a.load_context(default=lambda: {"history": ["one", "two"], "emb": buf})
        a.ready()
        sa = pending.get()
        self.assertEqual(sa.expect(frames.READY), {"detail": "serving"})
        self.exporter_listener = self.listener()
        self.exporter_acceptor = Acceptor(a, self.exporter_listener)   # its accept loop runs
        return a, sa, ctx

    def importer(self, fmt="json"):
        """Generation 2, started by a relay to take over generation 1's state."""
        b, pending = self.client(2, support.welcome(2, expect_state=True, from_generation=1), format=fmt)
        loaded = support.in_thread(b.load_context, default=lambda: {"history": [], "emb": None})
        sb = pending.get()
        self.assertIn("waiting", sb.expect(frames.READY)["detail"])
        return b, sb, loaded

    @staticmethod
    def start_transfer(exporter_session, importer_session, transfer=5, deadline_ms=5000):
        t1, t2 = socket.socketpair()
        importer_session.send(frames.IMPORT, {"transfer": transfer, "from_generation": 1}, [t2.fileno()])
        exporter_session.send(frames.FREEZE, {"transfer": transfer, "mechanism": "auto", "deadline_ms": deadline_ms}, [t1.fileno()])
        t1.close()
        t2.close()

    def test_hello_and_welcome(self):
        a, pending = self.client(1, support.welcome(1))
        a.load_context(default=dict)
        hello = pending.get().hello
        self.assertEqual(hello["versions"], [1, 1])
        self.assertEqual(hello["token"], "secret-1")
        self.assertEqual(hello["pid"], os.getpid())
        self.assertTrue(hello["stateful"])
        self.assertEqual(hello["state_types"], ["context"])
        self.assertTrue(hello["runtime"].startswith("aeterna-python/"))
        self.assertEqual(a.welcome["max_frame_size"], 1 << 20)

    def test_reject_raises_with_code_and_fix(self):
        pending = self.peer.expect_session({"code": "unknown_token", "message": "who are you"}, reject=True)
        client = AeternaClient(environ=self.peer.environ(1))
        with self.assertRaises(aeterna.RejectedError) as e:
            client.ready()
        pending.get()
        self.assertEqual(e.exception.code, "unknown_token")
        self.assertIn("who are you", str(e.exception))
        self.assertIn("Fix:", str(e.exception))

    def test_unreachable_supervisor_names_the_cause(self):
        client = AeternaClient(environ={"AETERNA_SOCKET": self.peer.path + ".missing", "AETERNA_TOKEN": "x"})
        with self.assertRaises(aeterna.AeternaError) as e:
            client.ready()
        self.assertIn("AETERNA_SOCKET", str(e.exception))

    def test_stateless_generation_accepts_after_ready_and_reports(self):
        a, pending = self.client(1, support.welcome(1))
        listener = self.listener()
        acceptor = Acceptor(a, listener)          # accept() says READY itself if the app has not
        sa = pending.get()
        self.assertFalse(sa.hello["stateful"])
        self.assertEqual(sa.expect(frames.READY), {"detail": "serving"})
        with connect(listener):
            acceptor.get()[0].close()
        a.status("indexing 40%")
        self.assertEqual(sa.expect(frames.STATUS, skip=()), {"text": "indexing 40%"})
        a.health(ok=True, detail="fine", requests=1200, errors=3)
        self.assertEqual(sa.expect(frames.HEALTH, skip=()), {"ok": True, "detail": "fine", "requests": 1200, "errors": 3})

    def test_a_relay_hands_state_over_and_the_importer_accepts_only_after_commit(self):
        a, sa, ctx = self.serving_exporter()
        listener, acceptor_a = self.exporter_listener, self.exporter_acceptor
        with connect(listener):
            acceptor_a.get()[0].close()

        b, sb, loaded = self.importer()
        acceptor_b = Acceptor(b, listener)
        self.start_transfer(sa, sb)
        frozen = sa.expect(frames.FROZEN)
        prepared = sb.expect(frames.PREPARED)
        self.assertEqual(frozen["transfer"], 5)
        self.assertEqual(frozen["mechanism"], "pipe")
        self.assertEqual(frozen["regions"], 1)
        self.assertEqual(frozen["region_bytes"], 8192)
        self.assertEqual(prepared["state_bytes"], frozen["state_bytes"])
        self.assertEqual(prepared["regions"], 1)
        self.assertTrue(a.frozen)
        with a.work() as live:
            self.assertFalse(live)

        # A connection now waits in the accept queue: neither generation takes it before COMMIT.
        waiting = connect(listener)
        self.assertTrue(acceptor_a.nothing_within(0.3))
        self.assertTrue(acceptor_b.nothing_within(0.0))
        context = support.result(loaded)
        self.assertEqual(context["history"], ["one", "two"])

        sb.send(frames.COMMIT, {"transfer": 5})
        accepting = sb.expect(frames.ACCEPTING)
        self.assertEqual(accepting["transfer"], 5)
        self.assertGreaterEqual(accepting["accepting_ns"], frozen["stopped_accepting_ns"])
        self.assertLessEqual(accepting["accepting_ns"], time.monotonic_ns())
        conn, _ = acceptor_b.get()
        conn.close()
        waiting.close()
        self.assertTrue(acceptor_a.nothing_within(0.1))

        # The buffer: the same pages, writable in the new generation, read-only in the frozen one.
        self.assertEqual(bytes(context["emb"].view[:5]), b"hello")
        context["emb"].view[10:13] = b"new"
        self.assertEqual(bytes(ctx["emb"].view[10:13]), b"new")
        self.assertFalse(ctx["emb"].writable)
        with self.assertRaises(TypeError):
            ctx["emb"].view[0] = 0

    def test_pickle_relay_by_shm(self):
        a, sa, ctx = self.serving_exporter(fmt="pickle")
        ctx["history"].extend("%d: %s" % (i, "x" * 100) for i in range(1000))   # over 64 KiB: auto picks shm
        b, sb, loaded = self.importer(fmt="pickle")
        self.start_transfer(sa, sb)
        self.assertEqual(sa.expect(frames.FROZEN)["mechanism"], "shm")
        sb.expect(frames.PREPARED)
        self.assertEqual(support.result(loaded)["history"], ctx["history"])

    def test_freeze_waits_for_work_in_flight(self):
        a, sa, ctx = self.serving_exporter()
        inside, release = threading.Event(), threading.Event()

        def request():
            with a.work() as live:
                self.assertTrue(live)
                inside.set()
                release.wait(10)
                ctx["history"].append("written by the request in flight")
        worker = threading.Thread(target=request)
        worker.start()
        inside.wait(5)
        b, sb, loaded = self.importer()
        self.start_transfer(sa, sb)
        with self.assertRaises(aeterna.ProtocolError):
            sa.read(timeout=0.3)                          # no FROZEN while the request runs
        release.set()
        frozen = sa.expect(frames.FROZEN)
        self.assertGreaterEqual(frozen["quiesce_ms"], 250)
        sb.expect(frames.PREPARED)
        self.assertIn("written by the request in flight", support.result(loaded)["history"])
        worker.join()

    def test_work_stuck_past_the_deadline_fails_and_resume_serves_again(self):
        a, sa, ctx = self.serving_exporter()
        listener, acceptor = self.exporter_listener, self.exporter_acceptor
        inside, release = threading.Event(), threading.Event()

        def stuck_request():
            with a.work():
                inside.set()
                release.wait(10)
        stuck = threading.Thread(target=stuck_request)
        stuck.start()
        inside.wait(5)
        t1, t2 = socket.socketpair()
        sa.send(frames.FREEZE, {"transfer": 9, "deadline_ms": 200}, [t1.fileno()])
        t1.close()
        failed = sa.expect(frames.FAILED)
        self.assertEqual((failed["transfer"], failed["code"]), (9, "Timeout"))
        self.assertTrue(a.frozen)
        release.set()
        sa.send(frames.RESUME, {"transfer": -9, "reason": "the relay failed"})
        self.assertEqual(sa.expect(frames.ACCEPTING)["transfer"], -9)
        self.assertFalse(a.frozen)
        with connect(listener):
            acceptor.get()[0].close()
        t2.close()

    def test_a_corrupt_state_fails_the_import_and_the_old_generation_resumes(self):
        a, sa, ctx = self.serving_exporter()
        listener, acceptor = self.exporter_listener, self.exporter_acceptor
        b, sb, loaded = self.importer()
        t1, t2 = socket.socketpair()
        # The exporter's stream, with one byte of the chunk flipped on the way.
        x1, x2 = socket.socketpair()
        sa.send(frames.FREEZE, {"transfer": 5, "deadline_ms": 5000}, [x1.fileno()])
        x1.close()
        frozen = sa.expect(frames.FROZEN)
        reader = aeterna.FrameReader(x2)
        received = []
        while True:
            try:
                received.append(reader.read_frame(1 << 20, time.monotonic() + 5))
            except aeterna.ProtocolError:
                break
        sb.send(frames.IMPORT, {"transfer": 5, "from_generation": 1}, [t2.fileno()])
        t2.close()
        for f in received:
            data = bytearray(aeterna.encode_frame(f.type, f.payload, len(f.fds)))
            if f.type == frames.STATE_CHUNK:
                data[-2] ^= 0x20
            try:
                aeterna.send_frame(t1, f.type, b"", f.fds) if f.fds else t1.sendall(bytes(data))
            except (BrokenPipeError, ConnectionResetError):
                break  # the importer found the bad chunk and hung up before the rest arrived: as it should
        failed = sb.expect(frames.FAILED)
        self.assertEqual((failed["transfer"], failed["code"]), (5, "BadChecksum"))
        with self.assertRaises(aeterna.HandoverError) as e:
            support.result(loaded)
        self.assertIn("BadChecksum", str(e.exception))

        sa.send(frames.RESUME, {"transfer": -5, "reason": "the import failed"})
        self.assertEqual(sa.expect(frames.ACCEPTING)["transfer"], -5)
        self.assertTrue(ctx["emb"].writable)
        ctx["emb"].view[0:1] = b"H"
        with a.work() as live:
            self.assertTrue(live)
        with connect(listener):
            acceptor.get()[0].close()
        for f in received:
            f.close_fds()
        reader.close()
        for s in (t1, x2):
            s.close()
        self.assertGreater(frozen["state_bytes"], 0)

    def test_a_failing_provider_fails_the_export_and_stays_frozen_until_resume(self):
        a, sa, ctx = self.serving_exporter()

        @a.on_freeze
        def provider():
            raise RuntimeError("database handle cannot be exported")
        t1, t2 = socket.socketpair()
        sa.send(frames.FREEZE, {"transfer": 3, "deadline_ms": 5000}, [t1.fileno()])
        t1.close()
        failed = sa.expect(frames.FAILED)
        self.assertEqual(failed["code"], "StateFormat")
        self.assertIn("database handle", failed["error"])
        self.assertTrue(a.frozen)
        sa.send(frames.RESUME, {"transfer": -3, "reason": "export failed"})
        self.assertEqual(sa.expect(frames.ACCEPTING)["transfer"], -3)
        self.assertFalse(a.frozen)
        t2.close()

    def test_abort_while_waiting_for_state(self):
        b, sb, loaded = self.importer()
        sb.send(frames.ABORT, {"transfer": 5, "reason": "generation 1 exited"})
        with self.assertRaises(aeterna.HandoverError) as e:
            support.result(loaded)
        self.assertIn("generation 1 exited", str(e.exception))

    def relayed_pair(self):
        """Generation 1 frozen after handing its state to generation 2, which serves (the soak)."""
        a, sa, ctx = self.serving_exporter()
        b, sb, loaded = self.importer()
        self.start_transfer(sa, sb)
        sa.expect(frames.FROZEN)
        sb.expect(frames.PREPARED)
        sb.send(frames.COMMIT, {"transfer": 5})
        b_ctx = support.result(loaded)
        listener = self.listener()
        Acceptor(b, listener)
        sb.expect(frames.ACCEPTING)
        return a, sa, ctx, b, sb, b_ctx

    def test_hand_back_brings_the_canarys_changes_to_the_frozen_generation(self):
        a, sa, ctx, b, sb, b_ctx = self.relayed_pair()
        original = ctx
        with b.work() as live:
            self.assertTrue(live)
            b_ctx["history"].append("written by the canary")
            b_ctx["emb"].view[20:26] = b"canary"

        # Rollback: FREEZE to the canary, IMPORT to the frozen generation.
        self.start_transfer(sb, sa, transfer=6)
        sb.expect(frames.FROZEN)
        prepared = sa.expect(frames.PREPARED)
        self.assertEqual(prepared["transfer"], 6)
        self.assertIs(ctx, original)                      # a dict context is updated in place
        self.assertEqual(ctx["history"], ["one", "two", "written by the canary"])
        self.assertEqual(bytes(ctx["emb"].view[20:26]), b"canary")
        self.assertTrue(a.frozen)
        sa.send(frames.COMMIT, {"transfer": 6})
        self.assertEqual(sa.expect(frames.ACCEPTING)["transfer"], 6)
        self.assertFalse(a.frozen)
        self.assertTrue(ctx["emb"].writable)
        ctx["emb"].view[0:1] = b"!"
        self.assertTrue(b.frozen)

    def test_hand_back_that_fails_leaves_the_frozen_state_untouched(self):
        a, sa, ctx, b, sb, b_ctx = self.relayed_pair()
        before = list(ctx["history"])
        t1, t2 = socket.socketpair()
        sa.send(frames.IMPORT, {"transfer": 6, "from_generation": 2}, [t2.fileno()])
        t2.close()
        frames.send_json(t1, frames.STATE_BEGIN, {"mechanism": "pipe", "sections": [{"name": "context", "bytes": 5, "format": "json"}],
                                                    "regions": [], "state_bytes": 5})
        t1.sendall(aeterna.encode_frame(frames.STATE_CHUNK, b"{bad}"))
        frames.send_json(t1, frames.STATE_END, {"state_bytes": 5, "regions": 0})
        failed = sa.expect(frames.FAILED)
        self.assertEqual(failed["code"], "StateFormat")
        self.assertEqual(ctx["history"], before)
        self.assertTrue(a.frozen)
        sa.send(frames.RESUME, {"transfer": -6, "reason": "hand-back failed"})
        self.assertEqual(sa.expect(frames.ACCEPTING)["transfer"], -6)
        self.assertEqual(ctx["history"], before)
        t1.close()

    def test_on_import_adopts_handed_back_state(self):
        a, sa, ctx, b, sb, b_ctx = self.relayed_pair()
        adopted = []
        a.on_import(adopted.append)
        b_ctx["history"].append("three")
        self.start_transfer(sb, sa, transfer=7)
        sb.expect(frames.FROZEN)
        sa.expect(frames.PREPARED)
        self.assertEqual(adopted[0]["history"], ["one", "two", "three"])

    def test_import_into_a_serving_generation_is_refused(self):
        a, sa, ctx = self.serving_exporter()
        t1, t2 = socket.socketpair()
        sa.send(frames.IMPORT, {"transfer": 8, "from_generation": 0}, [t2.fileno()])
        t2.close()
        failed = sa.expect(frames.FAILED)
        self.assertEqual(failed["code"], "Malformed")
        with a.work() as live:
            self.assertTrue(live)
        t1.close()

    def test_a_broken_supervisor_stream_ends_the_session_but_not_the_app(self):
        a, sa, ctx = self.serving_exporter()
        sa.conn.sendall(b"GARBAGE GARBAGE!")
        a._session_done.wait(5)
        self.assertEqual(a._session_error.code, "BadMagic")
        with a.work() as live:
            self.assertTrue(live)


if __name__ == "__main__":
    unittest.main()
