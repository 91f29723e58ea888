"""The Python client's own CPU per state transfer: export_state in a long-lived child process, import_state +
decode_context here, over a socketpair; thread CPU time (steady on a loaded machine), medians of 25.
Usage: artifacts/python-venv/bin/python3 bench/python_transfer.py native|python (python: without the crc32c package)."""
import array, os, pickle, socket, statistics, struct, sys, time
impl = sys.argv[1]
if impl == "python":
    sys.modules["crc32c"] = None
import aeterna
from aeterna import checksum
from aeterna.state import export_state, import_state, decode_context
print("crc:", checksum.IMPLEMENTATION)
CASES = []
for n in (10, 100, 300, 1000, 3000):
    CASES.append({"item%06d" % i: ("v%d" % i) * (40 // len("v%d" % i)) for i in range(n)})
ctl_parent, ctl_child = socket.socketpair()
pid = os.fork()
if pid == 0:
    ctl_parent.close()
    while True:
        msg, anc, _, _ = ctl_child.recvmsg(64, socket.CMSG_SPACE(4))
        if not msg: os._exit(0)
        case, mech = msg.decode().split()
        fd = array.array("i", anc[0][2])[0]
        s = socket.socket(fileno=fd)
        t = time.thread_time(); export_state(s, CASES[int(case)], mechanism=mech); t = time.thread_time() - t
        s.close()
        ctl_child.send(struct.pack("d", t))
ctl_child.close()
def run(case, mech, runs=30):
    exp, imp = [], []
    for i in range(runs):
        a, b = socket.socketpair()
        ctl_parent.sendmsg([("%d %s" % (case, mech)).encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [a.fileno()]).tobytes())])
        a.close()
        t = time.thread_time(); obj = decode_context(import_state(b)); t = time.thread_time() - t
        e = struct.unpack("d", ctl_parent.recv(8))[0]
        b.close()
        if i >= 5: imp.append(t * 1000); exp.append(e * 1000)
    return "%.3f+%.3f" % (statistics.median(exp), statistics.median(imp))
for c, ctx in enumerate(CASES):
    size = len(pickle.dumps(ctx))
    print("%6d items %7d B: pipe %s ms, shm %s ms (export+import CPU)" % (len(ctx), size, run(c, "pipe"), run(c, "shm")))
ctl_parent.close(); os.waitpid(pid, 0)
