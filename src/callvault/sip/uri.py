"""SIP and tel URIs (RFC 3261 §19.1, RFC 3966) as value classes.

``SipUri.parse("sip:alice:pw@host:5060;transport=tcp?subject=x")`` gives a
value that serialises back with ``str()``.  URI parameters keep their order
and compare case-insensitively by name, as RFC 3261 §19.1.4 asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import unquote

from callvault.sip.errors import SipParseError

_SCHEMES = ("sip", "sips", "tel")
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-_]*|[0-9.]+)$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~\[\]:/&$]+$")


def _split_params(text: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for part in text.split(";"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not name:
            raise SipParseError(f"empty URI parameter name in {text!r}")
        params[name.lower()] = value.strip() if sep else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    """Serialise ``;name=value`` parameters (``None`` means a flag)."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:``, ``sips:`` or ``tel:`` URI (RFC 3261 §19.1.1)."""

    scheme: str
    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a URI; raise :class:`SipParseError` naming what is wrong."""
        text = text.strip()
        scheme, colon, rest = text.partition(":")
        scheme = scheme.lower()
        if not colon or scheme not in _SCHEMES:
            raise SipParseError(f"unsupported URI scheme in {text!r} (expected sip, sips or tel)")
        if scheme == "tel":
            number, _, ptext = rest.partition(";")
            if not number:
                raise SipParseError(f"empty tel URI {text!r}")
            return cls(scheme="tel", host="", user=number, params=_split_params(ptext))
        rest, qmark, headers = rest.partition("?")
        userinfo, at, hostpart = rest.rpartition("@")
        if not at:
            hostpart, userinfo = rest, ""
        user: str | None = None
        password: str | None = None
        if at:
            user, pcolon, pw = userinfo.partition(":")
            password = pw if pcolon else None
            if not user:
                raise SipParseError(f"empty user part in URI {text!r}")
            user = unquote(user)
        hostport, _, ptext = hostpart.partition(";")
        host, port = _split_hostport(hostport, text)
        return cls(
            scheme=scheme,
            host=host,
            user=user,
            password=password,
            port=port,
            params=_split_params(ptext),
            headers=headers if qmark else None,
        )

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user}{format_params(self.params)}"
        userinfo = ""
        if self.user is not None:
            userinfo = self.user
            if self.password is not None:
                userinfo += f":{self.password}"
            userinfo += "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers is not None else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{format_params(self.params)}{headers}"

    @property
    def transport(self) -> str:
        """The ``transport`` parameter, lower-case, ``udp`` when absent (§18.1)."""
        value = self.params.get("transport")
        return (value or "udp").lower()

    @property
    def host_no_brackets(self) -> str:
        """The host as a socket address wants it (IPv6 without brackets)."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    def with_params(self, **params: str | None) -> SipUri:
        """A copy with the given parameters set (``None`` value = flag)."""
        merged = dict(self.params)
        merged.update(params)
        return replace(self, params=merged)

    def with_user(self, user: str | None) -> SipUri:
        """A copy with another user part (e.g. a number to dial at a gateway)."""
        return replace(self, user=user)

    def without_params(self, *names: str) -> SipUri:
        """A copy without the named parameters."""
        return replace(self, params={k: v for k, v in self.params.items() if k not in names})


def _split_hostport(hostport: str, whole: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipParseError(f"unterminated IPv6 reference in URI {whole!r}")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise SipParseError(f"garbage after IPv6 host in URI {whole!r}")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = hostport.partition(":")
    if not host or not _HOST_RE.match(host):
        raise SipParseError(f"invalid host {host!r} in URI {whole!r}")
    if not port_text:
        return host.lower(), None
    if not is_digits(port_text) or not 0 < int(port_text) < 65536:
        raise SipParseError(f"invalid port {port_text!r} in URI {whole!r}")
    return host.lower(), int(port_text)


def is_digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts "²", which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 3261 §25.1 token (loosely, for parameters)."""
    return bool(_TOKEN_RE.match(text))
