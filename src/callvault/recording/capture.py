"""Capture on the hot path: the caller's leg, both directions, into a spool.

A :class:`CallCapture` is the caller leg's media tap.  Channel 0 is what the
caller says (every payload received from them), channel 1 what the caller
hears (every payload sent to them: prompts, music, the bridged party, the
next agent after a transfer).  Because it sits on the caller's leg, one
recording follows the caller through queue hops, transfers and bridges.

Each payload is decoded to 16-bit PCM and appended to the spool at its
sample offset since the recording started.  What the caller says is placed
by its RTP timestamp (RFC 3550 §5.1: the sender's sampling clock), anchored
to the arrival time of the first packet of each SSRC, so network jitter
neither stretches nor shifts the audio and a silence-suppressed gap stays a
gap; a new SSRC or a jump of more than a second re-anchors.  What the caller
hears comes from our own 20 ms pacer and follows a running position (a gap
of more than two frames re-anchors to the clock).  Pause (by DTMF,
the IVR API or the REST API) marks the spool; the finisher writes silence
there, so the recording keeps the call's timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from callvault.media.g711 import Codec
from callvault.recording.spool import SpoolWriter

RATE = 8000
RESYNC_SAMPLES = 320
"""Two 20 ms frames: farther than this from the running position, a payload re-anchors."""


class CallCapture:
    """The media tap recording one call's conversation."""

    def __init__(self, writer: SpoolWriter, clock: Callable[[], float] = time.monotonic) -> None:
        self.writer = writer
        self._clock = clock
        self._start = clock()
        self._next = [0, 0]
        self._rx_ssrc: int | None = None
        self._rx_base_ts = 0
        self._rx_base_offset = 0
        self.paused = False
        self.frames = 0

    def _now_samples(self) -> int:
        return int((self._clock() - self._start) * RATE)

    def _write(self, channel: int, payload: bytes, codec: Codec) -> None:
        pcm = codec.decode(payload)
        samples = len(pcm) // 2
        now = self._now_samples()
        expected = self._next[channel]
        # arrival time marks the frame's end; anchor to the running position when close
        offset = expected if abs(now - samples - expected) <= RESYNC_SAMPLES else max(
            0, now - samples
        )  # fmt: skip
        self._next[channel] = offset + samples
        self.writer.write(channel, offset, pcm)
        self.frames += 1

    def received(self, payload: bytes, codec: Codec, timestamp: int, ssrc: int) -> None:
        """From the caller: channel 0, placed by RTP timestamp."""
        pcm = codec.decode(payload)
        samples = len(pcm) // 2
        arrival = max(0, self._now_samples() - samples)
        offset = -1
        if ssrc == self._rx_ssrc:
            delta = (timestamp - self._rx_base_ts) & 0xFFFFFFFF
            if delta >= 1 << 31:
                delta -= 1 << 32  # a late packet from before the anchor
            offset = self._rx_base_offset + delta
        if offset < 0 or abs(offset - arrival) > RATE:
            self._rx_ssrc, self._rx_base_ts, self._rx_base_offset = ssrc, timestamp, arrival
            offset = arrival
        self.writer.write(0, offset, pcm)
        self.frames += 1

    def sent(self, payload: bytes, codec: Codec) -> None:
        """To the caller: channel 1."""
        self._write(1, payload, codec)

    def pause(self) -> None:
        """Stop keeping audio from now on (silence in the file)."""
        if not self.paused:
            self.writer.pause(self._now_samples())
            self.paused = True

    def resume(self) -> None:
        """Keep audio again."""
        if self.paused:
            self.writer.resume(self._now_samples())
            self.paused = False

    def close(self) -> None:
        """Finish the spool at the current position (a trailing pause counts as silence)."""
        self.writer.close(self._now_samples())

    @property
    def seconds(self) -> float:
        """Time since the capture started."""
        return self._clock() - self._start


class DtmfCodes:
    """Watches the caller's keys for the rule's pause and resume codes (e.g. ``*1``/``*2``)."""

    def __init__(self, pause_code: str, resume_code: str, on_code: Callable[[str], None]) -> None:
        self.codes = {pause_code: "pause", resume_code: "resume"}
        self.longest = max(len(pause_code), len(resume_code))
        self.on_code = on_code
        self._typed = ""

    def __call__(self, digit: str) -> None:
        self._typed = (self._typed + digit)[-self.longest :]
        for code, command in self.codes.items():
            if self._typed.endswith(code):
                self._typed = ""
                self.on_code(command)
                return
