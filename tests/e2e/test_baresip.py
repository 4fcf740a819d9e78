"""End to end with a real softphone: baresip (headless) hears callvault's greeting intact."""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from callvault.demo import sounds
from callvault.media.wav import load_wav_8k, write_wav
from tests.e2e.harness import Node, best_correlation, free_port, start_node

pytestmark = pytest.mark.e2e

WINDOW = 1600  # 200 ms at 8 kHz


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running = start_node(tmp_path)
    yield running
    assert running.stop() == 0, running.log()


def _baresip_home(root: Path, sip_port: int, rtp_low: int) -> Path:
    home = root / "baresip"
    (home / "rec").mkdir(parents=True)
    # baresip hangs up when its aufile source ends: give it 30 s of silence
    write_wav(home / "silence.wav", b"\x00\x00" * 8000 * 30)
    (home / "config").write_text(
        "\n".join(
            [
                "poll_method epoll",
                f"sip_listen 127.0.0.1:{sip_port}",
                f"audio_source aufile,{home / 'silence.wav'}",
                "audio_srate 8000",
                "audio_channels 1",
                f"rtp_ports {rtp_low}-{rtp_low + 20}",
                "module_path /usr/lib/baresip/modules",
                "module g711.so",
                "module aufile.so",
                "module sndfile.so",
                "module_app account.so",
                "module_app menu.so",
                f"snd_path {home / 'rec'}",
                "",
            ]
        )
    )
    (home / "accounts").write_text("<sip:tester@127.0.0.1>;regint=0\n")
    return home


def test_softphone_hears_the_greeting_without_gaps(node: Node, tmp_path: Path) -> None:
    home = _baresip_home(tmp_path, free_port(), 19000)
    completed = subprocess.run(
        ["baresip", "-f", str(home), "-e", f"/dial sip:100@{node.uri_host}", "-t", "9"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    output = completed.stdout.decode(errors="replace")
    assert "Call established" in output, output
    assert "terminated" in output, "callvault should hang up after the greeting:\n" + output
    dumps = list((home / "rec").glob("*-dec.wav"))
    assert len(dumps) == 1, output
    with wave.open(str(dumps[0])) as recording:
        assert recording.getframerate() == 8000
        heard = np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2") / 32768.0
    source = np.frombuffer(load_wav_8k(sounds.path("greeting")), dtype="<i2") / 32768.0
    # the last few frames may still be in flight when the BYE arrives
    source = source[: len(source) - 2 * WINDOW]
    score, lag = best_correlation(heard, source)
    assert score > 0.98, f"recording does not match the source (correlation {score:.4f})"
    aligned = heard[lag : lag + len(source)]
    assert len(aligned) == len(source), "the recording is shorter than the greeting: audio lost"
    # no gap anywhere: every 200 ms window with sound matches the source
    for start in range(0, len(source) - WINDOW, WINDOW):
        a, b = aligned[start : start + WINDOW], source[start : start + WINDOW]
        if float(np.dot(b, b)) < 1e-4:
            continue
        window_score = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b) + 1e-12))
        assert window_score > 0.95, (
            f"gap or distortion at {start / 8000:.2f} s ({window_score:.3f})"
        )
