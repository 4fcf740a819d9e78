"""End to end: SIPp (Debian's sip-tester) against a real `callvault serve` on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from callvault.demo import sounds
from callvault.media.wav import load_wav_8k
from tests.e2e.harness import (
    SCENARIOS,
    Capture,
    Node,
    best_correlation,
    free_port,
    run_sipp,
    start_node,
    start_sipp,
    ulaw_to_float,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    running = start_node(tmp_path, rtp_timeout_s="10")
    yield running
    code = running.stop()
    assert code == 0, f"callvault serve exited with {code}:\n{running.log()}"
    assert "Traceback" not in running.log(), running.log()


def _assert_ok(result: object, node: Node) -> None:
    from tests.e2e.harness import SippResult

    assert isinstance(result, SippResult)
    assert result.returncode == 0, f"SIPp failed:\n{result.output}\n--- node log ---\n{node.log()}"
    assert result.counter("FailedCall(C)") == 0


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_basic_call_server_plays_and_hangs_up(node: Node, tmp_path: Path, transport: str) -> None:
    media_port = free_port()
    capture = Capture(tmp_path / "greeting.pcapng", f"udp and dst port {media_port}")
    result = run_sipp(
        "uac_server_hangs_up.xml",
        node.uri_host,
        tmp=tmp_path,
        transport=transport,
        service="100",
        media_port=media_port,
    )
    packets = capture.stop()
    _assert_ok(result, node)
    assert result.counter("SuccessfulCall(C)") == 1
    heard = ulaw_to_float(b"".join(p[3][12:] for p in packets))
    greeting = np.frombuffer(load_wav_8k(sounds.path("greeting")), dtype="<i2") / 32768.0
    score, _ = best_correlation(heard, greeting)
    assert score > 0.9, f"the greeting was not heard intact (correlation {score:.3f})"
    node.wait_idle()


def test_rfc2833_dtmf_from_pcap_is_read_back(node: Node, tmp_path: Path) -> None:
    media_port = free_port()
    capture = Capture(tmp_path / "readback.pcapng", f"udp and dst port {media_port}")
    result = run_sipp(
        "uac_dtmf_2833.xml",
        node.uri_host,
        tmp=tmp_path,
        service="101",
        media_port=media_port,
        timeout_s=40,
    )
    packets = capture.stop()
    _assert_ok(result, node)
    heard = ulaw_to_float(b"".join(p[3][12:] for p in packets))

    def prompt(name: str) -> npt.NDArray[np.float64]:
        return np.frombuffer(load_wav_8k(sounds.path(name)), dtype="<i2") / 32768.0

    score4, lag4 = best_correlation(heard, prompt("digit-4"))
    score2, lag2 = best_correlation(heard, prompt("digit-2"))
    assert score4 > 0.9 and score2 > 0.9, (score4, score2)
    assert lag4 < lag2, "the digits must be read back in the order they were typed"
    trace = node.traces()[0]
    collected = [e for e in trace if e["event"] == "digits-collected"]
    assert collected and collected[0]["digits"] == "42"


def test_early_media_then_cancel_before_answer(tmp_path: Path) -> None:
    uas_port = free_port()
    node = start_node(tmp_path, demo_bridge_uri=f"sip:callee@127.0.0.1:{uas_port}")
    uas = start_sipp("uas_ring_forever.xml", "", tmp=tmp_path, port=uas_port, calls=1, timeout_s=30)
    try:
        time.sleep(0.5)
        media_port = free_port()
        capture = Capture(tmp_path / "early.pcapng", f"udp and dst port {media_port}")
        result = run_sipp(
            "uac_cancel.xml", node.uri_host, tmp=tmp_path, service="103", media_port=media_port
        )
        packets = capture.stop()
        _assert_ok(result, node)
        # early media (183 + SDP): the caller heard "connecting" before any answer
        heard = ulaw_to_float(b"".join(p[3][12:] for p in packets))
        connecting = np.frombuffer(load_wav_8k(sounds.path("connecting")), dtype="<i2") / 32768.0
        score, _ = best_correlation(heard, connecting)
        assert score > 0.9, f"early media not heard (correlation {score:.3f})"
        assert uas.wait(timeout=20) == 0, "the far end must see the CANCEL"
        node.wait_idle()
        trace = node.traces()[0]
        assert any(e["event"] == "cancelled" for e in trace)
    finally:
        if uas.poll() is None:
            uas.kill()
        assert node.stop() == 0


def test_caller_hangs_up_with_bye(node: Node, tmp_path: Path) -> None:
    result = run_sipp("uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service="102")
    _assert_ok(result, node)
    node.wait_idle()
    ended = [e for e in node.traces()[0] if e["event"] == "leg-ended"]
    assert ended and ended[0]["reason"] == "bye" and ended[0]["side"] == "remote"


def test_hundred_concurrent_calls(node: Node, tmp_path: Path) -> None:
    result = run_sipp(
        "uac_caller_hangs_up.xml",
        node.uri_host,
        tmp=tmp_path,
        service="102",
        calls=100,
        rate=50,
        limit=100,
        timeout_s=60,
    )
    _assert_ok(result, node)
    assert result.counter("SuccessfulCall(C)") == 100
    node.wait_idle(20)
    assert len(node.traces()) == 100


def test_bridge_between_two_sipp_instances(tmp_path: Path) -> None:
    uas_port, uas_media = free_port(), free_port()
    caller_media = free_port()
    node = start_node(tmp_path, demo_bridge_uri=f"sip:callee@127.0.0.1:{uas_port}")
    uas = start_sipp(
        "uas_answer.xml", "", tmp=tmp_path, port=uas_port, media_port=uas_media, timeout_s=30
    )
    capture = Capture(
        tmp_path / "bridge.pcapng", f"udp and (dst port {uas_media} or dst port {caller_media})"
    )
    try:
        time.sleep(0.5)
        result = run_sipp(
            "uac_caller_hangs_up.xml",
            node.uri_host,
            tmp=tmp_path,
            service="103",
            media_port=caller_media,
        )
        packets = capture.stop()
        _assert_ok(result, node)
        assert uas.wait(timeout=20) == 0, "the BYE must reach the bridged far end"
        to_caller = [p for p in packets if p[2] == caller_media]
        to_callee = [p for p in packets if p[2] == uas_media]
        # 3 s of audio each way, relayed through the node (SIPp's g711a.pcap has
        # 30 ms packets: about 33 a second)
        assert len(to_caller) >= 90, len(to_caller)
        assert len(to_callee) >= 90, len(to_callee)
        # the relay rewrites SSRC: each side sees the node's own SSRC, not the other peer's
        caller_ssrcs = {p[3][8:12] for p in to_caller if p[0]}
        callee_ssrcs = {p[3][8:12] for p in to_callee if p[0]}
        assert caller_ssrcs.isdisjoint(callee_ssrcs)
        node.wait_idle()
    finally:
        if uas.poll() is None:
            uas.kill()
        assert node.stop() == 0


def test_malformed_sip_gets_400_and_the_server_keeps_serving(node: Node, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        port = sock.getsockname()[1]
        target = ("127.0.0.1", node.sip_port)
        sock.sendto(b"\x16\x03\x01 definitely not SIP\r\n\r\n", target)
        bad = (
            f"OPTIONS sip:100@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKbad1\r\n"
            "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\n"
            "Call-ID: bad-cseq\r\nCSeq: one OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(bad.encode(), target)
        reply = sock.recv(65535).decode()
        assert reply.startswith("SIP/2.0 400"), reply
    result = run_sipp("uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service="102")
    _assert_ok(result, node)


@pytest.mark.parametrize(("password", "succeeds"), [("secret", True), ("wrong", False)])
def test_digest_auth_as_server_against_sipp(tmp_path: Path, password: str, succeeds: bool) -> None:
    node = start_node(tmp_path, demo_auth="alice:secret")
    scenario = tmp_path / "uac_digest_auth.xml"
    text = (SCENARIOS / "uac_digest_auth.xml").read_text()
    scenario.write_text(text.replace("password=secret", f"password={password}"))
    try:
        result = run_sipp(str(scenario), node.uri_host, tmp=tmp_path, service="100")
        if succeeds:
            _assert_ok(result, node)
            assert result.counter("SuccessfulCall(C)") == 1
        else:
            assert result.returncode != 0
            assert "403 Forbidden" in (tmp_path / "uac_digest_auth-errors.log").read_text()
            assert not node.traces(), "a refused INVITE must not become a call"
        assert "refused 401: credentials required" in node.log()
    finally:
        assert node.stop() == 0
