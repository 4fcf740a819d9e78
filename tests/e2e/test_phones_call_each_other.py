"""Two SIP accounts registered by real clients call each other by login.

baresip registers as ``anna`` (digest, auto-answer); SIPp registers ``jan``
with a contact where a SIPp UAS answers.  SIPp calls ``anna`` by login and
baresip calls ``jan`` by extension; both calls are answered and recorded as
internal calls.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from callvault.media.wav import write_wav
from tests.e2e.harness import (
    SCENARIOS,
    Node,
    call_records,
    free_port,
    phone_scenario,
    provision_acme,
    run_sipp,
    start_baresip,
    start_node,
    start_sipp,
)

pytestmark = pytest.mark.e2e


async def _provision(url: str) -> None:
    await provision_acme(url, {"jan": ("101", "s3cret"), "anna": ("102", "an-pass")})


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    url = f"sqlite:///{tmp_path / 'phones.db'}"
    asyncio.run(_provision(url))
    running = start_node(tmp_path, database_url=url)
    yield running
    assert running.stop() == 0, running.log()


def _baresip(home: Path, node: Node, *commands: str, seconds: int) -> subprocess.Popen[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    write_wav(home / "tone.wav", b"\x10\x00\x00\x01" * 8000 * 20)
    return start_baresip(
        home, node, "anna", "an-pass", *commands, seconds=seconds, source=home / "tone.wav"
    )


def _register_jan(tmp_path: Path, node: Node, contact_port: int) -> None:
    inf = tmp_path / "jan.csv"
    inf.write_text(f"SEQUENTIAL\njan;acme.test;{contact_port};\n")
    result = run_sipp(str(SCENARIOS / "uac_register.xml"), node.uri_host, tmp=tmp_path, inf=inf)
    assert result.returncode == 0, result.output + node.log()


def test_registered_phones_call_each_other_by_login_and_extension(
    node: Node, tmp_path: Path
) -> None:
    jan_port = free_port()
    jan_phone = start_sipp("uas_answer.xml", "", tmp=tmp_path, port=jan_port, timeout_s=40)
    anna = _baresip(tmp_path / "anna-phone", node, seconds=25)
    try:
        _register_jan(tmp_path, node, jan_port)
        deadline = time.monotonic() + 10
        while "anna@acme.test registered" not in node.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "anna@acme.test registered" in node.log(), node.log()
        # SIPp (as jan's phone, answering the INVITE challenge) calls anna by login;
        # baresip answers by itself
        scenario = phone_scenario(tmp_path, "jan", "acme.test", "s3cret")
        result = run_sipp(str(scenario), node.uri_host, tmp=tmp_path, service="anna")
        assert result.returncode == 0, result.output + node.log()
        node.wait_idle()
        # and baresip (as anna) calls jan by his extension; SIPp answers as jan's phone
        dialer = _baresip(tmp_path / "anna-dialer", node, "/dial 101", seconds=6)
        dialer_output = dialer.communicate(timeout=30)[0].decode(errors="replace")
        assert "Call established" in dialer_output, dialer_output + node.log()
        assert jan_phone.wait(timeout=20) == 0, "jan's phone must answer and get the BYE"
        node.wait_idle()
    finally:
        anna.terminate()
        output = anna.communicate(timeout=20)[0].decode(errors="replace")
        if jan_phone.poll() is None:
            jan_phone.kill()
    assert "Call established" in output or "call established" in output.lower(), output
    records = asyncio.run(call_records(f"sqlite:///{tmp_path / 'phones.db'}"))
    assert [r.direction for r in records] == ["internal", "internal"]
    assert [r.objects for r in records] == [
        [{"kind": "sip_account", "login": "anna"}],
        [{"kind": "sip_account", "login": "jan"}],
    ]
    assert all(r.disposition == "answered" for r in records)
    assert records[1].from_number == "anna" and records[1].to_number == "101"
