"""Queues, IVR menus and trunks with real SIP peers, on SQLite and on PostgreSQL.

A SIPp "provider" calls the account's numbers over its trunk; three SIPp
agent phones register and take queue calls (ring-all, round-robin, overflow
after the maximum wait); a menu is navigated by RFC 2833 DTMF from SIPp's
captures; a phone calls out through the trunk to a SIPp gateway that checks
the credentials, the dialled number and the caller-ID.  Every call leaves a
call record, checked in the database the node used.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callvault.store.db import Database
from callvault.store.models import CallRecord
from callvault.store.repository import Accounts
from tests.e2e.harness import (
    Node,
    call_records,
    free_port,
    phone_scenario,
    render_scenario,
    run_sipp,
    start_node,
    start_sipp,
)
from tests.store.conftest import database_url

pytestmark = pytest.mark.e2e
__all__ = ["database_url"]

PASSWORD = "s3cret"
CALLER = "0601234567"  # the provider sends national numbers with the trunk prefix


async def _provision(url: str, queue: dict[str, Any], provider_port: int) -> None:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.create("acme", "ACME", sip_domain="acme.test"))
        for index, login in enumerate(("agent1", "agent2", "agent3", "reception", "jan")):
            await scope.create_object(
                "sip_account", login, extension=str(201 + index), settings={"password": PASSWORD}
            )
        await scope.create_object("queue", "support", settings=queue)
        await scope.create_object(
            "ivr_menu", "main",
            settings={"options": {"2": "reception", "0": "hangup"}, "timeout_s": 4, "retries": 2},
        )  # fmt: skip
        await scope.add_number("+48 22 123 45 67", target_login="jan", label="Google Ads")
        await scope.add_number("+48 22 123 45 00", target_login="support", label="Hotline")
        await scope.add_number("+48 22 123 45 10", target_login="main", label="Menu")
        await scope.create_trunk(
            "provider",
            {
                "inbound_addresses": ["127.0.0.1"],
                "gateway": f"sip:127.0.0.1:{provider_port}",
                "username": "acme-trunk",
                "password": "trunk-pass",
                "number_format": "national",
            },
        )
        await session.commit()
    await db.close()


class Phones:
    """SIPp phones registered to the node, each answering on its own port."""

    def __init__(self, node: Node, tmp: Path) -> None:
        self.node, self.tmp = node, tmp
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, login: str, ring_ms: int) -> None:
        """Start ``login``'s phone (rings ``ring_ms`` before answering) and register it."""
        port = free_port()
        scenario = render_scenario(self.tmp, "uas_agent.xml", f"phone-{login}", RING_MS=ring_ms)
        self.processes[login] = start_sipp(
            str(scenario), "", tmp=self.tmp, port=port, calls=20, timeout_s=120
        )
        inf = self.tmp / f"{login}.csv"
        inf.write_text(f"SEQUENTIAL\n{login};acme.test;{port};\n")
        register = render_scenario(self.tmp, "uac_register.xml", f"register-{login}")
        register.write_text(
            register.read_text().replace(
                "username=jan password=s3cret", f"username={login} password={PASSWORD}"
            )
        )
        result = run_sipp(str(register), self.node.uri_host, tmp=self.tmp, inf=inf)
        assert result.returncode == 0, result.output + self.node.log()

    def received(self, login: str, method: str) -> int:
        """How many ``method`` requests ``login``'s phone received."""
        log = self.tmp / f"phone-{login}-messages.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return text.count(f"\n{method} sip:")

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.wait()


@pytest.fixture
def provider_port() -> int:
    return free_port()


@pytest.fixture
def setup(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, provider_port: int
) -> Iterator[tuple[Node, Phones, str]]:
    queue = getattr(request, "param", {"members": ["agent1", "agent2", "agent3"]})
    asyncio.run(_provision(database_url, queue, provider_port))
    node = start_node(tmp_path, database_url=database_url)
    phones = Phones(node, tmp_path)
    try:
        yield node, phones, database_url
    finally:
        phones.stop()
        assert node.stop() == 0, node.log()


def _trunk_call(node: Node, tmp: Path, number: str, talk_ms: int, name: str) -> None:
    scenario = render_scenario(
        tmp, "uac_trunk_call.xml", name, CALLER_NUMBER=CALLER, TALK_MS=talk_ms
    )
    result = run_sipp(str(scenario), node.uri_host, tmp=tmp, service=number, timeout_s=40)
    assert result.returncode == 0, result.output + node.log()


def _records(url: str) -> list[CallRecord]:
    return asyncio.run(call_records(url))


