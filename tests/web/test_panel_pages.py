"""The panel's pages over HTTP (SQLite and PostgreSQL): sign-in forms, access, scopes, languages,
live calls, and the catalogs and date presets; the real browser is in tests/browser.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pyotp
import pytest
from sqlalchemy import select
from starlette.datastructures import QueryParams

from callvault.engine.call import Call
from callvault.store.identity import User
from callvault.web.panel import i18n, recording_view
from callvault.web.panel.filters import read_filters
from callvault.web.panel.render import TEMPLATES
from tests.web.conftest import BASE_URL, PASSWORD, USERS, World

PANEL = Path(TEMPLATES).parent


async def _form_login(
    client: httpx.AsyncClient, who: str, next_path: str = "/calls", **fields: str
) -> httpx.Response:
    page = await client.get("/login", params={"next": next_path})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    account, email, *_ = USERS[who]
    data = {"csrf": csrf[1], "account": account, "email": email, "password": PASSWORD}
    return await client.post("/login", data={**data, "next": next_path, **fields})


async def _panel_client(world: World, who: str) -> httpx.AsyncClient:
    client = await world.client()
    answer = await _form_login(client, who)
    assert answer.status_code == 303 and answer.headers["location"] == "/calls"
    return client


def test_catalogs_have_the_same_keys_and_every_used_key() -> None:
    polish, english = i18n.catalog("pl"), i18n.catalog("en")
    assert polish.keys() == english.keys()
    assert all(text.strip() for text in [*polish.values(), *english.values()])
    used = set()
    key = re.compile(r"""(?<!\w)[_t]\(\s*["']([a-z_0-9]+\.[a-z_.0-9-]*[a-z_0-9-])["']""")
    for path in [*PANEL.glob("templates/**/*.html"), *PANEL.glob("**/*.py")]:
        used |= set(key.findall(path.read_text()))
    missing = sorted(key for key in used if key not in polish)
    assert not missing and len(used) > 100
    assert (
        polish["nav.live"] == "Trwające połączenia" and polish["nav.calls"] == "Historia połączeń"
    )


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("today", "2026-03-28T23:00", "2026-03-29T22:00"),  # the day clocks go forward
        ("yesterday", "2026-03-27T23:00", "2026-03-28T23:00"),
        ("7d", "2026-03-22T23:00", "2026-03-29T22:00"),
        ("month", "2026-02-28T23:00", "2026-03-31T22:00"),
    ],
)
def test_date_presets_are_local_days(period: str, start: str, end: str) -> None:
    now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    _, query = read_filters(QueryParams({"period": period}), ZoneInfo("Europe/Warsaw"), now)
    assert query.date_from == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert query.date_to == datetime.fromisoformat(end).replace(tzinfo=UTC)


def test_bad_filter_values_are_reported_not_fatal() -> None:
    params = QueryParams("period=custom&date_from=2026-11-02&date_to=nope&min_duration=x&type=ivr")
    now = datetime(2026, 11, 25, tzinfo=UTC)
    filters, query = read_filters(params, ZoneInfo("Europe/Warsaw"), now)
    assert filters.problems == ["filters.problem.date", "filters.problem.duration"]
    assert query.date_from == datetime(2026, 11, 1, 23, 0, tzinfo=UTC) and query.date_to is None
    assert query.kind == "ivr" and query.direction is None and query.min_duration is None


