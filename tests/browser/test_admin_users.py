"""The users, roles and webhooks admin screens in a real browser, as acme's administrator:
forms go through the REST API and show its refusals; a webhook's secret is shown once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Panel, sign_in
from tests.web.conftest import PASSWORD

Shoot = Callable[[Page, str], Path]


def _accept_dialogs(page: Page) -> None:
    """Say yes to every ``data-confirm`` question on the page."""
    page.on("dialog", lambda dialog: dialog.accept())


def test_create_change_a_user_and_see_the_apis_refusals(
    page: Page, panel: Panel, screenshots: Shoot
) -> None:
    _accept_dialogs(page)
    sign_in(page, panel, "administrator", "/admin/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Użytkownicy")
    form = page.locator("#user-form")
    form.get_by_label("Imię i nazwisko").fill("Ola Nowak")
    form.get_by_label("E-mail").fill("Ola@Acme.example")
    form.get_by_label("Hasło").fill(PASSWORD)
    expect(form.get_by_label("Rola")).to_have_value("consultant")
    form.get_by_label("Konto SIP").fill("ola")
    form.get_by_role("button", name="Dodaj użytkownika").click()
    expect(page.locator("#admin-notice")).to_have_text("Dodano użytkownika.")
    row = page.locator('#users tr[data-email="ola@acme.example"]')
    expect(row).to_contain_text("konsultant")
    expect(row).to_contain_text("własne (konto SIP: ola)")

    form = page.locator("#user-form")
    form.get_by_label("E-mail").fill("ola@acme.example")
    form.get_by_label("Hasło").fill(PASSWORD)
    form.get_by_label("Konto SIP").fill("ola2")
    form.get_by_role("button", name="Dodaj użytkownika").click()
    expect(form.get_by_role("alert")).to_contain_text("already exists")
    expect(page.locator('#users tr[data-email="ola@acme.example"]')).to_have_count(1)

    row = page.locator('#users tr[data-email="ola@acme.example"]')
    row.get_by_role("button", name="Edytuj").click()
    edit = page.get_by_role("form", name="Zmiana użytkownika ola@acme.example")
    expect(edit.get_by_label("Obiekty zespołu")).to_be_hidden()
    edit.get_by_label("Zakres danych").select_option("team")
    edit.get_by_label("Obiekty zespołu").fill("sales, support")
    edit.get_by_role("button", name="Zapisz").click()
    expect(page.locator("#admin-notice")).to_contain_text("ola@acme.example")
    expect(page.locator('#users tr[data-email="ola@acme.example"]')).to_contain_text(
        "zespół: sales, support"
    )
    page.evaluate("window.scrollTo(0, 0)")
    screenshots(page, "admin-users")

    networks = page.locator("#networks-form")
    expect(networks.locator("#your-address")).to_have_text("127.0.0.1")
    networks.get_by_label("Dozwolone sieci").fill("10.0.0.0/8")
    networks.get_by_role("button", name="Zapisz listę sieci").click()
    expect(networks.get_by_role("alert")).to_contain_text("lock you out")


def test_custom_role_with_two_scopes_and_a_refused_delete(
    page: Page, panel: Panel, screenshots: Shoot
) -> None:
    _accept_dialogs(page)
    sign_in(page, panel, "administrator", "/admin/roles")
    expect(page.locator('#roles td[data-role="consultant"] button')).to_have_count(0)
    form = page.locator("#role-form")
    form.get_by_label("Nazwa roli").fill("reviewer")
    form.get_by_label(re.compile(r"calls\.read")).check()
    form.get_by_label(re.compile(r"audit\.read")).check()
    form.get_by_role("button", name="Dodaj rolę").click()
    expect(page.locator("#admin-notice")).to_have_text("Dodano rolę.")
    ticked = page.locator('#roles td[data-role="reviewer"]', has_text="✓")
    expect(ticked).to_have_count(2)
    for scope in ("calls.read", "audit.read"):
        cell = page.locator(f'#roles tr[data-scope="{scope}"] td[data-role="reviewer"]')
        expect(cell).to_have_text("✓")

    made = page.evaluate(
        """async () => (await window.callvault.api("POST", "/api/v1/users", {
            email: "rev@acme.example", password: "a long enough secret", role: "reviewer"}
        )).status"""
    )
    assert made == 201
    page.reload()
    expect(page.locator('#roles td[data-role="reviewer"][data-users]')).to_have_text("1")
    page.evaluate("window.scrollTo(0, 0)")
    screenshots(page, "admin-roles")
    cell = page.locator('#roles td[data-role="reviewer"]', has=page.locator("button"))
    cell.get_by_role("button", name="Usuń").click()
    expect(cell.get_by_role("alert")).to_contain_text("1 user(s) have role reviewer")
    page.reload()
    expect(page.locator('#roles th[data-role="reviewer"]')).to_have_count(1)


def test_webhook_secret_is_shown_once(page: Page, panel: Panel) -> None:
    _accept_dialogs(page)
    sign_in(page, panel, "administrator", "/admin/webhooks")
    form = page.locator("#webhook-form")
    form.get_by_label("Adres URL").fill("https://93.184.215.14/hooks/crm")
    form.get_by_label(re.compile(r"call\.ended")).check()
    form.get_by_role("button", name="Dodaj webhook").click()
    secret = page.locator("#webhook-secret-value")
    expect(secret).to_have_text(re.compile(r"^whsec_\S{20,}$"))
    value = secret.inner_text()
    expect(form.get_by_role("button", name="Dodaj webhook")).to_be_disabled()
    page.get_by_role("link", name="Gotowe").click()
    row = page.locator("#webhooks tr", has_text="93.184.215.14/hooks/crm")
    expect(row).to_contain_text("call.ended")
    expect(page.locator("#webhook-secret")).to_be_hidden()
    assert value not in page.content()
    row.get_by_role("button", name="Usuń").click()
    expect(page.locator("#admin-notice")).to_have_text("Usunięto webhook.")
    expect(page.locator("#webhooks tr", has_text="93.184.215.14")).to_have_count(0)
