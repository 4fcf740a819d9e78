"""The admin screens' frame (SQLite and PostgreSQL): the menu follows the role, a screen needs
its scope, and the API tokens screen lists, creates (through the API) and revokes tokens.
"""

from __future__ import annotations

import re

from callvault.web.panel.admin import SCREENS
from tests.web.conftest import World


async def test_admin_menu_shows_only_the_screens_the_role_may_open(world: World) -> None:
    admin = await world.signed_in("administrator")
    first = await admin.get("/admin")
    assert first.status_code == 303 and first.headers["location"] == "/admin/numbers"
    page = await admin.get("/admin/tokens")
    assert page.status_code == 200
    menu = re.findall(r'<li><a href="(/admin/[a-z]+)"', page.text)
    assert menu == [
        "/admin/numbers", "/admin/objects", "/admin/prompts", "/admin/rules",
        "/admin/retention", "/admin/users", "/admin/roles", "/admin/webhooks", "/admin/tokens",
    ]  # fmt: skip
    jan = await world.signed_in("consultant")
    assert (await jan.get("/admin")).headers["location"] == "/admin/tokens"
    mine = await jan.get("/admin/tokens")
    assert re.findall(r'<li><a href="(/admin/[a-z]+)"', mine.text) == ["/admin/tokens"]
    anonymous = await world.client()
    assert (await anonymous.get("/admin/tokens")).status_code == 303


async def test_tokens_screen_lists_the_users_own_tokens_and_offers_only_role_scopes(
    world: World,
) -> None:
    jan = await world.signed_in("consultant")
    made = await jan.post("/api/v1/tokens", json={"name": "crm", "scopes": ["calls.read"]})
    assert made.status_code == 201
    token_id = made.json()["id"]
    page = await jan.get("/admin/tokens?lang=en")
    assert f'data-token="{token_id}"' in page.text and ">crm<" in page.text
    offered = set(re.findall(r'name="scopes" value="([a-z._]+)"', page.text))
    assert offered == {"calls.read", "recordings.list", "recordings.listen"}
    assert f'data-api="DELETE /api/v1/tokens/{token_id}"' in page.text
    admin = await world.signed_in("administrator")
    theirs = await admin.get("/admin/tokens")
    assert ">crm<" not in theirs.text and "users.manage" in theirs.text


async def test_every_admin_screen_exists_and_refuses_a_role_without_its_scope(
    world: World,
) -> None:
    admin = await world.signed_in("administrator")
    jan = await world.signed_in("consultant")
    for screen in SCREENS:
        opened = await admin.get(screen.path)
        assert opened.status_code == 200, screen.path
        assert f'id="admin-{screen.id}"' in opened.text
        assert "built-in method" not in opened.text and "bound method" not in opened.text
        expected = 200 if screen.scope is None else 403
        assert (await jan.get(screen.path)).status_code == expected, screen.path
    assert (await jan.get("/jobs")).status_code == 200
