"""Digest access authentication for SIP (RFC 3261 §22.4, RFC 7616, RFC 8760).

Works on header *values*: the text of ``WWW-Authenticate``/``Proxy-Authenticate``
(a challenge) and of ``Authorization``/``Proxy-Authorization`` (credentials).

* :class:`DigestChallenge` and :class:`DigestCredentials` parse and serialise
  those values with an auth-param parser (RFC 7235 §2.1, RFC 7230 §3.2.6).
* :class:`DigestClient` answers challenges as a UAC: it takes the strongest
  algorithm offered (RFC 8760 §2.4, RFC 7616 §3.7), uses ``qop=auth`` when the
  server offers it and the RFC 2617 legacy computation when it offers no qop,
  and counts ``nc`` per nonce (RFC 7616 §3.4).
* :class:`DigestServer` challenges and verifies as a registrar/UAS with
  stateless nonces -- a timestamp and random salt signed with an HMAC -- so
  no per-challenge storage is needed; only the highest ``nc`` seen per nonce
  is kept, in a bounded LRU, to refuse replays (RFC 7616 §5.5).

Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess.  ``userhash`` and
``auth-int`` on the server side are not supported.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final

from callvault.sip.auth_params import TOKEN_CHARS
from callvault.sip.auth_params import DigestParseError as DigestParseError
from callvault.sip.auth_params import parse_auth_values as parse_auth_values

ALGORITHMS: Final = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")
#: Higher is stronger (RFC 7616 §3.7 prefers SHA-256 to MD5).
_STRENGTH: Final = {"SHA-256": 4, "SHA-256-SESS": 3, "MD5": 2, "MD5-SESS": 1}
_HEX: Final = frozenset("0123456789abcdefABCDEF")


class DigestError(Exception):
    """A challenge the client cannot answer (no supported algorithm or qop)."""


def canonical_algorithm(name: str | None) -> str:
    """The spelling of ``ALGORITHMS`` for ``name``; absent means MD5 (RFC 7616 §3.3)."""
    if name is None:
        return "MD5"
    for known in ALGORITHMS:
        if known.lower() == name.lower():
            return known
    raise DigestError(f"unsupported digest algorithm {name!r}")


def _hash_bytes(algorithm: str, data: bytes) -> str:
    if algorithm.upper().startswith("SHA-256"):
        return hashlib.sha256(data).hexdigest()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _hash(algorithm: str, text: str) -> str:
    return _hash_bytes(algorithm, text.encode("utf-8"))


# --- auth-param syntax (RFC 7235 §2.1) ------------------------------------------


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _token(value: str) -> str:
    """A value written as a bare token when it is one, else quoted."""
    return value if value and set(value) <= TOKEN_CHARS else _quote(value)


def _single_digest(text: str) -> dict[str, str]:
    items = parse_auth_values(text)
    if len(items) != 1:
        raise DigestParseError(f"expected one Digest value, found {len(items)} in {text!r}")
    scheme, params = items[0]
    if scheme.lower() != "digest":
        raise DigestParseError(f"unsupported auth scheme {scheme!r} (expected Digest)")
    return params


def _required(params: dict[str, str], name: str, text: str) -> str:
    value = params.get(name)
    if value is None:
        raise DigestParseError(f"missing {name!r} in {text!r}")
    return value


_CHALLENGE_PARAMS: Final = frozenset(
    ("realm", "nonce", "algorithm", "qop", "opaque", "stale", "domain")
)
_CREDENTIAL_PARAMS: Final = frozenset(
    ("username", "realm", "nonce", "uri", "response", "algorithm", "cnonce", "qop", "nc", "opaque")
)

# --- value classes --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """A ``Digest`` challenge (RFC 7616 §3.3, RFC 3261 §22.4).

    ``algorithm`` is ``None`` when the server did not name one (MD5 then).
    """

    realm: str
    nonce: str
    algorithm: str | None = None
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> DigestChallenge:
        """Parse one ``WWW-Authenticate``/``Proxy-Authenticate`` value."""
        return cls._from_params(_single_digest(text), text)

    @classmethod
    def parse_all(cls, text: str) -> list[DigestChallenge]:
        """Every Digest challenge in a value, skipping other schemes."""
        return [
            cls._from_params(params, text)
            for scheme, params in parse_auth_values(text)
            if scheme.lower() == "digest"
        ]

    @classmethod
    def _from_params(cls, params: dict[str, str], text: str) -> DigestChallenge:
        qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
        return cls(
            realm=_required(params, "realm", text),
            nonce=_required(params, "nonce", text),
            algorithm=params.get("algorithm"),
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
            domain=params.get("domain"),
            extra=tuple((k, v) for k, v in params.items() if k not in _CHALLENGE_PARAMS),
        )

    def serialize(self) -> str:
        """The header value, quoting as RFC 7616 §3.3 shows."""
        parts = [f"realm={_quote(self.realm)}"]
        if self.domain is not None:
            parts.append(f"domain={_quote(self.domain)}")
        parts.append(f"nonce={_quote(self.nonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.stale:
            parts.append("stale=TRUE")
        if self.algorithm is not None:
            parts.append(f"algorithm={_token(self.algorithm)}")
        if self.qop:
            parts.append(f"qop={_quote(','.join(self.qop))}")
        parts += [f"{k}={_quote(v)}" for k, v in self.extra]
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """``Digest`` credentials (RFC 7616 §3.4, RFC 3261 §22.4).

    ``qop``, ``cnonce`` and ``nc`` are all ``None`` in RFC 2617 legacy mode.
    """

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    cnonce: str | None = None
    qop: str | None = None
    nc: int | None = None
    opaque: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> DigestCredentials:
        """Parse one ``Authorization``/``Proxy-Authorization`` value."""
        params = _single_digest(text)
        nc_text = params.get("nc")
        nc: int | None = None
        if nc_text is not None:
            if len(nc_text) != 8 or not set(nc_text) <= _HEX:
                raise DigestParseError(f"nc must be 8 hex digits, got {nc_text!r}")
            nc = int(nc_text, 16)
        qop = params.get("qop")
        if qop is not None and (nc is None or params.get("cnonce") is None):
            raise DigestParseError(f"qop={qop} needs cnonce and nc in {text!r}")
        return cls(
            username=_required(params, "username", text),
            realm=_required(params, "realm", text),
            nonce=_required(params, "nonce", text),
            uri=_required(params, "uri", text),
            response=_required(params, "response", text),
            algorithm=params.get("algorithm"),
            cnonce=params.get("cnonce"),
            qop=qop,
            nc=nc,
            opaque=params.get("opaque"),
            extra=tuple((k, v) for k, v in params.items() if k not in _CREDENTIAL_PARAMS),
        )

    def serialize(self) -> str:
        """The header value, quoting as RFC 7616 §3.4 shows."""
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self.nonce)}",
            f"uri={_quote(self.uri)}",
            f"response={_quote(self.response)}",
        ]
        if self.algorithm is not None:
            parts.append(f"algorithm={_token(self.algorithm)}")
        if self.cnonce is not None:
            parts.append(f"cnonce={_quote(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque)}")
        if self.qop is not None:
            parts.append(f"qop={_token(self.qop)}")
        if self.nc is not None:
            parts.append(f"nc={self.nc:08x}")
        parts += [f"{k}={_quote(v)}" for k, v in self.extra]
        return "Digest " + ", ".join(parts)


# --- the computation (RFC 7616 §3.4.1-§3.4.3) -----------------------------------


def compute_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """``H(username:realm:password)``, the stored secret of RFC 7616 §3.4.2."""
    return _hash(algorithm, f"{username}:{realm}:{password}")


def compute_response(
    *,
    algorithm: str,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: int | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` value from the non-session HA1 (RFC 7616 §3.4.1)."""
    if algorithm.lower().endswith("-sess"):
        ha1 = _hash(algorithm, f"{ha1}:{nonce}:{cnonce or ''}")
    if qop == "auth-int":
        ha2 = _hash(algorithm, f"{method}:{uri}:{_hash_bytes(algorithm, body)}")
    else:
        ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop is None:
        return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{nc or 0:08x}:{cnonce or ''}:{qop}:{ha2}")


