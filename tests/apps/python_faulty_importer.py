"""The FastAPI agent (samples/fastapi-agent/agent.py) as a new version that fails to take the state
over, for the relay failure tests. It starts as the agent does, says READY, takes the IMPORT, then
  AGENT_FAULT=unreadable  its reader cannot decode the state (as a version whose types changed):
                          it answers FAILED (StateFormat) and the relay rolls back;
  AGENT_FAULT=crash       the process dies in the middle of reading the state.
The fault is put into the client's state reader before the agent runs; the agent is unchanged.
Usage: python3 python_faulty_importer.py AGENT_PY
"""
import os
import runpy
import sys

import aeterna.client
from aeterna.errors import ProtocolError

fault = os.environ["AGENT_FAULT"]


def unreadable(state, *args, **kwargs):
    state.close()
    raise ProtocolError("StateFormat", "this version cannot read the context (the fault under test)")


def crash(transfer_sock, *args, **kwargs):
    transfer_sock.recv(64)                 # the first bytes of the state, then nothing more
    os._exit(70)


if fault == "unreadable":
    aeterna.client.decode_context = unreadable
elif fault == "crash":
    aeterna.client.import_state = crash
else:
    sys.exit("AGENT_FAULT must be unreadable or crash, not %r" % fault)

agent = sys.argv[1]
sys.argv = [agent]
runpy.run_path(agent, run_name="__main__")
