"""`callvault call`, our own client: digest auth against SIPp, DTMF and recording against a node."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from callvault.demo import sounds
from callvault.media.wav import load_wav_8k
from tests.e2e.harness import best_correlation, free_port, start_node, start_sipp

pytestmark = pytest.mark.e2e


def _cli(*args: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callvault.cli.main", "call", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(("password", "expect_ok"), [("secret", True), ("wrong", False)])
def test_digest_auth_as_client_against_sipp(tmp_path: Path, password: str, expect_ok: bool) -> None:
    port = free_port()
    uas = start_sipp("uas_digest_auth.xml", "", tmp=tmp_path, port=port, timeout_s=20)
    try:
        result = _cli(
            f"sip:callee@127.0.0.1:{port}", "--auth", f"alice:{password}", "--duration", "2"
        )
        if expect_ok:
            assert result.returncode == 0, result.stderr
            assert "answered" in result.stderr
            assert uas.wait(timeout=20) == 0, "SIPp must accept our digest response"
        else:
            assert result.returncode == 1, result.stderr
            assert "403" in result.stderr
    finally:
        if uas.poll() is None:
            uas.kill()
            uas.wait()


def test_call_sends_dtmf_and_records_the_read_back(tmp_path: Path) -> None:
    node = start_node(tmp_path)
    try:
        heard_path = tmp_path / "heard.wav"
        result = _cli(
            f"sip:101@{node.uri_host}",
            "--dtmf",
            "42#",
            "--record",
            str(heard_path),
            "--duration",
            "25",
        )
        assert result.returncode == 0, result.stderr
        assert "remote hung up" in result.stderr
        with wave.open(str(heard_path)) as recording:
            heard = (
                np.frombuffer(recording.readframes(recording.getnframes()), dtype="<i2") / 32768.0
            )
        scores = []
        for name in ("digit-4", "digit-2"):
            prompt = np.frombuffer(load_wav_8k(sounds.path(name)), dtype="<i2") / 32768.0
            scores.append(best_correlation(heard, prompt))
        assert all(score > 0.9 for score, _ in scores), scores
        assert scores[0][1] < scores[1][1]
    finally:
        assert node.stop() == 0
