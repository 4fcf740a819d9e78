"""Bridging two legs: RTP relay with SSRC/sequence/timestamp rewriting (RFC 3550 §7).

Each leg keeps its own SSRC, sequence and timestamp space towards its peer:
a payload from leg A leaves leg B's socket stamped with B's counters, so each
peer sees one continuous stream even across re-INVITEs and prompt playback.
Codecs are translated (via linear PCM) only when the two legs differ, and
RFC 4733 telephone-events are passed through with the payload type the other
side negotiated.

By default the relay is *paced*: payloads wait in a short queue (at most
``QUEUE_FRAMES``) and leave on the node's shared 20 ms clock, so a bursty
sender does not make a bursty stream on the other side; the cost is at most
one frame of added delay.  ``paced=False`` forwards each packet on arrival.
"""

from __future__ import annotations

import asyncio

from callvault.engine.leg import Leg
from callvault.engine.media_stream import MediaStream
from callvault.engine.sources import QueueSource
from callvault.media.g711 import Codec
from callvault.media.rtp import RtpPacket

QUEUE_FRAMES = 5


class Bridge:
    """Relays audio and DTMF between two answered (or early) legs."""

    def __init__(self, a: Leg, b: Leg, *, paced: bool = True) -> None:
        assert a.media is not None and b.media is not None
        self.a = a
        self.b = b
        self._streams = (a.media, b.media)
        self.paced = paced
        self._queues: dict[int, QueueSource] = {}
        self.relayed = 0

    def _other(self, stream: MediaStream) -> MediaStream:
        first, second = self._streams
        return second if stream is first else first

    def on_audio(self, stream: MediaStream, payload: bytes, codec: Codec) -> None:
        """Forward one payload to the other leg (translating the codec if needed)."""
        other = self._other(stream)
        out_codec = other.codec
        if out_codec is None:
            return
        if out_codec.name != codec.name:
            payload = out_codec.encode(codec.decode(payload))
        queue = self._queues.get(id(other))
        if queue is not None:
            queue.push(payload)
        else:
            other.send_payload(payload)
        self.relayed += 1

    def on_dtmf_packet(self, stream: MediaStream, packet: RtpPacket) -> None:
        """Pass a telephone-event packet through (RFC 4733 §2.3)."""
        self._other(stream).relay_dtmf(packet)

    def start(self) -> None:
        """Stop whatever the legs were playing and start relaying."""
        for stream in self._streams:
            stream.stop_idle_silence()
            stream.stop_source()
            if self.paced:
                queue = QueueSource(limit=QUEUE_FRAMES)
                self._queues[id(stream)] = queue
                stream.play(queue)
            if self not in stream.consumers:
                stream.consumers.append(self)
        self.a.trace("media", "bridged")
        self.b.trace("media", "bridged")

    def stop(self) -> None:
        """Stop relaying."""
        for stream in self._streams:
            if self._queues.pop(id(stream), None) is not None:
                stream.stop_source()
            if self in stream.consumers:
                stream.consumers.remove(self)
                stream.start_idle_silence()

    async def run(self) -> Leg:
        """Relay until either leg ends; return the leg that ended first."""
        self.start()
        waits = {
            asyncio.ensure_future(self.a.ended.wait()): self.a,
            asyncio.ensure_future(self.b.ended.wait()): self.b,
        }
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits:
                fut.cancel()
            self.stop()
        return waits[next(iter(done))]
