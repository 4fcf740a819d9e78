"""The numbers, objects and prompts admin screens in a real browser against a real server.

As acme's administrator: a number added through the form is listed after the
reload, and the API's refusals (a bad format, a duplicate) are shown in the
form; an IVR API object created through the form and pointing at an HTTPS
URL on 127.0.0.1 where nothing listens reports exactly the API's connection
error under its row, without a reload; a WAV generated here is uploaded and
listed with its duration and a player whose audio answers 200.
"""

from __future__ import annotations

import io
import json
import math
import re
import socket
import struct
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from callvault.store.repository import Accounts
from tests.browser.conftest import Panel, sign_in

Shoot = Callable[[Page, str], Path]


async def _prepare(panel: Panel) -> None:
    """acme gets the IVR API add-on and two objects a number can lead to."""
    async with panel.world.db.session() as session:
        accounts = Accounts(session)
        account = await accounts.update("acme", plan={"addons": ["recording", "ivr_api"]})
        scope = accounts.scope(account)
        await scope.create_object("queue", "sales", name="Sprzedaż", settings={"members": ["jan"]})
        await scope.create_object("sip_account", "jan", extension="101")
        await session.commit()


@pytest.fixture(scope="module")
def admin_data(panel: Panel) -> Panel:
    """The panel with :func:`_prepare`'s data, and loopback allowed for IVR applications."""
    panel.run(_prepare(panel))
    panel.world.node.settings.ivr_allow_networks.append("127.0.0.1")
    return panel


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def tone_wav(seconds: float, rate: int = 16000) -> bytes:
    """A 440 Hz stereo WAV at ``rate`` (the server converts it to 8 kHz mono)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            sample = int(12000 * math.sin(2 * math.pi * 440 * i / rate))
            frames += struct.pack("<hh", sample, sample)
        w.writeframes(bytes(frames))
    return out.getvalue()


def test_add_a_number_and_see_the_apis_refusals(
    page: Page, admin_data: Panel, screenshots: Shoot
) -> None:
    sign_in(page, admin_data, "administrator", "/admin/numbers")
    expect(page.get_by_role("heading", level=1)).to_have_text("Numery")
    form = page.locator("#number-form")
    form.get_by_label("Numer").fill("(22) 555-01-02")
    form.get_by_label("Etykieta").fill("Kampania jesienna")
    form.get_by_label("Prowadzi do obiektu").select_option("sales")
    form.get_by_role("button", name="Dodaj numer").click()
    expect(page.locator("#admin-notice")).to_have_text("Dodano numer.")
    row = page.locator('tr[data-number="48225550102"]')
    expect(row).to_contain_text("+48 22 555 01 02")
    expect(row).to_contain_text("Kampania jesienna")
    expect(row).to_contain_text("sales")
    page.reload()
    expect(row).to_contain_text("+48 22 555 01 02")
    screenshots(page, "admin-numbers")

    form.get_by_label("Numer").fill("22 55a 01 03")
    form.get_by_role("button", name="Dodaj numer").click()
    error = form.locator("[data-error]")
    expect(error).to_contain_text("'22 55a 01 03' contains 'a'; use digits, spaces, dashes, +")
    form.get_by_label("Numer").fill("+48 22 555 01 02")
    form.get_by_role("button", name="Dodaj numer").click()
    expect(error).to_contain_text("number +48225550102 already exists")
    expect(page.locator("#numbers tbody tr")).to_have_count(1)


def test_ivr_api_object_connection_test_shows_the_precise_error(
    page: Page, admin_data: Panel, screenshots: Shoot
) -> None:
    url = f"https://127.0.0.1:{free_port()}/ivr"
    sign_in(page, admin_data, "administrator", "/admin/objects")
    form = page.locator("#object-form")
    form.get_by_label("Rodzaj", exact=True).select_option("ivr_api")
    settings = form.get_by_label("Ustawienia", exact=True)
    expect(settings).to_have_attribute("placeholder", re.compile(r'"url": "https://'))
    form.get_by_label("Login").fill("crm")
    form.get_by_label("Nazwa").fill("CRM")
    settings.fill("{bad json")
    form.get_by_role("button", name="Utwórz obiekt").click()
    expect(form.locator("[data-error]")).to_contain_text("Pole JSON jest nieprawidłowe")
    settings.fill(json.dumps({"url": url, "hash": "crm-secret-hash", "timeout_ms": 2000}))
    form.get_by_role("button", name="Utwórz obiekt").click()
    expect(page.locator("#admin-notice")).to_have_text("Utworzono obiekt.")
    row = page.locator('tr[data-object="crm"]')
    expect(row.locator('[data-secret="hash"]')).to_have_text("hash: ustawione")
    expect(page.locator("body")).not_to_contain_text("crm-secret-hash")

    page.evaluate("window.notReloaded = true")
    with page.expect_response(re.compile(r"/test-connection$")) as answered:
        row.get_by_role("button", name="Testuj połączenie").click()
    answer: dict[str, Any] = answered.value.json()
    assert answer["ok"] is False and answer["status"] is None and answer["error_no"] == 2
    assert answer["error"].startswith("connection error: ") and answer["url"] == url
    report = page.locator("#report-crm")
    expect(report).to_be_visible()
    expect(report.locator("[data-outcome]")).to_have_text("Połączenie nie działa.")
    expect(report).to_contain_text(f"2: {answer['error']}")
    expect(report).to_contain_text(f"{answer['elapsed_ms']:.1f} ms")
    expect(report).to_contain_text("brak odpowiedzi")
    expect(report).to_contain_text(url)
    assert page.evaluate("window.notReloaded") is True
    page.locator("#kind-ivr_api").evaluate("section => section.scrollIntoView()")
    screenshots(page, "admin-objects")


def test_upload_a_wav_prompt_and_play_it(page: Page, admin_data: Panel) -> None:
    sign_in(page, admin_data, "administrator", "/admin/prompts")
    form = page.locator("#prompt-form")
    form.get_by_label("Plik WAV").set_input_files(
        {"name": "powitanie.wav", "mimeType": "audio/wav", "buffer": tone_wav(1.5)}
    )
    form.get_by_label("Nazwa").fill("powitanie-firmy")
    form.get_by_role("button", name="Wgraj").click()
    expect(page.locator("#admin-notice")).to_have_text("Wgrano zapowiedź.")
    row = page.locator('tr[data-prompt="powitanie-firmy"]')
    expect(row.locator("[data-duration]")).to_have_text("1,5 s")
    audio = row.locator("audio")
    expect(audio).to_have_attribute("src", "/api/v1/prompts/powitanie-firmy/audio")
    expect(audio).to_have_attribute("preload", "none")
    src = audio.get_attribute("src")
    status = page.evaluate("async (src) => (await fetch(src)).status", src)
    assert status == 200

    form.get_by_label("Plik WAV").set_input_files(
        {"name": "notes.wav", "mimeType": "audio/wav", "buffer": b"not audio at all"}
    )
    form.get_by_label("Nazwa").fill("broken")
    form.get_by_role("button", name="Wgraj").click()
    expect(form.locator("[data-error]")).to_contain_text("notes.wav: ")
    expect(page.locator("#prompts tbody tr")).to_have_count(1)
