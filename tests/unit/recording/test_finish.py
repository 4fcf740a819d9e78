"""The finisher: alignment, pauses, mixing, formats, torn spools, digest and peaks."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf  # type: ignore[import-untyped]

from callvault.recording.finish import EmptyRecordingError, FinishedAudio, Format, finish
from callvault.recording.spool import SpoolWriter, read_spool

RATE = 8000
FRAME = 160
LEFT_HZ, RIGHT_HZ = 440.0, 1000.0
AMPLITUDE = 8000
PAUSE = (24080, 28000)  # 3.01 s .. 3.5 s; 3.01 s cuts a frame in two
END = 41600  # 5.2 s: the close marker adds 0.2 s of silence after the last frame
Samples = npt.NDArray[np.int16]


def tone(hz: float, start: int, stop: int) -> Samples:
    n = np.arange(start, stop)
    return np.round(AMPLITUDE * np.sin(2 * np.pi * hz * n / RATE + 0.3)).astype(np.int16)


# (channel, frequency, [start, stop) in samples)
SEGMENTS = [
    (0, LEFT_HZ, 0, 16000),  # caller 0-2 s,
    (0, LEFT_HZ, 20000, 40000),  # silent 2-2.5 s, then to 5 s
    (1, RIGHT_HZ, 8000, 32000),  # other side 1-4 s
]


def expected_tracks() -> tuple[Samples, Samples]:
    tracks = (np.zeros(END, np.int16), np.zeros(END, np.int16))
    for channel, hz, start, stop in SEGMENTS:
        tracks[channel][start:stop] = tone(hz, start, stop)
    for track in tracks:
        track[PAUSE[0] : PAUSE[1]] = 0
    return tracks


def write_call(path: Path) -> None:
    """Write the call frame by frame, in time order, as the engine would."""
    w = SpoolWriter(path, call_id="call-7", recording_id="rec-7", started_at=1.0)
    for offset in range(0, 40000, FRAME):
        if offset == 24160:
            w.pause(PAUSE[0])
        if offset == PAUSE[1]:
            w.resume(PAUSE[1])
            w.write(1, 26000, tone(RIGHT_HZ, 26000, 26160).tobytes())  # late, inside the pause
        for channel, hz, start, stop in SEGMENTS:
            if start <= offset < stop:
                w.write(channel, offset, tone(hz, offset, offset + FRAME).tobytes())
    w.close(END)


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spool") / "call.spool"
    write_call(path)
    return path


def level(x: npt.NDArray[np.floating], hz: float) -> float:
    """Amplitude of the ``hz`` component of ``x`` (a Goertzel-style single DFT bin)."""
    n = np.arange(len(x))
    return float(2 * abs(np.dot(x, np.exp(-2j * np.pi * hz * n / RATE))) / len(x))


# (from s, to s, tones on the left/caller, tones on the right/other side)
WINDOWS = [
    (0.1, 0.9, {LEFT_HZ}, set()),
    (1.1, 1.9, {LEFT_HZ}, {RIGHT_HZ}),
    (2.1, 2.4, set(), {RIGHT_HZ}),  # the caller's gap
    (2.6, 2.95, {LEFT_HZ}, {RIGHT_HZ}),
    (3.07, 3.44, set(), set()),  # the pause
    (3.56, 3.94, {LEFT_HZ}, {RIGHT_HZ}),
    (4.1, 4.9, {LEFT_HZ}, set()),
    (5.06, 5.14, set(), set()),  # silence up to the close marker's end
]


def check_tones(
    signal: npt.NDArray[np.floating], window: tuple[float, float], tones: set[float]
) -> None:
    x = signal[int(window[0] * RATE) : int(window[1] * RATE)]
    for hz in (LEFT_HZ, RIGHT_HZ):
        if hz in tones:
            assert level(x, hz) > 0.7 * AMPLITUDE, (window, hz)
        else:
            assert level(x, hz) < 0.03 * AMPLITUDE, (window, hz)
    if not tones:
        assert np.sqrt(np.mean(x**2)) < 0.01 * AMPLITUDE, window


def check_file(result: FinishedAudio) -> None:
    data = result.path.read_bytes()
    assert result.size_bytes == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert not list(result.path.parent.glob(".*.tmp"))


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus"])
def test_stereo_keeps_each_side_on_its_channel_at_the_right_time(
    spool: Path, tmp_path: Path, fmt: Format
) -> None:
    result = finish(spool, tmp_path / f"out.{fmt}", mode="stereo", fmt=fmt)
    check_file(result)
    assert (result.channels, result.partial, result.duration_ms) == (2, False, 5200)
    audio, rate = sf.read(result.path, dtype="float64")
    assert rate == RATE
    assert audio.shape[1] == 2
    assert abs(len(audio) / RATE - 5.2) <= 0.06
    audio *= 32768
    for start, stop, left, right in WINDOWS:
        check_tones(audio[:, 0], (start, stop), left)
        check_tones(audio[:, 1], (start, stop), right)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus"])
def test_mixed_carries_both_sides(spool: Path, tmp_path: Path, fmt: Format) -> None:
    result = finish(spool, tmp_path / f"out.{fmt}", mode="mixed", fmt=fmt)
    check_file(result)
    assert (result.channels, result.partial, result.duration_ms) == (1, False, 5200)
    audio, _ = sf.read(result.path, dtype="float64")
    assert audio.ndim == 1
    assert abs(len(audio) / RATE - 5.2) <= 0.06
    for start, stop, left, right in WINDOWS:
        check_tones(audio * 32768, (start, stop), left | right)


def test_wav_is_sample_exact_and_the_pause_is_silence(spool: Path, tmp_path: Path) -> None:
    left, right = expected_tracks()
    stereo, _ = sf.read(finish(spool, tmp_path / "s.wav", mode="stereo").path, dtype="int16")
    assert np.array_equal(stereo[:, 0], left)
    assert np.array_equal(stereo[:, 1], right)
    # the pause: exactly 3920 samples (490 ms) of silence on both sides, tone right around it
    for track in (stereo[:, 0], stereo[:, 1]):
        assert not track[PAUSE[0] : PAUSE[1]].any()
    assert stereo[PAUSE[0] - 1, 0] != 0
    assert stereo[PAUSE[0] - 1, 1] != 0
    assert stereo[PAUSE[1], 0] != 0
    mixed, _ = sf.read(finish(spool, tmp_path / "m.wav", mode="mixed").path, dtype="int16")
    assert np.array_equal(mixed, left + right)  # 2 x 8000 cannot clip


def test_chunk_size_does_not_change_the_result(spool: Path, tmp_path: Path) -> None:
    a = finish(spool, tmp_path / "a.wav", mode="stereo", chunk_seconds=0.0371)
    b = finish(spool, tmp_path / "b.wav", mode="stereo")
    assert a.sha256 == b.sha256
    assert a.peaks == b.peaks


def test_mixing_clips_instead_of_wrapping(tmp_path: Path) -> None:
    path = tmp_path / "loud.spool"
    with SpoolWriter(path, call_id="c", recording_id="r", started_at=0.0) as w:
        w.write(0, 0, np.full(FRAME, 30000, "<i2").tobytes())
        w.write(1, 0, np.full(FRAME, 30000, "<i2").tobytes())
        w.write(0, FRAME, np.full(FRAME, -30000, "<i2").tobytes())
        w.write(1, FRAME, np.full(FRAME, -30000, "<i2").tobytes())
    mixed, _ = sf.read(finish(path, tmp_path / "m.wav").path, dtype="int16")
    assert (mixed[:FRAME] == 32767).all()
    assert (mixed[FRAME:] == -32768).all()


@pytest.mark.parametrize("later_first", [False, True])
def test_overlapping_frames_later_write_wins(tmp_path: Path, later_first: bool) -> None:
    path = tmp_path / "o.spool"
    frames = [(0, 100), (80, 200)]
    if later_first:
        frames.reverse()
    with SpoolWriter(path, call_id="c", recording_id="r", started_at=0.0) as w:
        for offset, value in frames:
            w.write(0, offset, np.full(FRAME, value, "<i2").tobytes())
    out, _ = sf.read(finish(path, tmp_path / "o.wav", mode="stereo").path, dtype="int16")
    assert (out[80:160, 0] == frames[-1][1]).all()
    assert len(out) == 240


def test_truncated_spool_finishes_as_partial(spool: Path, tmp_path: Path) -> None:
    left, right = expected_tracks()
    raw = spool.read_bytes()
    header_end = raw.index(b"\n") + 1
    rng = random.Random(11)
    for cut in rng.sample(range(header_end + 7 + 2 * FRAME, len(raw)), 12):
        cut_path = tmp_path / f"cut-{cut}.spool"
        cut_path.write_bytes(raw[:cut])
        result = finish(cut_path, tmp_path / f"cut-{cut}.wav", mode="stereo")
        check_file(result)
        assert result.partial
        out, _ = sf.read(result.path, dtype="int16")
        assert len(out) == read_spool(cut_path).end_offset
        assert result.duration_ms == len(out) * 1000 // RATE
        # every sample is what the full call has there, or silence the crash lost
        for got, want in ((out[:, 0], left), (out[:, 1], right)):
            assert ((got == want[: len(got)]) | (got == 0)).all()


def test_truncated_spool_to_lossy_formats(spool: Path, tmp_path: Path) -> None:
    raw = spool.read_bytes()
    cut_path = tmp_path / "cut.spool"
    cut_path.write_bytes(raw[: len(raw) * 2 // 3 + 3])
    expected_s = read_spool(cut_path).end_offset / RATE
    for fmt in ("mp3", "opus"):
        result = finish(cut_path, tmp_path / f"cut.{fmt}", fmt=fmt)
        assert result.partial
        audio, _ = sf.read(result.path)
        assert abs(len(audio) / RATE - expected_s) <= 0.06


def test_peaks(spool: Path, tmp_path: Path) -> None:
    stereo = finish(spool, tmp_path / "s.wav", mode="stereo")
    assert len(stereo.peaks) == 2
    for channel in stereo.peaks:
        assert len(channel) == 2000
        mins, maxs = np.array(channel[0::2]), np.array(channel[1::2])
        assert (mins >= -1).all()
        assert (maxs <= 1).all()
        assert (mins <= maxs).all()
        assert all(round(v, 3) == v for v in channel)
    # each bucket covers 5.2 ms; recompute them from the expected tracks
    for channel, track in zip(stereo.peaks, expected_tracks(), strict=True):
        want = []
        of_sample = np.arange(END) * 1000 // END  # the bucket each sample falls in
        for b in range(1000):
            bucket = track[of_sample == b].astype(int)
            want += [round(int(v / 256) / 128, 3) for v in (bucket.min(), bucket.max())]
        assert channel == want
    left_max = np.array(stereo.peaks[0][1::2])
    assert left_max[100] == round(31 / 128, 3)  # the tone peaks near 8000 / 32768
    assert left_max[int(2.2 / 5.2 * 1000)] == 0.0  # the caller's gap
    assert left_max[int(3.2 / 5.2 * 1000)] == 0.0  # the pause
    assert stereo.peaks[1][1::2][int(0.5 / 5.2 * 1000)] == 0.0

    mixed = finish(spool, tmp_path / "m.wav", peaks_buckets=37)
    assert len(mixed.peaks) == 1
    assert len(mixed.peaks[0]) == 74


def test_peaks_of_a_recording_shorter_than_the_buckets(tmp_path: Path) -> None:
    path = tmp_path / "short.spool"
    with SpoolWriter(path, call_id="c", recording_id="r", started_at=0.0) as w:
        w.write(0, 0, np.array([-32768, 0, 32767], "<i2").tobytes())
    result = finish(path, tmp_path / "short.wav", mode="stereo", peaks_buckets=10)
    assert len(result.peaks[0]) == 20
    assert min(result.peaks[0]) == -1.0
    assert max(result.peaks[0]) == round(127 / 128, 3)
    assert result.peaks[1] == [0.0] * 20


def test_empty_spool_and_bad_arguments(tmp_path: Path) -> None:
    path = tmp_path / "empty.spool"
    SpoolWriter(path, call_id="c", recording_id="r", started_at=0.0).close()
    with pytest.raises(EmptyRecordingError):
        finish(path, tmp_path / "e.wav")
    with pytest.raises(ValueError):
        finish(path, tmp_path / "e.flac", fmt="flac")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        finish(path, tmp_path / "e.wav", mode="surround")  # type: ignore[arg-type]
    odd = tmp_path / "odd.spool"
    with SpoolWriter(odd, call_id="c", recording_id="r", sample_rate=11025, started_at=0) as w:
        w.write(0, 0, bytes(320))
    with pytest.raises(ValueError):
        finish(odd, tmp_path / "odd.opus", fmt="opus")
    assert finish(odd, tmp_path / "odd.mp3", fmt="mp3").duration_ms == 14
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "empty.spool",
        "odd.mp3",
        "odd.spool",
    ]
