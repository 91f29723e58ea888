"""The fd limit of an importer (docs/protocol.md, section 7.3): how many more file descriptors
this process may open, and the control buffer that lets ``recvmsg(2)`` install no more."""
from __future__ import annotations

import os
import resource
import socket

__all__ = ["available_fds", "raise_fd_limit", "open_fds", "control_buffer_size", "FD_RESERVE"]

# File descriptors an importer keeps for its own work when it takes connections (the .NET
# runtime keeps as many).
FD_RESERVE = 64


def raise_fd_limit() -> int:
    """Raises RLIMIT_NOFILE's soft limit to the hard one (where allowed) and returns the soft
    limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass        # an unlimited hard limit the kernel caps lower (nr_open): keep the soft one
    return soft if soft != resource.RLIM_INFINITY else 1 << 30


def open_fds() -> int:
    """How many fds this process has open (the entries of /proc/self/fd; 0 if it cannot be read)."""
    try:
        # listdir's own fd on the directory is among them: one more than after it returns,
        # which errs on the safe side.
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def available_fds(reserve: int = FD_RESERVE) -> int:
    """The soft RLIMIT_NOFILE (raised to the hard limit first) minus the fds open now minus
    ``reserve``; at least 0."""
    return max(0, raise_fd_limit() - open_fds() - reserve)


def control_buffer_size(fds: int) -> int:
    """The ``recvmsg`` control buffer that admits exactly ``fds`` fds: ``CMSG_LEN(4 * fds)``, not
    ``CMSG_SPACE``, which rounds up to 8 bytes and would admit one more for an odd count; 0 (no
    buffer: every fd of the message is dropped) for none."""
    return socket.CMSG_LEN(4 * fds) if fds > 0 else 0
