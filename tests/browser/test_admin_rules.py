"""The rules, retention and jobs screens in Chromium against a real server.

Create a recording rule through its form (an invalid one first: the API's
reasons are shown) and see it listed; run the dry run and see the decision
and each rule's explanation appear without a reload; change and delete the
rule; put a number on legal hold and release it; start a ZIP export from the
recordings list, follow it on ``/jobs`` to the end and download it; erase a
number's recordings from the retention screen and see the job's report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Panel, sign_in

Shoot = Callable[[Page, str], Path]
CONDITIONS = '{"directions": ["inbound"], "schedule": ["mon-fri 08:00-17:00"]}'


def _accept_dialogs(page: Page) -> None:
    page.on("dialog", lambda dialog: dialog.accept())


def test_create_a_rule_and_run_a_dry_run(page: Page, panel: Panel, screenshots: Shoot) -> None:
    sign_in(page, panel, "administrator", "/admin/rules")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reguły nagrywania")
    form = page.locator("#rule-form")
    form.get_by_label("Nazwa").fill("office-hours")
    form.get_by_label("Priorytet").fill("10")
    form.get_by_label("Warunki (JSON)").fill('{"directions": ["sideways"]}')
    form.get_by_role("button", name="Dodaj regułę").click()
    expect(form.get_by_role("alert")).to_contain_text("directions")
    expect(page.locator("#rules tbody tr[data-rule]")).to_have_count(0)

    form.get_by_label("Warunki (JSON)").fill(CONDITIONS)
    form.get_by_role("button", name="Dodaj regułę").click()
    expect(page.locator("#admin-notice")).to_have_text("Reguła dodana.")
    row = page.locator('#rules tr[data-rule="office-hours"]')
    expect(row).to_contain_text("kierunek: przychodzące")
    expect(row).to_contain_text("czas: mon-fri 08:00-17:00")
    expect(row).to_contain_text("90 dni")

    dry = page.locator("#dry-run")
    dry.get_by_label("Dzwoniący").fill("+48 600 123 456")
    dry.get_by_label("Numer docelowy").fill("22 123 45 67")
    dry.get_by_label("Kierunek").select_option("inbound")
    dry.get_by_label("Kiedy").fill("2026-11-25T10:00")  # a Wednesday
    dry.get_by_role("button", name="Sprawdź").click()
    decision = page.locator("#dry-run-decision")
    expect(decision).to_have_text(re.compile(r"^Nagrywana \u2013 reguła „office-hours”: stereo"))
    checks = page.locator("#dry-run-explanation > li")
    expect(checks).to_have_count(1)
    expect(checks.first).to_contain_text("office-hours: pasuje")
    expect(checks.first).to_contain_text("direction inbound matches [inbound]")
    expect(checks.first).to_contain_text("inside mon-fri 08:00-17:00")
    page.locator("#dry-run").scroll_into_view_if_needed()
    screenshots(page, "admin-rules")

    dry.get_by_label("Kiedy").fill("2026-11-28T10:00")  # a Saturday
    dry.get_by_role("button", name="Sprawdź").click()
    expect(decision).to_have_text("Nienagrywana \u2013 do tej rozmowy nie pasuje żadna reguła.")
    expect(checks.first).to_contain_text("office-hours: nie pasuje")
    expect(checks.first).to_contain_text("outside mon-fri 08:00-17:00")

    _accept_dialogs(page)
    row.get_by_role("link", name="Edytuj").click()
    edit = page.locator("details#edit-1")
    expect(edit).to_have_attribute("open", "")
    edit.get_by_label("Priorytet").fill("5")
    edit.get_by_label("Decyzja (JSON)").fill('{"record": false}')
    edit.get_by_role("button", name="Zapisz").click()
    expect(page.locator("#admin-notice")).to_have_text("Reguła zapisana.")
    expect(row).to_contain_text("nigdy nie nagrywaj")
    expect(row.locator("td").first).to_have_text("5")
    row.get_by_role("button", name="Usuń").click()
    expect(page.locator("#admin-notice")).to_have_text("Reguła usunięta.")
    expect(page.locator("#rules tbody tr[data-rule]")).to_have_count(0)


def test_put_a_number_on_hold_and_release_it(page: Page, panel: Panel) -> None:
    _accept_dialogs(page)
    sign_in(page, panel, "administrator", "/admin/retention")
    expect(page.locator('#held-recordings tr[data-recording="r-held"]')).to_be_visible()
    form = page.locator("#hold-number")
    form.get_by_label("Numer").fill("+48 600 100 001")
    form.get_by_label("Powód").fill("sprawa 1/2026")
    form.get_by_role("button", name="Załóż blokadę").click()
    expect(page.locator("#admin-notice")).to_have_text("Blokada usuwania założona.")
    row = page.locator('#held-numbers tr[data-number="48600100001"]')
    expect(row).to_contain_text("+48 60 010 00 01")
    expect(row).to_contain_text("sprawa 1/2026")

    row.get_by_role("button", name="Zdejmij blokadę").click()
    expect(page.locator("#admin-notice")).to_have_text("Blokada usuwania zdjęta.")
    expect(page.locator("#held-numbers tr[data-number]")).to_have_count(0)
    expect(page.locator("#held-numbers")).to_contain_text("Żaden numer nie ma blokady usuwania.")


def test_zip_export_from_the_recordings_list(page: Page, panel: Panel, screenshots: Shoot) -> None:
    sign_in(page, panel, "administrator", "/recordings")
    page.get_by_role("button", name="Eksportuj ZIP").click()
    expect(page).to_have_url(re.compile(r"/jobs$"))
    expect(page.locator("#jobs-notice")).to_have_text("Eksport rozpoczęty.")
    row = page.locator('#jobs tr[data-kind="export"]').first
    expect(row.locator('[data-field="state"]')).to_have_text("zakończone", timeout=30_000)
    expect(row.locator("progress")).to_have_js_property("value", 100)
    expect(row.locator('[data-field="percent"]')).to_have_text("100%")
    link = row.get_by_role("link", name="Pobierz ZIP")
    href = link.get_attribute("href")
    assert href is not None and re.fullmatch(r"/api/v1/jobs/j-[0-9A-Za-z]+/result", href)
    answer = page.request.get(href)
    assert answer.status == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.body()[:2] == b"PK"
    screenshots(page, "jobs")


def test_erase_a_numbers_recordings_from_the_retention_screen(page: Page, panel: Panel) -> None:
    _accept_dialogs(page)
    sign_in(page, panel, "administrator", "/admin/retention")
    page.get_by_label("Numer dzwoniącego").fill("+48 600 100 002")
    page.get_by_role("button", name="Usuń nagrania").click()
    expect(page).to_have_url(re.compile(r"/jobs$"))
    expect(page.locator("#jobs-notice")).to_have_text("Usuwanie rozpoczęte.")
    row = page.locator('#jobs tr[data-kind="erase"]').first
    expect(row).to_contain_text("numer +48 60 010 00 02")
    expect(row.locator('[data-field="state"]')).to_have_text("zakończone", timeout=30_000)
    expect(row.locator('[data-field="result"]')).to_contain_text("Znalezione: 1, usunięte: 1")
    row.get_by_text("Nagranie po nagraniu").click()
    expect(row.locator('[data-field="result"] li')).to_have_text("r-team: deleted")
    gone = page.goto("/recordings/r-team")
    assert gone is not None and gone.status == 404
    page.goto("/admin/retention")
    expect(page.locator("#deletions")).to_contain_text("r-team")
    expect(page.locator("#deletions")).to_contain_text("usunięcie na żądanie")
