"""Recording's cost on the hot path: one CallCapture frame (decode G.711 + spool append).

A recorded call adds, every 20 ms, one ``received`` (the caller's payload,
placed by RTP timestamp) and one ``sent`` (what the caller hears) to its
media stream's work; the spool is written and fsynced once a second in a
worker thread, outside the event loop.  This measures the per-frame cost on
the event loop and the once-a-second flush off it.  Run::

    .venv/bin/python benchmarks/bench_capture.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from callvault.media.g711 import codec_by_name
from callvault.recording.capture import CallCapture
from callvault.recording.spool import SpoolWriter

FRAMES = 200_000


def main() -> None:
    codec = codec_by_name("PCMU")
    payload = bytes(range(160))
    with tempfile.TemporaryDirectory() as tmp:
        clock = [0.0]
        writer = SpoolWriter(Path(tmp) / "bench.spool", call_id="c-bench", recording_id="r-bench",
                             started_at=time.time(), max_buffer_age_s=1e9)  # fmt: skip
        capture = CallCapture(writer, clock=lambda: clock[0])
        flush_ns: list[int] = []
        start = time.perf_counter_ns()
        loop_ns = 0
        for index in range(FRAMES):
            clock[0] = index * 0.02
            t0 = time.perf_counter_ns()
            capture.received(payload, codec, (index * 160) & 0xFFFFFFFF, 1234)
            capture.sent(payload, codec)
            loop_ns += time.perf_counter_ns() - t0
            if index % 50 == 49:  # one second of audio: the ticker's flush, timed separately
                data = writer.take_buffer()
                t1 = time.perf_counter_ns()
                writer.write_out(data)
                flush_ns.append(time.perf_counter_ns() - t1)
        total = time.perf_counter_ns() - start
        writer.close()
        size = os.path.getsize(Path(tmp) / "bench.spool")
    per_frame = loop_ns / FRAMES
    flush_ms = sorted(flush_ns)
    print(f"frames: {FRAMES} (x2 directions), {FRAMES * 0.02 / 3600:.2f} h of call, "
          f"spool {size / 1e6:.1f} MB, total {total / 1e9:.2f} s")  # fmt: skip
    print(f"on the event loop: {per_frame:.0f} ns per 20 ms (both directions) = "
          f"{per_frame * 50 / 1e9 * 100:.4f} % of a core per recorded call")  # fmt: skip
    print(f"flush of one second (worker thread): p50 {flush_ms[len(flush_ms) // 2] / 1e6:.3f} ms"
          f", p99 {flush_ms[int(len(flush_ms) * 0.99)] / 1e6:.3f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
