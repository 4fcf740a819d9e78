"""SIP requests and responses: parsing, serialising, framing (RFC 3261 §7, §18.3).

``parse_message(data)`` turns one datagram (or one framed stream message)
into a :class:`Request` or :class:`Response`; ``message.serialize()`` turns it
back into bytes with a correct Content-Length.  :class:`StreamFramer` cuts a
TCP byte stream into messages by Content-Length (§18.3).  Malformed input
raises :class:`~callvault.sip.errors.SipParseError` and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from callvault.sip.errors import SipParseError
from callvault.sip.headers import CSeq, NameAddress, Via, canonical_name, is_list_header, split_list
from callvault.sip.uri import SipUri, is_digits

MAX_MESSAGE_SIZE = 65535
_METHOD_RE = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")

REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
}


class Headers:
    """An ordered, case-insensitive multimap of SIP headers (§7.3).

    Names are stored canonically (compact forms expanded); list headers are
    kept one value per entry, so ``get_all("Via")`` is the Via stack.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items:
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        """Append a header (split if it is a list header)."""
        name = canonical_name(name)
        if is_list_header(name) and "," in value:
            self._items.extend((name, part) for part in split_list(value))
        else:
            self._items.append((name, value.strip()))

    def prepend(self, name: str, value: str) -> None:
        """Insert a header value before the existing ones of that name."""
        name = canonical_name(name)
        key = name.lower()
        for i, (existing, _) in enumerate(self._items):
            if existing.lower() == key:
                self._items.insert(i, (name, value))
                return
        self._items.append((name, value))

    def set(self, name: str, value: str) -> None:
        """Replace every value of ``name`` with one value."""
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        """Drop every value of ``name``."""
        key = canonical_name(name).lower()
        self._items = [(n, v) for n, v in self._items if n.lower() != key]

    def remove_first(self, name: str) -> None:
        """Drop the first value of ``name`` (e.g. our own Via, §18.1.2)."""
        key = canonical_name(name).lower()
        for i, (existing, _) in enumerate(self._items):
            if existing.lower() == key:
                del self._items[i]
                return

    def get(self, name: str) -> str | None:
        """The first value of ``name`` or ``None``."""
        key = canonical_name(name).lower()
        for existing, value in self._items:
            if existing.lower() == key:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order."""
        key = canonical_name(name).lower()
        return [v for n, v in self._items if n.lower() == key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        """A shallow copy."""
        clone = Headers()
        clone._items = list(self._items)
        return clone

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(slots=True)
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        """The Call-ID (§20.8)."""
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> CSeq:
        """The parsed CSeq (§20.16)."""
        return CSeq.parse(self.headers.get("CSeq") or "")

    @property
    def from_(self) -> NameAddress:
        """The parsed From (§20.20)."""
        return NameAddress.parse(self.headers.get("From") or "")

    @property
    def to(self) -> NameAddress:
        """The parsed To (§20.39)."""
        return NameAddress.parse(self.headers.get("To") or "")

    @property
    def vias(self) -> list[Via]:
        """The Via stack, topmost first (§20.42)."""
        return [Via.parse(v) for v in self.headers.get_all("Via")]

    @property
    def top_via(self) -> Via:
        """The topmost Via."""
        value = self.headers.get("Via")
        if value is None:
            raise SipParseError("message has no Via header")
        return Via.parse(value)

    @property
    def contacts(self) -> list[NameAddress]:
        """The parsed Contact values (§20.10)."""
        return [NameAddress.parse(v) for v in self.headers.get_all("Contact")]

    @property
    def record_route(self) -> list[NameAddress]:
        """The parsed Record-Route values (§20.30)."""
        return [NameAddress.parse(v) for v in self.headers.get_all("Record-Route")]

    @property
    def content_type(self) -> str:
        """The media type of the body, lower-case, without parameters."""
        value = self.headers.get("Content-Type") or ""
        return value.split(";")[0].strip().lower()

    def _serialize(self, start_line: str) -> bytes:
        lines = [start_line]
        lines.extend(f"{n}: {v}" for n, v in self.headers if n != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


@dataclass(slots=True)
class Request(_Message):
    """A SIP request (§7.1)."""

    method: str = "OPTIONS"
    uri: SipUri = field(default_factory=lambda: SipUri(scheme="sip", host="invalid"))

    def serialize(self) -> bytes:
        """Wire bytes with an exact Content-Length."""
        return self._serialize(f"{self.method} {self.uri} SIP/2.0")

    @property
    def branch(self) -> str:
        """The top Via branch: the transaction key (§17.2.3)."""
        return self.top_via.branch or ""

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} call-id={self.call_id}>"


@dataclass(slots=True)
class Response(_Message):
    """A SIP response (§7.2)."""

    status: int = 200
    reason: str = "OK"

    def serialize(self) -> bytes:
        """Wire bytes with an exact Content-Length."""
        return self._serialize(f"SIP/2.0 {self.status} {self.reason}")

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} call-id={self.call_id}>"


Message = Request | Response


def _split_head(data: bytes) -> tuple[str, bytes]:
    for sep in (b"\r\n\r\n", b"\n\n"):
        idx = data.find(sep)
        if idx >= 0:
            head, body = data[:idx], data[idx + len(sep) :]
            break
    else:
        head, body = data, b""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(f"message head is not UTF-8 (byte {exc.start})") from None
    return text, body


def _unfold(lines: list[str]) -> list[tuple[str, str]]:
    """Join continuation lines (§7.3.1) and split ``name: value`` pairs."""
    raw: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            if not raw:
                raise SipParseError("continuation line before any header")
            name, value = raw[-1]
            raw[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or not _METHOD_RE.match(name):
            raise SipParseError(f"malformed header line {line[:80]!r}")
        raw.append((name, value.strip()))
    return raw


def parse_message(data: bytes, *, stream: bool = False) -> Request | Response:
    """Parse one SIP message.

    ``stream`` says the bytes came framed from a stream transport, where
    Content-Length is mandatory (§18.3); on datagrams a missing one means
    "the rest of the datagram" and a too-large one is an error.
    """
    if len(data) > MAX_MESSAGE_SIZE:
        raise SipParseError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_SIZE}")
    text, body = _split_head(data.lstrip(b"\r\n"))
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0]
    if not start:
        raise SipParseError("empty message")
    raw = _unfold(lines[1:])
    headers = Headers(raw)
    method: str | None = None
    message: Request | Response
    if start.startswith("SIP/"):
        version, _, rest = start.partition(" ")
        code, _, reason = rest.partition(" ")
        if version != "SIP/2.0":
            raise SipParseError(f"unsupported SIP version {version!r}")
        if len(code) != 3 or not is_digits(code) or not 100 <= int(code) <= 699:
            raise SipParseError(f"invalid status code {code!r} in status line")
        message = Response(headers=headers, status=int(code), reason=reason.strip())
    else:
        parts = start.split(" ")
        if len(parts) != 3:
            raise SipParseError(f"malformed request line {start[:80]!r}")
        method, uri_text, version = parts
        if not _METHOD_RE.match(method):
            raise SipParseError(f"invalid method {method[:20]!r}")
        if version != "SIP/2.0":
            raise SipParseError(f"unsupported SIP version {version[:20]!r}", raw_headers=raw)
        try:
            uri = SipUri.parse(uri_text)
        except SipParseError as exc:
            raise SipParseError(f"bad Request-URI: {exc}", raw_headers=raw, method=method) from None
        message = Request(headers=headers, method=method.upper(), uri=uri)
    message.body = _frame_body(headers, body, stream, raw, method)
    _validate(message, raw, method)
    return message


def _frame_body(
    headers: Headers, body: bytes, stream: bool, raw: list[tuple[str, str]], method: str | None
) -> bytes:
    length_text = headers.get("Content-Length")
    if length_text is None:
        if stream:
            raise SipParseError(
                "Content-Length is mandatory on stream transports", raw_headers=raw, method=method
            )
        return body
    if not is_digits(length_text):
        raise SipParseError(
            f"invalid Content-Length {length_text!r}", raw_headers=raw, method=method
        )
    length = int(length_text)
    if length > len(body):
        raise SipParseError(
            f"Content-Length {length} exceeds the {len(body)} body bytes received",
            raw_headers=raw,
            method=method,
        )
    return body[:length]


def _validate(message: Request | Response, raw: list[tuple[str, str]], method: str | None) -> None:
    for name in _MANDATORY:
        if name not in message.headers:
            raise SipParseError(f"missing mandatory header {name}", raw_headers=raw, method=method)
    try:
        vias = message.vias
        cseq = message.cseq
        message.from_  # noqa: B018 - parse for validation
        message.to  # noqa: B018
        for value in message.headers.get_all("Contact"):
            NameAddress.parse(value)
    except SipParseError as exc:
        raise SipParseError(str(exc), raw_headers=raw, method=method) from None
    if not vias:
        raise SipParseError("empty Via header", raw_headers=raw, method=method)
    if isinstance(message, Request) and cseq.method != message.method and message.method != "ACK":
        raise SipParseError(
            f"CSeq method {cseq.method} does not match request method {message.method}",
            raw_headers=raw,
            method=method,
        )
    max_forwards = message.headers.get("Max-Forwards")
    if max_forwards is not None and not is_digits(max_forwards):
        raise SipParseError(
            f"invalid Max-Forwards {max_forwards!r}", raw_headers=raw, method=method
        )


class StreamFramer:
    """Cuts a stream transport's bytes into whole SIP messages (§18.3).

    Leading CRLFs (RFC 5626 §3.5.1 keep-alives) are skipped.  A head with no
    end in ``MAX_MESSAGE_SIZE`` bytes, or a Content-Length that is missing or
    not a number, raises :class:`SipParseError`: the connection cannot be
    resynchronised and must be closed.
    """

    __slots__ = ("_buffer", "keepalives")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.keepalives = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every message now complete."""
        self._buffer += data
        messages: list[bytes] = []
        while True:
            stripped = self._buffer.lstrip(b"\r\n")
            if len(stripped) != len(self._buffer):
                self.keepalives += 1
                self._buffer = bytearray(stripped)
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_MESSAGE_SIZE:
                    raise SipParseError("message head exceeds the size limit on the stream")
                return messages
            head = bytes(self._buffer[:end])
            length = _content_length_of(head)
            total = end + 4 + length
            if total > MAX_MESSAGE_SIZE:
                raise SipParseError(f"Content-Length {length} exceeds the size limit")
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]


