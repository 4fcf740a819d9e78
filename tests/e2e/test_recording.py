"""Call recording end to end: rules, stereo capture, DTMF pause, crash recovery, S3 outage.

Real parts only: SIPp callers, a baresip softphone, a real ``callvault serve`` (killed with
SIGKILL in one test), SeaweedFS as the S3 store.  Recordings are decrypted
with the node's own master key and checked against the audio that was
actually sent: the caller's SIPp capture on the left channel, the prompt the
caller heard on the right.
"""

from __future__ import annotations

import asyncio
import audioop
import base64
import hashlib
import io
import json
import os
import signal
import time
import urllib.request
import wave
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile  # type: ignore[import-untyped]
from sqlalchemy import select

from callvault.demo import sounds
from callvault.ivr.signing import verify
from callvault.media.wav import load_wav_8k, write_wav
from callvault.recording.crypto import DataKey, KeyRing, decrypt_file
from callvault.recording.rule_store import add_rule
from callvault.recording.rules import RecordingRule
from callvault.recording.storage import LocalStorage, S3Storage
from callvault.store.db import Database
from callvault.store.models import AccountKey, CallRecord, Recording, Webhook
from callvault.store.repository import Accounts
from tests.e2e.harness import (
    Node,
    best_correlation,
    free_port,
    read_pcap_udp,
    render_scenario,
    run_sipp,
    start_baresip,
    start_node,
    start_sipp,
)
from tests.e2e.ivr_app import serve_ivr_app
from tests.seaweed import SeaweedFS

pytestmark = pytest.mark.e2e

RECORDED = "221234530"  # a menu: greeting, then goodbye
PAUSABLE = "221234531"  # a queue without agents: welcome, position, music
NOT_RECORDED = "221234532"
HOTLINE = "221234533"  # a queue with one agent, recorded with an announcement
DESK = "221234534"  # a person's SIP account, answered by a real softphone (baresip)


async def _provision(url: str) -> None:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        accounts = Accounts(session)
        account = await accounts.create(
            "acme", "ACME", sip_domain="acme.test", plan={"addons": ["recording"]}
        )
        scope = accounts.scope(account)
        await scope.create_object(
            "ivr_menu", "menu", settings={"greeting": "greeting", "retries": 0, "timeout_s": 8}
        )
        await scope.create_object("queue", "waiting", settings={"max_wait_s": 60})
        await scope.add_number(RECORDED, target_login="menu")
        await scope.add_number(PAUSABLE, target_login="waiting")
        await scope.add_number(NOT_RECORDED, target_login="menu")
        await scope.create_object("sip_account", "agent1", settings={"password": "s3cret"})
        await scope.create_object(
            "sip_account", "agent2", extension="202", settings={"password": "s3cret"}
        )
        await scope.create_object(
            "queue", "support", settings={"members": ["agent1"], "welcome_prompt": None}
        )
        await scope.add_number(HOTLINE, target_login="support")
        await scope.create_object("sip_account", "desk", settings={"password": "desk-pass"})
        await scope.add_number(DESK, target_login="desk")
        await add_rule(scope, RecordingRule.model_validate({
            "name": "hotline", "priority": 30, "conditions": {"numbers": [HOTLINE]},
            "decision": {"mode": "mixed", "format": "mp3", "announcement": "connecting"},
        }))  # fmt: skip
        await add_rule(scope, RecordingRule.model_validate({
            "name": "sales-stereo", "priority": 10,
            "conditions": {"directions": ["inbound"], "numbers": ["+48" + RECORDED]},
            "decision": {"mode": "stereo", "format": "wav", "retention_days": 30},
        }))  # fmt: skip
        await add_rule(scope, RecordingRule.model_validate({
            "name": "queue-pausable", "priority": 20,
            "conditions": {"numbers": [PAUSABLE]},
            "decision": {"mode": "stereo", "format": "opus", "allow_dtmf_pause": True},
        }))  # fmt: skip
        await add_rule(scope, RecordingRule.model_validate({
            "name": "desk-stereo", "priority": 40,
            "conditions": {"directions": ["inbound"], "numbers": ["+48" + DESK]},
            "decision": {"mode": "stereo", "format": "wav"},
        }))  # fmt: skip
        await session.commit()
    await db.close()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    asyncio.run(_provision(url))
    return url


