"""Phones register (SIPp with digest) and DIDs ring them; every call leaves a record.

Runs against SQLite and the machine's PostgreSQL (a schema of its own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    SCENARIOS,
    Node,
    call_records,
    free_port,
    provision_acme,
    run_sipp,
    start_node,
    start_sipp,
)
from tests.store.conftest import database_url  # noqa: F401  (the sqlite/postgresql fixture)

pytestmark = pytest.mark.e2e


async def _provision(url: str) -> None:
    await provision_acme(url, {"jan": ("101", "s3cret")}, did_to="jan")


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Iterator[Node]:  # noqa: F811
    asyncio.run(_provision(database_url))
    running = start_node(tmp_path, database_url=database_url)
    yield running
    assert running.stop() == 0, running.log()


def _register(tmp_path: Path, node: Node, contact_port: int, password: str) -> int:
    inf = tmp_path / f"phone-{password}.csv"
    inf.write_text(f"SEQUENTIAL\njan;acme.test;{contact_port};\n")
    # SIPp takes the password only literally inside [authentication ...]
    scenario = tmp_path / "uac_register.xml"
    text = (SCENARIOS / "uac_register.xml").read_text()
    scenario.write_text(text.replace("password=s3cret", f"password={password}"))
    result = run_sipp(str(scenario), node.uri_host, tmp=tmp_path, inf=inf, timeout_s=10)
    return result.returncode


def test_registered_phone_is_rung_through_its_did_and_the_call_is_recorded(
    node: Node,
    tmp_path: Path,
    database_url: str,  # noqa: F811
) -> None:
    phone_port = free_port()
    phone = start_sipp("uas_answer.xml", "", tmp=tmp_path, port=phone_port, timeout_s=30)
    try:
        assert _register(tmp_path, node, phone_port, "s3cret") == 0, node.log()
        time.sleep(0.3)
        caller = run_sipp(
            "uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service="48221234567"
        )
        assert caller.returncode == 0, caller.output + node.log()
        assert phone.wait(timeout=20) == 0, "the registered phone must answer and get the BYE"
    finally:
        if phone.poll() is None:
            phone.kill()
    node.wait_idle()
    records = asyncio.run(call_records(database_url))
    assert len(records) == 1
    record = records[0]
    assert record.to_number == "48221234567"
    assert record.direction == "inbound"
    assert record.disposition == "answered"
    assert record.hangup_side == "caller"
    assert record.objects == [{"kind": "sip_account", "login": "jan"}]
    assert record.answered_at is not None and record.ended_at is not None
    assert [leg["direction"] for leg in record.legs] == ["inbound", "outbound"]


def test_wrong_password_gets_403_and_unregistered_phone_gets_480(
    node: Node,
    tmp_path: Path,
    database_url: str,  # noqa: F811
) -> None:
    assert _register(tmp_path, node, free_port(), "wrong") != 0
    assert "403 Forbidden" in (tmp_path / "uac_register-errors.log").read_text()
    caller = run_sipp("uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service="221234567")
    assert caller.returncode != 0
    assert "480" in (tmp_path / "uac_caller_hangs_up-errors.log").read_text()
    node.wait_idle()
    records = asyncio.run(call_records(database_url))
    assert len(records) == 1 and records[0].disposition == "no answer"
