"""G.711 A-law (PCMA, PT 8) and µ-law (PCMU, PT 0) codecs (ITU-T G.711, RFC 3551 §4.5.14).

Linear audio is 16-bit signed little-endian PCM at 8 kHz.  The conversions
use the C implementation in ``audioop`` (``audioop-lts`` on Python 3.13+).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop as _audioop

audioop: Any = _audioop


@dataclass(frozen=True, slots=True)
class Codec:
    """A G.711 variant."""

    name: str
    payload_type: int
    clock_rate: int = 8000

    def encode(self, pcm: bytes) -> bytes:
        """16-bit linear PCM → G.711 bytes (one byte per sample)."""
        if self.payload_type == 8:
            return bytes(audioop.lin2alaw(pcm, 2))
        return bytes(audioop.lin2ulaw(pcm, 2))

    def decode(self, payload: bytes) -> bytes:
        """G.711 bytes → 16-bit linear PCM."""
        if self.payload_type == 8:
            return bytes(audioop.alaw2lin(payload, 2))
        return bytes(audioop.ulaw2lin(payload, 2))

    def silence(self, samples: int) -> bytes:
        """Encoded silence of ``samples`` samples."""
        return (b"\xd5" if self.payload_type == 8 else b"\xff") * samples


PCMA = Codec("PCMA", 8)
PCMU = Codec("PCMU", 0)
_BY_NAME = {"PCMA": PCMA, "PCMU": PCMU}
_BY_PT = {8: PCMA, 0: PCMU}


def codec_by_name(name: str) -> Codec:
    """The codec called ``name`` (case-insensitive); ``KeyError`` if unknown."""
    try:
        return _BY_NAME[name.upper()]
    except KeyError:
        raise KeyError(f"unsupported codec {name!r} (have PCMA, PCMU)") from None


def codec_for_payload_type(payload_type: int) -> Codec | None:
    """The static-payload-type codec, or None."""
    return _BY_PT.get(payload_type)