@pytest.fixture
def node(tmp_path: Path, db_url: str) -> Iterator[Node]:
    running = start_node(tmp_path, database_url=db_url, ivr_allow_networks='["127.0.0.0/8"]')
    yield running
    assert running.stop() == 0, running.log()


async def _rows(url: str) -> tuple[list[Recording], list[CallRecord], list[AccountKey]]:
    db = Database(url)
    async with db.session() as session:
        recordings = list(await session.scalars(select(Recording).order_by(Recording.started_at)))
        calls = list(await session.scalars(select(CallRecord).order_by(CallRecord.started_at)))
        keys = list(await session.scalars(select(AccountKey)))
    await db.close()
    return recordings, calls, keys


def _wait_state(url: str, states: set[str], timeout: float = 60.0) -> Recording:
    deadline = time.monotonic() + timeout
    while True:
        recordings, _, _ = asyncio.run(_rows(url))
        if recordings and recordings[-1].state in states:
            return recordings[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"recording not {states}: {[r.state for r in recordings]}")
        time.sleep(0.3)


def _decrypted(url: str, data_dir: Path, sealed: bytes, tmp: Path) -> bytes:
    """Decrypt with the node's master key and the account's wrapped data key."""
    _, _, (key_row,) = asyncio.run(_rows(url))
    master = base64.b64decode((data_dir / "master.key").read_text().strip())
    key = DataKey(key_row.key_id, KeyRing(master).unwrap(key_row.wrapped_key))
    (tmp / "sealed.bin").write_bytes(sealed)
    decrypt_file(tmp / "sealed.bin", tmp / "clear.bin", key)
    return (tmp / "clear.bin").read_bytes()


def _stereo(wav_bytes: bytes) -> npt.NDArray[np.float64]:
    with wave.open(io.BytesIO(wav_bytes)) as reader:
        assert reader.getnchannels() == 2 and reader.getframerate() == 8000
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2").reshape(-1, 2).astype(np.float64) / 32768.0


def _pcap_audio() -> npt.NDArray[np.float64]:
    packets = read_pcap_udp(Path("/usr/share/sip-tester/g711a.pcap"))
    alaw = b"".join(p[3][12:] for p in packets)
    return np.frombuffer(audioop.alaw2lin(alaw, 2), dtype="<i2") / 32768.0


async def _subscribe(url: str, hook_url: str) -> None:
    db = Database(url)
    async with db.session() as session:
        session.add(Webhook(account_id=1, url=hook_url, secret="whsec-1",
                            events=["recording.ready"]))  # fmt: skip
        await session.commit()
    await db.close()


def test_stereo_recording_carries_each_side_and_unmatched_calls_say_why(
    node: Node, db_url: str, tmp_path: Path
) -> None:
    with serve_ivr_app(lambda _body: {}) as hooks:
        asyncio.run(_subscribe(db_url, hooks.url))
        _stereo_calls(node, db_url, tmp_path)
        deadline = time.monotonic() + 10
        while not hooks.received and time.monotonic() < deadline:
            time.sleep(0.1)
    (delivery,) = hooks.received
    assert delivery.headers["x-event"] == "recording.ready"
    assert verify(delivery.headers["x-signature"], delivery.raw, ["whsec-1"], int(time.time()))
    recordings, _, _ = asyncio.run(_rows(db_url))
    assert delivery.body["data"]["recording_id"] == recordings[0].id
    assert delivery.body["data"]["sha256"] == recordings[0].sha256


