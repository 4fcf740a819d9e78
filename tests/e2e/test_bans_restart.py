"""A ban survives a restart of the node (the ``source_bans`` table).

SIPp guesses jan's password from 127.0.0.1 until the node bans the address
(``ban_after_failures`` = 3).  The node is stopped with SIGTERM and started
again on the same data directory (SQLite there): the ban is listed again at
``/api/v1/security/bans``, a REGISTER from 127.0.0.1 -- even with the right
password -- gets no answer at all, and a phone on 127.0.0.2 registers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callvault.store.db import Database
from tests.e2e.harness import SCENARIOS, Node, free_port, provision_acme, render_scenario, run_sipp
from tests.e2e.harness import start_node as _start_node

pytestmark = pytest.mark.e2e

FAILURES = 3


def start_node(tmp_path: Path, data_dir: Path) -> Node:
    return _start_node(tmp_path, data_dir=data_dir, ban_after_failures=str(FAILURES))


def _bans(node: Node) -> list[dict[str, object]]:
    bans = node.get("/api/v1/security/bans")
    assert isinstance(bans, list)
    return bans


def test_a_ban_holds_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    asyncio.run(provision_acme(Database.default_url(data_dir), {"jan": ("101", "s3cret")}))
    inf = tmp_path / "jan.csv"
    inf.write_text(f"SEQUENTIAL\njan;acme.test;{free_port()};\n")
    node = start_node(tmp_path, data_dir)
    try:
        wrong = {"password=s3cret": "password=guess", 'response="200"': 'response="403"'}
        guesses = render_scenario(tmp_path, "uac_register.xml", "wrong_password", **wrong)
        result = run_sipp(
            str(guesses), node.uri_host, tmp=tmp_path, inf=inf, calls=FAILURES, rate=20,
            timeout_s=10,
        )  # fmt: skip
        assert result.returncode == 0, result.output + node.log()
        assert result.counter("SuccessfulCall(C)") == FAILURES, result.stats
        assert "banned 127.0.0.1" in node.log(), node.log()
        [ban] = _bans(node)
        assert ban["address"] == "127.0.0.1"

        assert node.stop() == 0, node.log()
        node = start_node(tmp_path, data_dir)
        assert "restored 1 ban(s)" in node.log(), node.log()
        [ban] = _bans(node)
        assert ban["address"] == "127.0.0.1"
        assert f"{FAILURES} failed authentications" in str(ban["reason"])
        expires_in = ban["expires_in_s"]
        assert isinstance(expires_in, int) and 500 < expires_in <= 600, ban

        # the banned address is dropped without a reply, even with the right password
        blocked = render_scenario(tmp_path, "uac_register.xml", "banned_register")
        dropped = run_sipp(str(blocked), node.uri_host, tmp=tmp_path, inf=inf, timeout_s=3)
        assert dropped.returncode != 0, dropped.output
        messages = tmp_path / "banned_register-messages.log"
        log = messages.read_text()
        assert log.count("UDP message sent") >= 2, "sent and retransmitted..."
        assert "message received" not in log, "...and never answered"
        assert "jan@acme.test registered" not in node.log()

        # another address is not affected
        phone = run_sipp(
            str(SCENARIOS / "uac_register.xml"), node.uri_host, tmp=tmp_path, inf=inf,
            local_ip="127.0.0.2", timeout_s=10,
        )  # fmt: skip
        assert phone.returncode == 0, phone.output + node.log()
        assert "jan@acme.test registered 1 contact(s)" in node.log()
    finally:
        assert node.stop() == 0, node.log()
