"""``/api/v1/numbers`` and ``/api/v1/objects``: CRUD, secrets never shown, scopes, tenancy."""

from __future__ import annotations

from sqlalchemy import select

from callvault.store.identity import AuditEntry
from tests.web.conftest import World


async def test_numbers_crud_with_labels_and_targets(world: World) -> None:
    admin = await world.signed_in("administrator")
    made = await admin.post("/api/v1/objects", json={"kind": "queue", "login": "sales"})
    assert made.status_code == 201, made.text
    created = await admin.post(
        "/api/v1/numbers",
        json={"number": "+48 22 123 45 67", "label": "autumn campaign", "target": "sales"},
    )
    assert created.status_code == 201, created.text
    assert created.json() | {"created_at": None} == {
        "number": "48221234567",
        "display": "+48 22 123 45 67",
        "label": "autumn campaign",
        "target": "sales",
        "target_kind": "queue",
        "created_at": None,
    }
    again = await admin.post("/api/v1/numbers", json={"number": "221234567"})
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    bad = await admin.post("/api/v1/numbers", json={"number": "12ab"})
    assert bad.status_code == 422 and "contains" in bad.json()["message"]
    nowhere = await admin.post("/api/v1/numbers", json={"number": "221234568", "target": "nope"})
    assert nowhere.status_code == 422 and "nope" in nowhere.json()["message"]

    relabel = await admin.patch("/api/v1/numbers/48221234567", json={"label": "winter"})
    assert relabel.json()["label"] == "winter" and relabel.json()["target"] == "sales"
    unassign = await admin.patch("/api/v1/numbers/+48221234567", json={"target": None})
    assert unassign.json()["target"] is None and unassign.json()["label"] == "winter"
    listed = await admin.get("/api/v1/numbers")
    assert [n["number"] for n in listed.json()] == ["48221234567"]

    assert (await admin.delete("/api/v1/numbers/48221234567")).status_code == 204
    gone = await admin.delete("/api/v1/numbers/48221234567")
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"
    async with world.db.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.like("number.%"))
            )
        )
    assert actions == ["number.create", "number.update", "number.update", "number.delete"]


async def test_objects_crud_validates_settings_and_hides_secrets(world: World) -> None:
    admin = await world.signed_in("administrator")
    phone = {
        "kind": "sip_account",
        "login": "jan",
        "name": "Jan",
        "extension": "101",
        "settings": {"password": "s3cret-pass", "ring_timeout_s": 20},
    }
    created = await admin.post("/api/v1/objects", json=phone)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["settings"] == {"ring_timeout_s": 20} and body["secrets_set"] == ["password"]
    assert "s3cret-pass" not in created.text

    typo = await admin.post(
        "/api/v1/objects", json={"kind": "queue", "login": "q1", "settings": {"membres": []}}
    )
    assert typo.status_code == 422
    assert typo.json()["message"] == "queue settings.membres: unknown setting"
    wrong = await admin.post(
        "/api/v1/objects",
        json={"kind": "ivr_menu", "login": "menu", "settings": {"options": {"x": "jan"}}},
    )
    assert wrong.status_code == 422 and "settings.options.x" in wrong.json()["message"]
    unsold = await admin.post(
        "/api/v1/objects",
        json={"kind": "ivr_api", "login": "app", "settings": {"url": "https://a.example"}},
    )
    assert unsold.status_code == 403 and unsold.json()["error"] == "plan_limit"
    taken = await admin.post("/api/v1/objects", json={**phone, "login": "ewa"})
    assert taken.status_code == 409, "extension 101 is taken"

    changed = await admin.patch(
        "/api/v1/objects/jan", json={"name": "Jan K.", "settings": {"outbound": False}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"] == {"ring_timeout_s": 20, "outbound": False}
    assert changed.json()["secrets_set"] == ["password"], "merged: the password stays"
    unset = await admin.patch("/api/v1/objects/jan", json={"unset": ["ring_timeout_s"]})
    assert unset.json()["settings"] == {"outbound": False}
    one = await admin.get("/api/v1/objects/jan")
    assert one.json()["name"] == "Jan K." and "s3cret" not in one.text
    queues = await admin.get("/api/v1/objects", params={"kind": "queue"})
    assert queues.json() == []
    everything = await admin.get("/api/v1/objects")
    assert [o["login"] for o in everything.json()] == ["jan"]

    async with world.db.session() as session:
        details = list(
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action.like("object.%"))
            )
        )
    assert details and "s3cret-pass" not in str(details), "audit keeps no secret"
    assert (await admin.delete("/api/v1/objects/jan")).status_code == 204
    assert (await admin.get("/api/v1/objects/jan")).status_code == 404


async def test_scope_and_tenancy(world: World) -> None:
    admin = await world.signed_in("administrator")
    await admin.post("/api/v1/objects", json={"kind": "queue", "login": "sales"})
    await admin.post("/api/v1/numbers", json={"number": "221234567", "target": "sales"})
    consultant = await world.signed_in("consultant")
    for method, url in [
        ("GET", "/api/v1/numbers"),
        ("POST", "/api/v1/numbers"),
        ("GET", "/api/v1/objects"),
        ("GET", "/api/v1/objects/sales"),
        ("DELETE", "/api/v1/objects/sales"),
    ]:
        refused = await consultant.request(method, url, json={"number": "221234560"})
        assert refused.status_code == 403, (method, url)
        assert refused.json()["details"] == {"missing_scopes": ["objects.manage"]}
    beta = await world.signed_in("beta_admin")
    assert (await beta.get("/api/v1/objects/sales")).status_code == 404
    assert (await beta.patch("/api/v1/objects/sales", json={"name": "x"})).status_code == 404
    assert (await beta.delete("/api/v1/numbers/221234567")).status_code == 404
    assert (await beta.patch("/api/v1/numbers/221234567", json={"label": "x"})).status_code == 404
    assert (await beta.get("/api/v1/numbers")).json() == []
    taken = await beta.post("/api/v1/numbers", json={"number": "221234567"})
    assert taken.status_code == 409, "a DID belongs to one account"
    unauthenticated = await world.client()
    assert (await unauthenticated.get("/api/v1/numbers")).status_code == 401
