"""The finisher: turns a capture spool into the recording's audio file.

Each direction is rebuilt as one continuous track at the spool's sample
rate, every frame placed at its sample offset: gaps stay silent, so the file
stays aligned with the call, and anything inside a pause is zeroed.  Where
frames of one direction overlap, the one written later wins.  ``mixed``
sums the two directions (clipped to 16 bits) into one channel; ``stereo``
puts the caller (direction 0) left and the other side (direction 1) right.

The audio is rendered and encoded (libsndfile through ``soundfile``) a
chunk at a time, straight from the memory-mapped spool into a temporary
file beside the output that is fsynced and renamed into place, so neither
the decoded nor the encoded recording is ever whole in memory.

``peaks`` feeds the panel's waveform (wavesurfer.js): one list per output
channel of ``buckets`` (min, max) pairs, *alternating*:
``[min0, max0, min1, max1, ...]`` (the layout of audiowaveform's ``data``);
bucket ``b`` holds the samples ``s`` with ``s * buckets // length == b``.
Values are in -1..1 at 8-bit precision (the 16-bit sample's top byte / 128),
rounded to 3 decimals.  wavesurfer.js 7 takes ``peaks=[channel]`` as it is
(it draws absolute values); for a waveform whose top and bottom differ,
pass ``[channel[1::2], channel[0::2]]`` (maxima on top, minima below).
"""

from __future__ import annotations

import hashlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import soundfile as sf  # type: ignore[import-untyped]

from callvault.recording.spool import ChannelIndex, SpoolIndex, fsync_dir, scan_spool

Mode = Literal["mixed", "stereo"]
Format = Literal["wav", "mp3", "opus"]

# (libsndfile major format, subtype, sample rates the encoder takes or None for any)
_FORMATS: dict[str, tuple[str, str, frozenset[int] | None]] = {
    "wav": ("WAV", "PCM_16", None),
    "mp3": (
        "MP3",
        "MPEG_LAYER_III",
        frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}),
    ),
    "opus": ("OGG", "OPUS", frozenset({8000, 12000, 16000, 24000, 48000})),
}
Int16Array = npt.NDArray[np.int16]


class EmptyRecordingError(Exception):
    """The spool holds no audio at all: there is nothing to finish."""


@dataclass(frozen=True)
class FinishedAudio:
    """The finished recording: where it is, how long, its digest and waveform peaks."""

    path: Path
    duration_ms: int
    size_bytes: int
    sha256: str
    peaks: list[list[float]]  # per channel: [min0, max0, min1, max1, ...] in -1..1
    channels: int
    partial: bool  # the spool had no close marker (crash / kill)


class _Track:
    """One direction's frames sorted by offset, for picking those that touch a window."""

    def __init__(self, index: ChannelIndex) -> None:
        order = np.argsort(index.offsets, kind="stable")
        self.offsets = index.offsets[order]
        self.ends = self.offsets + index.lengths[order]
        self.positions = index.positions[order]
        self.longest = int(index.lengths.max()) if len(order) else 0

    def render(self, mm: mmap.mmap, start: int, out: Int16Array) -> None:
        """Copy the frames overlapping ``[start, start + len(out))`` into ``out``."""
        stop = start + len(out)
        lo = int(np.searchsorted(self.offsets, start - self.longest, side="right"))
        hi = int(np.searchsorted(self.offsets, stop, side="left"))
        pick = np.arange(lo, hi)[self.ends[lo:hi] > start]
        # byte position grows with write order: the later frame overwrites the earlier one
        pick = pick[np.argsort(self.positions[pick], kind="stable")]
        for offset, end, position in zip(
            self.offsets[pick].tolist(),
            self.ends[pick].tolist(),
            self.positions[pick].tolist(),
            strict=True,
        ):
            a, b = max(offset, start), min(end, stop)
            out[a - start : b - start] = np.frombuffer(
                mm, dtype="<i2", count=b - a, offset=position + 2 * (a - offset)
            )


