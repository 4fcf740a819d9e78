"""A restarted node still reaches the phones registered before (RFC 3261 §10.3 bindings in the DB).

SIPp registers ``jan`` (digest) with its contact on another port, where a
SIPp UAS answers.  The node is stopped with SIGTERM and started again on the
same data directory (SQLite there): a call to jan's DID rings the contact
without any new REGISTER.  After an unregister (``Expires: 0``) and a
restart, the call gets 480 and the contact sees no INVITE.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from callvault.store.db import Database
from tests.e2e.harness import (
    Node,
    free_port,
    provision_acme,
    render_scenario,
    run_sipp,
    start_node,
    start_sipp,
)

pytestmark = pytest.mark.e2e

DID = "48221234567"


def _first_node(tmp_path: Path) -> tuple[Node, Path]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = Database.default_url(data_dir)
    asyncio.run(provision_acme(url, {"jan": ("101", "s3cret")}, did_to="jan"))
    return start_node(tmp_path, data_dir=data_dir), data_dir


def _register(tmp_path: Path, node: Node, contact_port: int, *, expires: int) -> None:
    inf = tmp_path / f"phone-{expires}.csv"
    inf.write_text(f"SEQUENTIAL\njan;acme.test;{contact_port};\n")
    scenario = render_scenario(
        tmp_path,
        "uac_register.xml",
        f"uac_register_{expires}",
        **{"Expires: 300": f"Expires: {expires}"},
    )
    result = run_sipp(str(scenario), node.uri_host, tmp=tmp_path, inf=inf, timeout_s=10)
    assert result.returncode == 0, result.output + node.log()


def _restart(tmp_path: Path, node: Node, data_dir: Path) -> Node:
    assert node.stop() == 0, node.log()
    return start_node(tmp_path, data_dir=data_dir)


def _phone(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    return start_sipp("uas_answer.xml", "", tmp=tmp_path, port=port, timeout_s=30)


def test_a_restarted_node_rings_the_phone_registered_before(tmp_path: Path) -> None:
    node, data_dir = _first_node(tmp_path)
    phone_port = free_port()
    try:
        _register(tmp_path, node, phone_port, expires=300)
        node = _restart(tmp_path, node, data_dir)
        assert "restored 1 registered contact(s)" in node.log(), node.log()
        phone = _phone(tmp_path, phone_port)
        try:
            caller = run_sipp("uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service=DID)
            assert caller.returncode == 0, caller.output + node.log()
            assert phone.wait(timeout=20) == 0, "the phone must be rung, answer and get the BYE"
        finally:
            if phone.poll() is None:
                phone.kill()
        assert "jan@acme.test registered" not in node.log(), "rung without a new REGISTER"
        node.wait_idle()
    finally:
        assert node.stop() == 0, node.log()


def test_after_an_unregister_and_a_restart_the_call_is_not_routed_to_the_contact(
    tmp_path: Path,
) -> None:
    node, data_dir = _first_node(tmp_path)
    phone_port = free_port()
    try:
        _register(tmp_path, node, phone_port, expires=300)
        _register(tmp_path, node, phone_port, expires=0)
        assert "jan@acme.test registered 0 contact(s)" in node.log(), node.log()
        node = _restart(tmp_path, node, data_dir)
        assert "restored 0 registered contact(s)" in node.log(), node.log()
        phone = _phone(tmp_path, phone_port)
        try:
            caller = run_sipp("uac_caller_hangs_up.xml", node.uri_host, tmp=tmp_path, service=DID)
            assert caller.returncode != 0, "nobody is registered: the call must fail"
            assert "480" in (tmp_path / "uac_caller_hangs_up-errors.log").read_text()
            assert phone.poll() is None, "the old contact must not be rung"
        finally:
            phone.kill()
            phone.wait()
        messages = tmp_path / "uas_answer-messages.log"
        assert not messages.exists() or "INVITE" not in messages.read_text()
        node.wait_idle()
    finally:
        assert node.stop() == 0, node.log()
