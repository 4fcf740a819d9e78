"""Legal holds and the deletion log through the REST API, on SQLite and PostgreSQL.

A hold on a recording refuses its deletion (409 ``legal_hold``) until it is
released; a hold on a number keeps that number's recordings through
retention and erasure; another account's recording is 404, a role without
``recordings.delete`` 403, a number hold needs the account data scope; every
change is audited; the deletion log shows what was deleted and why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from callvault.recording.lifecycle import erase_number, expire
from callvault.store.identity import AuditEntry
from callvault.store.models import Recording
from tests.web.conftest import World


async def _audited(world: World, prefix: str) -> list[tuple[str, str, dict[str, object]]]:
    """(action, target id, detail) of acme's audit entries whose action starts with ``prefix``."""
    async with world.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.account_id == world.accounts["acme"].id)
            .order_by(AuditEntry.id)
        )
        return [(e.action, e.target_id, e.detail) for e in rows if e.action.startswith(prefix)]


async def _ids(world: World) -> set[str]:
    async with world.db.session() as session:
        return set(await session.scalars(select(Recording.id)))


async def test_a_held_recording_cannot_be_deleted_until_released(world: World) -> None:
    admin = await world.signed_in("administrator")
    own = world.recordings["own"]
    held = await admin.put(f"/api/v1/recordings/{own}/hold")
    assert held.status_code == 200, held.text
    assert held.json() == {
        "id": own,
        "legal_hold": True,
        "kept_by": "the recording is on legal hold",
        "changed": True,
    }
    again = await admin.put(f"/api/v1/recordings/{own}/hold")
    assert again.json()["changed"] is False
    listed = (await admin.get("/api/v1/holds/recordings")).json()
    assert [item["id"] for item in listed] == [own]

    refused = await admin.delete(f"/api/v1/recordings/{own}")
    assert refused.status_code == 409 and refused.json()["error"] == "legal_hold"
    assert own in await _ids(world)

    released = await admin.delete(f"/api/v1/recordings/{own}/hold")
    assert released.status_code == 200
    assert released.json() == {"id": own, "legal_hold": False, "kept_by": None, "changed": True}
    assert (await admin.get("/api/v1/holds/recordings")).json() == []
    assert (await admin.delete(f"/api/v1/recordings/{own}")).status_code == 204
    assert own not in await _ids(world)

    audited = [(action, target) for action, target, _ in await _audited(world, "recording.")]
    assert audited == [
        ("recording.hold", own),
        ("recording.hold", own),
        ("recording.release", own),
        ("recording.delete", own),
    ]
    log = (await admin.get("/api/v1/deletions")).json()
    assert log["total"] == 1 and log["items"][0]["recording_id"] == own
    assert log["items"][0]["reason"] == "user"
    assert log["items"][0]["detail"]["by"] == "admin@acme.example"


