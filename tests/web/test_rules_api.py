"""``/api/v1/rules/test``: the dry run of the recording decision over the API."""

from __future__ import annotations

from callvault.recording.rule_store import add_rule
from callvault.recording.rules import RecordingRule
from callvault.store.repository import Accounts
from tests.web.conftest import World


async def _rules(world: World) -> None:
    async with world.db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.get("acme"))
        await scope.add_number("+48 22 123 45 67")
        await add_rule(scope, RecordingRule.model_validate({
            "name": "office-hours", "priority": 10,
            "conditions": {"numbers": ["221234567"],
                           "schedule": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                         "start": "08:00", "end": "17:00"}]},
            "decision": {"mode": "stereo"},
        }))  # fmt: skip
        await session.commit()


async def test_dry_run_explains_the_decision(world: World) -> None:
    await _rules(world)
    admin = await world.signed_in("administrator")
    body = {"from_number": "600 123 456", "to_number": "22 123 45 67"}
    inside = await admin.post("/api/v1/rules/test", json={**body, "at": "2026-11-25T10:00:00"})
    assert inside.status_code == 200, inside.text
    assert inside.json()["record"] is True and inside.json()["rule"] == "office-hours"
    outside = await admin.post("/api/v1/rules/test", json={**body, "at": "2026-11-25T18:30:00"})
    result = outside.json()
    assert result["record"] is False and result["rule"] is None
    reasons = " ".join(result["explanation"][0]["reasons"])
    assert "outside" in reasons and "18:30" in reasons
    assert "office-hours" in result["text"]
    listed = await admin.get("/api/v1/rules")
    assert [rule["name"] for rule in listed.json()] == ["office-hours"]


async def test_dry_run_needs_rules_manage_and_stays_in_the_account(world: World) -> None:
    await _rules(world)
    consultant = await world.signed_in("consultant")
    body = {"from_number": "600123456", "to_number": "221234567"}
    refused = await consultant.post("/api/v1/rules/test", json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    beta = await world.signed_in("beta_admin")
    foreign = await beta.post("/api/v1/rules/test", json={**body, "number": "221234567"})
    assert foreign.status_code == 422, "another account's number is not usable"
    assert (await beta.get("/api/v1/rules")).json() == []
