"""GET /metrics: the node's Prometheus metrics, read from its live state, for the operator."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from callvault import __version__
from callvault.config import Settings
from callvault.engine.call import Call
from callvault.engine.engine import Engine
from callvault.engine.leg import Leg
from callvault.metrics import counters_for
from callvault.node import Node, build_node
from callvault.recording.manager import SPOOL_SUFFIX
from callvault.sip.message import Request, parse_message
from callvault.web.app import create_app

LOOPBACK = ("127.0.0.1", 5000)
REMOTE = ("203.0.113.7", 5000)
INVITE = (
    b"INVITE sip:100@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-metrics-1\r\n"
    b"From: sipp <sip:sipp@127.0.0.1:5061>;tag=1\r\n"
    b"To: <sip:100@127.0.0.1:5060>\r\n"
    b"Call-ID: metrics-1@127.0.0.1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:sipp@127.0.0.1:5061>\r\n"
    b"Max-Forwards: 70\r\n"
    b"Content-Length: 0\r\n\r\n"
)

Families = dict[str, list[Sample]]


async def scrape(app: FastAPI, client: tuple[str, int] = LOOPBACK, **headers: str) -> Families:
    """The app's /metrics, parsed: family name to its samples."""
    response = await get(app, client, **headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = text_string_to_metric_families(response.text)
    return {family.name: list(family.samples) for family in families}


async def get(app: FastAPI, client: tuple[str, int], **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
        return await http.get("/metrics", headers=headers)


def value(families: Families, family: str, **labels: str) -> float:
    """The one sample of ``family`` whose labels include ``labels``."""
    found = [s.value for s in families[family] if labels.items() <= s.labels.items()]
    assert len(found) == 1, (family, labels, families.get(family))
    return found[0]


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    """A node built as ``callvault serve`` builds it (nothing started, no port bound)."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'callvault.db'}",
        master_key=base64.b64encode(os.urandom(32)).decode(),
    )
    built = build_node(settings)
    try:
        yield built
    finally:
        await built.db.close()


def ended_call(engine: Engine, *, answered: bool, final_status: int | None = None) -> Call:
    """A finished one-leg inbound call, as the engine hands it to its call-ended hooks."""
    invite = parse_message(INVITE)
    assert isinstance(invite, Request)
    call = Call(from_user="sipp", to_user="100", traces_dir=None)
    leg = Leg(
        engine, call, direction="inbound", invite=invite, peer=("127.0.0.1", 5061), transport="udp"
    )
    call.legs.append(leg)
    leg.answered_at = time.time() if answered else None
    leg.final_status = 200 if answered else final_status
    leg.ended_at = call.ended_at = time.time()
    return call


async def test_a_loopback_scrape_reads_the_node(node: Node) -> None:
    app = create_app(node.engine, node.db, node.recordings)
    families = await scrape(app)

    assert value(families, "callvault_info", version=__version__) == 1
    for direction in ("inbound", "internal", "outbound"):
        assert value(families, "callvault_calls_active", direction=direction) == 0
        assert value(families, "callvault_calls", disposition="answered", direction=direction) == 0
    assert value(families, "callvault_accepting_calls") == 1
    settings = node.engine.settings
    assert value(families, "callvault_rtp_ports_free") == len(
        range(settings.rtp_port_min + settings.rtp_port_min % 2, settings.rtp_port_max, 2)
    )
    assert value(families, "callvault_sip_messages", direction="in", kind="request") == 0
    assert value(families, "callvault_sip_parse_errors") == 0
    assert value(families, "callvault_registered_sources") == 0
    assert value(families, "callvault_registrations") == 0
    assert value(families, "callvault_source_bans") == 0
    assert value(families, "callvault_sip_dropped") == 0
    assert value(families, "callvault_recordings_active") == 0
    assert value(families, "callvault_recording_spool_files") == 0
    assert value(families, "callvault_recording_outbox_files") == 0
    assert value(families, "callvault_recording_outbox_bytes") == 0
    # the standard process and platform collectors, in the node's own registry
    assert value(families, "process_resident_memory_bytes") > 0
    assert value(families, "process_start_time_seconds") > 0
    assert families["python_info"]


async def test_values_follow_the_state(node: Node) -> None:
    engine, recordings = node.engine, node.recordings
    app = create_app(engine, node.db, recordings)
    assert engine.guard is not None
    for _ in range(engine.guard.max_failures):
        engine.guard.auth_failed("198.51.100.9")
    recordings.spool_dir.mkdir(parents=True, exist_ok=True)
    (recordings.spool_dir / f"r-live{SPOOL_SUFFIX}").write_bytes(b"\0" * 320)
    (recordings.outbox.dir / "00000000000000000001-abcd.data").write_bytes(b"x" * 1000)
    (recordings.outbox.dir / "00000000000000000001-abcd.json").write_text("{}")
    (recordings.outbox.dir / "00000000000000000002-beef.data").write_bytes(b"x" * 24)
    live = ended_call(engine, answered=False)
    live.ended_at = None
    live.data["direction"] = "outbound"
    engine.calls[live.id] = live
    engine.stack.parse_errors = 2

    families = await scrape(app)
    assert value(families, "callvault_source_bans") == 1
    assert value(families, "callvault_recording_spool_files") == 1
    assert value(families, "callvault_recording_spool_bytes") == 320
    assert value(families, "callvault_recording_outbox_files") == 2
    assert value(families, "callvault_recording_outbox_bytes") == 1024
    assert value(families, "callvault_calls_active", direction="outbound") == 1
    assert value(families, "callvault_calls_active", direction="inbound") == 0
    assert value(families, "callvault_sip_parse_errors") == 2


async def test_ended_calls_and_sip_messages_are_counted(node: Node) -> None:
    engine = node.engine
    app = create_app(engine, node.db, node.recordings)
    counters = counters_for(engine)
    assert engine.call_ended_hooks[0] == counters.on_call_ended
    assert counters.on_wire in engine.stack.wire_hooks

    await counters.on_call_ended(ended_call(engine, answered=True))
    await counters.on_call_ended(ended_call(engine, answered=True))
    await counters.on_call_ended(ended_call(engine, answered=False, final_status=486))
    await counters.on_call_ended(ended_call(engine, answered=False, final_status=401))
    invite = parse_message(INVITE)
    for hook in engine.stack.wire_hooks:
        hook("in", invite, ("127.0.0.1", 5061), "udp")

    families = await scrape(app)
    assert value(families, "callvault_calls", disposition="answered", direction="inbound") == 2
    assert value(families, "callvault_calls", disposition="busy", direction="inbound") == 1
    assert value(families, "callvault_calls", disposition="failed", direction="inbound") == 0
    assert value(families, "callvault_sip_messages", direction="in", kind="request") == 1
    assert value(families, "callvault_sip_messages", direction="out", kind="request") == 0


async def test_apps_over_one_engine_share_its_counters_and_hook_in_once(node: Node) -> None:
    engine = node.engine
    hooks, wire_hooks = len(engine.call_ended_hooks), len(engine.stack.wire_hooks)
    first = create_app(engine, node.db, node.recordings)
    second = create_app(engine, node.db, node.recordings)
    assert len(engine.call_ended_hooks) == hooks + 1
    assert len(engine.stack.wire_hooks) == wire_hooks + 1
    await counters_for(engine).on_call_ended(ended_call(engine, answered=True))
    for app in (first, second):
        families = await scrape(app)
        assert value(families, "callvault_calls", disposition="answered", direction="inbound") == 1


async def test_nodes_in_one_process_keep_their_own_registries(tmp_path: Path) -> None:
    one = Engine(Settings(data_dir=tmp_path / "one"))
    two = Engine(Settings(data_dir=tmp_path / "two"))
    await counters_for(one).on_call_ended(ended_call(one, answered=True))
    families = await scrape(create_app(two))
    assert value(families, "callvault_calls", disposition="answered", direction="inbound") == 0
    families = await scrape(create_app(one))
    assert value(families, "callvault_calls", disposition="answered", direction="inbound") == 1
    # an engine alone (no registrar, guard or recorder): their families are left out
    assert "callvault_source_bans" not in families
    assert "callvault_registered_sources" not in families
    assert "callvault_recordings_active" not in families


async def test_operator_access_only(tmp_path: Path) -> None:
    open_node = create_app(Engine(Settings(data_dir=tmp_path / "open")))
    assert (await get(open_node, LOOPBACK)).status_code == 200
    assert (await get(open_node, ("::1", 5000))).status_code == 200
    assert (await get(open_node, REMOTE)).status_code == 403

    token = create_app(Engine(Settings(data_dir=tmp_path / "token", operator_token="op-secret")))
    assert (await get(token, REMOTE)).status_code == 401
    assert (await get(token, LOOPBACK)).status_code == 401
    assert (await get(token, REMOTE, authorization="Bearer wrong")).status_code == 401
    families = await scrape(token, REMOTE, authorization="Bearer op-secret")
    assert value(families, "callvault_info", version=__version__) == 1


async def test_not_in_the_openapi_schema(tmp_path: Path) -> None:
    app = create_app(Engine(Settings(data_dir=tmp_path)))
    assert "/metrics" not in app.openapi()["paths"]
