"""DTMF as RFC 4733 telephone-events and as SIP INFO bodies.

:class:`DtmfReceiver` reports each key press exactly once, however many
end packets the sender repeats (RFC 4733 §2.5.1.4); :class:`DtmfSender`
produces the packet train of one key press: marker on the first packet, one
RTP timestamp for the whole event, growing duration, three end packets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from callvault.media.rtp import MediaParseError

EVENTS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")


class DtmfParseError(MediaParseError):
    """A telephone-event payload could not be parsed."""


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """The 4-byte telephone-event payload (RFC 4733 §2.3)."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        """Parse a payload; raise :class:`DtmfParseError` when malformed."""
        if len(payload) < 4:
            raise DtmfParseError(f"telephone-event payload of {len(payload)} bytes (needs 4)")
        event, flags, duration = _EVENT.unpack_from(payload)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)

    def serialize(self) -> bytes:
        """The 4 payload bytes."""
        flags = (0x80 if self.end else 0) | (self.volume & 0x3F)
        return _EVENT.pack(self.event, flags, self.duration & 0xFFFF)

    @property
    def digit(self) -> str | None:
        """The DTMF key (``0-9 * # A-D``), or None for other events."""
        return EVENTS[self.event] if self.event < len(EVENTS) else None


class DtmfReceiver:
    """Turns a stream of telephone-event packets into key presses (RFC 4733 §2.5.2)."""

    def __init__(self) -> None:
        self._current_ts: int | None = None
        self._reported: set[int] = set()
        self.last_duration = 0

    def feed(self, timestamp: int, payload: bytes, marker: bool = False) -> str | None:
        """One received packet; returns the digit when a key press completes."""
        try:
            event = TelephoneEvent.parse(payload)
        except DtmfParseError:
            return None
        digit = event.digit
        if digit is None:
            return None
        if not event.end:
            # a (re)started event: a sender that reuses a timestamp for a new
            # key press (replayed captures do) must not be mistaken for a repeat
            self._reported.discard(timestamp)
            self._current_ts = timestamp
            return None
        if timestamp in self._reported:
            return None  # retransmitted end packet of an event already reported
        self._remember(timestamp)
        self._current_ts = None
        self.last_duration = event.duration
        return digit

    def _remember(self, timestamp: int) -> None:
        self._reported.add(timestamp)
        if len(self._reported) > 32:
            self._reported = set(list(self._reported)[-16:])


class DtmfSender:
    """Builds the packets of one key press (RFC 4733 §2.5.1)."""

    def __init__(self, volume: int = 10, packet_samples: int = 160) -> None:
        self.volume = volume
        self.packet_samples = packet_samples

    def packets(self, digit: str, duration_ms: int = 100) -> list[tuple[bytes, bool, int]]:
        """(payload, marker, duration-so-far) for each 20 ms packet, ends included."""
        key = digit.upper()
        if len(key) != 1 or key not in EVENTS:
            raise ValueError(f"not a DTMF key: {digit!r} (use 0-9, *, #, A-D)")
        event = EVENTS.index(key)
        total = max(self.packet_samples, duration_ms * 8)
        out: list[tuple[bytes, bool, int]] = []
        elapsed = self.packet_samples
        while elapsed < total:
            payload = TelephoneEvent(event, False, self.volume, elapsed).serialize()
            out.append((payload, not out, elapsed))
            elapsed += self.packet_samples
        end = TelephoneEvent(event, True, self.volume, total).serialize()
        out.extend((end, not out and i == 0, total) for i in range(3))
        return out


def parse_dtmf_relay(body: str, content_type: str) -> str | None:
    """The key of a SIP INFO DTMF body, or None (application/dtmf-relay, application/dtmf)."""
    content_type = content_type.lower()
    if content_type == "application/dtmf-relay":
        for line in body.splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal":
                key = value.strip().upper()
                if key == "10":
                    key = "*"
                elif key == "11":
                    key = "#"
                return key if len(key) == 1 and key in EVENTS else None
        return None
    if content_type == "application/dtmf":
        key = body.strip().upper()
        if (key.isascii() and key.isdigit()) and int(key) < 16 and len(key) <= 2 and len(key) > 0:
            return EVENTS[int(key)]
        return key if len(key) == 1 and key in EVENTS else None
    return None