def _answered_legs(record: CallRecord) -> list[str]:
    return [leg["party"] for leg in record.legs[1:] if leg["answered_at"]]


@pytest.mark.parametrize(
    "setup",
    [{"members": ["agent1", "agent2", "agent3"], "strategy": "ring-all", "ring_timeout_s": 10}],
    indirect=True,
)
def test_ring_all_queue_rings_every_agent_and_the_first_answer_wins(
    setup: tuple[Node, Phones, str], tmp_path: Path
) -> None:
    node, phones, url = setup
    phones.start("agent1", ring_ms=1500)
    phones.start("agent2", ring_ms=6000)
    phones.start("agent3", ring_ms=6000)
    _trunk_call(node, tmp_path, "221234500", talk_ms=5000, name="queue-call")
    node.wait_idle()
    assert [phones.received(a, "INVITE") for a in ("agent1", "agent2", "agent3")] == [1, 1, 1]
    assert [phones.received(a, "CANCEL") for a in ("agent1", "agent2", "agent3")] == [0, 1, 1]
    assert phones.received("agent1", "BYE") == 1
    (record,) = _records(url)
    assert record.objects == [
        {"kind": "queue", "login": "support"},
        {"kind": "sip_account", "login": "agent1"},
    ]
    assert record.direction == "inbound" and record.disposition == "answered"
    assert record.from_number == "48601234567"  # normalised from the provider's 0601234567
    assert record.hangup_side == "caller"
    assert len(record.legs) == 4 and len(_answered_legs(record)) == 1
    assert "agent1" in _answered_legs(record)[0]


@pytest.mark.parametrize(
    "setup",
    [{"members": ["agent1", "agent2", "agent3"], "strategy": "round-robin", "ring_timeout_s": 5}],
    indirect=True,
)
def test_round_robin_queue_hands_successive_calls_to_successive_agents(
    setup: tuple[Node, Phones, str], tmp_path: Path
) -> None:
    node, phones, url = setup
    for agent in ("agent1", "agent2", "agent3"):
        phones.start(agent, ring_ms=300)
    for index in range(4):
        _trunk_call(node, tmp_path, "+48221234500", talk_ms=2000, name=f"rr-{index}")
        node.wait_idle()
    answered_by = [r.objects[-1]["login"] for r in _records(url)]
    assert answered_by == ["agent1", "agent2", "agent3", "agent1"]
    assert [phones.received(a, "INVITE") for a in ("agent1", "agent2", "agent3")] == [2, 1, 1]
    assert [phones.received(a, "CANCEL") for a in ("agent1", "agent2", "agent3")] == [0, 0, 0]


@pytest.mark.parametrize(
    "setup",
    [{"members": ["agent1"], "ring_timeout_s": 30, "max_wait_s": 4, "overflow": "reception",
      "announce_every_s": 5}],
    indirect=True,
)  # fmt: skip
def test_queue_overflows_to_another_object_after_the_maximum_wait(
    setup: tuple[Node, Phones, str], tmp_path: Path
) -> None:
    node, phones, url = setup
    phones.start("agent1", ring_ms=60000)  # never answers in time
    phones.start("reception", ring_ms=500)
    started = time.monotonic()
    _trunk_call(node, tmp_path, "221234500", talk_ms=8000, name="overflow-call")
    node.wait_idle()
    assert time.monotonic() - started >= 8
    assert phones.received("agent1", "CANCEL") == 1
    assert phones.received("reception", "INVITE") == 1
    (record,) = _records(url)
    assert record.objects == [
        {"kind": "queue", "login": "support"},
        {"kind": "sip_account", "login": "reception"},
    ]
    assert record.disposition == "answered"
    trace = node.get(f"/api/v1/calls/{record.id}/trace")
    events = [(e["kind"], e["event"]) for e in trace]  # type: ignore[attr-defined]
    assert ("queue", "timeout") in events


def test_menu_is_navigated_by_rfc2833_dtmf(setup: tuple[Node, Phones, str], tmp_path: Path) -> None:
    node, phones, url = setup
    phones.start("reception", ring_ms=300)
    scenario = render_scenario(
        tmp_path, "uac_menu_caller.xml", "menu-call", CALLER_NUMBER=CALLER, TALK_MS=3000
    )
    result = run_sipp(str(scenario), node.uri_host, tmp=tmp_path, service="221234510")
    assert result.returncode == 0, result.output + node.log()
    node.wait_idle()
    (record,) = _records(url)
    assert record.objects == [
        {"kind": "ivr_menu", "login": "main"},
        {"kind": "sip_account", "login": "reception"},
    ]
    assert record.disposition == "answered"
    trace = node.get(f"/api/v1/calls/{record.id}/trace")
    keys = [e["key"] for e in trace if e["event"] == "input"]  # type: ignore[attr-defined]
    assert keys == ["1", "2"]
    assert phones.received("reception", "INVITE") == 1


