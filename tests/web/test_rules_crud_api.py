"""``/api/v1/rules``: create, read, change and delete recording rules (``rules.manage``)."""

from __future__ import annotations

from sqlalchemy import select

from callvault.store.identity import AuditEntry
from callvault.store.repository import Accounts
from tests.web.conftest import World

RULE = {
    "name": "office-hours",
    "priority": 10,
    "conditions": {"numbers": ["+48 22 123 45 67"], "schedule": ["mon-fri 08:00-17:00"]},
    "decision": {"mode": "stereo", "retention_days": 30},
}


async def test_rule_crud(world: World) -> None:
    admin = await world.signed_in("administrator")
    created = await admin.post("/api/v1/rules", json=RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["conditions"]["numbers"] == ["48221234567"], "stored normalised"
    assert rule["conditions"]["schedule"][0]["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert rule["decision"]["mode"] == "stereo" and rule["enabled"] is True
    assert (await admin.post("/api/v1/rules", json=RULE)).status_code == 409
    bad = await admin.post("/api/v1/rules", json={**RULE, "name": "x", "conditions": {"x": 1}})
    assert bad.status_code == 422

    changed = await admin.patch(
        "/api/v1/rules/office-hours", json={"name": "daytime", "enabled": False}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "daytime" and changed.json()["enabled"] is False
    assert changed.json()["decision"]["retention_days"] == 30, "the rest stays"
    assert (await admin.get("/api/v1/rules/office-hours")).status_code == 404
    assert (await admin.get("/api/v1/rules/daytime")).json()["priority"] == 10
    assert [r["name"] for r in (await admin.get("/api/v1/rules")).json()] == ["daytime"]
    tested = await admin.post(
        "/api/v1/rules/test", json={"from_number": "600100200", "to_number": "221234567"}
    )
    assert tested.status_code == 200 and tested.json()["record"] is False, "disabled"

    assert (await admin.delete("/api/v1/rules/daytime")).status_code == 204
    assert (await admin.delete("/api/v1/rules/daytime")).status_code == 404
    async with world.db.session() as session:
        actions = list(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "rule"))
        )
    assert actions == ["rule.create", "rule.update", "rule.delete"]


async def test_rules_need_the_addon_the_scope_and_the_account(world: World) -> None:
    admin = await world.signed_in("administrator")
    assert (await admin.post("/api/v1/rules", json=RULE)).status_code == 201
    consultant = await world.signed_in("consultant")
    assert (await consultant.post("/api/v1/rules", json=RULE)).status_code == 403
    assert (await consultant.get("/api/v1/rules/office-hours")).status_code == 403
    assert (await consultant.delete("/api/v1/rules/office-hours")).status_code == 403
    beta = await world.signed_in("beta_admin")
    assert (await beta.get("/api/v1/rules/office-hours")).status_code == 404
    assert (await beta.patch("/api/v1/rules/office-hours", json={"priority": 1})).status_code == 404
    assert (await beta.delete("/api/v1/rules/office-hours")).status_code == 404
    async with world.db.session() as session:
        await Accounts(session).update("beta", plan={"addons": []})
        await session.commit()
    unsold = await beta.post("/api/v1/rules", json=RULE)
    assert unsold.status_code == 403 and unsold.json()["error"] == "plan_limit"
