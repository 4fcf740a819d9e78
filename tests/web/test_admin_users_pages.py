"""The users, roles and webhooks admin screens (SQLite and PostgreSQL): each lists its own
account's data only, needs ``users.manage`` / ``objects.manage``, speaks English on ``?lang=en``,
offers only roles and scopes the admin could hold, and its forms point at the right API calls.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import get_args

import httpx

from callvault.store.identity import User
from callvault.store.models import Webhook
from callvault.web.api_webhooks import EventName
from callvault.web.identity import enable_totp
from callvault.web.security import CSRF_HEADER
from tests.web.conftest import PASSWORD, World

SCREENS = ("/admin/users", "/admin/roles", "/admin/webhooks")
HOOK = "https://93.184.215.14/hooks/callvault"
"""A public address literal: passes the API's SSRF check without a DNS lookup."""


async def _ok(client: httpx.AsyncClient, method: str, url: str, body: object) -> httpx.Response:
    answer = await client.request(method, url, json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer


async def _signed_in_as(world: World, account: str, email: str) -> httpx.AsyncClient:
    """A panel client of a user made in the test (not one of the seeded ones)."""
    client = await world.client()
    answer = await client.post(
        "/api/v1/auth/login", json={"account": account, "email": email, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    client.headers[CSRF_HEADER] = answer.json()["csrf_token"]
    return client


def _user_rows(page: str) -> dict[str, tuple[str, str]]:
    """E-mail to (user id, the row's HTML) of the users table."""
    rows = re.findall(r'<tr data-user="(\d+)" data-email="([^"]+)">(.*?)</tr>', page, re.S)
    return {email: (uid, row) for uid, email, row in rows}


def _options(page: str, select_id: str) -> list[str]:
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert found, select_id
    return re.findall(r'<option value="([^"]*)"', found.group(1))


async def test_users_screen_lists_the_accounts_users_only(world: World) -> None:
    admin = await world.signed_in("administrator")
    await _ok(
        admin,
        "PUT",
        "/api/v1/account/login-networks",
        {"networks": ["127.0.0.1", "198.51.100.0/24"]},
    )
    page = await admin.get("/admin/users")
    assert page.status_code == 200
    text = page.text
    for email in ("jan@acme.example", "lena@acme.example", "admin@acme.example"):
        assert f'data-email="{email}"' in text
    assert "admin@beta.example" not in text
    assert "lider zespołu" in text and "zespół: sales" in text and "własne (konto SIP: jan)" in text
    assert "Ostatnie logowanie" in text and "password_hash" not in text
    assert "127.0.0.1/32\n198.51.100.0/24</textarea>" in text
    assert 'data-api="POST /api/v1/users"' in text
    assert 'data-api="PUT /api/v1/account/login-networks"' in text
    rows = _user_rows(text)
    assert f'data-api="PATCH /api/v1/users/{rows["jan@acme.example"][0]}"' in text
    assert f'data-api="DELETE /api/v1/users/{rows["jan@acme.example"][0]}"' in text
    assert 'data-api="DELETE' not in rows["admin@acme.example"][1]  # not yourself
    signed_in = r"<td>\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}</td>"  # the audit log's last "login"
    assert re.search(signed_in, rows["admin@acme.example"][1])
    assert not re.search(signed_in, rows["jan@acme.example"][1])
    assert sorted(_options(text, "user-role")) == [
        "administrator",
        "auditor",
        "consultant",
        "team_leader",
    ]

    beta = await world.signed_in("beta_admin")
    theirs = (await beta.get("/admin/users")).text
    assert 'data-email="admin@beta.example"' in theirs and "acme.example" not in theirs
    assert "198.51.100.0/24" not in theirs


async def test_role_select_and_scopes_offer_only_what_the_admin_holds(world: World) -> None:
    admin = await world.signed_in("administrator")
    scopes = ["calls.read", "recordings.list", "recordings.listen", "users.manage"]
    await _ok(admin, "POST", "/api/v1/roles", {"name": "user_admin", "scopes": scopes})
    new = {"email": "ula@acme.example", "password": PASSWORD, "role": "user_admin"}
    await _ok(admin, "POST", "/api/v1/users", new)
    ula = await _signed_in_as(world, "acme", "ula@acme.example")

    users = (await ula.get("/admin/users")).text
    assert _options(users, "user-role") == ["consultant", "user_admin"]
    assert 'data-email="admin@acme.example"' in users
    rows = _user_rows(users)
    assert "data-api=" not in rows["admin@acme.example"][1]  # an administrator: beyond ula
    jan = rows["jan@acme.example"][0]
    assert f'data-api="PATCH /api/v1/users/{jan}"' in users
    assert _options(users, f"u{jan}-role") == ["consultant", "user_admin"]
    assert f'data-edit="edit-{rows["admin@acme.example"][0]}"' not in users
    roles = (await ula.get("/admin/roles")).text
    assert set(re.findall(r'name="scopes" value="([a-z._]+)"', roles)) == set(scopes)
    assert (await ula.get("/admin/webhooks")).status_code == 403  # no objects.manage

    full = (await admin.get("/admin/roles")).text
    assert len(re.findall(r'name="scopes" value="([a-z._]+)"', full)) == 11


async def test_roles_screen_shows_builtin_and_own_roles_only(world: World) -> None:
    admin = await world.signed_in("administrator")
    await _ok(
        admin, "POST", "/api/v1/roles", {"name": "reviewer", "scopes": ["calls.read", "audit.read"]}
    )
    beta = await world.signed_in("beta_admin")
    await _ok(beta, "POST", "/api/v1/roles", {"name": "beta_only", "scopes": ["calls.read"]})

    page = await admin.get("/admin/roles")
    assert page.status_code == 200
    names = re.findall(r'<th scope="col" data-role="([a-z_]+)">', page.text)
    assert {"consultant", "team_leader", "administrator", "auditor", "reviewer"} == set(names)
    ticked = [
        scope
        for scope, row in re.findall(r'<tr data-scope="([a-z._]+)">(.*?)</tr>', page.text, re.S)
        if '<td data-role="reviewer"><span aria-label' in row
    ]
    assert ticked == ["calls.read", "audit.read"]
    assert 'data-api="DELETE /api/v1/roles/reviewer"' in page.text
    assert 'data-api="DELETE /api/v1/roles/consultant"' not in page.text  # built-in
    assert 'data-api="POST /api/v1/roles"' in page.text
    assert "beta_only" not in page.text
    assert "beta_only" in (await beta.get("/admin/roles")).text


async def test_webhooks_screen_lists_the_accounts_hooks_without_secrets(world: World) -> None:
    admin = await world.signed_in("administrator")
    made = await _ok(admin, "POST", "/api/v1/webhooks", {"url": HOOK, "events": ["call.ended"]})
    secret = made.json()["secret"]
    beta = await world.signed_in("beta_admin")
    await _ok(beta, "POST", "/api/v1/webhooks", {"url": HOOK + "/beta"})

    page = (await admin.get("/admin/webhooks")).text
    hook_id = made.json()["id"]
    assert f'<tr data-webhook="{hook_id}">' in page and HOOK in page
    assert "call.ended</span>" in page and secret not in page and "/beta" not in page
    assert f'data-api="DELETE /api/v1/webhooks/{hook_id}"' in page
    assert 'data-api="POST /api/v1/webhooks" data-then="show"' in page
    offered = re.findall(r'name="events" value="([a-z.]+)"', page)
    assert offered == list(get_args(EventName))
    theirs = (await beta.get("/admin/webhooks")).text
    assert HOOK + "/beta" in theirs and "wszystkie zdarzenia" in theirs
    assert f'data-webhook="{hook_id}"' not in theirs


async def test_screens_need_their_scope(world: World) -> None:
    for who in ("consultant", "team_leader", "auditor"):
        client = await world.signed_in(who)
        for path in SCREENS:
            answer = await client.get(path)
            assert answer.status_code == 403, (who, path)
            assert 'data-api="' not in answer.text
    anonymous = await world.client()
    for path in SCREENS:
        assert (await anonymous.get(path)).status_code == 303


async def test_screens_speak_english(world: World) -> None:
    admin = await world.signed_in("administrator")
    expected = {
        "/admin/users": ("<h1>Users</h1>", "Last sign-in", "Użytkownicy</h1>"),
        "/admin/roles": ("<h1>Roles</h1>", "Call history", "Historia połączeń</th>"),
        "/admin/webhooks": ("<h1>Webhooks</h1>", "every event", "Zdarzenia"),
    }
    for path, (heading, english, polish) in expected.items():
        page = await admin.get(path + "?lang=en")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert heading in text and english in text and polish not in text, path
        assert '<html lang="en">' in text


async def test_a_locked_user_with_2fa_gets_unlock_and_reset_buttons(world: World) -> None:
    admin = await world.signed_in("administrator")
    users = {u["email"]: u for u in (await admin.get("/api/v1/users")).json()}
    auditor = users["audit@acme.example"]["id"]
    async with world.db.session() as session:
        user = await session.get(User, auditor)
        assert user is not None
        user.locked_until = datetime.now(UTC) + timedelta(minutes=10)
        enable_totp(user)
        await session.commit()
    page = (await admin.get("/admin/users")).text
    patch = f'data-api="PATCH /api/v1/users/{auditor}"'
    assert page.count(patch) == 4  # edit, disable, unlock, reset 2FA
    assert 'name="unlock"' in page and 'name="reset_totp"' in page
    jan = users["jan@acme.example"]["id"]
    assert html.unescape(page).count(f'PATCH /api/v1/users/{jan}"') == 2  # edit, disable


async def test_webhooks_screen_shows_the_last_delivery_and_offers_test_and_pause(
    world: World,
) -> None:
    async with world.db.session() as session:
        hook = Webhook(
            account_id=world.accounts["acme"].id, url="https://crm.example/hook", secret="s",
            events=[], enabled=True, last_delivery_at=datetime.now(UTC), last_event="call.ended",
            last_outcome="failed after 4 attempts: HTTP 500", failures_in_row=3,
        )  # fmt: skip
        session.add(hook)
        await session.commit()
        hook_id = hook.id
    admin = await world.signed_in("administrator")
    page = html.unescape((await admin.get("/admin/webhooks?lang=en")).text)
    assert "failed after 4 attempts: HTTP 500" in page and "3 failed in a row" in page
    assert f'data-api="POST /api/v1/webhooks/{hook_id}/test"' in page
    assert f'data-api="PATCH /api/v1/webhooks/{hook_id}"' in page and ">Pause<" in page