async def test_pages_redirect_to_sign_in_and_the_form_needs_its_token(world: World) -> None:
    client = await world.client()
    answer = await client.get("/recordings?number=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Frecordings%3Fnumber%3D1"
    forged = await client.post("/login", data={"account": "acme", "email": "x", "password": "y"})
    assert forged.status_code == 400 and "Formularz wygasł" in forged.text
    wrong = await _form_login(client, "administrator", password="nope nope nope")
    assert wrong.status_code == 401 and "Nieprawidłowy e-mail" in wrong.text
    for elsewhere in (
        "//evil.example/x",
        "/\t/evil.example",
        "/\\evil.example",
        "https://x.example",
    ):
        fresh = await world.client()
        outside = await _form_login(fresh, "administrator", next_path=elsewhere)
        assert outside.status_code == 303 and outside.headers["location"] == "/", elsewhere


async def test_totp_step_keeps_the_password_out_of_the_page(world: World) -> None:
    async with world.db.session() as session:
        user = await session.scalar(select(User).where(User.email == USERS["auditor"][1]))
        assert user is not None
        secret = user.totp_secret = pyotp.random_base32()
        await session.commit()
    client = await world.client()
    step = await _form_login(client, "auditor")
    assert step.status_code == 200 and 'name="code"' in step.text
    assert PASSWORD not in step.text
    pending = re.search(r'name="pending" value="([^"]+)"', step.text)
    csrf = re.search(r'name="csrf" value="([^"]+)"', step.text)
    assert pending and csrf
    fields = {"csrf": csrf[1], "pending": pending[1], "next": "/calls"}
    done = await client.post("/login", data={**fields, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 303 and done.headers["location"] == "/calls"
    assert (await client.get("/calls")).status_code == 200
    again = await client.post("/login", data={**fields, "code": pyotp.TOTP(secret).now()})
    assert again.status_code == 400  # the pending sign-in is used up


async def test_data_scope_and_scopes_shape_the_pages(world: World) -> None:
    jan = await _panel_client(world, "consultant")
    listed = await jan.get("/recordings")
    assert 'data-recording="r-own"' in listed.text and "r-team" not in listed.text
    assert (await jan.get("/recordings/r-team")).status_code == 404
    assert (await jan.get("/recordings/r-foreign")).status_code == 404
    own = await jan.get("/recordings/r-own")
    assert 'id="waveform"' in own.text
    for hidden in ('id="download"', 'id="delete"', 'id="share"', 'id="note-form"'):
        assert hidden not in own.text
    calls = await jan.get("/calls")
    assert "c-own" in calls.text and "c-team" not in calls.text and "c-other" not in calls.text

    auditor = await _panel_client(world, "auditor")
    view = await auditor.get("/recordings/r-other")
    assert "Twoja rola nie pozwala odsłuchiwać" in view.text and 'id="waveform"' not in view.text
    admin = await _panel_client(world, "administrator")
    full = await admin.get("/recordings/r-other")
    assert all(part in full.text for part in ('id="download"', 'id="delete"', 'id="share"'))


async def test_language_switch_cookie_and_user_setting(world: World) -> None:
    admin = await _panel_client(world, "administrator")
    assert '<html lang="pl">' in (await admin.get("/calls")).text
    switched = await admin.get("/calls", params={"lang": "en"})
    assert '<html lang="en">' in switched.text and "Call history" in switched.text
    assert "cv_lang=en" in switched.headers["set-cookie"]
    assert "Recordings" in (await admin.get("/recordings")).text
    async with world.db.session() as session:
        user = await session.scalar(select(User).where(User.email == USERS["team_leader"][1]))
        assert user is not None
        user.language = "en"
        await session.commit()
    lena = await _panel_client(world, "team_leader")
    assert '<html lang="en">' in (await lena.get("/calls")).text


async def test_live_calls_are_account_scoped(world: World) -> None:
    for slug, caller in (("acme", "48601777000"), ("beta", "48609999999")):
        call = Call(from_user=caller, to_user="48221234567", traces_dir=None)
        call.data.update(account_id=world.accounts[slug].id, recording={"recorded": True})
        world.node.engine.calls[call.id] = call
    anonymous = await world.client()
    assert (await anonymous.get("/live.json")).status_code == 401
    admin = await _panel_client(world, "administrator")
    items = (await admin.get("/live.json")).json()["items"]
    assert [(item["from"], item["recorded"]) for item in items] == [("48601777000", True)]
    page = await admin.get("/live")
    assert "48601777000" in page.text and "48609999999" not in page.text


async def test_logout_needs_the_csrf_token(world: World) -> None:
    admin = await _panel_client(world, "administrator")
    refused = await admin.post("/logout", data={"csrf_token": "wrong"})
    assert refused.status_code == 403 and (await admin.get("/calls")).status_code == 200
    page = await admin.get("/logout")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    done = await admin.post("/logout", data={"csrf_token": token[1]})
    assert done.status_code == 303 and done.headers["location"] == "/login?signed_out=1"
    assert (await admin.get("/calls")).status_code == 303


async def test_the_api_filters_calls_by_object_kind(world: World) -> None:
    admin = await world.signed_in("administrator")
    queued = (await admin.get("/api/v1/calls", params={"kind": "queue"})).json()["items"]
    assert sorted(item["id"] for item in queued) == ["c-other", "c-own", "c-team"]
    assert (await admin.get("/api/v1/calls", params={"kind": "ivr"})).json()["total"] == 0
    recordings = await admin.get("/api/v1/recordings", params={"kind": "queue"})
    assert recordings.json()["total"] == 3


async def test_pages_apply_the_accounts_login_networks(world: World) -> None:
    admin = await world.signed_in("administrator")  # from 127.0.0.1
    saved = await admin.put("/api/v1/account/login-networks", json={"networks": ["127.0.0.1"]})
    assert saved.status_code == 200, saved.text
    inside = await _panel_client(world, "consultant")
    transport = httpx.ASGITransport(app=world.app, client=("203.0.113.9", 40000))
    outsider = await world.stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url=BASE_URL, cookies=inside.cookies)
    )
    moved = await outsider.get("/calls")
    assert moved.status_code == 403 and "tylko z sieci firmy" in moved.text
    refused = await _form_login(outsider, "auditor")
    assert refused.status_code == 403 and "tylko z sieci firmy" in refused.text


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("sip:0601234588@127.0.0.1:53573", "48601234588"),
        ("<sip:jan@acme.test>", "jan"),
        ("sip:agent1@127.0.0.1:5070;transport=udp", "agent1"),
        ("sips:+48221234567@pbx.example", "48221234567"),
        ("48600100001", "48600100001"),
    ],
)
def test_a_legs_party_is_shown_as_its_user_or_number(uri: str, shown: str) -> None:
    assert recording_view._party(uri) == shown


async def test_a_disabled_user_is_told_so_at_sign_in(world: World) -> None:
    async with world.db.session() as session:
        user = await session.scalar(select(User).where(User.email == USERS["consultant"][1]))
        assert user is not None
        user.disabled_at = datetime.now(UTC)
        await session.commit()
    answer = await _form_login(await world.client(), "consultant")
    assert answer.status_code == 403 and "konto użytkownika jest wyłączone" in answer.text
