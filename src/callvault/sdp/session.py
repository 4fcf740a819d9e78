"""SDP session descriptions (RFC 4566) as value classes.

``SessionDescription.parse(text)`` (or the module-level :func:`parse`) gives
a frozen value; ``serialize()`` turns it back into CRLF-terminated bytes in
the line order of RFC 4566 §5.  The parser accepts LF-only line endings and
keeps lines it does not interpret (``i=``, ``u=``, ``e=``, ``p=``, ``z=``,
``k=`` and unknown type letters) so a description survives a round trip.  It
is strict about the lines offer/answer depends on -- ``v=``, ``o=``, ``c=``,
``t=``, ``m=`` and the ``rtpmap``/``fmtp``/``ptime``/``rtcp`` attributes --
and raises :class:`SdpParseError` naming the line number and its content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callvault.sdp.attributes import (
    DIRECTIONS,
    SENDRECV,
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Fmtp,
    Rtcp,
    RtpMap,
    parse_ptime,
    validate_attribute,
)
from callvault.sdp.errors import SdpParseError

_NUMBER_RE = re.compile(r"[0-9]{1,40}")
_PORT_RE = re.compile(r"([0-9]{1,5})(?:/([0-9]{1,5}))?")
_TOKEN_RE = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`{|}~]+")
_RTP_FORMAT_PROTOS = ("RTP/AVP", "RTP/SAVP", "RTP/AVPF", "RTP/SAVPF")

# Order of the lines this module does not interpret (RFC 4566 §5); unknown
# type letters go just before the attributes.
_SESSION_EXTRA_RANK = {"i": 0, "u": 1, "e": 2, "p": 3, "z": 5, "k": 6}
_MEDIA_EXTRA_RANK = {"i": 0, "k": 6}
_UNKNOWN_RANK = 7


def _session_rank(line: tuple[str, str]) -> int:
    return _SESSION_EXTRA_RANK.get(line[0], _UNKNOWN_RANK)


def _media_rank(line: tuple[str, str]) -> int:
    return _MEDIA_EXTRA_RANK.get(line[0], _UNKNOWN_RANK)


def _number(text: str, what: str) -> int:
    if not _NUMBER_RE.fullmatch(text):
        raise SdpParseError(f"invalid {what} {text!r} (expected a number)")
    return int(text)


@dataclass(frozen=True, slots=True)
class Origin:
    """``o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>``
    (RFC 4566 §5.2)."""

    username: str
    session_id: int
    session_version: int
    nettype: str = "IN"
    addrtype: str = "IP4"
    address: str = "0.0.0.0"

    @classmethod
    def parse(cls, text: str) -> Origin:
        """Parse the value of an ``o=`` line."""
        parts = text.split()
        if len(parts) != 6:
            raise SdpParseError(f"invalid o= line {text!r} (expected 6 fields)")
        return cls(
            parts[0],
            _number(parts[1], "session id"),
            _number(parts[2], "session version"),
            parts[3],
            parts[4],
            parts[5],
        )

    def serialize(self) -> str:
        """The value of the ``o=`` line."""
        return (
            f"{self.username} {self.session_id} {self.session_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """``c=<nettype> <addrtype> <address>`` (RFC 4566 §5.7).

    A multicast ``/ttl/count`` suffix stays part of ``address``.
    """

    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    @classmethod
    def parse(cls, text: str) -> Connection:
        """Parse the value of a ``c=`` line."""
        parts = text.split()
        if len(parts) != 3:
            raise SdpParseError(
                f"invalid c= line {text!r} (expected '<nettype> <addrtype> <addr>')"
            )
        return cls(parts[2], parts[0], parts[1])

    def serialize(self) -> str:
        """The value of the ``c=`` line."""
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """``b=<bwtype>:<bandwidth>`` in kilobits per second (RFC 4566 §5.8)."""

    bwtype: str
    value: int

    @classmethod
    def parse(cls, text: str) -> Bandwidth:
        """Parse the value of a ``b=`` line."""
        bwtype, colon, value = text.partition(":")
        if not colon or not _TOKEN_RE.fullmatch(bwtype) or not _NUMBER_RE.fullmatch(value):
            raise SdpParseError(f"invalid b= line {text!r} (expected '<type>:<kbps>')")
        return cls(bwtype, int(value))

    def serialize(self) -> str:
        """The value of the ``b=`` line."""
        return f"{self.bwtype}:{self.value}"


@dataclass(frozen=True, slots=True)
class Timing:
    """``t=<start> <stop>`` with its ``r=`` repeat lines (RFC 4566 §5.9, §5.10)."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Timing:
        """Parse the value of a ``t=`` line."""
        parts = text.split()
        if len(parts) != 2:
            raise SdpParseError(f"invalid t= line {text!r} (expected '<start> <stop>')")
        return cls(_number(parts[0], "start time"), _number(parts[1], "stop time"))


