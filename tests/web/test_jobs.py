"""Background jobs through the real app, on SQLite and PostgreSQL (the ``world`` fixture).

The export's ZIP holds exactly the recordings its user may see, decrypted
byte for byte, and rests sealed; progress ends at 100; only the user who
started a job sees it (another account or user gets 404); the erasure job
deletes, keeps what is on legal hold and reports both; a restarted node
fails the jobs it was running, and any node fails the ones whose node went
silent.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from callvault.jobs import JobRunner
from callvault.recording.crypto import MAGIC
from callvault.store.identity import AuditEntry, User
from callvault.store.jobs import Job
from callvault.store.models import Recording, RecordingDeletion
from tests.web.conftest import World


async def _finished(client: httpx.AsyncClient, job_id: str, timeout: float = 30.0) -> Any:
    """Poll the job until it is done or failed; its last JSON."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await client.get(f"/api/v1/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body["state"] in ("done", "failed"):
            return body
        assert loop.time() < deadline, body
        await asyncio.sleep(0.05)


def _entries(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


async def _export(client: httpx.AsyncClient, **params: str) -> tuple[dict[str, Any], bytes]:
    """Start an export, wait for it, download it: the job's JSON and the ZIP."""
    started = await client.post("/api/v1/jobs/export", params=params)
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert job["state"] in ("queued", "running") and job["kind"] == "export"
    done = await _finished(client, job["id"])
    assert done["state"] == "done", done
    assert done["progress"] == 100
    assert done["download"] == f"/api/v1/jobs/{job['id']}/result"
    answer = await client.get(done["download"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert int(answer.headers["content-length"]) == len(answer.content)
    return done, answer.content


async def _actions(world: World, account: str) -> list[str]:
    """The account's audited ``recordings.*`` actions, oldest first."""
    async with world.db.session() as session:
        rows = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.account_id == world.accounts[account].id)
            .order_by(AuditEntry.id)
        )
        return [action for action in rows if action.startswith("recordings.")]


async def test_export_zip_holds_exactly_the_permitted_recordings_decrypted(world: World) -> None:
    lena = await world.signed_in("team_leader")  # team scope: the sales queue (own, team)
    job, content = await _export(lena)
    entries = _entries(content)
    permitted = {world.recordings["own"], world.recordings["team"]}
    assert set(entries) == {f"{rid}.wav" for rid in permitted} | {"manifest.json"}
    for recording_id in permitted:
        assert entries[f"{recording_id}.wav"] == world.clear[recording_id]
    manifest = json.loads(entries["manifest.json"])
    assert {item["id"] for item in manifest["recordings"]} == permitted
    assert manifest["skipped"] == [] and manifest["requested_by"] == "lena@acme.example"
    assert job["result"]["recordings"] == 2 and job["params"]["recordings"] == 2

    # At rest the ZIP is sealed like a recording; nothing clear is left in the data dir.
    account_id = world.accounts["acme"].id
    sealed = world.tmp / "data" / "recordings" / "exports" / str(account_id)
    stored = (sealed / f"{job['id']}.zip.enc").read_bytes()
    assert stored.startswith(MAGIC)
    assert all(world.clear[rid][1000:1064] not in stored for rid in permitted)
    assert list((world.tmp / "data" / "jobs").iterdir()) == []
    assert await _actions(world, "acme") == [
        "recordings.export_zip",
        "recordings.export_zip.download",
    ]


async def test_export_follows_the_filters_and_reports_what_it_left_out(world: World) -> None:
    admin = await world.signed_in("administrator")
    _, content = await _export(admin, number="600100003")
    assert set(_entries(content)) == {f"{world.recordings['other']}.wav", "manifest.json"}

    late = await world.add_recording("late", "acme", state="recording", storage_key=None)
    job, content = await _export(admin)
    entries = _entries(content)
    acme = [world.recordings[name] for name in ("own", "team", "other")]
    assert set(entries) == {f"{rid}.wav" for rid in acme} | {"manifest.json"}
    assert all(entries[f"{rid}.wav"] == world.clear[rid] for rid in acme)
    skipped = [{"id": late, "reason": "not stored (recording)"}]
    assert json.loads(entries["manifest.json"])["skipped"] == skipped
    assert job["result"]["skipped"] == skipped and "1 left out" in job["message"]

    nothing = await admin.post("/api/v1/jobs/export", params={"state": "failed"})
    assert nothing.status_code == 422 and nothing.json()["error"] == "empty"


async def test_only_the_user_who_started_a_job_can_read_it(world: World) -> None:
    admin = await world.signed_in("administrator")
    started = await admin.post("/api/v1/jobs/export")
    assert started.status_code == 202
    job_id = started.json()["id"]
    for who in ("beta_admin", "auditor"):
        other = await world.signed_in(who)
        assert (await other.get(f"/api/v1/jobs/{job_id}")).status_code == 404
        assert (await other.get("/api/v1/jobs")).json() == []
    beta = await world.signed_in("beta_admin")
    hidden = await beta.get(f"/api/v1/jobs/{job_id}/result")
    assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"

    consultant = await world.signed_in("consultant")  # no recordings.download
    assert (await consultant.post("/api/v1/jobs/export")).status_code == 403
    lena = await world.signed_in("team_leader")  # no recordings.delete
    refused = await lena.post("/api/v1/jobs/erase", json={"number": "600100001"})
    assert refused.status_code == 403

    assert (await _finished(admin, job_id))["state"] == "done"
    listed = (await admin.get("/api/v1/jobs")).json()
    assert [item["id"] for item in listed] == [job_id]
    assert (await beta.get(f"/api/v1/jobs/{job_id}/result")).status_code == 404


async def test_erasure_job_deletes_keeps_held_ones_and_reports(world: World) -> None:
    held = await world.add_recording(
        "other-held", "acme", caller_number="48600100003", legal_hold=True
    )
    erased = world.recordings["other"]
    admin = await world.signed_in("administrator")
    bad = await admin.post("/api/v1/jobs/erase", json={"number": "not a number"})
    assert bad.status_code == 422

    started = await admin.post("/api/v1/jobs/erase", json={"number": "+48 600 100 003"})
    assert started.status_code == 202, started.text
    assert started.json()["params"] == {"number": "48600100003"}
    job = await _finished(admin, started.json()["id"])
    assert job["state"] == "done" and job["progress"] == 100, job
    result = job["result"]
    assert (result["found"], result["deleted"], result["held"], result["errors"]) == (2, 1, 1, 0)
    outcomes = {item["recording_id"]: item["outcome"] for item in result["items"]}
    assert outcomes == {erased: "deleted", held: "kept: legal hold"}
    assert job["message"].startswith("deleted 1 of 2 recording(s) of +48600100003")
    assert (await admin.get(f"/api/v1/jobs/{job['id']}/result")).status_code == 409

    async with world.db.session() as session:
        left = set(await session.scalars(select(Recording.id)))
        deletion = await session.scalar(
            select(RecordingDeletion).where(RecordingDeletion.recording_id == erased)
        )
    assert erased not in left and held in left
    assert deletion is not None and deletion.reason == "erasure"
    assert deletion.detail["requested_by"] == "admin@acme.example"
    account_id = world.accounts["acme"].id
    stored = world.tmp / "data" / "recordings" / str(account_id) / "2026" / "11" / "25"
    assert not (stored / f"{erased}.wav.enc").exists() and (stored / f"{held}.wav.enc").exists()
    assert "recordings.erase" in await _actions(world, "acme")


async def test_a_restarted_node_fails_the_jobs_it_was_running(world: World) -> None:
    admin = await world.signed_in("administrator")
    assert (await admin.get("/api/v1/jobs")).json() == []
    runner = world.app.state.callvault_jobs
    assert isinstance(runner, JobRunner)
    now = datetime.now(UTC)
    async with world.db.session() as session:
        user = await session.scalar(select(User).where(User.email == "admin@acme.example"))
        assert user is not None
        for job_id, state, node, age in (
            ("j-mine", "running", runner.node, timedelta(seconds=5)),
            ("j-lost", "queued", "elsewhere:1", timedelta(hours=1)),
            ("j-alive", "running", "elsewhere:2", timedelta(seconds=5)),
        ):
            session.add(Job(
                id=job_id, account_id=user.account_id, kind="export", state=state, progress=40,
                message="", params={}, result={}, result_size=0, created_by=user.id,
                actor=user.email, node=node, created_at=now - age, updated_at=now - age,
            ))  # fmt: skip
        await session.commit()

    world.app.state.callvault_jobs = None  # the node restarts: a new runner on the next request
    mine = (await admin.get("/api/v1/jobs/j-mine")).json()
    assert mine["state"] == "failed" and mine["progress"] == 40
    assert mine["message"].startswith("interrupted: the node restarted while the job was running")
    lost = (await admin.get("/api/v1/jobs/j-lost")).json()
    assert lost["state"] == "failed" and "elsewhere:1) stopped answering" in lost["message"]
    alive = (await admin.get("/api/v1/jobs/j-alive")).json()
    assert alive["state"] == "running"
    assert world.app.state.callvault_jobs is not runner
