"""Typed SDP attribute values used by audio offer/answer.

``a=rtpmap`` (RFC 4566 §6), ``a=fmtp`` (RFC 4566 §6), ``a=ptime``
(RFC 4566 §6), the direction attributes ``sendrecv``/``sendonly``/
``recvonly``/``inactive`` (RFC 4566 §6, RFC 3264 §5.1) and ``a=rtcp``
(RFC 3605).  Each value class parses from and serialises to the text after
``a=<name>:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from callvault.sdp.errors import SdpParseError

SENDRECV: Final = "sendrecv"
SENDONLY: Final = "sendonly"
RECVONLY: Final = "recvonly"
INACTIVE: Final = "inactive"
DIRECTIONS: Final = (SENDRECV, SENDONLY, RECVONLY, INACTIVE)

_PT_RE = re.compile(r"[0-9]{1,3}")
_NUMBER_RE = re.compile(r"[0-9]{1,10}")
_PTIME_RE = re.compile(r"([0-9]{1,6})(?:\.([0-9]{1,6}))?")
_ENCODING_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+\-]*")

#: Static RTP payload types of RFC 3551 §6 that an SDP may use without rtpmap.
STATIC_PAYLOAD_TYPES: Final[dict[int, tuple[str, int]]] = {
    0: ("PCMU", 8000),
    3: ("GSM", 8000),
    4: ("G723", 8000),
    8: ("PCMA", 8000),
    9: ("G722", 8000),
    13: ("CN", 8000),
    18: ("G729", 8000),
}


def parse_payload_type(text: str) -> int:
    """Parse an RTP payload type number (0-127, RFC 3550 §5.1)."""
    if not _PT_RE.fullmatch(text) or int(text) > 127:
        raise SdpParseError(f"invalid RTP payload type {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``a=`` line: a property (``value is None``) or ``name:value``."""

    name: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Attribute:
        """Parse the text after ``a=``."""
        name, colon, value = text.partition(":")
        if not name:
            raise SdpParseError(f"empty attribute name in 'a={text}'")
        return cls(name, value if colon else None)

    def serialize(self) -> str:
        """The text after ``a=``."""
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`` (RFC 4566 §6)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None

    @classmethod
    def parse(cls, text: str) -> RtpMap:
        """Parse the value of an ``a=rtpmap`` attribute."""
        parts = text.split(maxsplit=1)
        if len(parts) != 2:
            raise SdpParseError(f"invalid rtpmap {text!r} (expected '<pt> <encoding>/<rate>')")
        pt = parse_payload_type(parts[0])
        fields = parts[1].strip().split("/")
        if len(fields) not in (2, 3) or not _ENCODING_RE.fullmatch(fields[0]):
            raise SdpParseError(f"invalid rtpmap {text!r} (expected '<pt> <encoding>/<rate>')")
        if not all(_NUMBER_RE.fullmatch(f) for f in fields[1:]):
            raise SdpParseError(f"invalid rtpmap {text!r} (clock rate and channels are numbers)")
        channels = int(fields[2]) if len(fields) == 3 else None
        return cls(pt, fields[0], int(fields[1]), channels)

    def serialize(self) -> str:
        """The value of the ``a=rtpmap`` attribute."""
        text = f"{self.payload_type} {self.encoding}/{self.clock_rate}"
        return text if self.channels is None else f"{text}/{self.channels}"


@dataclass(frozen=True, slots=True)
class Fmtp:
    """``a=fmtp:<pt> <parameters>`` (RFC 4566 §6); parameters kept as text."""

    payload_type: int
    parameters: str

    @classmethod
    def parse(cls, text: str) -> Fmtp:
        """Parse the value of an ``a=fmtp`` attribute."""
        pt, _, params = text.partition(" ")
        return cls(parse_payload_type(pt), params.strip())

    def serialize(self) -> str:
        """The value of the ``a=fmtp`` attribute."""
        return f"{self.payload_type} {self.parameters}"


@dataclass(frozen=True, slots=True)
class Rtcp:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605 §2.1)."""

    port: int
    nettype: str | None = None
    addrtype: str | None = None
    address: str | None = None

    @classmethod
    def parse(cls, text: str) -> Rtcp:
        """Parse the value of an ``a=rtcp`` attribute."""
        parts = text.split()
        if len(parts) not in (1, 4) or not _NUMBER_RE.fullmatch(parts[0]) or int(parts[0]) > 65535:
            raise SdpParseError(
                f"invalid rtcp attribute {text!r} (expected '<port> [IN IP4 <addr>]')"
            )
        if len(parts) == 1:
            return cls(int(parts[0]))
        return cls(int(parts[0]), parts[1], parts[2], parts[3])

    def serialize(self) -> str:
        """The value of the ``a=rtcp`` attribute."""
        if self.address is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"


def parse_ptime(text: str) -> int:
    """Parse ``a=ptime`` in milliseconds; fractions are rounded (RFC 4566 §6)."""
    m = _PTIME_RE.fullmatch(text.strip())
    if m is None:
        raise SdpParseError(f"invalid ptime {text!r} (expected milliseconds)")
    value = int(m.group(1))
    if m.group(2) and int(m.group(2)[0]) >= 5:
        value += 1
    return value


def reverse_direction(direction: str) -> str:
    """The direction the other side of a stream sees (RFC 3264 §6.1)."""
    return {SENDONLY: RECVONLY, RECVONLY: SENDONLY}.get(direction, direction)


def direction_of(sends: bool, receives: bool) -> str:
    """The direction attribute for a side that ``sends``/``receives``."""
    if sends:
        return SENDRECV if receives else SENDONLY
    return RECVONLY if receives else INACTIVE


def intersect_directions(a: str, b: str) -> str:
    """The direction allowed by both ``a`` and ``b`` (seen from one side)."""
    sends = a in (SENDRECV, SENDONLY) and b in (SENDRECV, SENDONLY)
    receives = a in (SENDRECV, RECVONLY) and b in (SENDRECV, RECVONLY)
    return direction_of(sends, receives)


def validate_attribute(attribute: Attribute) -> None:
    """Check the typed attributes whose value offer/answer relies on."""
    value = attribute.value
    name = attribute.name
    if name == "rtpmap":
        RtpMap.parse(value or "")
    elif name == "fmtp":
        Fmtp.parse(value or "")
    elif name == "ptime":
        parse_ptime(value or "")
    elif name == "rtcp":
        Rtcp.parse(value or "")
