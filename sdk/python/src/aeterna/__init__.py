"""Aeterna client for Python: zero-downtime relays with in-memory state.

A client of the Aeterna protocol (docs/protocol.md) for services run by the ``dotnet aeterna``
supervisor. Python 3.9+, Linux; no required dependency (``crc32c``, numpy and torch are used when
installed). The whole API, in the order an app uses it::

    import signal
    from aeterna import AeternaClient, SharedBuffer

    client = AeternaClient()                          # reads AETERNA_*, LISTEN_*, NOTIFY_SOCKET
    listener = client.get_listener_socket("http")     # inherited fd 3.., or binds 0.0.0.0:8080
    state = client.load_context(default=lambda: {"history": [], "vectors": SharedBuffer(1 << 20)})
    client.ready()                                    # READY; accepting starts now (or at COMMIT)
    signal.signal(signal.SIGTERM, lambda *_: client.drain())
    while (accepted := client.accept(listener)) is not None:
        conn, addr = accepted
        ...                                           # serve; wrap state changes in client.work()

An ASGI app (FastAPI, Starlette) on uvicorn: ``aeterna.asgi.run(app)``, or
``python3 -m aeterna.asgi module:app``. Tensors in shared memory: :class:`SharedTensor`. A raw
TCP endpoint whose open connections cross every relay: :class:`RawEndpoint`, registered with
``client.add_endpoint(listener_name, endpoint)``.

Errors are :class:`AeternaError` subclasses whose message names the cause and the fix;
:class:`ProtocolError` carries one of the protocol's error codes in ``.code``.
"""
from .checksum import crc32c
from .client import AeternaClient
from .connection_records import ConnectionRecord, decode_records, encode_record
from .endpoint import RawConnection, RawEndpoint
from .errors import AeternaError, HandoverError, ProtocolError, RejectedError
from .frames import Frame, FrameReader, decode_header, encode_frame, send_frame
from .notify import sd_notify
from .shared_memory import SharedBuffer
from .state import ImportedState, decode_context, export_state, import_state
from .tensors import SharedTensor
from .version import __version__

__all__ = [
    "AeternaClient", "SharedBuffer", "SharedTensor", "AeternaError", "ProtocolError",
    "RejectedError", "HandoverError", "crc32c", "encode_frame", "decode_header", "FrameReader",
    "send_frame", "export_state", "import_state", "decode_context", "sd_notify", "Frame",
    "ImportedState", "RawEndpoint", "RawConnection", "ConnectionRecord", "encode_record",
    "decode_records", "__version__",
]