class _AttributeMixin:
    """Attribute lookups shared by session and media level."""

    __slots__ = ()
    attributes: tuple[Attribute, ...]

    def attribute_values(self, name: str) -> list[str]:
        """Values of every ``a=<name>`` line (``""`` for property attributes)."""
        return [a.value or "" for a in self.attributes if a.name == name]

    def get_attribute(self, name: str) -> str | None:
        """The value of the first ``a=<name>`` line, ``""`` for a property, or ``None``."""
        values = self.attribute_values(name)
        return values[0] if values else None

    @property
    def direction(self) -> str | None:
        """The explicit direction attribute (RFC 4566 §6), last one wins."""
        found = [a.name for a in self.attributes if a.name in DIRECTIONS and a.value is None]
        return found[-1] if found else None


@dataclass(frozen=True, slots=True)
class MediaDescription(_AttributeMixin):
    """One ``m=`` section (RFC 4566 §5.14) with its ``c=``, ``b=`` and ``a=`` lines."""

    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    port_count: int | None = None
    connection: Connection | None = None
    bandwidths: tuple[Bandwidth, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    extra_lines: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_lines", tuple(sorted(self.extra_lines, key=_media_rank)))

    @classmethod
    def parse_m_line(cls, text: str) -> MediaDescription:
        """Parse the value of an ``m=`` line (no attributes yet)."""
        parts = text.split()
        if len(parts) < 3 or not _TOKEN_RE.fullmatch(parts[0]):
            raise SdpParseError(
                f"invalid m= line {text!r} (expected '<media> <port> <proto> <fmt>...')"
            )
        pm = _PORT_RE.fullmatch(parts[1])
        if pm is None or int(pm.group(1)) > 65535:
            raise SdpParseError(f"invalid m= line {text!r} (port must be 0-65535)")
        port = int(pm.group(1))
        formats = tuple(parts[3:])
        if not formats and port != 0:
            raise SdpParseError(f"invalid m= line {text!r} (no media formats)")
        if parts[2].upper().endswith(_RTP_FORMAT_PROTOS):
            for fmt in formats:
                if not fmt.isascii() or not fmt.isdigit() or len(fmt) > 3 or int(fmt) > 127:
                    raise SdpParseError(
                        f"invalid m= line {text!r} (RTP format {fmt!r} is not a payload type)"
                    )
        count = int(pm.group(2)) if pm.group(2) else None
        return cls(parts[0], port, parts[2], formats, port_count=count)

    def m_line(self) -> str:
        """The value of the ``m=`` line."""
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        return " ".join((self.media, port, self.proto, *self.formats))

    @property
    def payload_types(self) -> list[int]:
        """The formats as RTP payload types, in offer order (RTP profiles only)."""
        return [int(f) for f in self.formats if f.isascii() and f.isdigit()]

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        """``a=rtpmap`` entries by payload type."""
        maps = (RtpMap.parse(v) for v in self.attribute_values("rtpmap"))
        return {m.payload_type: m for m in maps}

    @property
    def fmtps(self) -> dict[int, str]:
        """``a=fmtp`` parameter strings by payload type."""
        fmtps = (Fmtp.parse(v) for v in self.attribute_values("fmtp"))
        return {f.payload_type: f.parameters for f in fmtps}

    def codec(self, payload_type: int) -> RtpMap | None:
        """The codec of a payload type: its rtpmap, else the RFC 3551 static table."""
        mapped = self.rtpmaps.get(payload_type)
        if mapped is not None:
            return mapped
        static = STATIC_PAYLOAD_TYPES.get(payload_type)
        return None if static is None else RtpMap(payload_type, static[0], static[1])

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` in milliseconds, if given."""
        value = self.get_attribute("ptime")
        return None if value is None else parse_ptime(value)

    @property
    def rtcp(self) -> Rtcp | None:
        """``a=rtcp`` (RFC 3605), if given."""
        value = self.get_attribute("rtcp")
        return None if value is None else Rtcp.parse(value)

    def serialize_lines(self) -> list[str]:
        """The lines of this media section, without line terminators."""
        lines = [f"m={self.m_line()}"]
        lines += [f"{k}={v}" for k, v in self.extra_lines if _media_rank((k, v)) < 1]
        if self.connection is not None:
            lines.append(f"c={self.connection.serialize()}")
        lines += [f"b={b.serialize()}" for b in self.bandwidths]
        lines += [f"{k}={v}" for k, v in self.extra_lines if _media_rank((k, v)) >= 1]
        lines += [f"a={a.serialize()}" for a in self.attributes]
        return lines


@dataclass(frozen=True, slots=True)
class SessionDescription(_AttributeMixin):
    """A whole session description (RFC 4566 §5)."""

    origin: Origin
    session_name: str = ""
    connection: Connection | None = None
    timings: tuple[Timing, ...] = (Timing(),)
    bandwidths: tuple[Bandwidth, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    media: tuple[MediaDescription, ...] = ()
    extra_lines: tuple[tuple[str, str], ...] = ()
    version: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_lines", tuple(sorted(self.extra_lines, key=_session_rank)))
        if not self.timings:
            object.__setattr__(self, "timings", (Timing(),))

    @classmethod
    def parse(cls, text: str | bytes) -> SessionDescription:
        """Parse a session description; raise :class:`SdpParseError` if malformed."""
        return _Parser(text).run()

    def serialize(self) -> bytes:
        """The description as UTF-8 bytes with CRLF line endings."""
        return self.to_text().encode("utf-8", "surrogateescape")

    def to_text(self) -> str:
        """The description as text with CRLF line endings."""
        lines = [
            f"v={self.version}",
            f"o={self.origin.serialize()}",
            f"s={self.session_name or ' '}",
        ]
        lines += [f"{k}={v}" for k, v in self.extra_lines if _session_rank((k, v)) < 4]
        if self.connection is not None:
            lines.append(f"c={self.connection.serialize()}")
        lines += [f"b={b.serialize()}" for b in self.bandwidths]
        for timing in self.timings:
            lines.append(f"t={timing.start} {timing.stop}")
            lines += [f"r={r}" for r in timing.repeats]
        lines += [f"{k}={v}" for k, v in self.extra_lines if _session_rank((k, v)) >= 4]
        lines += [f"a={a.serialize()}" for a in self.attributes]
        for media in self.media:
            lines += media.serialize_lines()
        return "\r\n".join(lines) + "\r\n"

    def connection_for(self, media: MediaDescription) -> Connection | None:
        """The connection of a media section: its own ``c=`` or the session's."""
        return media.connection or self.connection

    def direction_for(self, media: MediaDescription) -> str:
        """Effective direction of a media section (RFC 4566 §6, RFC 3264 §5.1)."""
        return media.direction or self.direction or SENDRECV


def parse(text: str | bytes) -> SessionDescription:
    """Parse a session description (see :meth:`SessionDescription.parse`)."""
    return SessionDescription.parse(text)


@dataclass(slots=True)
class _Section:
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)
    extra_lines: list[tuple[str, str]] = field(default_factory=list)


class _Parser:
    """Line-by-line parser; keeps the state of the section being read."""

    def __init__(self, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")
        self.text = text
        self.origin: Origin | None = None
        self.session_name: str | None = None
        self.timings: list[Timing] = []
        self.session = _Section()
        self.media: list[tuple[MediaDescription, _Section]] = []

    def run(self) -> SessionDescription:
        raw_lines = self.text.split("\n")
        numbered = [(n, line.rstrip("\r").rstrip(" \t")) for n, line in enumerate(raw_lines, 1)]
        numbered = [(n, line) for n, line in numbered if line]
        if not numbered:
            raise SdpParseError("empty session description")
        first_no, first = numbered[0]
        if first != "v=0":
            raise SdpParseError(
                f"expected 'v=0' first, got {first!r}", line_number=first_no, line=first
            )
        for number, line in numbered[1:]:
            try:
                self._line(line)
            except SdpParseError as exc:
                if exc.line_number is not None:
                    raise
                raise SdpParseError(str(exc), line_number=number, line=line) from None
        if self.origin is None:
            raise SdpParseError("missing o= line")
        if self.session_name is None:
            raise SdpParseError("missing s= line")
        return SessionDescription(
            origin=self.origin,
            session_name=self.session_name.strip(),
            connection=self.session.connection,
            timings=tuple(self.timings),
            bandwidths=tuple(self.session.bandwidths),
            attributes=tuple(self.session.attributes),
            media=tuple(self._finish(m, s) for m, s in self.media),
            extra_lines=tuple(self.session.extra_lines),
        )

    @staticmethod
    def _finish(media: MediaDescription, section: _Section) -> MediaDescription:
        return MediaDescription(
            media.media,
            media.port,
            media.proto,
            media.formats,
            port_count=media.port_count,
            connection=section.connection,
            bandwidths=tuple(section.bandwidths),
            attributes=tuple(section.attributes),
            extra_lines=tuple(section.extra_lines),
        )

    def _line(self, line: str) -> None:
        if "\r" in line or "\x00" in line:
            raise SdpParseError(f"control character in line {line!r}")
        try:
            line.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise SdpParseError(f"invalid character in line {line!r}") from None
        kind, eq, value = line[:1], line[1:2], line[2:]
        if eq != "=" or not ("a" <= kind <= "z"):
            raise SdpParseError(f"not a '<type>=<value>' line: {line!r}")
        in_media = bool(self.media)
        section = self.media[-1][1] if in_media else self.session
        if kind == "m":
            self.media.append((MediaDescription.parse_m_line(value), _Section()))
        elif kind == "a":
            attribute = Attribute.parse(value)
            if in_media:
                validate_attribute(attribute)
            section.attributes.append(attribute)
        elif kind == "c":
            if section.connection is not None:
                raise SdpParseError(f"second c= line {line!r} in one section")
            section.connection = Connection.parse(value)
        elif kind == "b":
            section.bandwidths.append(Bandwidth.parse(value))
        elif in_media:
            section.extra_lines.append((kind, value))
        else:
            self._session_line(kind, value, line)

    def _session_line(self, kind: str, value: str, line: str) -> None:
        if kind == "v":
            raise SdpParseError(f"repeated v= line {line!r}")
        if kind == "o":
            if self.origin is not None:
                raise SdpParseError(f"repeated o= line {line!r}")
            self.origin = Origin.parse(value)
        elif kind == "s":
            if self.session_name is not None:
                raise SdpParseError(f"repeated s= line {line!r}")
            self.session_name = value
        elif kind == "t":
            self.timings.append(Timing.parse(value))
        elif kind == "r":
            if not self.timings:
                raise SdpParseError(f"r= line {line!r} before any t= line")
            last = self.timings[-1]
            self.timings[-1] = Timing(last.start, last.stop, (*last.repeats, value))
        else:
            self.session.extra_lines.append((kind, value))
