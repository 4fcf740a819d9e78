"""The login IP allow-list: sign-ins and token/session use from outside are refused and audited."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from callvault.store.identity import AuditEntry
from callvault.web.security import SESSION_COOKIE
from tests.web.conftest import BASE_URL, PASSWORD, USERS, World
from tests.web.servers import token_for

OFFICE = "198.51.100.7"
OUTSIDE = "203.0.113.9"


async def client_from(world: World, address: str) -> httpx.AsyncClient:
    """A client of the app whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=world.app, client=(address, 40000))
    return await world.stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url=BASE_URL)
    )


async def sign_in(client: httpx.AsyncClient, who: str) -> httpx.Response:
    account, email, *_ = USERS[who]
    return await client.post(
        "/api/v1/auth/login", json={"account": account, "email": email, "password": PASSWORD}
    )


async def refusals(world: World) -> list[tuple[str, str, str]]:
    async with world.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "access.refused_ip")
            .order_by(AuditEntry.id)
        )
        return [(row.ip, row.actor, row.detail["via"]) for row in rows]


async def test_allow_list_refuses_outside_addresses(world: World) -> None:
    admin = await world.signed_in("administrator")  # from 127.0.0.1
    token = await token_for(world, "administrator")
    assert (await admin.get("/api/v1/account/login-networks")).json()["networks"] == []
    lockout = await admin.put("/api/v1/account/login-networks", json={"networks": ["10.0.0.0/8"]})
    assert lockout.status_code == 422 and "lock you out" in lockout.json()["message"]
    typo = await admin.put("/api/v1/account/login-networks", json={"networks": ["10.0.0.300/8"]})
    assert typo.status_code == 422
    saved = await admin.put(
        "/api/v1/account/login-networks",
        json={"networks": ["127.0.0.1", "198.51.100.0/24", "198.51.100.9/24"]},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["networks"] == ["127.0.0.1/32", "198.51.100.0/24"]

    outsider = await client_from(world, OUTSIDE)
    refused = await sign_in(outsider, "consultant")
    assert refused.status_code == 403 and refused.json()["error"] == "ip_not_allowed"
    assert OUTSIDE in refused.json()["message"]
    wrong_password = await outsider.post(
        "/api/v1/auth/login",
        json={"account": "acme", "email": "jan@acme.example", "password": "nope"},
    )
    assert wrong_password.status_code == 403, "refused before the password is looked at"

    bearer = {"Authorization": f"Bearer {token}"}
    assert (await outsider.get("/api/v1/calls", headers=bearer)).status_code == 403
    office = await client_from(world, OFFICE)
    assert (await office.get("/api/v1/calls", headers=bearer)).status_code == 200
    assert (await sign_in(office, "consultant")).status_code == 200

    # A session cookie taken elsewhere is refused too.
    thief = await client_from(world, OUTSIDE)
    thief.cookies.set(SESSION_COOKIE, admin.cookies[SESSION_COOKIE])
    assert (await thief.get("/api/v1/auth/me")).status_code == 403

    beta = await client_from(world, OUTSIDE)
    assert (await sign_in(beta, "beta_admin")).status_code == 200, "another account's list"

    assert await refusals(world) == [
        (OUTSIDE, "jan@acme.example", "sign-in"),
        (OUTSIDE, "jan@acme.example", "sign-in"),
        (OUTSIDE, "admin@acme.example (token test)", "token"),
        (OUTSIDE, "admin@acme.example", "session"),
    ]
    cleared = await admin.put("/api/v1/account/login-networks", json={"networks": []})
    assert cleared.status_code == 200
    assert (await outsider.get("/api/v1/calls", headers=bearer)).status_code == 200