# --- client ----------------------------------------------------------------------


def _strength(challenge: DigestChallenge) -> int:
    return _STRENGTH.get((challenge.algorithm or "MD5").upper(), 0)


class DigestClient:
    """Answers Digest challenges for one account (RFC 3261 §22.2, §22.3).

    ``cnonce_factory`` exists so tests can pin the client nonce.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        cnonce_factory: Callable[[], str] | None = None,
        max_nonces: int = 32,
    ) -> None:
        self.username = username
        self._password = password
        self._cnonce = cnonce_factory or (lambda: secrets.token_hex(16))
        self._nc: OrderedDict[str, int] = OrderedDict()
        self._max_nonces = max_nonces

    def choose(self, challenges: Iterable[DigestChallenge]) -> DigestChallenge:
        """The challenge to answer: the strongest supported algorithm, first on ties."""
        usable = [c for c in challenges if _strength(c) > 0]
        if not usable:
            raise DigestError("no Digest challenge with a supported algorithm")
        return max(usable, key=_strength)  # max() keeps the first of equals

    def answer(
        self, challenge_value: str | Iterable[str], method: str, uri: str, body: bytes = b""
    ) -> str:
        """The ``Authorization``/``Proxy-Authorization`` value for a request.

        ``challenge_value`` is one header value or all of them when the
        response carried several (RFC 8760 §2.4).
        """
        values = [challenge_value] if isinstance(challenge_value, str) else list(challenge_value)
        challenges = [c for v in values for c in DigestChallenge.parse_all(v)]
        challenge = self.choose(challenges)
        algorithm = canonical_algorithm(challenge.algorithm)
        qop: str | None = None
        if challenge.qop:
            if "auth" in challenge.qop:
                qop = "auth"
            elif "auth-int" in challenge.qop:
                qop = "auth-int"
            else:
                raise DigestError(f"no supported qop in {challenge.qop!r}")
        cnonce = nc = None
        if qop is not None or algorithm.endswith("-sess"):
            cnonce = self._cnonce()
        if qop is not None:
            nc = self._next_nc(challenge.nonce)
        ha1 = compute_ha1(algorithm, self.username, challenge.realm, self._password)
        response = compute_response(
            algorithm=algorithm,
            ha1=ha1,
            nonce=challenge.nonce,
            method=method,
            uri=uri,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            body=body,
        )
        return DigestCredentials(
            username=self.username,
            realm=challenge.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=response,
            algorithm=challenge.algorithm,
            cnonce=cnonce,
            qop=qop,
            nc=nc,
            opaque=challenge.opaque,
        ).serialize()

    def _next_nc(self, nonce: str) -> int:
        count = self._nc.pop(nonce, 0) + 1
        self._nc[nonce] = count
        while len(self._nc) > self._max_nonces:
            self._nc.popitem(last=False)
        return count


# --- server ----------------------------------------------------------------------


class AuthOutcome(Enum):
    """What the request's credentials amount to, and what to answer."""

    OK = "ok"  #: proceed
    BAD_CREDENTIALS = "bad-credentials"  #: re-challenge (401/407)
    STALE = "stale"  #: re-challenge with stale=true (RFC 7616 §3.3)
    MALFORMED = "malformed"  #: 400 Bad Request


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The verdict of :meth:`DigestServer.verify` with a reason for logs."""

    outcome: AuthOutcome
    reason: str
    username: str | None = None
    credentials: DigestCredentials | None = None

    @property
    def ok(self) -> bool:
        """Whether the request is authenticated."""
        return self.outcome is AuthOutcome.OK


_STAMP: Final = struct.Struct(">Q8s")  # milliseconds since the epoch, salt
_MAC_LEN: Final = 16


class DigestServer:
    """Challenges and verifies requests for one realm (RFC 3261 §22.4, RFC 7616 §3.3).

    A nonce is ``base64url(timestamp || salt || HMAC-SHA256(secret_key,
    realm || timestamp || salt))``: its HMAC proves we issued it, its
    timestamp bounds its life to ``nonce_ttl`` seconds of ``clock``.  Use a
    wall clock (``time.time``) so nonces stay valid across a restart.
    """

    def __init__(
        self,
        realm: str,
        secret_key: bytes,
        clock: Callable[[], float],
        nonce_ttl: float = 300,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        *,
        max_tracked_nonces: int = 4096,
    ) -> None:
        if not algorithms:
            raise ValueError("at least one algorithm is needed")
        if len(secret_key) < 16:
            raise ValueError("secret_key must be at least 16 bytes")
        self.realm = realm
        self._secret_key = secret_key
        self.clock = clock
        self.nonce_ttl = nonce_ttl
        # the caller's order is the order of the 401's headers (RFC 8760 §2.4)
        self.algorithms = tuple(dict.fromkeys(canonical_algorithm(a) for a in algorithms))
        self.max_tracked_nonces = max_tracked_nonces
        self._nc: OrderedDict[str, int] = OrderedDict()

    def _mac(self, stamp: bytes) -> bytes:
        message = self.realm.encode("utf-8") + b"\x00" + stamp
        return hmac.new(self._secret_key, message, hashlib.sha256).digest()[:_MAC_LEN]

    def make_nonce(self) -> str:
        """A fresh signed nonce."""
        stamp = _STAMP.pack(int(self.clock() * 1000), secrets.token_bytes(8))
        return base64.urlsafe_b64encode(stamp + self._mac(stamp)).decode("ascii")

    def _nonce_time(self, nonce: str) -> float | None:
        """Issue time of a nonce we signed, or ``None`` if it is not ours."""
        try:
            raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            return None
        if len(raw) != _STAMP.size + _MAC_LEN or base64.urlsafe_b64encode(raw) != nonce.encode():
            return None
        stamp, mac = raw[: _STAMP.size], raw[_STAMP.size :]
        if not hmac.compare_digest(mac, self._mac(stamp)):
            return None
        millis, _salt = _STAMP.unpack(stamp)
        return float(millis) / 1000

    def challenge(self, stale: bool = False) -> list[str]:
        """``WWW-Authenticate`` values, one per algorithm, in configured order (RFC 8760 §2.4)."""
        nonce = self.make_nonce()
        return [
            DigestChallenge(self.realm, nonce, algorithm, ("auth",), stale=stale).serialize()
            for algorithm in self.algorithms
        ]

    def verify(
        self,
        credentials_value: str,
        method: str,
        password_lookup: Callable[[str], str | None] | None = None,
        uri: str | None = None,
        *,
        ha1_lookup: Callable[[str, str], str | None] | None = None,
    ) -> AuthResult:
        """Check an ``Authorization`` value against ``method`` and request ``uri``.

        Give either ``password_lookup(username)`` or ``ha1_lookup(username,
        algorithm)`` returning the stored ``H(username:realm:password)`` for
        ``"MD5"`` or ``"SHA-256"``.  ``uri`` (the Request-URI), when given,
        must equal the credentials' ``uri`` (RFC 7616 §3.4.6).
        """
        if (password_lookup is None) == (ha1_lookup is None):
            raise TypeError("give exactly one of password_lookup and ha1_lookup")
        try:
            creds = DigestCredentials.parse(credentials_value)
        except DigestParseError as exc:
            return AuthResult(AuthOutcome.MALFORMED, str(exc))

        def result(outcome: AuthOutcome, reason: str) -> AuthResult:
            return AuthResult(outcome, reason, creds.username, creds)

        if creds.qop != "auth":
            return result(AuthOutcome.MALFORMED, f"qop must be 'auth', got {creds.qop!r}")
        if uri is not None and creds.uri != uri:
            return result(
                AuthOutcome.MALFORMED, f"uri {creds.uri!r} is not the request URI {uri!r}"
            )
        if creds.realm != self.realm:
            return result(AuthOutcome.BAD_CREDENTIALS, f"realm {creds.realm!r} is not ours")
        try:
            algorithm = canonical_algorithm(creds.algorithm)
        except DigestError:
            algorithm = ""
        if algorithm not in self.algorithms:
            return result(AuthOutcome.BAD_CREDENTIALS, f"algorithm {creds.algorithm!r} not offered")
        issued = self._nonce_time(creds.nonce)
        if issued is None:
            return result(AuthOutcome.BAD_CREDENTIALS, "nonce was not issued by us")
        base = algorithm.removesuffix("-sess")
        if ha1_lookup is not None:
            ha1 = ha1_lookup(creds.username, base)
        else:
            assert password_lookup is not None
            password = password_lookup(creds.username)
            ha1 = (
                None
                if password is None
                else compute_ha1(base, creds.username, self.realm, password)
            )
        if ha1 is None:
            return result(AuthOutcome.BAD_CREDENTIALS, f"unknown user {creds.username!r}")
        expected = compute_response(
            algorithm=algorithm,
            ha1=ha1,
            nonce=creds.nonce,
            method=method,
            uri=creds.uri,
            qop=creds.qop,
            nc=creds.nc,
            cnonce=creds.cnonce,
        )
        if not hmac.compare_digest(expected.encode(), creds.response.lower().encode()):
            return result(AuthOutcome.BAD_CREDENTIALS, "wrong response (password)")
        if abs(self.clock() - issued) > self.nonce_ttl:
            return result(AuthOutcome.STALE, "nonce expired")
        assert creds.nc is not None
        if not self._advance_nc(creds.nonce, creds.nc):
            return result(AuthOutcome.STALE, f"nonce count {creds.nc:08x} replayed")
        return result(AuthOutcome.OK, "authenticated")

    def _advance_nc(self, nonce: str, nc: int) -> bool:
        highest = self._nc.get(nonce, 0)
        if nc <= highest:
            return False
        self._nc[nonce] = nc
        self._nc.move_to_end(nonce)
        while len(self._nc) > self.max_tracked_nonces:
            self._nc.popitem(last=False)
        return True
