"""sd_notify: readiness and status without a session (systemd's NOTIFY_SOCKET)."""
from __future__ import annotations

import os
import socket
from typing import Optional

__all__ = ["sd_notify"]


def sd_notify(message: str, path: Optional[str] = None) -> bool:
    """Sends one sd_notify datagram (``READY=1``, ``STATUS=...``, ``STOPPING=1``,
    ``WATCHDOG=1``) to ``path`` or ``$NOTIFY_SOCKET``. False when there is no socket."""
    path = path or os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        s.connect(address)
        s.send(message.encode("utf-8"))
    return True
