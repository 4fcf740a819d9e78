"""Errors of the SIP core.

Every error knows the SIP status it implies, so the layer that meets it can
answer with the right response without a translation table (RFC 3261 §8.2,
§21).  Translation to a wire response happens once, at the boundary.
"""

from __future__ import annotations


class SipError(Exception):
    """An error that maps onto a SIP final response."""

    status: int = 500
    reason: str = "Server Internal Error"

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason


class SipParseError(SipError, ValueError):
    """A SIP message, header or URI could not be parsed.

    The one error type the parser raises for malformed input.  ``raw_headers``
    holds the header lines that were readable, so the transport can still
    answer ``400 Bad Request`` when enough of the request survived to route a
    response (RFC 3261 §8.2.2, §18.3).
    """

    status = 400
    reason = "Bad Request"

    def __init__(
        self,
        message: str,
        *,
        raw_headers: list[tuple[str, str]] | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(message)
        self.raw_headers = raw_headers
        self.method = method