def test_phone_calls_out_through_the_trunk_with_its_caller_id(
    setup: tuple[Node, Phones, str], tmp_path: Path, provider_port: int
) -> None:
    node, _phones, url = setup
    gateway = render_scenario(
        tmp_path, "uas_provider.xml", "provider",
        TRUNK_USER="acme-trunk", TRUNK_PASSWORD="trunk-pass",
        DIALLED="225551234", CALLER_ID="221234567",
    )  # fmt: skip
    provider = start_sipp(str(gateway), "", tmp=tmp_path, port=provider_port, timeout_s=30)
    try:
        scenario = phone_scenario(tmp_path, "jan", "acme.test", PASSWORD)
        result = run_sipp(str(scenario), node.uri_host, tmp=tmp_path, service="0225551234")
        assert result.returncode == 0, result.output + node.log()
        assert provider.wait(timeout=20) == 0, (
            (tmp_path / "provider-errors.log").read_text(errors="replace")
            if (tmp_path / "provider-errors.log").exists()
            else node.log()
        )
    finally:
        if provider.poll() is None:
            provider.kill()
    node.wait_idle()
    messages = (tmp_path / "provider-messages.log").read_text(errors="replace")
    assert "INVITE sip:225551234@127.0.0.1" in messages
    assert "Authorization: Digest" in messages and 'username="acme-trunk"' in messages
    (record,) = _records(url)
    assert record.direction == "outbound" and record.disposition == "answered"
    assert record.objects == [{"kind": "trunk", "login": "provider"}]


def test_did_calls_only_from_trunk_addresses_and_phones_must_authenticate(
    setup: tuple[Node, Phones, str], tmp_path: Path
) -> None:
    node, _phones, url = setup
    scenario = render_scenario(
        tmp_path, "uac_trunk_call.xml", "stranger", CALLER_NUMBER=CALLER, TALK_MS=500
    )
    stranger = run_sipp(
        str(scenario), node.uri_host, tmp=tmp_path, service="221234567", local_ip="127.0.0.2"
    )
    assert stranger.returncode != 0
    assert "SIP/2.0 403" in (tmp_path / "stranger-messages.log").read_text(errors="replace")
    wrong = phone_scenario(tmp_path, "jan", "acme.test", "wrong-password")
    impostor = run_sipp(str(wrong), node.uri_host, tmp=tmp_path, service="reception")
    assert impostor.returncode != 0
    log = (tmp_path / "uac_phone_call-jan-messages.log").read_text(errors="replace")
    assert "SIP/2.0 401" in log and "SIP/2.0 403" in log and "SIP/2.0 200" not in log
    node.wait_idle()
    records = _records(url)
    assert all(r.disposition == "failed" for r in records)
    assert not any(r.answered_at for r in records)


async def _limit_concurrent_calls(url: str, limit: int) -> None:
    db = Database(url)
    async with db.session() as session:
        await Accounts(session).update("acme", plan={"quotas": {"concurrent_calls": limit}})
        await session.commit()
    await db.close()


def test_plan_limits_concurrent_calls(setup: tuple[Node, Phones, str], tmp_path: Path) -> None:
    node, _phones, url = setup
    asyncio.run(_limit_concurrent_calls(url, 1))
    first = render_scenario(
        tmp_path, "uac_trunk_call.xml", "first", CALLER_NUMBER=CALLER, TALK_MS=5000
    )
    running = start_sipp(str(first), node.uri_host, tmp=tmp_path, service="221234510")
    try:
        deadline = time.monotonic() + 10
        while not node.live_calls() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = render_scenario(
            tmp_path, "uac_trunk_call.xml", "second", CALLER_NUMBER=CALLER, TALK_MS=500
        )
        refused = run_sipp(str(second), node.uri_host, tmp=tmp_path, service="221234510")
        assert refused.returncode != 0
        assert "SIP/2.0 503" in (tmp_path / "second-messages.log").read_text(errors="replace")
        assert running.wait(timeout=30) == 0, "the first call goes on undisturbed"
    finally:
        if running.poll() is None:
            running.kill()
    node.wait_idle()
    dispositions = sorted(str(r.disposition) for r in _records(url))
    assert dispositions == ["answered", "failed"]