def _stereo_calls(node: Node, db_url: str, tmp_path: Path) -> None:
    result = run_sipp("uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service=RECORDED)
    assert result.returncode == 0, result.output + node.log()
    other = render_scenario(tmp_path, "uac_caller_hangs_up.xml", "other")
    result = run_sipp(str(other), node.uri_host, tmp=tmp_path, service=NOT_RECORDED)
    assert result.returncode == 0, result.output + node.log()
    node.wait_idle()
    recording = _wait_state(db_url, {"ready", "failed"})
    assert recording.state == "ready", recording.error
    recordings, calls, _ = asyncio.run(_rows(db_url))
    assert len(recordings) == 1, "only the number the rule names is recorded"
    assert recording.rule_name == "sales-stereo" and recording.encrypted
    assert recording.mode == "stereo" and recording.call_id == calls[0].id
    assert 2500 <= recording.duration_ms <= 4500
    assert len(recording.peaks) == 2
    sealed = asyncio.run(LocalStorage(node.data_dir / "recordings").read_range(
        str(recording.storage_key), 0, recording.size_bytes * 2 + 1_000_000))  # fmt: skip
    audio = _stereo(_decrypted(db_url, node.data_dir, sealed, tmp_path))
    # 1.5 s from the middle of what each side sent: wholly inside the 3 s recording
    caller_sent = _pcap_audio()[4000:16000]
    greeting = np.frombuffer(load_wav_8k(sounds.path("greeting")), dtype="<i2") / 32768.0
    left_caller, _ = best_correlation(audio[:, 0], caller_sent)
    right_greeting, _ = best_correlation(audio[:, 1], greeting[4000:16000])
    left_greeting, _ = best_correlation(audio[:, 0], greeting[4000:16000])
    assert left_caller > 0.8, f"caller's audio on the left channel: {left_caller:.2f}"
    assert right_greeting > 0.8, f"what the caller heard on the right: {right_greeting:.2f}"
    assert left_greeting < 0.3, f"the channels are separate: {left_greeting:.2f}"
    assert calls[0].recording["recorded"] is True
    assert calls[1].recording["recorded"] is False
    reasons = " ".join(" ".join(c["reasons"]) for c in calls[1].recording["explanation"])
    assert "48221234532" in reasons and "not in" in reasons


def _longest_zero_run(channel: npt.NDArray[np.float64]) -> tuple[int, int]:
    zero = np.concatenate(([False], channel == 0.0, [False]))
    edges = np.flatnonzero(np.diff(zero.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest] - starts[longest])


def test_dtmf_pause_writes_silence_of_the_paused_length(
    node: Node, db_url: str, tmp_path: Path
) -> None:
    result = run_sipp("uac_pause_resume.xml", node.uri_host, tmp=tmp_path, service=PAUSABLE)
    assert result.returncode == 0, result.output + node.log()
    node.wait_idle()
    recording = _wait_state(db_url, {"ready", "failed"})
    assert recording.state == "ready", recording.error
    assert recording.format == "opus"
    trace = [e for e in node.traces()[-1] if e.get("kind") == "recording"]
    commands = [(e["event"], e["t"]) for e in trace if e["event"] in ("pause", "resume")]
    assert [c for c, _ in commands] == ["pause", "resume"]
    paused_s = float(str(commands[1][1])) - float(str(commands[0][1]))
    assert 2.0 < paused_s < 3.5
    sealed = asyncio.run(LocalStorage(node.data_dir / "recordings").read_range(
        str(recording.storage_key), 0, 50_000_000))  # fmt: skip
    data, rate = soundfile.read(io.BytesIO(_decrypted(db_url, node.data_dir, sealed, tmp_path)))
    heard = np.asarray(data)[:, 1]
    quiet = np.abs(heard) < 0.002  # Opus does not keep exact zeros
    _, run = _longest_zero_run(np.where(quiet, 0.0, 1.0))
    assert abs(run / rate - paused_s) < 0.3, f"silence {run / rate:.2f} s vs pause {paused_s:.2f} s"
    assert recording.duration_ms / 1000 > paused_s + 2


def test_kill_9_mid_call_leaves_a_partial_recording_at_most_1_s_short(
    tmp_path: Path, db_url: str
) -> None:
    data_dir = tmp_path / "node-data"
    node = start_node(tmp_path, data_dir=data_dir, database_url=db_url)
    talk = render_scenario(tmp_path, "uac_caller_hangs_up.xml", "long-call")
    talk.write_text(talk.read_text().replace('<pause milliseconds="3000"/>',
                                             '<pause milliseconds="20000"/>'))  # fmt: skip
    caller = start_sipp(str(talk), node.uri_host, tmp=tmp_path, service=RECORDED, timeout_s=40)
    try:
        deadline = time.monotonic() + 10
        while "recording r-" not in node.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(4.0)
        os.kill(node.process.pid, signal.SIGKILL)
        killed_at = time.time()
        node.process.wait()
    finally:
        caller.kill()
        caller.wait()
    line = next(x for x in node.log().splitlines() if "recording r-" in x)
    started = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    restarted = start_node(tmp_path, data_dir=data_dir, database_url=db_url)
    try:
        recording = _wait_state(db_url, {"partial", "failed"})
    finally:
        assert restarted.stop() == 0, restarted.log()
    assert recording.state == "partial", recording.error
    captured = killed_at - started
    assert captured - 1.0 <= recording.duration_ms / 1000 <= captured + 0.5
    _, calls, _ = asyncio.run(_rows(db_url))
    assert calls and calls[0].ended_at is not None, "the call record is closed"


def test_s3_outage_keeps_the_recording_and_uploads_it_later(tmp_path: Path, db_url: str) -> None:
    seaweed = SeaweedFS(tmp_path / "seaweed")  # its ports are chosen now, the server starts later
    node = start_node(
        tmp_path, database_url=db_url, recording_storage="s3",
        s3_endpoint=seaweed.endpoint_url, s3_access_key=seaweed.access_key,
        s3_secret_key=seaweed.secret_key,
    )  # fmt: skip
    try:
        result = run_sipp("uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service=RECORDED)
        assert result.returncode == 0, result.output + node.log()
        node.wait_idle()
        waiting = _wait_state(db_url, {"processing"})
        time.sleep(1.0)
        waiting = asyncio.run(_rows(db_url))[0][-1]
        assert waiting.state == "processing" and "storage" in str(waiting.error)
        assert list((node.data_dir / "outbox").glob("*.data")), "kept in the outbox"
        seaweed.start()
        recording = _wait_state(db_url, {"ready"}, timeout=90)
        storage = S3Storage(seaweed.endpoint_url, "callvault-recordings", seaweed.access_key,
                            seaweed.secret_key)  # fmt: skip
        sealed = asyncio.run(storage.read_range(str(recording.storage_key), 0, 50_000_000))
        clear = _decrypted(db_url, node.data_dir, sealed, tmp_path)
        assert hashlib.sha256(clear).hexdigest() == recording.sha256
        assert not list((node.data_dir / "outbox").glob("*.data"))
    finally:
        assert node.stop() == 0, node.log()
        seaweed.stop()


def _post(node: Node, path: str, body: dict[str, str]) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{node.http_port}{path}", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:
        answer: dict[str, object] = json.load(response)
        return answer


def test_queue_hop_keeps_one_recording_announced_to_both_parties_paused_by_api(
    node: Node, db_url: str, tmp_path: Path
) -> None:
    agent_port = free_port()
    agent = render_scenario(tmp_path, "uas_agent.xml", "agent1", RING_MS=1500)
    phone = start_sipp(str(agent), "", tmp=tmp_path, port=agent_port, calls=5, timeout_s=60)
    inf = tmp_path / "agent1.csv"
    inf.write_text(f"SEQUENTIAL\nagent1;acme.test;{agent_port};\n")
    register = render_scenario(tmp_path, "uac_register.xml", "register-agent1")
    register.write_text(register.read_text().replace("username=jan", "username=agent1"))
    assert run_sipp(str(register), node.uri_host, tmp=tmp_path, inf=inf).returncode == 0
    talk = render_scenario(tmp_path, "uac_caller_hangs_up.xml", "hotline-call")
    talk.write_text(talk.read_text().replace('<pause milliseconds="3000"/>',
                                             '<pause milliseconds="9000"/>'))  # fmt: skip
    caller = start_sipp(str(talk), node.uri_host, tmp=tmp_path, service=HOTLINE, timeout_s=40)
    try:
        deadline = time.monotonic() + 15
        while "recording r-" not in node.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(3.0)  # the agent rings 1.5 s, hears the announcement, talks
        (live,) = node.live_calls()
        call_id = str(live["call_id"])
        assert _post(node, f"/api/v1/calls/{call_id}/recording", {"command": "pause"})["ok"]
        time.sleep(1.0)
        assert _post(node, f"/api/v1/calls/{call_id}/recording", {"command": "resume"})["ok"]
        assert caller.wait(timeout=30) == 0
    finally:
        phone.kill()
        phone.wait()
        if caller.poll() is None:
            caller.kill()
    node.wait_idle()
    recording = _wait_state(db_url, {"ready", "failed"})
    assert recording.state == "ready", recording.error
    recordings, calls, _ = asyncio.run(_rows(db_url))
    assert [r.call_id for r in recordings] == [calls[-1].id], "one recording for the call"
    assert calls[-1].objects == [
        {"kind": "queue", "login": "support"},
        {"kind": "sip_account", "login": "agent1"},
    ]
    assert recording.consent["announced"] is True and recording.consent["prompt"] == "connecting"
    (party,) = recording.consent["parties"]
    assert "agent1" in str(party["party"])
    assert recording.format == "mp3"
    call_s = (calls[-1].ended_at - calls[-1].answered_at).total_seconds()  # type: ignore[operator]
    assert abs(recording.duration_ms / 1000 - call_s) < 1.5, "the whole call, queue wait included"
    events = [e["event"] for e in node.traces()[-1] if e.get("kind") == "recording"]
    assert events.count("pause") == 1 and events.count("resume") == 1


def _register(node: Node, tmp: Path, login: str, port: int) -> None:
    inf = tmp / f"{login}.csv"
    inf.write_text(f"SEQUENTIAL\n{login};acme.test;{port};\n")
    register = render_scenario(tmp, "uac_register.xml", f"register-{login}")
    register.write_text(register.read_text().replace("username=jan", f"username={login}"))
    assert run_sipp(str(register), node.uri_host, tmp=tmp, inf=inf).returncode == 0


def test_blind_transfer_by_refer_keeps_one_recording_and_announces_to_the_new_party(
    node: Node, db_url: str, tmp_path: Path
) -> None:
    first_port, second_port = free_port(), free_port()
    first = render_scenario(tmp_path, "uas_transfer.xml", "agent1", TALK_MS=2500,
                            TRANSFER_TO="202")  # fmt: skip
    second = render_scenario(tmp_path, "uas_answer.xml", "agent2")
    phones = [
        start_sipp(str(first), "", tmp=tmp_path, port=first_port, timeout_s=60),
        start_sipp(str(second), "", tmp=tmp_path, port=second_port, timeout_s=60),
    ]
    _register(node, tmp_path, "agent1", first_port)
    _register(node, tmp_path, "agent2", second_port)
    talk = render_scenario(tmp_path, "uac_caller_hangs_up.xml", "transferred-call")
    talk.write_text(talk.read_text().replace('<pause milliseconds="3000"/>',
                                             '<pause milliseconds="12000"/>'))  # fmt: skip
    try:
        result = run_sipp(str(talk), node.uri_host, tmp=tmp_path, service=HOTLINE, timeout_s=40)
        assert result.returncode == 0, result.output + node.log()
        assert phones[0].wait(timeout=20) == 0, "agent1: REFER accepted, NOTIFYs, released"
        assert phones[1].wait(timeout=20) == 0, "agent2 takes the call and gets the BYE"
    finally:
        for phone in phones:
            if phone.poll() is None:
                phone.kill()
    node.wait_idle()
    recording = _wait_state(db_url, {"ready", "failed"})
    assert recording.state == "ready", recording.error
    recordings, calls, _ = asyncio.run(_rows(db_url))
    assert len(recordings) == 1 and recordings[0].call_id == calls[-1].id
    assert calls[-1].objects == [
        {"kind": "queue", "login": "support"},
        {"kind": "sip_account", "login": "agent1"},
        {"kind": "sip_account", "login": "agent2"},
    ]
    parties = [str(p["party"]) for p in recording.consent["parties"]]
    assert len(parties) == 2 and "agent1" in parties[0] and "agent2" in parties[1]
    call_s = (calls[-1].ended_at - calls[-1].answered_at).total_seconds()  # type: ignore[operator]
    assert abs(recording.duration_ms / 1000 - call_s) < 1.5
    notifies = (tmp_path / "agent1-messages.log").read_text(errors="replace")
    assert "SIP/2.0 100 Trying" in notifies and "SIP/2.0 200 OK" in notifies


def _phone_signal(seconds: int) -> npt.NDArray[np.float64]:
    """Band-limited noise (300-3400 Hz, fixed seed): matches itself at one lag only."""
    noise = np.random.default_rng(2024).standard_normal(8000 * seconds)
    spectrum = np.fft.rfft(noise)
    hz = np.fft.rfftfreq(len(noise), 1 / 8000)
    spectrum[(hz < 300) | (hz > 3400)] = 0
    signal_ = np.fft.irfft(spectrum, len(noise))
    return 0.1 * signal_ / float(np.sqrt(np.mean(signal_**2)))


def test_call_answered_by_a_softphone_records_the_phones_own_audio_on_the_callee_channel(
    node: Node, db_url: str, tmp_path: Path
) -> None:
    """An inbound call to a DID that rings a person's baresip is recorded in stereo.

    The left channel carries what the SIPp caller sent, the right one what the
    real softphone sent (a known noise signal from its WAV file, not the
    caller's audio); the softphone heard the caller; the call has exactly one
    recording, whose explanation names the rule that chose it.
    """
    sent = _phone_signal(30)  # baresip hangs up when its source ends: outlast the call
    home = tmp_path / "desk-phone"
    home.mkdir()
    write_wav(home / "signal.wav", np.round(sent * 32767).astype("<i2").tobytes())
    phone = start_baresip(home, node, "desk", "desk-pass", seconds=40,
                          source=home / "signal.wav", rtp_ports=(19200, 19220),
                          dump_dir=home / "heard")  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while "desk@acme.test registered" not in node.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "desk@acme.test registered" in node.log(), node.log()
        talk = render_scenario(tmp_path, "uac_caller_hangs_up.xml", "desk-call")
        result = run_sipp(str(talk), node.uri_host, tmp=tmp_path, service=DESK, timeout_s=40)
        assert result.returncode == 0, result.output + node.log()
        node.wait_idle()
    finally:
        phone.terminate()
        output = phone.communicate(timeout=20)[0].decode(errors="replace")
    assert "call established" in output.lower(), output + node.log()
    recording = _wait_state(db_url, {"ready", "failed"})
    assert recording.state == "ready", recording.error
    recordings, calls, _ = asyncio.run(_rows(db_url))
    assert [r.call_id for r in recordings] == [calls[-1].id], "one recording for the call"
    assert calls[-1].objects == [{"kind": "sip_account", "login": "desk"}]
    assert recording.rule_name == "desk-stereo" and recording.mode == "stereo"
    (chosen,) = [check for check in recording.explanation if check["matched"]]
    assert chosen["name"] == "desk-stereo"
    assert f"number 48{DESK} in" in " ".join(chosen["reasons"]), chosen
    assert calls[-1].recording["rule"] == "desk-stereo"
    sealed = asyncio.run(LocalStorage(node.data_dir / "recordings").read_range(
        str(recording.storage_key), 0, recording.size_bytes * 2 + 1_000_000))  # fmt: skip
    audio = _stereo(_decrypted(db_url, node.data_dir, sealed, tmp_path))
    # 1.5 s from the middle of what each side sent: wholly inside the 3 s recording
    caller_sent, phone_sent = _pcap_audio()[4000:16000], sent[4000:16000]
    left_caller, _ = best_correlation(audio[:, 0], caller_sent)
    right_phone, _ = best_correlation(audio[:, 1], phone_sent)
    left_phone, _ = best_correlation(audio[:, 0], phone_sent)
    right_caller, _ = best_correlation(audio[:, 1], caller_sent)
    assert left_caller > 0.8, f"caller's audio on the left channel: {left_caller:.2f}"
    assert right_phone > 0.8, f"the softphone's audio on the right channel: {right_phone:.2f}"
    assert left_phone < 0.3, f"the softphone is not on the caller's channel: {left_phone:.2f}"
    assert right_caller < 0.3, f"the caller is not on the softphone's channel: {right_caller:.2f}"
    (dump,) = (home / "heard").glob("*-dec.wav")
    with wave.open(str(dump)) as reader:
        heard = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2") / 32768.0
    phone_heard, _ = best_correlation(heard, caller_sent)
    assert phone_heard > 0.8, f"the softphone heard the caller: {phone_heard:.2f}"
