"""Two engines in one process talk over loopback UDP and TCP: our own UAC against our UAS.

These are fast checks of the engine's own paths (answer, prompts, DTMF,
hang-up from each side, CANCEL, bridge, re-INVITE hold); the real-peer tests
live in tests/e2e.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callvault.config import Settings
from callvault.demo import sounds
from callvault.demo.apps import demo_router
from callvault.engine.call import Call
from callvault.engine.engine import Engine
from callvault.engine.leg import Leg, LegState
from callvault.engine.media_stream import MediaStream
from callvault.engine.outbound import DialFailed
from callvault.media.g711 import Codec
from callvault.sip.uri import SipUri


class _Collector:
    def __init__(self) -> None:
        self.pcm = bytearray()

    def on_audio(self, stream: MediaStream, payload: bytes, codec: Codec) -> None:
        self.pcm += codec.decode(payload)


def _settings(tmp_path: Path, name: str, rtp: tuple[int, int], **extra: object) -> Settings:
    return Settings(
        sip_host="127.0.0.1",
        sip_port=0,
        data_dir=tmp_path / name,
        rtp_port_min=rtp[0],
        rtp_port_max=rtp[1],
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = Engine(
        _settings(tmp_path, "server", (31000, 31999), rtp_timeout_s=3.0),
        prompt_resolver=lambda name: sounds.path(name, "en"),
    )
    engine.router = demo_router(engine)
    await engine.start()
    yield engine
    await engine.shutdown(grace_s=0.5)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = Engine(_settings(tmp_path, "client", (32000, 32999)))
    await engine.start()
    yield engine
    await engine.shutdown(grace_s=0.5)


def _uri(server: Engine, user: str, transport: str = "udp") -> SipUri:
    port = server.stack.listen[1]
    suffix = ";transport=tcp" if transport == "tcp" else ""
    return SipUri.parse(f"sip:{user}@127.0.0.1:{port}{suffix}")


async def _dial(client: Engine, server: Engine, user: str, transport: str = "udp") -> Leg:
    call = Call(from_user="tester", to_user=user, traces_dir=None)
    return await client.dial(call, _uri(server, user, transport), from_user="tester")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_greeting_is_heard_and_server_hangs_up(
    client: Engine, server: Engine, transport: str
) -> None:
    leg = await _dial(client, server, "100", transport)
    collector = _Collector()
    assert leg.media is not None
    leg.media.consumers.append(collector)
    assert await leg.wait_ended(15.0), "the server should hang up after the greeting"
    assert leg.hangup_side == "remote"
    greeting = server.prompts.pcm(sounds.path("greeting", "en"))
    # we heard (nearly) the whole greeting
    assert len(collector.pcm) >= 0.9 * len(greeting)


async def test_digits_are_collected_and_read_back(client: Engine, server: Engine) -> None:
    leg = await _dial(client, server, "101")
    await asyncio.sleep(0.5)
    leg.send_dtmf("42#")
    assert await leg.wait_ended(20.0)
    traces = list((server.settings.traces_dir).glob("*.jsonl"))
    assert len(traces) == 1
    text = traces[0].read_text()
    assert '"digits": "42"' in text and '"reason": "finishkey"' in text


async def test_caller_hangs_up_echo_call(client: Engine, server: Engine) -> None:
    leg = await _dial(client, server, "102")
    assert leg.state == LegState.ANSWERED
    await asyncio.sleep(0.3)
    await leg.hangup()
    for _ in range(50):
        if not server.calls:
            break
        await asyncio.sleep(0.05)
    assert not server.calls, "the server must end the call after our BYE"


async def test_unknown_number_is_404(client: Engine, server: Engine) -> None:
    with pytest.raises(DialFailed) as excinfo:
        await _dial(client, server, "999")
    assert excinfo.value.status == 404


async def test_bridge_without_target_is_refused(client: Engine, server: Engine) -> None:
    with pytest.raises(DialFailed) as excinfo:
        await _dial(client, server, "103")
    assert excinfo.value.status == 480


async def _ring_forever(call: Call) -> None:
    await call.caller.ring()
    await asyncio.sleep(3600)


async def _answer_and_echo(call: Call) -> None:
    leg = call.caller
    await leg.answer()
    assert leg.media is not None
    leg.media.stop_idle_silence()
    leg.media.echo = True
    await leg.ended.wait()


@pytest.fixture
async def callee(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = Engine(_settings(tmp_path, "callee", (36000, 36999)))
    routes = {"ring": _ring_forever, "echo": _answer_and_echo}
    engine.router = lambda call, request: routes.get(request.uri.user or "")
    await engine.start()
    yield engine
    await engine.shutdown(grace_s=0.5)


async def test_bridge_relays_audio_and_dtmf_and_bye_propagates(
    client: Engine, server: Engine, callee: Engine
) -> None:
    server.settings.demo_bridge_uri = f"sip:echo@127.0.0.1:{callee.stack.listen[1]}"
    leg = await _dial(client, server, "103")
    assert leg.media is not None
    collector = _Collector()
    leg.media.consumers.append(collector)
    leg.media.stop_idle_silence()
    tone = sounds.path("digit-5", "en")
    prompt = client.prompts.get(tone, leg.media.codec)  # type: ignore[arg-type]
    from callvault.engine.sources import PromptSource

    await leg.play(PromptSource([prompt]))
    await asyncio.sleep(0.4)
    # the callee echoes: what we sent through the bridge comes back
    assert len(collector.pcm) >= 0.8 * len(prompt.pcm)
    leg.send_dtmf("9")
    await asyncio.sleep(0.5)
    callee_call = next(iter(callee.calls.values()))
    callee_trace = callee_call.trace.events
    assert any(e["event"] == "dtmf" and e.get("digit") == "9" for e in callee_trace)
    await leg.hangup()
    assert await callee_call.caller.wait_ended(3.0), "BYE must reach the bridged leg"


async def test_cancel_before_answer_reaches_the_far_end(
    client: Engine, server: Engine, callee: Engine
) -> None:
    server.settings.demo_bridge_uri = f"sip:ring@127.0.0.1:{callee.stack.listen[1]}"
    call = Call(from_user="tester", to_user="103", traces_dir=None)
    task = asyncio.create_task(client.dial(call, _uri(server, "103"), from_user="tester"))
    for _ in range(40):
        if callee.calls:
            break
        await asyncio.sleep(0.05)
    assert callee.calls, "the bridge leg should ring at the callee"
    callee_leg = next(iter(callee.calls.values())).caller
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    caller_leg = call.legs[0]
    assert caller_leg.end_reason == "cancelled"
    assert await callee_leg.wait_ended(3.0), "CANCEL must reach the far end"
    assert callee_leg.final_status == 487


def _dtmf_tones(keys: str) -> bytes:
    import numpy as np

    from callvault.media.goertzel import COLUMNS, KEYS, ROWS

    parts = []
    for key in keys:
        row = next(i for i, r in enumerate(KEYS) if key in r)
        col = KEYS[row].index(key)
        t = np.arange(800) / 8000  # 100 ms tone
        tone = 0.25 * (np.sin(2 * np.pi * ROWS[row] * t) + np.sin(2 * np.pi * COLUMNS[col] * t))
        parts += [tone, np.zeros(800)]
    return (np.concatenate(parts) * 32767).astype("<i2").tobytes()


async def test_inband_dtmf_when_peer_has_no_telephone_event(client: Engine, server: Engine) -> None:
    from callvault.engine.sources import EncodedPrompt, PromptSource

    call = Call(from_user="tester", to_user="101", traces_dir=None)
    leg = await client.dial(call, _uri(server, "101"), from_user="tester", offer_dtmf=False)
    assert leg.negotiated is not None and leg.negotiated.telephone_event_pt is None
    assert leg.media is not None and leg.media.codec is not None
    await asyncio.sleep(0.5)
    await leg.play(PromptSource([EncodedPrompt(_dtmf_tones("37#"), leg.media.codec)]))
    assert await leg.wait_ended(20.0)
    text = next(server.settings.traces_dir.glob("*.jsonl")).read_text()
    assert '"via": "inband"' in text
    assert '"digits": "37", "reason": "finishkey"' in text


async def test_hold_and_resume_from_our_side(client: Engine, server: Engine) -> None:
    leg = await _dial(client, server, "102")
    server_leg = next(iter(server.calls.values())).caller
    assert await leg.hold()
    await asyncio.sleep(0.05)
    assert server_leg.on_hold, "the far end must see sendonly as hold"
    assert leg.negotiated is not None and leg.negotiated.direction == "sendonly"
    assert await leg.resume()
    await asyncio.sleep(0.05)
    assert not server_leg.on_hold
    assert leg.negotiated.direction == "sendrecv"
    await leg.hangup()
