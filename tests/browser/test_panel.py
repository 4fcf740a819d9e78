"""The panel in a real browser against a real server: sign-in with TOTP, search, the player,
download (and its audit entry), share links, notes and tags, deletion and legal holds, the
language switch, live calls, and what a consultant may not see.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
from playwright.sync_api import BrowserContext, Page, Playwright, expect

from tests.browser.conftest import Panel, sign_in, totp_code
from tests.web.conftest import PASSWORD, USERS

Shoot = Callable[[Page, str], Path]


def _api_as(playwright: Playwright, panel: Panel, who: str) -> Any:
    """A signed-in API client (Playwright's request context) for seeded user ``who``."""
    account, email, *_ = USERS[who]
    client = playwright.request.new_context(base_url=panel.url)
    answer = client.post(
        "/api/v1/auth/login", data={"account": account, "email": email, "password": PASSWORD}
    )
    assert answer.ok, answer.text()
    return client


def _audit(playwright: Playwright, panel: Panel, **params: str) -> list[dict[str, Any]]:
    client = _api_as(playwright, panel, "auditor")
    try:
        answer = client.get("/api/v1/audit", params=params)
        assert answer.ok
        items: list[dict[str, Any]] = answer.json()["items"]
        return items
    finally:
        client.dispose()


def _current_time(page: Page) -> float:
    return float(page.evaluate("document.getElementById('player-audio').currentTime"))


def test_sign_in_with_totp_find_play_and_download(
    page: Page, panel: Panel, playwright: Playwright, screenshots: Shoot
) -> None:
    page.goto("/calls")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fcalls"))
    page.get_by_label("Konto (firma)").fill("acme")
    page.get_by_label("E-mail").fill(USERS["team_leader"][1])
    page.get_by_label("E-mail").blur()
    screenshots(page, "login")
    page.get_by_label("Hasło").fill(PASSWORD)
    page.get_by_role("button", name="Zaloguj").click()
    code = page.get_by_label("Kod weryfikacyjny")
    expect(code).to_be_visible()
    totp = pyotp.TOTP(panel.totp_secret)
    near = {totp.at(time.time() + shift) for shift in (-30, 0, 30)}
    code.fill(
        next(wrong for wrong in ("000000", "111111", "222222", "333333") if wrong not in near)
    )
    page.get_by_role("button", name="Potwierdź").click()
    expect(page.get_by_role("alert")).to_have_text("Nieprawidłowy kod weryfikacyjny.")
    code.fill(totp_code(panel))
    page.get_by_role("button", name="Potwierdź").click()
    expect(page).to_have_url(re.compile(r"/calls$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Historia połączeń")
    expect(page.locator("#calls tbody tr").first).to_be_visible()

    page.get_by_role("link", name="Nagrania", exact=True).click()
    expect(page.locator("#recordings tbody tr")).to_have_count(3)
    page.get_by_label("Numer (fragment)").fill("1200300")
    page.get_by_role("button", name="Szukaj").click()
    rows = page.locator("#recordings tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name="48601200300", exact=True).click()
    expect(page).to_have_url(re.compile(r"/recordings/r-manager$"))

    expect(page.locator("#waveform")).to_be_visible()  # drawn from the stored peaks
    opened = _audit(playwright, panel, action="recording.listen", target_id="r-manager")
    assert opened == [], "opening the page is not a listen: the audio loads on Play"
    page.get_by_role("button", name="Odsłuchaj").click()
    page.wait_for_function("document.getElementById('player-audio').currentTime > 1.0")
    assert _current_time(page) > 1.0
    expect(page.get_by_role("button", name="Pauza")).to_be_visible()
    screenshots(page, "recording")
    page.locator("h1").click()  # keyboard shortcuts act outside form fields
    page.keyboard.press("Space")
    page.wait_for_function("document.getElementById('player-audio').paused")
    before = _current_time(page)
    page.keyboard.press("ArrowRight")
    assert _current_time(page) >= before + 4.9
    page.keyboard.press("ArrowLeft")
    assert abs(_current_time(page) - before) < 0.2
    page.get_by_label("Prędkość").select_option("1.5")
    assert page.evaluate("document.getElementById('player-audio').playbackRate") == 1.5
    page.get_by_label("Rozdziel kanały").uncheck()  # one lane: caller on top, agent below
    expect(page.locator("#waveform")).not_to_have_class(re.compile("stereo"))

    with page.expect_download() as info:
        page.get_by_role("link", name="Pobierz").click()
    download = info.value
    assert download.suggested_filename == "r-manager.wav"
    assert Path(download.path()).read_bytes() == panel.world.clear["r-manager"]
    entries = _audit(playwright, panel, action="recording.download", target_id="r-manager")
    assert [entry["actor"] for entry in entries] == ["lena@acme.example"]
    assert _audit(playwright, panel, action="recording.listen", target_id="r-manager")


def test_share_link_plays_anonymously_until_revoked(
    page: Page, panel: Panel, new_context: Callable[[], BrowserContext]
) -> None:
    sign_in(page, panel, "team_leader", "/recordings/r-own")
    page.get_by_label("Link ważny przez").select_option(label="1 godzinę")
    page.get_by_role("button", name="Utwórz link").click()
    link = page.get_by_label("Nowy link do nagrania")
    expect(link).to_have_value(re.compile("/share/"))
    url = link.input_value()
    assert re.fullmatch(re.escape(panel.url) + r"/share/[\w-]{40,}", url)
    expect(page.locator("#share-links tbody tr")).to_have_count(1)

    anonymous = new_context()
    opened = anonymous.new_page().goto(url)
    assert opened is not None and opened.status == 200
    assert opened.headers["content-type"] == "audio/wav"
    assert anonymous.request.get(url).body() == panel.world.clear["r-own"]

    page.locator("#share-links").get_by_role("button", name=re.compile("Unieważnij")).click()
    expect(page.get_by_role("alert")).to_contain_text("Link unieważniony")
    expect(page.locator("#share-links tbody")).to_contain_text("unieważniony")
    assert anonymous.request.get(url).status == 404
    assert new_context().request.get(url).status == 404


def test_language_switch_keeps_the_choice(page: Page, panel: Panel) -> None:
    sign_in(page, panel, "administrator")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Historia połączeń")
    page.get_by_role("link", name="English").click()
    expect(heading).to_have_text("Call history")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="Recordings", exact=True).click()
    expect(heading).to_have_text("Recordings")
    expect(page.get_by_role("button", name="Search")).to_be_visible()
    page.get_by_role("link", name="Polski").click()
    expect(heading).to_have_text("Nagrania")
    expect(page.get_by_role("button", name="Szukaj")).to_be_visible()


def test_consultant_cannot_see_the_managers_recording(page: Page, panel: Panel) -> None:
    sign_in(page, panel, "consultant", "/recordings")
    rows = page.locator("#recordings tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator("[data-recording=r-own]")).to_have_count(1)
    expect(page.locator("[data-recording=r-manager]")).to_have_count(0)
    answer = page.goto("/recordings/r-manager")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Nie znaleziono")
    page.goto("/recordings/r-own")
    expect(page.get_by_role("button", name="Odsłuchaj")).to_be_visible()
    for missing in ("Pobierz", "Usuń", "Utwórz link", "Dodaj notatkę", "Dodaj tag"):
        expect(page.get_by_text(missing, exact=True)).to_have_count(0)
    assert page.request.get("/api/v1/recordings/r-own/download").status == 403


def test_notes_and_tags(page: Page, panel: Panel) -> None:
    sign_in(page, panel, "team_leader", "/recordings/r-team")
    page.get_by_label("Nowa notatka").fill("Klient prosi o kontakt w piątek.")
    page.get_by_role("button", name="Dodaj notatkę").click()
    notes = page.locator("#note-list")
    expect(notes).to_contain_text("Klient prosi o kontakt w piątek.")
    expect(notes).to_contain_text("lena@acme.example")
    page.get_by_label("Nazwa").fill("ticket")
    page.get_by_label("Wartość").fill("ZD-1234")
    page.get_by_role("button", name="Dodaj tag").click()
    tags = page.locator("#tag-list")
    expect(tags).to_contain_text("ticket=ZD-1234")
    page.get_by_role("button", name="Usuń tag ticket").click()
    expect(tags).not_to_contain_text("ticket=ZD-1234")


def test_delete_is_refused_on_legal_hold(page: Page, panel: Panel, screenshots: Shoot) -> None:
    sign_in(page, panel, "administrator", "/recordings")
    expect(page.locator("[data-recording=r-held] .badge.hold")).to_be_visible()
    screenshots(page, "recordings")
    page.locator("[data-recording=r-held]").get_by_role("link", name="Otwórz").click()
    page.on("dialog", lambda dialog: dialog.accept())
    expect(page.locator(".heading .badge.hold")).to_have_text("blokada usuwania")
    page.get_by_role("button", name="Usuń").click()
    expect(page.locator("#message")).to_have_text(
        "Nie można usunąć: nagranie objęte blokadą usuwania (wstrzymanie retencji)."
    )
    answer = page.goto("/recordings/r-held")
    assert answer is not None and answer.status == 200
    page.goto("/recordings/r-doomed")
    page.get_by_role("button", name="Usuń").click()
    expect(page).to_have_url(re.compile(r"/recordings\?deleted=r-doomed$"))
    expect(page.get_by_role("status")).to_have_text("Usunięto nagranie r-doomed.")
    gone = page.goto("/recordings/r-doomed")
    assert gone is not None and gone.status == 404


def test_call_history_filters_sorting_and_csv(page: Page, panel: Panel, screenshots: Shoot) -> None:
    sign_in(page, panel, "administrator", "/calls")
    screenshots(page, "calls")
    page.get_by_text("Zakres dat").click()
    page.get_by_label("Od dnia").fill("2026-11-25")
    page.get_by_label("Do dnia").fill("2026-11-25")
    page.get_by_label("Typ połączenia").select_option(label="przychodzące")
    page.get_by_role("button", name="Szukaj").click()
    rows = page.locator("#calls tbody tr")
    expect(rows).to_have_count(6)
    expect(page.locator("#calls")).not_to_contain_text("48601999888")  # the day before
    page.get_by_role("link", name="Czas trwania", exact=True).click()
    expect(page.locator("th[aria-sort=descending]")).to_have_text(re.compile("Czas trwania"))
    expect(rows.first).to_contain_text("48600100003")  # 5 minutes: the longest
    page.get_by_label("Typ połączenia").select_option(label="przez menu IVR / IVR API")
    page.get_by_role("button", name="Szukaj").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("c-manager")
    with page.expect_download() as info:
        page.get_by_role("link", name="Eksportuj CSV").click()
    lines = Path(info.value.path()).read_text().splitlines()
    assert lines[0].startswith("id,started_at,direction") and len(lines) == 2
    assert lines[1].startswith("c-manager,")


def test_live_calls_of_the_users_account_only(page: Page, panel: Panel, screenshots: Shoot) -> None:
    sign_in(page, panel, "administrator", "/live")
    rows = page.locator("#live-calls tbody tr")
    expect(rows).to_have_count(2)
    table = page.locator("#live-calls")
    expect(table).to_contain_text("48601777000")
    expect(table).to_contain_text("nagrywane")
    expect(table).not_to_contain_text("48609999999")  # beta's call
    screenshots(page, "live")
    page.wait_for_timeout(3500)  # one refresh from /live.json
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("kolejka: sales \u203a konto SIP: ewa")
    items = page.request.get("/live.json").json()["items"]
    assert sorted(item["from"] for item in items) == ["48601777000", "jan"]
