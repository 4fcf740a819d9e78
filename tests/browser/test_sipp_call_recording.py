"""A call SIPp just made, found, played, downloaded and shared in Chromium, end to end.

Nothing is seeded: a real ``callvault serve`` (SQLite, local storage) is
provisioned like tests/e2e/test_recording.py's (account acme, the hotline
number that a queue hands to agent1, recorded by rule as MP3 with an
announcement).  The operator's CLI creates a team leader who sees the
hotline queue's calls (``callvault users create`` + ``users totp``) and an
auditor's API token (``callvault tokens create``).  A SIPp agent phone
registers and answers; a SIPp caller from a number of its own calls the
hotline, plays audio and hangs up; an earlier call from another number is
there to be filtered out.  Its SIP Call-ID leads, through the node's call
trace, to the recording, which the API shows ``ready``.

Then Debian's Chromium (Playwright) signs the team leader in with the
password and the TOTP code, searches the recordings by a fragment of the
caller's number, opens the one recording found (the page names the call),
plays it (the audio element's clock advances), and downloads it: the bytes
are the recording whose SHA-256 the node stored, an MP3 as long as the
recording.  The audit log (read over the REST API with the auditor's token)
has the team leader's listen (made on Play, not on opening the page) and
download of that recording.  Then a share link: anonymous, it serves the same
file until the team leader revokes it, then 404.  The node is stopped and no
SIPp process is left behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyotp
import pytest
import soundfile  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect

from callvault.demo import sounds
from callvault.media.wav import load_wav_8k
from tests.browser.conftest import VIEWPORT
from tests.e2e.harness import (
    Node,
    best_correlation,
    free_port,
    render_scenario,
    run_sipp,
    start_sipp,
)
from tests.e2e.test_recording import HOTLINE, _pcap_audio, _provision, _register, node

pytestmark = pytest.mark.e2e
__all__ = ["node"]  # test_recording's fixture: a node serving the database of db_url below

CALLER = "0601234588"  # national form with the trunk prefix: the node keeps 48601234588
CALLER_E164 = "48601234588"
OTHER_CALLER = "0607000111"
LEADER = "lena@acme.example"
LEADER_PASSWORD = "zielona-herbata-42"
AUDITOR = "ola@acme.example"
TALK_MS = 6000


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """test_recording's provisioning (account acme, hotline -> queue support -> agent1, rules).

    Run in a thread of its own: Playwright's sync API (the ``browser`` fixture, set up
    first) holds this thread's event loop, so ``asyncio.run`` cannot run here.
    """
    url = f"sqlite:///{tmp_path / 'rec.db'}"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _provision(url)).result(timeout=120)
    return url


@dataclass
class Operator:
    """The operator's tools on the node: its CLI (same database) and the REST API with a token."""

    node: Node
    db_url: str
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.node.http_port}"

    def cli(self, *args: str, stdin: str = "") -> str:
        """Run ``callvault ARGS --db URL``; its standard output (the command must succeed)."""
        completed = subprocess.run(
            [sys.executable, "-m", "callvault.cli.main", *args, "--db", self.db_url],
            input=stdin.encode(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        out = completed.stdout.decode()
        assert completed.returncode == 0, out + completed.stderr.decode()
        return out

    def api(self, path: str, **params: str) -> Any:
        """GET ``path`` from the REST API as the auditor (Bearer token)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        request = urllib.request.Request(
            self.url + path + query, headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def audit(self, action: str, target_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api("/api/v1/audit", action=action, target_id=target_id)[
            "items"
        ]
        return items


def _set_up_people(operator: Operator) -> str:
    """Through the CLI: the team leader (hotline queue's calls, TOTP) and the auditor's token.

    Returns the team leader's TOTP secret, read from the ``otpauth://`` URI the CLI prints.
    """
    created = operator.cli(
        "users", "create", "--account", "acme", "--email", LEADER, "--role", "team_leader",
        "--name", "Lena Nowak", "--objects", "support", "--password-stdin",
        stdin=LEADER_PASSWORD + "\n",
    )  # fmt: skip
    assert f"created user {LEADER} (team_leader, sees team)" in created
    turned_on = operator.cli("users", "totp", "--account", "acme", "--email", LEADER)
    (uri,) = re.findall(r"otpauth://\S+", turned_on)
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP)
    operator.cli("users", "create", "--account", "acme", "--email", AUDITOR, "--role", "auditor")
    operator.token = operator.cli(
        "tokens", "create", "--account", "acme", "--email", AUDITOR, "--name", "audit-check",
        "--scopes", "calls.read,recordings.list,audit.read",
    ).strip()  # fmt: skip
    assert operator.token.startswith("cv_")
    return totp.secret


@pytest.fixture
def sipp_processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """SIPp instances started in the background; killed if still running, and none may be left."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    assert _sipp_children() == [], "a SIPp process outlived the test"


def _sipp_children() -> list[int]:
    """Process ids of SIPp processes whose parent is this test process."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(") ")
        if name.endswith("(sipp") and int(rest.split()[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def page(browser: Browser, node: Node) -> Iterator[Page]:
    """A page of a fresh context on the node's panel; the test fails if a script on it throws."""
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{node.http_port}",
        viewport=VIEWPORT,
        accept_downloads=True,
        locale="pl-PL",
        timezone_id="Europe/Warsaw",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


def _call_the_hotline(node: Node, tmp: Path, caller: str, talk_ms: int, name: str) -> str:
    """SIPp calls the hotline from ``caller``, sends audio for ``talk_ms``, hangs up.

    Returns the SIP Call-ID it used.
    """
    scenario = render_scenario(
        tmp, "uac_trunk_call.xml", name, CALLER_NUMBER=caller, TALK_MS=talk_ms
    )
    result = run_sipp(str(scenario), node.uri_host, tmp=tmp, service=HOTLINE, timeout_s=40)
    assert result.returncode == 0, result.output + node.log()
    sent = (tmp / f"{name}-messages.log").read_text(errors="replace")
    (sip_call_id,) = {str(found) for found in re.findall(r"^\s*Call-ID:\s*(\S+)", sent, re.M)}
    return sip_call_id


def _node_call_id(node: Node, sip_call_id: str) -> str:
    """The node's id of the call that arrived with ``sip_call_id`` (from its call traces)."""
    for trace in node.traces():
        for entry in trace:
            if entry.get("event") == "started" and entry.get("sip_call_id") == sip_call_id:
                return str(entry["call_id"])
    raise AssertionError(f"no call trace for SIP Call-ID {sip_call_id}")


def _ready_recording(operator: Operator, call_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The call's recording (full, from the API) once it is ``ready``."""
    deadline = time.monotonic() + timeout
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = operator.api("/api/v1/recordings", call_id=call_id)["items"]
        if items and items[0]["state"] in ("ready", "failed"):
            break
        time.sleep(0.3)
    assert len(items) == 1 and items[0]["state"] == "ready", f"{items}\n{operator.node.log()}"
    full: dict[str, Any] = operator.api(f"/api/v1/recordings/{items[0]['id']}")
    return full


def _sign_in_with_totp(page: Page, secret: str) -> None:
    page.goto("/recordings")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Frecordings$"))
    page.get_by_label("Konto (firma)").fill("acme")
    page.get_by_label("E-mail").fill(LEADER)
    page.get_by_label("Hasło").fill(LEADER_PASSWORD)
    page.get_by_role("button", name="Zaloguj").click()
    code = page.get_by_label("Kod weryfikacyjny")
    expect(code).to_be_visible()
    code.fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Potwierdź").click()
    expect(page).to_have_url(re.compile(r"/recordings$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Nagrania")


def _current_time(page: Page) -> float:
    return float(page.evaluate("document.getElementById('player-audio').currentTime"))


def test_sipp_call_recording_is_found_played_and_downloaded_with_audit_by_totp_user(
    node: Node,
    db_url: str,
    page: Page,
    sipp_processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    browser: Browser,
) -> None:
    operator = Operator(node, db_url)
    secret = _set_up_people(operator)

    agent_port = free_port()
    agent = render_scenario(tmp_path, "uas_agent.xml", "agent1", RING_MS=300)
    sipp_processes.append(
        start_sipp(str(agent), "", tmp=tmp_path, port=agent_port, calls=2, timeout_s=90)
    )
    _register(node, tmp_path, "agent1", agent_port)
    _call_the_hotline(node, tmp_path, OTHER_CALLER, 2000, "earlier-call")
    node.wait_idle()
    sip_call_id = _call_the_hotline(node, tmp_path, CALLER, TALK_MS, "call-to-find")
    node.wait_idle()
    assert sipp_processes[0].wait(timeout=20) == 0, "the agent answered both calls"
    call_id = _node_call_id(node, sip_call_id)
    recording = _ready_recording(operator, call_id)
    recording_id = str(recording["id"])
    assert recording["rule"] == "hotline" and recording["format"] == "mp3"
    assert recording["caller_number"] == CALLER_E164
    assert recording["objects"] == [
        {"kind": "queue", "login": "support"},
        {"kind": "sip_account", "login": "agent1"},
    ]
    assert recording["consent"]["announced"] and recording["consent"]["prompt"] == "connecting"
    (call,) = operator.api("/api/v1/calls", call_id=call_id)["items"]
    # the recording starts once the caller has heard the announcement, ends with the call
    expected_s = call["talk_s"] - len(load_wav_8k(sounds.path("connecting"))) / 16000
    assert abs(recording["duration_s"] - expected_s) < 0.5, (recording, call)

    _sign_in_with_totp(page, secret)
    rows = page.locator("#recordings tbody tr")
    expect(rows).to_have_count(2)  # both hotline calls: the team's queue
    page.get_by_label("Numer (fragment)").fill(CALLER_E164[-7:])
    page.get_by_role("button", name="Szukaj").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-recording", recording_id)
    rows.get_by_role("link", name=CALLER_E164, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/recordings/{re.escape(recording_id)}$"))
    expect(page.locator(f'a[href="/calls?call_id={call_id}"]')).to_have_text(call_id)

    expect(page.locator("#waveform")).to_be_visible()
    assert operator.audit("recording.listen", recording_id) == [], "opening is not listening"
    page.get_by_role("button", name="Odsłuchaj").click()
    page.wait_for_function("document.getElementById('player-audio').currentTime > 1.0")
    assert _current_time(page) > 1.0
    expect(page.get_by_role("button", name="Pauza")).to_be_visible()
    page.get_by_role("button", name="Pauza").click()

    with page.expect_download() as info:
        page.get_by_role("link", name="Pobierz").click()
    download = info.value
    assert download.suggested_filename == f"{recording_id}.mp3"
    data = Path(download.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == recording["sha256"], "the stored recording"
    samples, rate = soundfile.read(download.path())
    assert soundfile.info(download.path()).format == "MP3" and rate == 8000
    assert abs(len(samples) / rate - recording["duration_s"]) < 0.2
    # 1.5 s of what the SIPp caller sent, from 2 s into the call: inside the recording
    heard, _ = best_correlation(np.asarray(samples, dtype=np.float64), _pcap_audio()[16000:28000])
    assert heard > 0.8, f"the caller's audio is in the recording: {heard:.2f}"

    downloads = operator.audit("recording.download", recording_id)
    assert [entry["actor"] for entry in downloads] == [LEADER]
    # written when the player first asks for the audio from byte 0 (on Play)
    listens = operator.audit("recording.listen", recording_id)
    assert listens and {entry["actor"] for entry in listens} == {LEADER}

    # share it: the link plays anonymously (the stored file) until it is revoked
    page.get_by_label("Link ważny przez").select_option(label="1 godzinę")
    page.get_by_role("button", name="Utwórz link").click()
    link = page.get_by_label("Nowy link do nagrania")
    expect(link).to_have_value(re.compile("/share/"))
    url = link.input_value()
    assert url.startswith(f"http://127.0.0.1:{node.http_port}/share/")
    anonymous = browser.new_context()
    try:
        shared = anonymous.request.get(url)
        assert shared.status == 200
        assert hashlib.sha256(shared.body()).hexdigest() == recording["sha256"]
        page.locator("#share-links").get_by_role("button", name=re.compile("Unieważnij")).click()
        expect(page.get_by_role("alert")).to_contain_text("Link unieważniony")
        assert anonymous.request.get(url).status == 404
    finally:
        anonymous.close()
    assert [e["actor"] for e in operator.audit("recording.share", recording_id)] == [LEADER]