async def test_a_number_hold_keeps_its_recordings_through_retention_and_erasure(
    world: World,
) -> None:
    admin = await world.signed_in("administrator")
    storage = world.node.recordings.outbox.storage
    acme = world.accounts["acme"].id
    other, team = world.recordings["other"], world.recordings["team"]
    put = await admin.put("/api/v1/holds/numbers/+48 600 100 003", json={"reason": "case 7/2026"})
    assert put.status_code == 200, put.text
    body = put.json()
    assert (body["number"], body["display"]) == ("48600100003", "+48 60 010 00 03")
    assert (body["reason"], body["changed"]) == ("case 7/2026", True)
    same = await admin.put("/api/v1/holds/numbers/0048600100003")
    assert same.status_code == 200 and same.json()["changed"] is False
    assert same.json()["reason"] == "case 7/2026", "a second hold keeps the first reason"
    listed = (await admin.get("/api/v1/holds/numbers")).json()
    assert [(item["number"], item["reason"]) for item in listed] == [("48600100003", "case 7/2026")]
    bad = await admin.put("/api/v1/holds/numbers/not-a-number")
    assert bad.status_code == 422

    refused = await admin.delete(f"/api/v1/recordings/{other}")
    assert refused.status_code == 409 and refused.json()["error"] == "legal_hold"
    state = (await admin.put(f"/api/v1/recordings/{other}/hold")).json()
    released = await admin.delete(f"/api/v1/recordings/{other}/hold")
    assert state["kept_by"] == "the recording is on legal hold"
    assert released.json()["kept_by"] == "number +48600100003 is on legal hold"

    async with world.db.session() as session:  # both expired: only the held number's is kept
        await session.execute(
            update(Recording)
            .where(Recording.id.in_([other, team]))
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
        await session.commit()
    report = await expire(world.db, storage, now=datetime.now(UTC))
    assert (report.deleted, report.held) == (1, 1)
    assert other in await _ids(world) and team not in await _ids(world)
    erased = await erase_number(world.db, storage, acme, "600100003", requested_by="DPO")
    assert [item.outcome for item in erased.items] == ["kept: legal hold"]
    assert other in await _ids(world)

    assert (await admin.delete("/api/v1/holds/numbers/600100003")).status_code == 204
    assert (await admin.delete("/api/v1/holds/numbers/600100003")).status_code == 404
    assert (await admin.get("/api/v1/holds/numbers")).json() == []
    erased = await erase_number(world.db, storage, acme, "600100003", requested_by="DPO")
    assert [item.outcome for item in erased.items] == ["deleted"]
    assert other not in await _ids(world)

    log = (await admin.get("/api/v1/deletions")).json()
    assert [(item["recording_id"], item["reason"]) for item in log["items"]] == [
        (other, "erasure"),
        (team, "retention"),
    ]
    erasures = (await admin.get("/api/v1/deletions", params={"reason": "erasure"})).json()
    assert erasures["total"] == 1 and erasures["items"][0]["caller_number"] == "48600100003"
    audited = [(action, target) for action, target, _ in await _audited(world, "number.")]
    assert audited == [
        ("number.hold", "48600100003"),
        ("number.hold", "48600100003"),
        ("number.release", "48600100003"),
    ]
    first_detail = (await _audited(world, "number."))[0][2]
    assert first_detail == {"reason": "case 7/2026", "changed": True}


async def test_holds_follow_the_account_the_data_scope_and_the_role(world: World) -> None:
    own, other, foreign = (world.recordings[n] for n in ("own", "other", "foreign"))
    beta = await world.signed_in("beta_admin")
    hidden = await beta.put(f"/api/v1/recordings/{own}/hold")
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
    assert (await beta.delete(f"/api/v1/recordings/{own}/hold")).status_code == 404
    assert (await beta.put(f"/api/v1/recordings/{foreign}/hold")).status_code == 200
    acme_admin = await world.signed_in("administrator")
    assert (await acme_admin.put(f"/api/v1/recordings/{foreign}/hold")).status_code == 404
    assert (await acme_admin.get("/api/v1/holds/recordings")).json() == []
    assert (await acme_admin.put("/api/v1/recordings/r-missing/hold")).status_code == 404

    for who in ("consultant", "team_leader", "auditor"):
        client = await world.signed_in(who)
        for method, path in (
            ("PUT", f"/api/v1/recordings/{own}/hold"),
            ("DELETE", f"/api/v1/recordings/{own}/hold"),
            ("GET", "/api/v1/holds/recordings"),
            ("GET", "/api/v1/holds/numbers"),
            ("PUT", "/api/v1/holds/numbers/600100001"),
            ("DELETE", "/api/v1/holds/numbers/600100001"),
        ):
            answer = await client.request(method, path)
            assert answer.status_code == 403, (who, method, path)
            assert answer.json()["error"] == "forbidden"
        deletions = await client.get("/api/v1/deletions")
        assert deletions.status_code == (200 if who == "auditor" else 403), who

    # an administrator who sees the sales team only
    client = await world.signed_in_new_user(
        "sales-admin@acme.example", "administrator", {"kind": "team", "objects": ["sales"]}
    )
    assert (await client.put(f"/api/v1/recordings/{own}/hold")).status_code == 200
    assert (await client.put(f"/api/v1/recordings/{other}/hold")).status_code == 404
    narrow = await client.put("/api/v1/holds/numbers/600100003")
    assert narrow.status_code == 403 and narrow.json()["details"] == {"data_scope": "team"}
    assert (await client.get("/api/v1/holds/numbers")).status_code == 403
    held = [(action, target) for action, target, _ in await _audited(world, "recording.")]
    assert held == [("recording.hold", own)]
