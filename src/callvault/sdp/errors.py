"""Errors of the SDP layer.

:class:`SdpParseError` is the one error the parser raises for malformed
session descriptions (RFC 4566 §5).  :class:`NegotiationError` is raised by
the offer/answer logic (RFC 3264) and carries the SIP status the engine
answers with, ``488 Not Acceptable Here`` (RFC 3261 §21.4.26).
"""

from __future__ import annotations


class SdpParseError(ValueError):
    """A session description could not be parsed.

    ``line_number`` (1-based) and ``line`` name the offending line when the
    error is tied to one; both are ``None`` for whole-document problems.
    """

    def __init__(self, message: str, *, line_number: int | None = None, line: str | None = None):
        if line_number is not None:
            message = f"line {line_number}: {message}"
        super().__init__(message)
        self.line_number = line_number
        self.line = line


class NegotiationError(Exception):
    """An offer or answer cannot be accepted (RFC 3264 §6, §7).

    The engine rejects the INVITE or re-INVITE with ``status``/``reason``.
    """

    status: int = 488
    reason: str = "Not Acceptable Here"

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason


class NoCommonCodecError(NegotiationError):
    """The offer has no audio stream with a codec we support."""
