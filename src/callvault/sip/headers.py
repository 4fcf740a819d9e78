"""SIP header registry and typed header values (RFC 3261 §7.3, §20).

The registry maps every spelling of a header name (long, compact, any case)
onto one canonical name and says whether the header may carry a
comma-separated list of values (§7.3.1).  Typed values -- :class:`NameAddress`
for From/To/Contact/Route, :class:`Via`, :class:`CSeq` -- parse from and
serialise to the header text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from callvault.sip.errors import SipParseError
from callvault.sip.uri import SipUri, format_params, is_digits

# canonical name, compact form or "", may be a comma-separated list
_REGISTRY: tuple[tuple[str, str, bool], ...] = (
    ("Accept", "", True),
    ("Accept-Contact", "a", True),
    ("Accept-Encoding", "", True),
    ("Accept-Language", "", True),
    ("Alert-Info", "", True),
    ("Allow", "", True),
    ("Allow-Events", "u", True),
    ("Authentication-Info", "", False),
    ("Authorization", "", False),
    ("Call-ID", "i", False),
    ("Call-Info", "", True),
    ("Contact", "m", True),
    ("Content-Disposition", "", False),
    ("Content-Encoding", "e", True),
    ("Content-Language", "", True),
    ("Content-Length", "l", False),
    ("Content-Type", "c", False),
    ("CSeq", "", False),
    ("Date", "", False),
    ("Event", "o", False),
    ("Expires", "", False),
    ("From", "f", False),
    ("Identity", "y", False),
    ("In-Reply-To", "", True),
    ("Max-Forwards", "", False),
    ("Min-Expires", "", False),
    ("MIME-Version", "", False),
    ("Organization", "", False),
    ("P-Asserted-Identity", "", True),
    ("Priority", "", False),
    ("Proxy-Authenticate", "", False),
    ("Proxy-Authorization", "", False),
    ("Proxy-Require", "", True),
    ("RAck", "", False),
    ("Reason", "", True),
    ("Record-Route", "", True),
    ("Refer-To", "r", False),
    ("Referred-By", "b", False),
    ("Reject-Contact", "j", True),
    ("Reply-To", "", False),
    ("Request-Disposition", "d", True),
    ("Require", "", True),
    ("Retry-After", "", False),
    ("Route", "", True),
    ("RSeq", "", False),
    ("Server", "", False),
    ("Session-Expires", "x", False),
    ("Subject", "s", False),
    ("Subscription-State", "", False),
    ("Supported", "k", True),
    ("Timestamp", "", False),
    ("To", "t", False),
    ("Unsupported", "", True),
    ("User-Agent", "", False),
    ("Via", "v", True),
    ("Warning", "", True),
    ("WWW-Authenticate", "", False),
)

_CANONICAL: dict[str, str] = {}
_LIST_HEADERS: set[str] = set()
for _name, _compact, _is_list in _REGISTRY:
    _CANONICAL[_name.lower()] = _name
    if _compact:
        _CANONICAL[_compact] = _name
    if _is_list:
        _LIST_HEADERS.add(_name)


def canonical_name(name: str) -> str:
    """The canonical spelling of a header name (compact forms expanded).

    Unknown headers keep their spelling; comparisons stay case-insensitive
    because :class:`~callvault.sip.message.Headers` compares lower-cased keys.
    """
    return _CANONICAL.get(name.lower(), name)


def is_list_header(name: str) -> bool:
    """Whether the header may hold a comma-separated list (§7.3.1)."""
    return canonical_name(name) in _LIST_HEADERS


def split_list(value: str) -> list[str]:
    """Split a header value on top-level commas (not in quotes or ``<>``)."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\":
                i += 1
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            parts.append(value[start:i].strip())
            start = i + 1
        i += 1
    if quoted:
        raise SipParseError(f"unterminated quoted string in {value!r}")
    parts.append(value[start:].strip())
    return [p for p in parts if p]


