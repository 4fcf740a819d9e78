"""RTP and RTCP packets (RFC 3550 §5.1, §6) as value classes.

``RtpPacket.parse`` is on the hot path (every received packet): one
``struct`` unpack for the fixed header, slicing for the rest.  Malformed
input raises :class:`RtpParseError` (or :class:`RtcpParseError`), both
:class:`MediaParseError`, with a message that says what is wrong.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

_FIXED = struct.Struct("!BBHII")
_RTCP_HEADER = struct.Struct("!BBH")


class MediaParseError(ValueError):
    """A media packet could not be parsed."""


class RtpParseError(MediaParseError):
    """An RTP packet could not be parsed."""


class RtcpParseError(MediaParseError):
    """An RTCP packet could not be parsed."""


def is_rtcp(data: bytes) -> bool:
    """Whether a datagram on a shared port is RTCP (RFC 5761 §4: PT 192-223)."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet (RFC 3550 §5.1)."""

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: list[int] = field(default_factory=list)
    extension_profile: int | None = None
    extension_data: bytes = b""
    padding: int = 0

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse a datagram; raise :class:`RtpParseError` if it is not RTP."""
        if len(data) < 12:
            raise RtpParseError(f"RTP packet truncated: {len(data)} bytes, header needs 12")
        first, second, seq, ts, ssrc = _FIXED.unpack_from(data)
        version = first >> 6
        if version != 2:
            raise RtpParseError(f"RTP version {version} unsupported (expected 2)")
        offset = 12
        cc = first & 0x0F
        csrc: list[int] = []
        if cc:
            end = offset + 4 * cc
            if len(data) < end:
                raise RtpParseError(f"RTP packet truncated: {cc} CSRCs need {end} bytes")
            csrc = list(struct.unpack_from(f"!{cc}I", data, offset))
            offset = end
        profile: int | None = None
        ext = b""
        if first & 0x10:
            if len(data) < offset + 4:
                raise RtpParseError("RTP packet truncated in the header extension")
            profile, words = struct.unpack_from("!HH", data, offset)
            start = offset + 4
            offset = start + 4 * words
            if len(data) < offset:
                raise RtpParseError(
                    f"RTP header extension of {words} words runs past the packet end"
                )
            ext = data[start:offset]
        end = len(data)
        padding = 0
        if first & 0x20:
            padding = data[-1]
            if padding == 0 or offset + padding > end:
                raise RtpParseError(f"invalid RTP padding length {padding}")
            end -= padding
        return cls(
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            payload=data[offset:end],
            marker=bool(second & 0x80),
            csrc=csrc,
            extension_profile=profile,
            extension_data=ext,
            padding=padding,
        )

    def serialize(self) -> bytes:
        """The packet's bytes."""
        first = 0x80 | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension_profile is not None:
            first |= 0x10
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        parts = [
            _FIXED.pack(
                first,
                second,
                self.sequence_number & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        ]
        if self.csrc:
            parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
        if self.extension_profile is not None:
            ext = self.extension_data + b"\x00" * ((-len(self.extension_data)) % 4)
            parts.append(struct.pack("!HH", self.extension_profile, len(ext) // 4) + ext)
        parts.append(self.payload)
        if self.padding:
            parts.append(b"\x00" * (self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


@dataclass(slots=True)
class RtcpPacket:
    """One RTCP packet of a compound packet (RFC 3550 §6.4-§6.6).

    ``packet_type`` 200 SR, 201 RR, 202 SDES, 203 BYE, 204 APP; ``count``
    is the 5-bit report/source count; ``ssrc`` the sender's SSRC (0 if the
    body is too short to have one); ``body`` the bytes after the header.
    """

    packet_type: int
    count: int
    ssrc: int
    body: bytes

    def serialize(self) -> bytes:
        """The packet's bytes (padded to 32-bit words)."""
        body = self.body + b"\x00" * ((-len(self.body)) % 4)
        return (
            _RTCP_HEADER.pack(0x80 | (self.count & 0x1F), self.packet_type, len(body) // 4) + body
        )


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Split and parse a compound RTCP packet (RFC 3550 §6.1)."""
    packets: list[RtcpPacket] = []
    offset = 0
    if len(data) < 4:
        raise RtcpParseError(f"RTCP packet truncated: {len(data)} bytes, header needs 4")
    while offset < len(data):
        if len(data) - offset < 4:
            raise RtcpParseError(f"RTCP packet truncated at byte {offset}")
        first, ptype, words = _RTCP_HEADER.unpack_from(data, offset)
        if first >> 6 != 2:
            raise RtcpParseError(f"RTCP version {first >> 6} unsupported (expected 2)")
        end = offset + 4 + 4 * words
        if end > len(data):
            raise RtcpParseError(f"RTCP length {words} words runs past the packet end")
        body = data[offset + 4 : end]
        ssrc = struct.unpack_from("!I", body)[0] if len(body) >= 4 else 0
        packets.append(RtcpPacket(ptype, first & 0x1F, ssrc, body))
        offset = end
    return packets
