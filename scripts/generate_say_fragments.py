#!/usr/bin/env python3
"""Generate the IVR "Say" fragment recordings with espeak-ng (Polish and English).

Every fragment of ``callvault.ivr.say.fragment_text`` is synthesised with
``espeak-ng -v <pl|en> --stdout``, converted to 8 kHz mono 16-bit PCM with the
project's own resampler (``callvault.media.wav``), trimmed so at most ~30 ms
of silence remains at either end (fragments are played back to back, longer
gaps sound halting), normalised to -3 dBFS peak like the demo prompts, and
written to ``src/callvault/ivr/sounds/<lang>/<name>.wav``.  Re-running
rewrites the files; ``--check`` only verifies that every file exists.

Run it with the project's interpreter: ``.venv/bin/python scripts/generate_say_fragments.py``.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys

import numpy as np

from callvault.ivr.say import LANGUAGES, fragment_path, fragment_text
from callvault.media.wav import TARGET_RATE, decode_wav_8k, write_wav

SPEED_WPM = 150  # the demo prompts' speaking rate
KEEP_SILENCE_S = 0.03
WINDOW_S = 0.005
SILENCE_BELOW = 0.01  # of the peak: -40 dB
PEAK = 10 ** (-3 / 20)
FADE_S = 0.004  # espeak-ng starts some vowels at full amplitude: avoid a click


def fix_stream_header(wav: bytes) -> bytes:
    """Put the real sizes into a WAV written to a pipe.

    ``espeak-ng --stdout`` cannot seek back, so its RIFF and data sizes are
    placeholders (about 2 GiB); the WAV reader rightly rejects those.
    """
    out = bytearray(wav)
    struct.pack_into("<I", out, 4, len(out) - 8)
    offset = 12
    while offset + 8 <= len(out):
        chunk_id = bytes(out[offset : offset + 4])
        if chunk_id == b"data":
            struct.pack_into("<I", out, offset + 4, len(out) - offset - 8)
            return bytes(out)
        size = struct.unpack_from("<I", out, offset + 4)[0]
        offset += 8 + size + (size & 1)
    raise ValueError("espeak-ng output has no data chunk")


def trim_and_normalise(pcm: bytes) -> bytes:
    """Cut silence beyond KEEP_SILENCE_S at both ends, fade the edges, scale to -3 dBFS."""
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak == 0.0:
        raise ValueError("espeak-ng produced silence")
    window = round(WINDOW_S * TARGET_RATE)
    frames = len(audio) // window
    loudness = np.abs(audio[: frames * window]).reshape(frames, window).max(axis=1)
    loud = np.flatnonzero(loudness > SILENCE_BELOW * peak)
    keep = round(KEEP_SILENCE_S * TARGET_RATE)
    start = max(0, int(loud[0]) * window - keep)
    end = min(len(audio), (int(loud[-1]) + 1) * window + keep)
    scaled = audio[start:end] * (PEAK / peak)
    fade = min(round(FADE_S * TARGET_RATE), len(scaled) // 2)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade))
    scaled[:fade] *= ramp
    scaled[len(scaled) - fade :] *= ramp[::-1]
    return np.asarray(np.round(scaled * 32767.0), dtype="<i2").tobytes()


def synthesise(text: str, lang: str) -> bytes:
    """espeak-ng -> 8 kHz 16-bit mono PCM, trimmed and normalised."""
    result = subprocess.run(
        ["espeak-ng", "-v", lang, "-s", str(SPEED_WPM), "--stdout", text],
        check=True,
        capture_output=True,
    )
    return trim_and_normalise(decode_wav_8k(fix_stream_header(result.stdout)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the files exist")
    args = parser.parse_args(argv)
    jobs = [(lang, name, text) for lang in LANGUAGES for name, text in fragment_text(lang).items()]
    if args.check:
        missing = [fragment_path(lang, name) for lang, name, _ in jobs]
        missing = [path for path in missing if not path.exists()]
        for path in missing:
            print(f"missing: {path}", file=sys.stderr)
        return 1 if missing else 0
    if shutil.which("espeak-ng") is None:
        print("espeak-ng not found: apt-get install espeak-ng", file=sys.stderr)
        return 2
    for done, (lang, name, text) in enumerate(jobs, start=1):
        target = fragment_path(lang, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_wav(target, synthesise(text, lang))
        print(f"\r[{done}/{len(jobs)}] {lang}/{name}".ljust(48), end="", file=sys.stderr)
    print(file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