class _Peaks:
    """Running per-bucket min/max over the whole recording, fed chunk by chunk."""

    def __init__(self, total: int, buckets: int, channels: int) -> None:
        self.total, self.buckets = total, buckets
        self.mins = np.full((buckets, channels), 32767, dtype=np.int32)
        self.maxs = np.full((buckets, channels), -32768, dtype=np.int32)
        self.seen = np.zeros(buckets, dtype=bool)

    def add(self, start: int, block: Int16Array) -> None:
        """Account the samples ``block`` (frames x channels) that begin at ``start``."""
        total, buckets = self.total, self.buckets
        first = start * buckets // total
        last = (start + len(block) - 1) * buckets // total
        # bucket b covers samples [ceil(b * total / buckets), ceil((b + 1) * total / buckets))
        bounds = (np.arange(first + 1, last + 1) * total + buckets - 1) // buckets - start
        cuts = np.concatenate(([0], bounds))
        span = slice(first, last + 1)
        self.mins[span] = np.minimum(self.mins[span], np.minimum.reduceat(block, cuts, axis=0))
        self.maxs[span] = np.maximum(self.maxs[span], np.maximum.reduceat(block, cuts, axis=0))
        self.seen[span] = True

    def result(self) -> list[list[float]]:
        """Per channel ``[min0, max0, ...]`` as 8-bit-precision floats in -1..1."""
        mins = np.where(self.seen[:, None], self.mins, 0)
        maxs = np.where(self.seen[:, None], self.maxs, 0)
        pairs = np.stack((mins, maxs), axis=1).reshape(2 * self.buckets, -1)
        values = np.round(np.trunc(pairs / 256) / 128, 3)
        return [values[:, ch].tolist() for ch in range(values.shape[1])]


def _zero_pauses(index: SpoolIndex, start: int, tracks: Int16Array) -> None:
    stop = start + len(tracks)
    for pause in index.pauses:
        end = stop if pause.end is None else pause.end
        a, b = max(pause.start, start), min(end, stop)
        if a < b:
            tracks[a - start : b - start] = 0


def _digest_and_sync(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
        os.fsync(f.fileno())
    return digest.hexdigest(), size


def finish(
    spool_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    mode: Mode = "mixed",
    fmt: Format = "wav",
    peaks_buckets: int = 1000,
    chunk_seconds: float = 10.0,
) -> FinishedAudio:
    """Rebuild the spool's audio and encode it to ``out_path`` (replaced atomically).

    Raises :class:`EmptyRecordingError` when the spool holds no audio, and
    ``ValueError`` for an unknown mode or format or a sample rate the
    encoder does not take.  The spool itself is left in place.
    """
    if mode not in ("mixed", "stereo"):
        raise ValueError(f"unknown mode {mode!r}")
    if fmt not in _FORMATS or peaks_buckets < 1 or chunk_seconds <= 0:
        raise ValueError(f"bad format {fmt!r}, {peaks_buckets} buckets or chunk {chunk_seconds}")
    major, subtype, rates = _FORMATS[fmt]
    index = scan_spool(spool_path)
    rate, total = index.header.sample_rate, index.end_offset
    if rates is not None and rate not in rates:
        raise ValueError(f"{fmt} cannot encode {rate} Hz")
    if total == 0:
        raise EmptyRecordingError(f"{spool_path}: no audio captured")
    channels = 1 if mode == "mixed" else 2
    chunk = max(1, round(chunk_seconds * rate))
    # libsndfile's MP3 encoder drops half of every 16-bit stereo write (the bug
    # libsndfile/libsndfile#1106 fixes); its float path is sound
    short_stereo_broken = fmt == "mp3" and channels == 2
    tracks = [_Track(ch) for ch in index.channels]
    peaks = _Peaks(total, peaks_buckets, channels)
    out = Path(out_path)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with (
            open(spool_path, "rb") as spool,
            mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as mm,
            sf.SoundFile(
                tmp, "w", samplerate=rate, channels=channels, format=major, subtype=subtype
            ) as encoder,
        ):
            for start in range(0, total, chunk):
                n = min(chunk, total - start)
                block = np.zeros((n, 2), dtype=np.int16)
                for channel, track in enumerate(tracks):
                    track.render(mm, start, block[:, channel])
                _zero_pauses(index, start, block)
                if mode == "mixed":
                    summed = block.sum(axis=1, dtype=np.int32)
                    block = np.clip(summed, -32768, 32767).astype(np.int16)[:, None]
                peaks.add(start, block)
                if short_stereo_broken:
                    encoder.write(block.astype(np.float32) / 32768)
                else:
                    encoder.write(block)
        sha256, size = _digest_and_sync(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(out.parent)
    return FinishedAudio(
        path=out,
        duration_ms=total * 1000 // rate,
        size_bytes=size,
        sha256=sha256,
        peaks=peaks.result(),
        channels=channels,
        partial=not index.complete,
    )
