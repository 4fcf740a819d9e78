"""``/api/v1/users`` and ``/api/v1/roles``: CRUD, no secrets, no escalation, tenancy."""

from __future__ import annotations

from sqlalchemy import select

from callvault.store.identity import AuditEntry
from tests.web.conftest import World

NEW = {
    "email": "Ola@Acme.example",
    "password": "a long enough secret",
    "role": "team_leader",
    "name": "Ola",
    "sip_login": "ola",
    "data_scope": {"kind": "team", "objects": ["support"]},
}


async def test_users_crud(world: World) -> None:
    admin = await world.signed_in("administrator")
    listed = await admin.get("/api/v1/users")
    assert listed.status_code == 200
    assert {u["email"] for u in listed.json()} == {
        "jan@acme.example",
        "lena@acme.example",
        "admin@acme.example",
        "audit@acme.example",
    }
    assert "password" not in listed.text and "totp_secret" not in listed.text
    created = await admin.post("/api/v1/users", json=NEW)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "ola@acme.example"
    assert user["data_scope"] == {"kind": "team", "objects": ["support"], "numbers": []}
    assert (await admin.post("/api/v1/users", json=NEW)).status_code == 409
    short = await admin.post(
        "/api/v1/users", json={**NEW, "email": "b@acme.example", "password": "x"}
    )
    assert short.status_code == 422

    client = await world.client()
    signed = await client.post(
        "/api/v1/auth/login",
        json={"account": "acme", "email": "ola@acme.example", "password": NEW["password"]},
    )
    assert signed.status_code == 200, "the new user can sign in"

    changed = await admin.patch(
        f"/api/v1/users/{user['id']}",
        json={"role": "consultant", "data_scope": {"kind": "own"}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "consultant"
    assert changed.json()["data_scope"]["kind"] == "own"
    no_phone = await admin.patch(f"/api/v1/users/{user['id']}", json={"sip_login": ""})
    assert no_phone.status_code == 422 and "sip_login" in no_phone.json()["message"]
    numbers = await admin.patch(
        f"/api/v1/users/{user['id']}",
        json={"data_scope": {"kind": "numbers", "numbers": ["+48 600 100 001"]}},
    )
    assert numbers.json()["data_scope"]["numbers"] == ["48600100001"]

    assert (await admin.delete(f"/api/v1/users/{user['id']}")).status_code == 204
    assert (await admin.delete(f"/api/v1/users/{user['id']}")).status_code == 404
    me = (await admin.get("/api/v1/auth/me")).json()
    itself = await admin.delete(f"/api/v1/users/{me['id']}")
    assert itself.status_code == 409
    async with world.db.session() as session:
        actions = list(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "user"))
        )
    assert actions.count("user.create") == 1 and actions.count("user.delete") == 1


async def test_custom_roles_are_subsets_of_what_you_hold(world: World) -> None:
    admin = await world.signed_in("administrator")
    made = await admin.post(
        "/api/v1/roles", json={"name": "reviewer", "scopes": ["calls.read", "recordings.list"]}
    )
    assert made.status_code == 201, made.text
    roles = {r["name"]: r for r in (await admin.get("/api/v1/roles")).json()}
    assert roles["reviewer"]["scopes"] == ["calls.read", "recordings.list"]
    assert roles["administrator"]["builtin"] is True and roles["reviewer"]["builtin"] is False
    unknown = await admin.post("/api/v1/roles", json={"name": "odd", "scopes": ["calls.write"]})
    assert unknown.status_code == 422 and "unknown scopes" in unknown.json()["message"]
    builtin = await admin.post("/api/v1/roles", json={"name": "auditor", "scopes": []})
    assert builtin.status_code == 422

    # A user manager without recordings.delete can neither grant nor build it.
    await admin.post("/api/v1/roles", json={"name": "people", "scopes": ["users.manage"]})
    lena = (await admin.get("/api/v1/users")).json()
    lena_id = next(u["id"] for u in lena if u["email"] == "lena@acme.example")
    assert (
        await admin.patch(f"/api/v1/users/{lena_id}", json={"role": "people"})
    ).status_code == 200
    manager = await world.signed_in("team_leader")
    raise_self = await manager.patch(f"/api/v1/users/{lena_id}", json={"role": "administrator"})
    assert raise_self.status_code == 403 and "recordings.delete" in raise_self.json()["message"]
    forge = await manager.post(
        "/api/v1/roles", json={"name": "forged", "scopes": ["recordings.delete"]}
    )
    assert forge.status_code == 403
    make_admin = await manager.post(
        "/api/v1/users", json={**NEW, "email": "x@acme.example", "role": "administrator"}
    )
    assert make_admin.status_code == 403

    used = await admin.delete("/api/v1/roles/people")
    assert used.status_code == 409, "lena has it"
    assert (await admin.delete("/api/v1/roles/reviewer")).status_code == 204
    assert (await admin.delete("/api/v1/roles/administrator")).status_code == 404


async def test_scope_and_tenancy(world: World) -> None:
    consultant = await world.signed_in("consultant")
    for method, url in [
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/roles"),
        ("POST", "/api/v1/roles"),
        ("GET", "/api/v1/account/login-networks"),
    ]:
        refused = await consultant.request(method, url, json={"name": "x", "scopes": []})
        assert refused.status_code == 403, (method, url)
    admin = await world.signed_in("administrator")
    users = (await admin.get("/api/v1/users")).json()
    jan = next(u["id"] for u in users if u["email"] == "jan@acme.example")
    beta = await world.signed_in("beta_admin")
    assert (await beta.patch(f"/api/v1/users/{jan}", json={"name": "x"})).status_code == 404
    assert (await beta.delete(f"/api/v1/users/{jan}")).status_code == 404
    assert [u["email"] for u in (await beta.get("/api/v1/users")).json()] == ["admin@beta.example"]
    await admin.post("/api/v1/roles", json={"name": "reviewer", "scopes": ["calls.read"]})
    assert (await beta.delete("/api/v1/roles/reviewer")).status_code == 404
    assert "reviewer" not in {r["name"] for r in (await beta.get("/api/v1/roles")).json()}