def _parse_header_params(text: str, whole: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for part in _split_semicolons(text):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not name:
            raise SipParseError(f"empty parameter name in {whole!r}")
        params[name] = value.strip() if sep else None
    return params


def _split_semicolons(text: str) -> list[str]:
    parts: list[str] = []
    quoted = False
    start = 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


_DISPLAY_RE = re.compile(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>(.*)$', re.S)


@dataclass(frozen=True, slots=True)
class NameAddress:
    """A ``name-addr`` or ``addr-spec`` with header parameters (§20.10, §25.1).

    Used by From, To, Contact, Route, Record-Route, Refer-To.  ``uri`` is
    ``None`` only for the ``Contact: *`` wildcard of REGISTER (§10.2.2).
    """

    uri: SipUri | None
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddress:
        """Parse ``"Alice" <sip:a@h>;tag=1`` or ``sip:a@h;tag=1``."""
        text = text.strip()
        if text == "*":
            return cls(uri=None)
        m = _DISPLAY_RE.match(text)
        if m:
            quoted, plain, uri_text, rest = m.groups()
            display = quoted if quoted is not None else (plain.strip() or None)
            if quoted is not None:
                display = re.sub(r"\\(.)", r"\1", quoted)
            return cls(
                uri=SipUri.parse(uri_text),
                display_name=display,
                params=_parse_header_params(rest.lstrip(), text) if rest.strip() else {},
            )
        if "<" in text or ">" in text:
            raise SipParseError(f"unbalanced angle brackets in address {text!r}")
        # addr-spec form: header parameters follow the URI; URI params are
        # impossible to tell apart, so (per §20.10) all belong to the header.
        uri_text, _, ptext = text.partition(";")
        return cls(uri=SipUri.parse(uri_text), params=_parse_header_params(ptext, text))

    def __str__(self) -> str:
        if self.uri is None:
            return "*"
        display = ""
        if self.display_name:
            escaped = self.display_name.replace("\\", "\\\\").replace('"', '\\"')
            display = f'"{escaped}" '
        return f"{display}<{self.uri}>{format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter of From/To (§19.3)."""
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddress:
        """A copy carrying ``tag``."""
        return replace(self, params={**self.params, "tag": tag})

    @property
    def expires(self) -> int | None:
        """The ``expires`` parameter of a Contact (§10.2.1.1), if numeric."""
        value = self.params.get("expires")
        return int(value) if value is not None and is_digits(value) else None


@dataclass(frozen=True, slots=True)
class Via:
    """One Via header value (§20.42, RFC 3581 for ``rport``)."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse ``SIP/2.0/UDP host:port;branch=z9hG4bK..;rport``."""
        sent_protocol, _, rest = text.strip().partition(" ")
        pieces = [p.strip() for p in sent_protocol.split("/")]
        if len(pieces) != 3 or pieces[0].upper() != "SIP" or not pieces[2]:
            raise SipParseError(f"invalid Via sent-protocol in {text!r}")
        if pieces[1] != "2.0":
            raise SipParseError(f"invalid Via: SIP version {pieces[1]!r} in {text!r}")
        rest = rest.strip()
        if not rest:
            raise SipParseError(f"Via without sent-by in {text!r}")
        sent_by, _, ptext = rest.partition(";")
        sent_by = sent_by.strip()
        uri = SipUri.parse(f"sip:{sent_by}")
        return cls(
            transport=pieces[2].upper(),
            host=uri.host,
            port=uri.port,
            params=_parse_header_params(ptext, text),
        )

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"

    @property
    def branch(self) -> str | None:
        """The transaction branch id (§8.1.1.7)."""
        return self.params.get("branch")

    def with_params(self, **params: str | None) -> Via:
        """A copy with parameters set, e.g. ``received`` and ``rport`` (§18.2.1)."""
        return replace(self, params={**self.params, **params})


@dataclass(frozen=True, slots=True)
class CSeq:
    """The CSeq header (§20.16): sequence number and method."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse ``"42 INVITE"``; the number must fit 31 bits (§8.1.1.5)."""
        parts = text.split()
        if len(parts) != 2 or not is_digits(parts[0]):
            raise SipParseError(f"invalid CSeq {text!r} (expected '<number> <method>')")
        seq = int(parts[0])
        if seq >= 2**31:
            raise SipParseError(f"CSeq number {seq} exceeds 2**31-1")
        return cls(seq, parts[1].upper())

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"