def _content_length_of(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            value = value.strip()
            if not (value.isascii() and value.isdigit()):
                raise SipParseError(f"invalid Content-Length {value[:20]!r} on the stream")
            return int(value)
    raise SipParseError("Content-Length is mandatory on stream transports")


def build_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    body: bytes = b"",
    extra: Iterable[tuple[str, str]] = (),
) -> Response:
    """A response to ``request`` per §8.2.6.2: Via, From, To, Call-ID, CSeq copied.

    ``to_tag`` is added to To unless the request's To already has a tag.
    """
    headers = Headers()
    for value in request.headers.get_all("Via"):
        headers.add("Via", value)
    headers.add("From", request.headers.get("From") or "")
    to_value = request.headers.get("To") or ""
    if to_tag and status > 100 and NameAddress.parse(to_value).tag is None:
        to_value = f"{to_value};tag={to_tag}"
    headers.add("To", to_value)
    headers.add("Call-ID", request.call_id)
    headers.add("CSeq", request.headers.get("CSeq") or "")
    if status >= 200 or status == 100:
        for value in request.headers.get_all("Record-Route"):
            headers.add("Record-Route", value)
    for name, value in extra:
        headers.add(name, value)
    return Response(
        headers=headers, body=body, status=status, reason=reason or REASONS.get(status, "Unknown")
    )


def build_error_from_raw(raw: list[tuple[str, str]], status: int, reason: str) -> bytes | None:
    """Answer a request that failed to parse, if enough headers survived (§8.2.2).

    Returns wire bytes or ``None`` when no Via/From/To/Call-ID/CSeq can be
    copied (then the request is silently dropped).
    """
    headers = Headers(raw)
    if not all(name in headers for name in _MANDATORY):
        return None
    try:
        Via.parse(headers.get("Via") or "")
    except SipParseError:
        return None
    out = Headers()
    for name in _MANDATORY:
        for value in headers.get_all(name):
            out.add(name, value)
    safe_reason = re.sub(r"[\r\n]", " ", reason)[:120]
    return Response(headers=out, status=status, reason=safe_reason).serialize()
