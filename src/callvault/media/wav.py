"""WAV files in and out: any PCM rate/width/channels to 8 kHz 16-bit mono.

Prompts arrive as whatever an admin exported (44.1 kHz stereo 24-bit is
common); the engine wants 8 kHz mono 16-bit.  Resampling low-passes with a
windowed-sinc filter before decimating so nothing above 4 kHz folds back
into the band.
"""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

TARGET_RATE = 8000


class WavFormatError(ValueError):
    """A WAV file the engine cannot use, with the reason."""


def _read_chunks(data: bytes) -> tuple[tuple[int, int, int, int], bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavFormatError("not a RIFF/WAVE file")
    offset = 12
    fmt: tuple[int, int, int, int] | None = None
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        size = struct.unpack_from("<I", data, offset + 4)[0]
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            if len(body) < 16:
                raise WavFormatError("fmt chunk truncated")
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavFormatError("data chunk before the fmt chunk")
            if len(body) < size:
                raise WavFormatError(
                    f"data chunk truncated: header says {size} bytes, file has {len(body)}"
                )
            return fmt, body
        offset += 8 + size + (size & 1)
    raise WavFormatError("no data chunk" if fmt else "no fmt chunk")


def _to_float(fmt: tuple[int, int, int, int], raw: bytes) -> npt.NDArray[np.float64]:
    tag, channels, rate, bits = fmt
    if channels < 1 or channels > 8:
        raise WavFormatError(f"unsupported channel count {channels}")
    if rate < 4000 or rate > 384000:
        raise WavFormatError(f"unsupported sample rate {rate} Hz")
    width = bits // 8
    if tag == 3:
        if bits not in (32, 64):
            raise WavFormatError(f"unsupported float width {bits} bits")
        samples = np.frombuffer(raw[: len(raw) // width * width], dtype=f"<f{width}")
        audio = samples.astype(np.float64)
    elif tag == 1:
        if bits == 8:
            audio = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
        elif bits == 16:
            audio = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2") / 32768.0
        elif bits == 24:
            usable = raw[: len(raw) // 3 * 3]
            b = np.frombuffer(usable, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            ints = np.where(ints & 0x800000, ints - 0x1000000, ints)
            audio = ints / 8388608.0
        elif bits == 32:
            audio = np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<i4") / 2147483648.0
        else:
            raise WavFormatError(f"unsupported sample width {bits} bits")
    else:
        raise WavFormatError(f"unsupported WAV encoding (format tag {tag}); use PCM or float")
    frames = len(audio) // channels
    if frames == 0:
        raise WavFormatError("the file holds no audio")
    audio = audio[: frames * channels].reshape(frames, channels).mean(axis=1)
    return np.asarray(audio, dtype=np.float64)


def resample(
    audio: npt.NDArray[np.float64], rate: int, target: int = TARGET_RATE
) -> npt.NDArray[np.float64]:
    """Band-limited resampling in the frequency domain.

    The spectrum is cut at 0.95 times the lower Nyquist frequency with a short
    cosine taper (an ideal low-pass without the ringing of a hard edge), then
    transformed back at the new length.
    """
    if rate == target or len(audio) == 0:
        return audio
    out_len = max(1, round(len(audio) * target / rate))
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(len(audio), d=1.0 / rate)
    nyquist = min(rate, target) / 2
    edge_start, edge_end = 0.90 * nyquist, 0.98 * nyquist
    gain = np.ones_like(freqs)
    taper = (freqs > edge_start) & (freqs < edge_end)
    gain[taper] = 0.5 * (1 + np.cos(np.pi * (freqs[taper] - edge_start) / (edge_end - edge_start)))
    gain[freqs >= edge_end] = 0.0
    spectrum *= gain
    out_bins = out_len // 2 + 1
    resized = np.zeros(out_bins, dtype=complex)
    keep = min(out_bins, len(spectrum))
    resized[:keep] = spectrum[:keep]
    result = np.fft.irfft(resized, n=out_len) * (out_len / len(audio))
    return np.asarray(result, dtype=np.float64)


def load_wav_8k(path: Path | str) -> bytes:
    """Read a WAV file and return 8 kHz 16-bit mono PCM bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WavFormatError(f"cannot read {path}: {exc.strerror}") from None
    return decode_wav_8k(data)


def decode_wav_8k(data: bytes) -> bytes:
    """Decode WAV bytes into 8 kHz 16-bit mono PCM bytes."""
    fmt, raw = _read_chunks(data)
    audio = resample(_to_float(fmt, raw), fmt[2])
    clipped = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    return clipped.tobytes()


def write_wav(path: Path | str, pcm: bytes, rate: int = TARGET_RATE, channels: int = 1) -> None:
    """Write 16-bit PCM to a WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
