"""Debian's sipvicious against callvault on loopback: nothing to enumerate, no password, a ban.

The scanners run from 127.0.0.1; the legitimate phone registers from
127.0.0.2, so the ban of the attacker's address must not touch it.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import SCENARIOS, Node, free_port, run_sipp, start_node
from tests.e2e.test_registrar_routing import _provision

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    url = f"sqlite:///{tmp_path / 'scan.db'}"
    asyncio.run(_provision(url))  # account acme.test, SIP account jan / s3cret
    running = start_node(tmp_path, database_url=url)
    yield running
    assert running.stop() == 0, running.log()


def _tool(*args: str, cwd: Path) -> str:
    completed = subprocess.run(
        list(args), capture_output=True, text=True, timeout=90, check=False, cwd=cwd
    )
    return completed.stdout + completed.stderr


def test_scanners_find_no_extension_no_password_and_get_banned(node: Node, tmp_path: Path) -> None:
    port = str(node.sip_port)
    survey = _tool("svmap", "-p", port, "127.0.0.1", cwd=tmp_path)
    assert f"127.0.0.1:{port}" in survey  # the server answers OPTIONS: it exists, no more

    names = tmp_path / "names.txt"
    names.write_text("jan\nanna\nadmin\n101\n")
    enumeration = _tool(
        "svwar", "-d", str(names), "-e100-105", "-p", port, "--domain", "acme.test",
        "-m", "REGISTER", "127.0.0.1", cwd=tmp_path,
    )  # fmt: skip
    assert "found nothing" in enumeration, enumeration
    assert "jan" not in enumeration.split("found nothing")[0].split("ERROR")[-1]

    # the right password is the 31st guess; the ban comes after the 5th failure
    dictionary = tmp_path / "dictionary.txt"
    dictionary.write_text("".join(f"guess{i}\n" for i in range(30)) + "s3cret\n")
    cracking = _tool(
        "svcrack", "-u", "jan", "-d", str(dictionary), "-p", port, "--domain", "acme.test",
        "127.0.0.1", cwd=tmp_path,
    )  # fmt: skip
    assert "found nothing" in cracking, cracking
    assert "s3cret" not in cracking
    assert "banned 127.0.0.1" in node.log()
    bans = node.get("/api/v1/security/bans")
    assert isinstance(bans, list) and bans[0]["address"] == "127.0.0.1"
    assert "failed authentications" in bans[0]["reason"]

    # a legitimate phone on another address registers as usual
    inf = tmp_path / "jan.csv"
    inf.write_text(f"SEQUENTIAL\njan;acme.test;{free_port()};\n")
    result = run_sipp(
        str(SCENARIOS / "uac_register.xml"), node.uri_host, tmp=tmp_path, inf=inf,
        local_ip="127.0.0.2", timeout_s=10,
    )  # fmt: skip
    assert result.returncode == 0, result.output + node.log()
    assert "jan@acme.test registered 1 contact(s)" in node.log()
