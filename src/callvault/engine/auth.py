"""Digest authentication of requests we receive (RFC 3261 §22.2, RFC 7616, RFC 8760).

:class:`InboundAuth` wraps the sans-I/O :class:`~callvault.sip.digest.DigestServer`
for the engine: it decides whether a request may go on, or which response
(401 with fresh challenges, 401 with ``stale=true``, 400) refuses it.  The
registrar and the engine's INVITE handling share it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from callvault.sip.digest import AuthOutcome, DigestServer
from callvault.sip.errors import SipParseError
from callvault.sip.message import Request
from callvault.sip.uri import SipUri


@dataclass(frozen=True)
class AuthDecision:
    """``username`` when the request may proceed; otherwise the refusal to send."""

    username: str | None
    status: int = 200
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the request is authenticated."""
        return self.username is not None


class InboundAuth:
    """Challenges and verifies requests against a password lookup."""

    def __init__(
        self,
        realm: str,
        password_lookup: Callable[[str], str | None],
        *,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        clock: Callable[[], float] = time.time,
        secret_key: bytes | None = None,
        nonce_ttl: float = 300.0,
    ) -> None:
        self.password_lookup = password_lookup
        self.server = DigestServer(
            realm,
            secret_key or secrets.token_bytes(32),
            clock,
            nonce_ttl=nonce_ttl,
            algorithms=algorithms,
        )

    def _challenge(self, reason: str, *, stale: bool = False) -> AuthDecision:
        headers = [("WWW-Authenticate", value) for value in self.server.challenge(stale=stale)]
        return AuthDecision(None, 401, reason, headers)

    def check(self, request: Request, local: tuple[str, int] | None = None) -> AuthDecision:
        """Verify the request's Authorization; say how to refuse it if it fails.

        ``local`` is the address the request reached us on: some clients
        (SIPp among them) compute the digest over ``sip:<that address>``.
        """
        credentials = request.headers.get("Authorization")
        if credentials is None:
            return self._challenge("credentials required")
        result = self.server.verify(credentials, request.method, self.password_lookup)
        if result.outcome is AuthOutcome.OK:
            assert result.credentials is not None
            if not _same_target(result.credentials.uri, request, local):
                return AuthDecision(None, 400, "credentials were computed for another URI")
            return AuthDecision(result.username)
        if result.outcome is AuthOutcome.STALE:
            return self._challenge(result.reason, stale=True)
        if result.outcome is AuthOutcome.MALFORMED:
            return AuthDecision(None, 400, f"bad credentials: {result.reason}")
        return AuthDecision(None, 403, result.reason)


def _same_target(uri_text: str, request: Request, local: tuple[str, int] | None) -> bool:
    """The digest ``uri`` names the Request-URI's target (RFC 3261 §22.4, leniently).

    RFC 3261 wants the exact Request-URI; deployed clients (SIPp among them)
    often send just ``sip:host:port``.  The host and port must match, and the
    user part too when the client gave one, so credentials cannot be moved to
    another server.
    """
    try:
        uri = SipUri.parse(uri_text)
    except SipParseError:
        return False
    target = request.uri
    if local is not None and uri.user is None and (uri.host, uri.port or 5060) == local:
        return True
    if (uri.host, uri.port or 5060) != (target.host, target.port or 5060):
        return False
    return uri.user is None or uri.user == target.user
