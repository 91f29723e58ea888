"""The errors the client raises. Each message names the cause and the fix."""
from __future__ import annotations

from typing import Dict, Tuple

__all__ = ["AeternaError", "ProtocolError", "RejectedError", "HandoverError"]


class AeternaError(Exception):
    """Base class of every error this package raises."""


class ProtocolError(AeternaError):
    """A broken stream or hand-over. ``code`` is one of the protocol's error codes
    (docs/protocol.md, section 6): Closed, BadMagic, WrongVersion, UnknownType, TooManyFds,
    TooLarge, BadChecksum, Malformed, StateFormat, Timeout."""

    CODES: Tuple[str, ...] = ("Closed", "BadMagic", "WrongVersion", "UnknownType", "TooManyFds",
                              "TooLarge", "BadChecksum", "Malformed", "StateFormat", "Timeout")

    def __init__(self, code: str, message: str) -> None:
        if code not in self.CODES:
            raise ValueError("unknown protocol error code %r" % code)
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.detail = message


class RejectedError(AeternaError):
    """The supervisor refused the session (REJECT). ``code`` is its reject code."""

    FIXES: Dict[str, str] = {
        "version": "upgrade the supervisor or this client: they share no protocol version",
        "unknown_token": "AETERNA_TOKEN is not one of this supervisor's generations; start the "
                         "app through `dotnet aeterna start`, and do not copy AETERNA_* into "
                         "other processes",
        "duplicate": "this generation already has a session: create one AeternaClient per "
                     "process",
        "permission_denied": "run the app as the supervisor's user (or root)",
    }

    def __init__(self, code: str, message: str) -> None:
        fix = self.FIXES.get(code, "see the supervisor's log")
        super().__init__("the supervisor rejected the session (%s): %s. Fix: %s"
                         % (code, message or "no message", fix))
        self.code = code


class HandoverError(AeternaError):
    """The state hand-over into this generation failed or was aborted; the previous generation
    keeps serving and the supervisor stops this one."""
