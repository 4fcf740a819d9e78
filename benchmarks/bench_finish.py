"""Measure the recording path: SpoolWriter.write per frame, and finishing a long call.

Builds a synthetic stereo call (default one hour at 8 kHz: alternating
talk turns of speech-like noise bursts, low comfort noise in between, one
30-second pause) through :class:`SpoolWriter` exactly as the engine feeds
it (one write per 20 ms frame per direction, the 1-second flush), then
finishes it to WAV, MP3 and Opus and reports the speed as a multiple of
real time.  The process is pinned to one CPU (``--cpu``), so "x realtime"
is per core.  Prints Markdown tables for BENCHMARKS.md.

    .venv/bin/python -m benchmarks.bench_finish [--minutes 60] [--cpu 0]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callvault.recording.finish import Format, Mode, finish
from callvault.recording.spool import SpoolWriter, scan_spool

RATE = 8000
FRAME = 160  # samples in 20 ms


class StepClock:
    """A clock that advances a fixed step per read: real-time pacing without the waiting."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def speech_frames(rng: np.random.Generator, count: int) -> list[bytes]:
    """Frames of band-limited noise with a syllable-rate envelope (crudely speech-like)."""
    n = count * FRAME
    white = rng.standard_normal(n + 64)
    kernel = np.hanning(9)  # a soft low-pass: most energy below ~1.5 kHz
    voiced = np.convolve(white, kernel / kernel.sum(), mode="same")[:n]
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * np.arange(n) / RATE) ** 2
    pcm = np.clip(voiced * envelope * 9000, -32768, 32767).astype("<i2")
    return [pcm[i * FRAME : (i + 1) * FRAME].tobytes() for i in range(count)]


def talk_plan(rng: np.random.Generator, frames: int) -> npt.NDArray[np.int8]:
    """Who talks in each 20 ms frame: 0 caller, 1 other side, -1 nobody (turns and bursts)."""
    plan = np.full(frames, -1, dtype=np.int8)
    pos, speaker = 0, 0
    while pos < frames:
        turn_end = pos + int(rng.exponential(4.0) * 50) + 25
        while pos < min(turn_end, frames):
            burst = int(rng.uniform(0.3, 1.8) * 50)
            plan[pos : min(pos + burst, frames)] = speaker
            pos += burst + int(rng.uniform(0.1, 0.6) * 50)
        pos += int(rng.uniform(0.2, 1.0) * 50)
        speaker ^= 1
    return plan


def build_call(path: Path, minutes: float, seed: int = 1) -> float:
    """Write the synthetic call; return the seconds the writing took."""
    rng = np.random.default_rng(seed)
    frames = int(minutes * 60 * 50)
    plan = talk_plan(rng, frames)
    speech = speech_frames(rng, 4000)
    quiet = [
        (rng.standard_normal(FRAME) * 30).astype("<i2").tobytes() for _ in range(200)
    ]  # comfort noise
    pause = (frames // 2, frames // 2 + 30 * 50)
    picks = rng.integers(0, len(speech), size=(frames, 2)).tolist()
    writer = SpoolWriter(
        path, call_id="bench", recording_id="bench", started_at=0.0, clock=StepClock(0.01)
    )
    t0 = time.perf_counter()
    for i in range(frames):
        if i == pause[0]:
            writer.pause(i * FRAME)
        elif i == pause[1]:
            writer.resume(i * FRAME)
        who = plan[i]
        for channel in (0, 1):
            pcm = speech[picks[i][channel]] if who == channel else quiet[i % 200]
            writer.write(channel, i * FRAME, pcm)
    writer.close()
    return time.perf_counter() - t0


class NoopWriter:
    """The baseline: a method call with the same arguments that does nothing."""

    def write(self, channel: int, offset_samples: int, pcm: bytes) -> None:
        pass


def write_cost(path: Path, writes: int, *, flush_outside: bool, noop: bool = False) -> float:
    """Nanoseconds per ``SpoolWriter.write`` of one 20 ms frame, averaged over ``writes``.

    With ``flush_outside`` the buffer is flushed between timed batches of 98
    writes (real clock), so only the buffering is measured.  Otherwise the
    writes are paced as in a live call (a clock that moves 10 ms per read:
    two directions x 50 frames a second) and the automatic 1-second write +
    fsync is included, amortised.
    """
    frame = bytes(2 * FRAME)
    clock = time.monotonic if flush_outside else StepClock(0.01)
    writer = SpoolWriter(path, call_id="w", recording_id="w", started_at=0.0, clock=clock)
    write = NoopWriter().write if noop else writer.write
    batch = 98 if flush_outside else writes
    elapsed = 0
    for first in range(0, writes, batch):
        t0 = time.perf_counter_ns()
        for i in range(first, min(first + batch, writes)):
            write(i & 1, (i >> 1) * FRAME, frame)
        elapsed += time.perf_counter_ns() - t0
        writer.flush()
    writer.close()
    path.unlink()
    return elapsed / writes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the call")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: no pinning)")
    parser.add_argument("--writes", type=int, default=1_000_000, help="writes for ns/op")
    args = parser.parse_args(argv)
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="bench-finish-") as tmp:
        work = Path(tmp)
        print("## SpoolWriter.write (one 20 ms frame, 320 bytes)\n")
        print("| case | ns/op |\n|---|---:|")
        noop = write_cost(work / "w.spool", args.writes, flush_outside=True, noop=True)
        print(f"| (baseline: a no-op method with the same arguments) | {noop:.0f} |")
        buffered = write_cost(work / "w.spool", args.writes, flush_outside=True)
        print(f"| buffering only (no flush due) | {buffered:.0f} |")
        paced = write_cost(work / "w.spool", args.writes, flush_outside=False)
        print(f"| incl. the 1-s write + fsync, amortised | {paced:.0f} |")

        spool = work / "call.spool"
        build_s = build_call(spool, args.minutes)
        t0 = time.perf_counter()
        index = scan_spool(spool)
        scan_s = time.perf_counter() - t0
        size_mb = spool.stat().st_size / 1e6
        print(f"\n## Finishing a {args.minutes:g}-minute stereo call ({size_mb:.0f} MB spool)\n")
        print(f"spool written in {build_s:.1f} s; scanned in {scan_s:.2f} s ", end="")
        print(f"({sum(len(c.offsets) for c in index.channels)} frames)\n")
        print("| output | mode | seconds | x realtime | size | kbit/s |")
        print("|---|---|---:|---:|---:|---:|")
        runs: list[tuple[Format, Mode]] = [
            ("wav", "stereo"),
            ("mp3", "stereo"),
            ("opus", "stereo"),
            ("opus", "mixed"),
        ]
        for fmt, mode in runs:
            out = work / f"call.{fmt}"
            t0 = time.perf_counter()
            result = finish(spool, out, mode=mode, fmt=fmt)
            took = time.perf_counter() - t0
            kbps = result.size_bytes * 8 / 1000 / seconds
            print(
                f"| {fmt} | {mode} | {took:.1f} | {seconds / took:.0f} "
                f"| {result.size_bytes / 1e6:.1f} MB | {kbps:.0f} |"
            )
            out.unlink()
        tracemalloc.start()
        finish(spool, work / "mem.opus", mode="stereo", fmt="opus")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"\npeak Python/numpy memory while finishing to Opus: {peak / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
