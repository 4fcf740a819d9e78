"""``callvault call URI``: a small SIP client for demos and smoke checks.

It dials with our own engine, sends DTMF (RFC 4733) after the answer, records
what it hears to a WAV file, and ends when the far end hangs up or after
``--duration`` seconds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from callvault.config import Settings
from callvault.engine.call import Call
from callvault.engine.engine import Engine
from callvault.engine.media_stream import MediaStream
from callvault.engine.outbound import DialFailed
from callvault.media.g711 import Codec
from callvault.media.wav import write_wav
from callvault.sip.errors import SipParseError
from callvault.sip.uri import SipUri


class _Recorder:
    """Collects decoded audio of a stream, with silence for gaps."""

    def __init__(self) -> None:
        self.pcm = bytearray()

    def on_audio(self, stream: MediaStream, payload: bytes, codec: Codec) -> None:
        self.pcm += codec.decode(payload)


async def place_call(
    uri: str,
    *,
    dtmf: str,
    record: Path | None,
    duration_s: float,
    from_user: str,
    dtmf_delay_s: float,
    credentials: tuple[str, str] | None,
) -> int:
    """Run one call; return the process exit code."""
    try:
        target = SipUri.parse(uri)
    except SipParseError as exc:
        print(f"callvault call: {exc}", file=sys.stderr)
        return 2
    settings = Settings(
        sip_host="127.0.0.1" if target.host in ("127.0.0.1", "localhost") else "0.0.0.0", sip_port=0
    )
    engine = Engine(settings)
    await engine.start()
    call = Call(from_user=from_user, to_user=target.user or "", traces_dir=None)
    recorder = _Recorder()
    started = time.monotonic()
    try:
        leg = await engine.dial(call, target, from_user=from_user, credentials=credentials)
    except DialFailed as exc:
        print(f"call failed: {exc}", file=sys.stderr)
        await engine.shutdown()
        return 1
    assert leg.media is not None
    leg.media.consumers.append(recorder)
    print(f"answered ({leg.negotiated.codec if leg.negotiated else '?'})", file=sys.stderr)
    if dtmf:
        await asyncio.sleep(dtmf_delay_s)
        for digit in dtmf:
            leg.send_dtmf(digit)
            print(f"sent DTMF {digit}", file=sys.stderr)
            await asyncio.sleep(0.3)
    remaining = max(0.0, duration_s - (time.monotonic() - started))
    ended = await leg.wait_ended(remaining)
    print("remote hung up" if ended else "duration reached; hanging up", file=sys.stderr)
    await leg.hangup()
    await engine.shutdown(grace_s=0.5)
    if record is not None:
        write_wav(record, bytes(recorder.pcm))
        print(f"recorded {len(recorder.pcm) / 16000:.1f} s to {record}", file=sys.stderr)
    return 0
