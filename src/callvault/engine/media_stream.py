"""One RTP stream of a call leg: receive, latch, send, relay (RFC 3550, RFC 4733).

The stream owns one UDP port from the node's range.  Incoming packets are
parsed once; telephone-events become digits (RFC 4733 §2.5), audio goes to
the stream's consumers (echo, bridge peer, recorder).  Outgoing audio is
pulled from a :class:`~callvault.engine.sources.PayloadSource` by the shared
pacer, one packet per 20 ms tick.  Symmetric RTP (RFC 4961): the first packet
from the peer fixes where we send, which makes callers behind NAT work.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import secrets
import struct
import time
from collections.abc import Callable
from typing import Protocol, cast

from callvault.engine.pacer import Pacer
from callvault.engine.sources import SAMPLES_PER_FRAME, PayloadSource
from callvault.media.dtmf import DtmfReceiver, DtmfSender
from callvault.media.g711 import Codec
from callvault.media.goertzel import InbandDtmfDetector
from callvault.media.rtp import MediaParseError, RtpPacket, is_rtcp

log = logging.getLogger("callvault.engine.media")

Address = tuple[str, int]
_HEADER = struct.Struct("!BBHII")


class AudioConsumer(Protocol):
    """Receives each audio payload a stream gets (bridge peer, recorder)."""

    def on_audio(self, stream: MediaStream, payload: bytes, codec: Codec) -> None:
        """Handle one received audio payload."""


class MediaTap(Protocol):
    """Sees every audio payload a stream receives and sends (the call recorder)."""

    def received(self, payload: bytes, codec: Codec, timestamp: int, ssrc: int) -> None:
        """A payload arrived from the peer (with its RTP timestamp and SSRC)."""

    def sent(self, payload: bytes, codec: Codec) -> None:
        """A payload left for the peer (prompt, music, the bridged party, silence)."""


class PortPool:
    """Hands out even RTP ports from the configured range (RFC 3550 §11)."""

    def __init__(self, low: int, high: int) -> None:
        first = low + (low % 2)
        self._free = list(range(first, high, 2))
        random.shuffle(self._free)
        self._used: set[int] = set()

    def __len__(self) -> int:
        return len(self._free)

    async def bind(
        self, host: str, factory: Callable[[], MediaStream]
    ) -> tuple[asyncio.DatagramTransport, MediaStream, int]:
        """Bind a stream on a free port; raises ``OSError`` when none is left."""
        loop = asyncio.get_running_loop()
        for _ in range(len(self._free)):
            port = self._free.pop()
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    factory, local_addr=(host, port)
                )
            except OSError as exc:
                # taken by another program (or not ours to use): try the next one
                log.debug("RTP port %d unavailable: %s", port, exc)
                self._free.insert(0, port)
                continue
            self._used.add(port)
            return transport, protocol, port
        raise OSError(errno.EADDRINUSE, "RTP port range exhausted")

    def release(self, port: int) -> None:
        """Give a port back."""
        if port in self._used:
            self._used.discard(port)
            self._free.insert(0, port)


class MediaStream(asyncio.DatagramProtocol):
    """RTP send/receive state of one leg."""

    def __init__(self, pacer: Pacer, on_event: Callable[[str, dict[str, object]], None]) -> None:
        self._pacer = pacer
        self._on_event = on_event
        self.transport: asyncio.DatagramTransport | None = None
        self.local_port = 0
        self.remote: Address | None = None
        self.latched = False
        self.codec: Codec | None = None
        self.dtmf_pt: int | None = None
        self.dtmf_rx_pt: int | None = None
        self.ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._ts = secrets.randbits(32)
        self._marker = True
        self.source: PayloadSource | None = None
        self._source_done: asyncio.Future[bool] | None = None
        self._dtmf_out: list[tuple[bytes, bool, int]] = []
        self._dtmf_in = DtmfReceiver()
        self.on_dtmf: Callable[[str], None] | None = None
        self.consumers: list[AudioConsumer] = []
        self.tap: MediaTap | None = None
        self.echo = False
        self.idle_silence = False
        self._silence: bytes | None = None
        self.send_enabled = True
        self.last_rx = time.monotonic()
        self.rx_packets = 0
        self.tx_packets = 0
        self.rx_bad = 0
        self._relay_event_ts: dict[int, int] = {}

    # -- asyncio protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's and asyncio's UDP transports do not all subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if len(data) < 12 or is_rtcp(data):
            return
        try:
            packet = RtpPacket.parse(data)
        except MediaParseError:
            self.rx_bad += 1
            return
        source = (str(addr[0]), int(str(addr[1])))
        if not self.latched or source != self.remote:
            if self.latched and self.rx_packets and source != self.remote:
                return  # stay with the first source (avoid RTP hijack)
            if source != self.remote:
                self._on_event("rtp-latched", {"from": f"{source[0]}:{source[1]}"})
            self.remote = source
            self.latched = True
        self.rx_packets += 1
        self.last_rx = time.monotonic()
        pt = packet.payload_type
        if pt == self.dtmf_rx_pt:
            self._receive_dtmf(packet)
            return
        codec = self.codec
        if codec is None or pt != codec.payload_type:
            return
        payload = packet.payload
        if self.tap is not None:
            self.tap.received(payload, codec, packet.timestamp, packet.ssrc)
        if self.echo:
            self.send_payload(payload)
        for consumer in self.consumers:
            consumer.on_audio(self, payload, codec)

    def _receive_dtmf(self, packet: RtpPacket) -> None:
        for consumer in self.consumers:
            relay = getattr(consumer, "on_dtmf_packet", None)
            if relay is not None:
                relay(self, packet)
        digit = self._dtmf_in.feed(packet.timestamp, packet.payload, packet.marker)
        if digit is not None:
            self._on_event("dtmf", {"digit": digit, "via": "rfc4733"})
            if self.on_dtmf is not None:
                self.on_dtmf(digit)

    # -- configuration ----------------------------------------------------
    def configure(
        self,
        remote: Address | None,
        codec: Codec,
        dtmf_pt: int | None,
        dtmf_rx_pt: int | None = None,
    ) -> None:
        """Apply negotiated media (after offer/answer or a re-INVITE)."""
        if remote is not None and remote != self.remote:
            self.remote = remote
            self.latched = False
        if self.codec is not None and self.codec.name != codec.name:
            self._marker = True
            self._silence = None
        self.codec = codec
        self.dtmf_pt = dtmf_pt
        self.dtmf_rx_pt = dtmf_rx_pt if dtmf_rx_pt is not None else dtmf_pt

    def close(self) -> None:
        """Stop sending and release the socket."""
        self._pacer.discard(self)
        self.stop_source()
        self.consumers.clear()
        if self.transport is not None:
            self.transport.close()
            self.transport = None  # late relays and ticks become no-ops

    # -- sending ----------------------------------------------------------
    def play(self, source: PayloadSource) -> asyncio.Future[bool]:
        """Send ``source`` paced at 20 ms; the future is True when it ran out."""
        self.stop_source()
        loop = asyncio.get_running_loop()
        self.source = source
        self._source_done = loop.create_future()
        self._marker = True
        self._pacer.add(self)
        return self._source_done

    def stop_source(self) -> None:
        """Interrupt the current source (its future resolves False)."""
        self.source = None
        if self._source_done is not None and not self._source_done.done():
            self._source_done.set_result(False)
        self._source_done = None
        if not self._dtmf_out and not self.idle_silence:
            self._pacer.discard(self)

    def send_dtmf(self, digit: str, duration_ms: int = 100, gap_ms: int = 60) -> None:
        """Queue an RFC 4733 event; it goes out on the next ticks.

        Each event gets its own RTP timestamp (the start of the key press);
        ``gap_ms`` of pause follows it so receivers see distinct presses.
        """
        if self.dtmf_pt is None:
            raise ValueError("the peer did not negotiate telephone-event")
        packets = DtmfSender().packets(digit, duration_ms)
        for index, (payload, marker, duration) in enumerate(packets):
            last = index == len(packets) - 1
            self._dtmf_out.append((payload, marker, duration if last else 0))
        self._dtmf_out.extend([(b"", False, SAMPLES_PER_FRAME)] * max(1, gap_ms // 20))
        self._pacer.add(self)

    def on_tick(self, now: float) -> None:
        """Pacer callback: send this tick's DTMF or audio packet."""
        if self._dtmf_out:
            event, marker, advance = self._dtmf_out.pop(0)
            if event:
                assert self.dtmf_pt is not None
                self._send(event, self.dtmf_pt, marker, advance=False)
            if advance:
                # what follows starts after the event (RFC 4733 §2.5.1.2)
                self._ts = (self._ts + advance) & 0xFFFFFFFF
                self._marker = True
            return
        source = self.source
        if source is None:
            self._idle()
            return
        payload = source.next_payload()
        if payload is None:
            done = self._source_done
            self.source = None
            self._source_done = None
            if done is not None and not done.done():
                done.set_result(True)
            self._idle()
            return
        if payload:
            self.send_payload(payload)

    def _idle(self) -> None:
        """Nothing to play: send silence (keeps NAT bindings and peers' RTP timers) or rest."""
        codec = self.codec
        if self.idle_silence and codec is not None:
            silence = self._silence
            if silence is None or len(silence) != SAMPLES_PER_FRAME:
                silence = self._silence = codec.silence(SAMPLES_PER_FRAME)
            self.send_payload(silence)
        else:
            self._pacer.discard(self)

    def start_idle_silence(self) -> None:
        """Send silence whenever nothing else plays (until :meth:`stop_idle_silence`)."""
        self.idle_silence = True
        self._pacer.add(self)

    def stop_idle_silence(self) -> None:
        """Stop the idle silence (e.g. when bridged: the other leg feeds us)."""
        self.idle_silence = False
        if self.source is None and not self._dtmf_out:
            self._pacer.discard(self)

    def send_payload(self, payload: bytes, samples: int | None = None) -> None:
        """Send one audio payload in the negotiated codec."""
        codec = self.codec
        if codec is None:
            return
        self._send(payload, codec.payload_type, self._marker, advance=True, samples=samples)
        self._marker = False
        if self.tap is not None:
            self.tap.sent(payload, codec)

    def _send(
        self, payload: bytes, pt: int, marker: bool, *, advance: bool, samples: int | None = None
    ) -> None:
        remote = self.remote
        transport = self.transport
        if remote is None or transport is None or not self.send_enabled:
            return
        header = _HEADER.pack(0x80, (0x80 if marker else 0) | pt, self._seq, self._ts, self.ssrc)
        transport.sendto(header + payload, remote)
        self.tx_packets += 1
        self._seq = (self._seq + 1) & 0xFFFF
        if advance:
            self._ts = (self._ts + (samples or len(payload))) & 0xFFFFFFFF

    def relay_dtmf(self, packet: RtpPacket) -> None:
        """Forward a telephone-event packet from the other leg (bridge, RFC 4733 §2.3).

        All packets of one event keep one timestamp on our side too.
        """
        if self.dtmf_pt is None:
            return
        ts = self._relay_event_ts.get(packet.timestamp)
        if ts is None:
            if len(self._relay_event_ts) > 16:
                self._relay_event_ts.clear()
            ts = self._ts
            self._relay_event_ts[packet.timestamp] = ts
        saved = self._ts
        self._ts = ts
        self._send(packet.payload, self.dtmf_pt, packet.marker, advance=False)
        self._ts = saved
        end = len(packet.payload) >= 2 and packet.payload[1] & 0x80
        if end:
            duration = int.from_bytes(packet.payload[2:4], "big") if len(packet.payload) >= 4 else 0
            self._ts = (ts + max(duration, SAMPLES_PER_FRAME)) & 0xFFFFFFFF


class InbandDtmfConsumer:
    """Feeds a stream's decoded audio to the Goertzel detector (peers without RFC 4733)."""

    def __init__(self, on_digit: Callable[[str], None]) -> None:
        self._detector = InbandDtmfDetector()
        self._on_digit = on_digit

    def on_audio(self, stream: MediaStream, payload: bytes, codec: Codec) -> None:
        digit = self._detector.feed(codec.decode(payload))
        if digit is not None:
            self._on_digit(digit)
