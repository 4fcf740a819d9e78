"""Recordings and calls through the real app: Range playback of encrypted files, download,
share links, deletion and legal holds, notes and tags, search filters, and the audit chain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from callvault.store.identity import AuditEntry, ShareLink
from callvault.store.models import NumberHold, Recording, RecordingDeletion
from callvault.web.audit import verify_chain
from tests.web.conftest import World


def _ranges(size: int) -> list[tuple[str, int, int]]:
    """(Range header, start, end) cases: chunk edges (4096), suffixes, open ends, the last byte."""
    return [
        ("bytes=0-99", 0, 100),
        ("bytes=4095-4096", 4095, 4097),
        ("bytes=100-20000", 100, 20001),
        ("bytes=8192-", 8192, size),
        ("bytes=-500", size - 500, size),
        (f"bytes={size - 1}-{size + 50}", size - 1, size),
        ("bytes=0-", 0, size),
    ]


async def test_range_requests_return_exactly_the_clear_bytes(world: World) -> None:
    client = await world.signed_in("team_leader")
    recording_id = world.recordings["own"]
    clear = world.clear[recording_id]
    url = f"/api/v1/recordings/{recording_id}/audio"
    whole = await client.get(url)
    assert whole.status_code == 200 and whole.content == clear
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    for header, start, end in _ranges(len(clear)):
        answer = await client.get(url, headers={"Range": header})
        assert answer.status_code == 206, header
        assert answer.content == clear[start:end], header
        assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/{len(clear)}"
        assert int(answer.headers["content-length"]) == end - start
    beyond = await client.get(url, headers={"Range": f"bytes={len(clear)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(clear)}"
    assert beyond.json()["error"] == "range_not_satisfiable"
    stored = list((world.tmp / "data" / "recordings").rglob("*"))
    assert stored and all(path.suffix == ".enc" or path.is_dir() for path in stored)


async def _audit(world: World, **params: Any) -> list[dict[str, Any]]:
    client = await world.signed_in("auditor")
    answer = await client.get("/api/v1/audit", params=params)
    assert answer.status_code == 200
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_download_and_playback_are_audited(world: World) -> None:
    client = await world.signed_in("team_leader")
    recording_id = world.recordings["team"]
    answer = await client.get(f"/api/v1/recordings/{recording_id}/download")
    assert answer.status_code == 200 and answer.content == world.clear[recording_id]
    assert answer.headers["content-disposition"] == f'attachment; filename="{recording_id}.wav"'
    downloads = await _audit(world, action="recording.download")
    assert [(e["actor"], e["target_id"]) for e in downloads] == [
        ("lena@acme.example", recording_id)
    ]
    url = f"/api/v1/recordings/{recording_id}/audio"
    await client.get(url, headers={"Range": "bytes=0-"})
    await client.get(url, headers={"Range": "bytes=5000-"})  # a seek: not a new playback
    assert len(await _audit(world, action="recording.listen")) == 1


async def test_share_link_plays_anonymously_until_revoked_or_expired(world: World) -> None:
    leader = await world.signed_in("team_leader")
    recording_id = world.recordings["own"]
    clear = world.clear[recording_id]
    created = await leader.post(f"/api/v1/recordings/{recording_id}/share", json={})
    assert created.status_code == 201
    link = created.json()
    assert link["url"] == "https://testserver" + link["path"]
    anonymous = await world.client()
    answer = await anonymous.get(link["path"])
    assert answer.status_code == 200 and answer.content == clear
    part = await anonymous.get(link["path"], headers={"Range": "bytes=10-4200"})
    assert part.status_code == 206 and part.content == clear[10:4201]
    assert (await anonymous.get(link["path"] + "x")).status_code == 404
    assert (await anonymous.get(f"/api/v1/recordings/{recording_id}")).status_code == 401

    revoke = f"/api/v1/recordings/{recording_id}/share/{link['id']}"
    assert (await leader.delete(revoke)).status_code == 204
    gone = await anonymous.get(link["path"])
    assert (gone.status_code, gone.json()["error"]) == (404, "not_found")

    second = (await leader.post(f"/api/v1/recordings/{recording_id}/share", json={})).json()
    assert (await anonymous.get(second["path"])).status_code == 200
    async with world.db.session() as session:
        await session.execute(
            update(ShareLink)
            .where(ShareLink.id == second["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert (await anonymous.get(second["path"])).status_code == 404
    listed = (await leader.get(f"/api/v1/recordings/{recording_id}/share")).json()
    assert {item["id"] for item in listed} == {link["id"], second["id"]}
    actions = [entry["action"] for entry in await _audit(world, target_id=recording_id)]
    assert actions.count("recording.share") == 2
    assert actions.count("recording.share.revoke") == 1
    assert actions.count("recording.share.listen") == 2


async def test_delete_is_refused_on_legal_hold_and_logged_otherwise(world: World) -> None:
    admin = await world.signed_in("administrator")
    own, team, other = (world.recordings[name] for name in ("own", "team", "other"))
    async with world.db.session() as session:
        row = await session.get(Recording, own)
        assert row is not None
        row.legal_hold = True
        account_id = row.account_id
        session.add(NumberHold(account_id=account_id, number="48600100002", reason="case 7"))
        await session.commit()
    for recording_id in (own, team):
        answer = await admin.delete(f"/api/v1/recordings/{recording_id}")
        assert (answer.status_code, answer.json()["error"]) == (409, "legal_hold")
    assert (await admin.get(f"/api/v1/recordings/{own}/audio")).status_code == 200
    storage = world.node.recordings.outbox.storage
    async with world.db.session() as session:
        row = await session.get(Recording, other)
        assert row is not None and row.storage_key is not None
        key = row.storage_key
    assert await storage.exists(key)
    assert (await admin.delete(f"/api/v1/recordings/{other}")).status_code == 204
    assert not await storage.exists(key)
    assert (await admin.get(f"/api/v1/recordings/{other}")).status_code == 404
    assert (await admin.delete(f"/api/v1/recordings/{other}")).status_code == 404
    async with world.db.session() as session:
        logged = list(await session.scalars(select(RecordingDeletion)))
    assert [(d.recording_id, d.reason, d.detail["by"]) for d in logged] == [
        (other, "user", "admin@acme.example")
    ]
    deletes = await _audit(world, action="recording.delete")
    assert [entry["target_id"] for entry in deletes] == [other]


async def test_notes_and_tags(world: World) -> None:
    leader = await world.signed_in("team_leader")
    base = f"/api/v1/recordings/{world.recordings['team']}"
    assert (await leader.post(base + "/notes", json={"text": "oddzwonić"})).status_code == 201
    assert (await leader.post(base + "/notes", json={"text": ""})).status_code == 422
    notes = (await leader.get(base + "/notes")).json()
    assert [(n["text"], n["author"]) for n in notes] == [("oddzwonić", "lena@acme.example")]
    answer = await leader.patch(base + "/tags", json={"ticket": "T-12", "vip": True})
    assert answer.json()["tags"] == {"ticket": "T-12", "vip": True}
    answer = await leader.patch(base + "/tags", json={"vip": None})
    assert answer.json()["tags"] == {"ticket": "T-12"}
    detail = (await leader.get(base)).json()
    assert detail["tags"] == {"ticket": "T-12"}
    assert detail["peaks"] == [0.1, 0.5, 0.2] and detail["consent"]["announced"] is True
    assert detail["explanation"][0]["rule"] == "all-inbound"
    assert detail["objects"][1] == {"kind": "sip_account", "login": "ewa"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["c-outbound", "c-other", "c-team", "c-own"]),
        ({"number": "100002"}, ["c-team"]),
        ({"number": "%"}, []),
        ({"direction": "outbound"}, ["c-outbound"]),
        ({"object": "support"}, ["c-other"]),
        ({"object": "jan"}, ["c-own"]),
        ({"min_duration": 95}, ["c-other", "c-own"]),
        ({"max_duration": 40}, ["c-outbound", "c-team"]),
        ({"from": "2026-11-25T09:05:00Z", "to": "2026-11-25T10:20:00+01:00"}, ["c-team"]),
        ({"call_id": "c-own"}, ["c-own"]),
        ({"sort": "duration"}, ["c-outbound", "c-team", "c-own", "c-other"]),
        ({"sort": "-duration", "page_size": 2, "page": 2}, ["c-team", "c-outbound"]),
    ],
)
async def test_call_search(world: World, params: dict[str, Any], expected: list[str]) -> None:
    client = await world.signed_in("administrator")
    answer = await client.get("/api/v1/calls", params=params)
    assert answer.status_code == 200, answer.text
    assert [item["id"] for item in answer.json()["items"]] == expected
    if "page" in params:
        assert answer.json()["total"] == 4


async def test_call_detail_csv_and_recording_search(world: World) -> None:
    client = await world.signed_in("administrator")
    call = (await client.get("/api/v1/calls/c-own")).json()
    assert call["ivr_trace"] == [{"kind": "request", "event": "start"}]
    assert [r["id"] for r in call["recordings"]] == [world.recordings["own"]]
    assert call["duration_s"] == 95
    export = await client.get("/api/v1/calls", params={"format": "csv", "direction": "inbound"})
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith("attachment;")
    lines = export.text.splitlines()
    assert lines[0].startswith("id,started_at,direction") and len(lines) == 4
    assert "sales > jan" in export.text
    assert len(await _audit(world, action="calls.export")) == 1
    found = await client.get("/api/v1/recordings", params={"number": "600100003"})
    assert [item["id"] for item in found.json()["items"]] == [world.recordings["other"]]
    export = await client.get("/api/v1/recordings", params={"format": "csv", "sort": "duration"})
    lines = export.text.splitlines()
    assert lines[0].startswith("id,call_id,started_at") and len(lines) == 4
    assert len(await _audit(world, action="recordings.export")) == 1
    found = await client.get("/api/v1/recordings", params={"state": "failed"})
    assert found.json()["items"] == []
    found = await client.get("/api/v1/recordings", params={"object": "sales", "sort": "started_at"})
    assert [item["id"] for item in found.json()["items"]] == [
        world.recordings["own"],
        world.recordings["team"],
    ]


async def test_audit_chain_verifies_and_detects_tampering(world: World) -> None:
    leader = await world.signed_in("team_leader")
    for name in ("own", "team"):
        await leader.get(f"/api/v1/recordings/{world.recordings[name]}/download")
    auditor = await world.signed_in("auditor")
    verified = (await auditor.get("/api/v1/audit/verify")).json()
    assert verified["ok"] is True and verified["first_bad_id"] is None
    assert verified["entries"] >= 4  # two sign-ins, two downloads
    downloads = await _audit(world, action="recording.download")
    victim = min(entry["id"] for entry in downloads)
    async with world.db.session() as session:
        await session.execute(
            update(AuditEntry).where(AuditEntry.id == victim).values(detail={"size": 1})
        )
        await session.commit()
    verified = (await auditor.get("/api/v1/audit/verify")).json()
    assert (verified["ok"], verified["first_bad_id"]) == (False, victim)
    account_id = world.accounts["acme"].id
    async with world.db.session() as session:
        assert await verify_chain(session, account_id) == (False, victim)
        beta = world.accounts["beta"].id
        assert await verify_chain(session, beta) == (True, None), "chains are per account"
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.account_id == beta)
        )
        assert count == 0


async def test_auditors_export_the_log_as_csv_and_the_export_is_audited(world: World) -> None:
    leader = await world.signed_in("team_leader")
    await leader.get(f"/api/v1/recordings/{world.recordings['own']}/download")
    auditor = await world.signed_in("auditor")
    exported = await auditor.get("/api/v1/audit/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("id,at,actor,action")
    assert any(",recording.download," in line for line in lines[1:])
    assert (await leader.get("/api/v1/audit/export")).status_code == 403
    exports = await _audit(world, action="audit.export")
    assert len(exports) == 1 and exports[0]["detail"]["entries"] == len(lines) - 1
