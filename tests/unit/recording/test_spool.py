"""The capture spool: record layout, 1-second durability, torn tails, crash recovery."""

from __future__ import annotations

import json
import random
import shutil
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from callvault.recording.recover import recover_spools
from callvault.recording.spool import (
    CLOSE,
    PAUSE,
    RESUME,
    Frame,
    PauseInterval,
    SpoolError,
    SpoolWriter,
    read_spool,
    scan_spool,
)

RATE = 8000
FRAME = 160  # 20 ms


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pcm(value: int, samples: int = FRAME) -> bytes:
    return np.full(samples, value, dtype="<i2").tobytes()


def noise(seed: int, samples: int = FRAME) -> bytes:
    rng = np.random.default_rng(seed)
    return rng.integers(-20000, 20000, samples, dtype=np.int16).astype("<i2").tobytes()


def writer(path: Path, clock: FakeClock | None = None) -> SpoolWriter:
    return SpoolWriter(
        path,
        call_id="call-1",
        recording_id="rec-1",
        started_at=1_700_000_000.5,
        clock=clock or FakeClock(),
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    with writer(path) as w:
        w.write(0, 0, noise(1))
        w.write(1, 0, noise(2))
        w.write(0, 160, noise(3))
        w.write(1, 400, noise(4))  # a gap on the other side
        w.pause(560)
        w.resume(800)
        w.write(0, 800, noise(5))
    contents = read_spool(path)
    assert contents.header.call_id == "call-1"
    assert contents.header.recording_id == "rec-1"
    assert contents.header.sample_rate == RATE
    assert contents.header.started_at == 1_700_000_000.5
    assert contents.frames[0] == [Frame(0, noise(1)), Frame(160, noise(3)), Frame(800, noise(5))]
    assert contents.frames[1] == [Frame(0, noise(2)), Frame(400, noise(4))]
    assert contents.pauses == (PauseInterval(560, 800),)
    assert contents.complete
    assert contents.truncated_bytes == 0
    assert contents.end_offset == 960
    assert contents.duration_s == pytest.approx(0.12)


def test_record_layout(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    with writer(path) as w:
        w.write(1, 0x01020304, struct.pack("<hh", 1, -2))
        w.pause(7)
        w.resume(9)
    raw = path.read_bytes()
    line, records = raw.split(b"\n", 1)
    header = json.loads(line)
    assert header["magic"] == "callvault-spool"
    assert header["version"] == 1
    assert header["call_id"] == "call-1"
    assert records[:11] == bytes([1, 1, 2, 3, 4, 0, 4]) + b"\x01\x00\xfe\xff"
    assert records[11:] == bytes(
        [PAUSE, 0, 0, 0, 7, 0, 0, RESUME, 0, 0, 0, 9, 0, 0, CLOSE, 0, 0, 0, 0, 0, 0]
    )


def test_frames_inside_a_pause_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    with writer(path) as w:
        w.write(0, 0, pcm(1))
        w.pause(240)
        w.write(0, 160, pcm(2))  # starts before the pause: kept (the finisher zeroes its tail)
        w.write(0, 320, pcm(3))  # inside: dropped
        w.write(1, 240, pcm(3))
        w.resume(480)
        w.write(0, 480, pcm(4))
    contents = read_spool(path)
    assert [f.offset for f in contents.frames[0]] == [0, 160, 480]
    assert contents.frames[1] == []
    assert contents.pauses == (PauseInterval(240, 480),)


def test_unresumed_pause_runs_to_the_end(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    with writer(path) as w:
        w.write(0, 0, pcm(1))
        w.pause(1000)
    contents = read_spool(path)
    assert contents.pauses == (PauseInterval(1000, None),)
    assert contents.end_offset == 1000


def test_bad_writes_are_refused(tmp_path: Path) -> None:
    w = writer(tmp_path / "a.spool")
    with pytest.raises(ValueError):
        w.write(2, 0, pcm(1))
    with pytest.raises(ValueError):
        w.write(0, 0, b"\x00\x01\x02")
    with pytest.raises(ValueError):
        w.write(0, -1, pcm(1))
    with pytest.raises(ValueError):
        w.write(0, 2**32, pcm(1))
    with pytest.raises(ValueError):
        w.write(0, 0, pcm(1, 32768))  # longer than a record can hold
    w.write(0, 0, pcm(1, 32767))
    w.write(0, 0, b"")  # nothing to keep
    w.close()
    with pytest.raises(ValueError):
        w.write(0, 0, pcm(1))
    with pytest.raises(ValueError):
        w.pause(0)
    w.close()  # idempotent
    assert [len(f.pcm) for f in read_spool(w.path).frames[0]] == [65534]
    with pytest.raises(FileExistsError):
        writer(tmp_path / "a.spool")


def test_killed_writer_loses_at_most_the_last_second(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    clock = FakeClock()
    w = writer(path, clock)
    written: tuple[list[Frame], list[Frame]] = ([], [])
    for i in range(5 * 50):  # 5 s of 20 ms frames, both directions
        for channel in (0, 1):
            frame = Frame(i * FRAME, noise(i * 2 + channel))
            w.write(channel, frame.offset, frame.pcm)
            written[channel].append(frame)
        clock.now += 0.02
    # "kill -9": no flush, no close; what a new process would find is the file as it is
    shutil.copy(path, tmp_path / "killed.spool")
    on_disk = read_spool(tmp_path / "killed.spool")
    assert not on_disk.complete
    assert on_disk.truncated_bytes == 0
    for channel in (0, 1):
        kept = on_disk.frames[channel]
        assert kept == written[channel][: len(kept)]
        assert on_disk.end_offset >= 4 * RATE  # at most the last second is missing
    assert recover_spools(tmp_path)[0].seconds >= 4.0
    w.close()


def test_nothing_reaches_the_disk_before_a_second_without_flush(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    clock = FakeClock()
    w = writer(path, clock)
    w.write(0, 0, pcm(1))
    clock.now += 0.99
    w.write(0, 160, pcm(1))
    assert read_spool(path).frames[0] == []
    clock.now += 0.01
    w.tick()  # the owner's once-a-second tick flushes without a new frame
    assert len(read_spool(path).frames[0]) == 2
    w.write(0, 320, pcm(1))
    w.flush()
    assert len(read_spool(path).frames[0]) == 3
    w.close()


def test_flush_by_age_with_the_real_clock(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    w = SpoolWriter(path, call_id="c", recording_id="r", started_at=0.0, max_buffer_age_s=0.05)
    w.write(0, 0, pcm(1))
    time.sleep(0.06)
    w.write(0, 160, pcm(1))
    assert len(read_spool(path).frames[0]) == 2
    w.close()


def test_truncated_at_random_positions(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    with writer(path) as w:
        for i in range(60):
            w.write(i % 2, (i // 2) * FRAME, noise(i))
            if i == 30:
                w.pause(i // 2 * FRAME + 40)
            if i == 40:
                w.resume(i // 2 * FRAME)
    full = read_spool(path)
    raw = path.read_bytes()
    header_end = raw.index(b"\n") + 1
    rng = random.Random(5)
    for cut in [header_end, len(raw) - 1, *rng.sample(range(header_end, len(raw)), 150)]:
        cut_path = tmp_path / f"cut-{cut}.spool"
        cut_path.write_bytes(raw[:cut])
        part = read_spool(cut_path)
        assert not part.complete
        assert part.header == full.header
        for channel in (0, 1):
            assert part.frames[channel] == full.frames[channel][: len(part.frames[channel])]
        assert 0 <= part.truncated_bytes < 7 + 2 * FRAME
        assert scan_spool(cut_path).valid_bytes == cut - part.truncated_bytes


def test_damaged_record_ends_the_readable_part(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    w = writer(path)
    w.write(0, 0, pcm(1))
    w.flush()
    with open(path, "ab") as f:
        f.write(bytes([0x42, 0, 0, 0, 0, 0, 0]) + bytes(7 + 320))
    contents = read_spool(path)
    assert len(contents.frames[0]) == 1
    assert not contents.complete
    assert contents.truncated_bytes == 7 + 7 + 320


def test_zero_filled_tail_is_not_read_as_frames(tmp_path: Path) -> None:
    path = tmp_path / "a.spool"
    w = writer(path)
    w.write(0, 0, pcm(1))
    w.flush()
    with open(path, "ab") as f:
        f.write(bytes(4096))
    contents = read_spool(path)
    assert contents.frames[0] == [Frame(0, pcm(1))]
    assert contents.truncated_bytes == 4096


@pytest.mark.parametrize(
    "raw",
    [b"", b'{"magic": "callvault-spool", "vers', b'{"magic": "other"}\n', b"garbage\n\x00"],
)
def test_not_a_spool(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "a.spool"
    path.write_bytes(raw)
    with pytest.raises(SpoolError):
        read_spool(path)


def test_recover_finds_unclosed_spools(tmp_path: Path) -> None:
    with writer(tmp_path / "closed.spool") as w:
        w.write(0, 0, pcm(1))
    crashed = SpoolWriter(
        tmp_path / "crashed.spool", call_id="c-9", recording_id="r-9", started_at=5.0
    )
    crashed.write(0, 0, pcm(1, 2 * RATE))
    crashed.write(1, RATE, pcm(1, RATE // 2))
    crashed.flush()
    earlier = SpoolWriter(tmp_path / "z.spool", call_id="c-1", recording_id="r-1", started_at=1.0)
    earlier.pause(RATE // 4)
    earlier.flush()
    (tmp_path / "broken.spool").write_bytes(b"not a spool")
    (tmp_path / "other.txt").write_bytes(b"")

    found = recover_spools(tmp_path)
    assert [s.recording_id for s in found] == ["r-1", "r-9"]
    assert found[1].call_id == "c-9"
    assert found[1].path == tmp_path / "crashed.spool"
    assert found[1].seconds == 2.0
    assert found[0].seconds == 0.25
    assert recover_spools(tmp_path, min_idle_s=60) == []
    crashed.close()
    earlier.close()
    assert recover_spools(tmp_path) == []
