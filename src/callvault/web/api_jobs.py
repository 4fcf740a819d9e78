"""``/api/v1/jobs``: bulk ZIP export and erasure by number in the background, progress, download.

* ``POST /api/v1/jobs/export`` (``recordings.download``) takes the recordings
  list's filters (``from``, ``to``, ``number``, ``state``, ``sort``...; see
  :mod:`callvault.web.listing`) and exports the recordings the caller sees
  with them -- account and data scope -- as a ZIP of the decrypted audio.  The
  ids are fixed when the job is accepted (at most :data:`~callvault.jobs.MAX_EXPORT`);
  audited as ``recordings.export_zip``.
* ``POST /api/v1/jobs/erase`` (``recordings.delete`` and the ``account`` data
  scope, since it reaches every recording of the number in the account)
  erases a caller number's recordings (:func:`~callvault.recording.lifecycle.erase_number`:
  legal holds win, every deletion is logged); audited as ``recordings.erase``.
* ``GET /api/v1/jobs`` and ``GET /api/v1/jobs/{id}``: state, progress 0..100,
  message, result.
* ``GET /api/v1/jobs/{id}/result`` (``recordings.download``): the export's
  ZIP, decrypted as it streams; audited as ``recordings.export_zip.download``.

A job is seen only by the user who started it, in their account: anyone
else gets 404, as for a job that does not exist.  How jobs run, survive a
restart and where the ZIP is kept: :mod:`callvault.jobs`.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.jobs import MAX_EXPORT, JobRunner, is_lost, open_result
from callvault.recording.crypto import DecryptError
from callvault.recording.storage import ObjectNotFound, StorageError
from callvault.store.jobs import Job, JobState
from callvault.store.models import CallRecord, Recording
from callvault.store.numbers import InvalidNumberError, normalize
from callvault.web import audit
from callvault.web.context import Context, Session, api_context, as_utc, client_ip, iso
from callvault.web.datascope import recording_condition
from callvault.web.errors import ApiError, not_found
from callvault.web.listing import ListQuery, list_query, recording_filters, sorted_recordings
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])

Exporter = Annotated[Principal, Depends(require("recordings.download"))]
Eraser = Annotated[Principal, Depends(require("recordings.delete"))]
Anyone = Annotated[Principal, Depends(require())]
LIST_LIMIT = 50


async def job_runner(request: Request) -> JobRunner:
    """The app's :class:`JobRunner`, made (and started: recovery, expiry) on first use."""
    state = request.app.state
    runner: JobRunner | None = getattr(state, "callvault_jobs", None)
    if runner is None:
        ctx = api_context(request)
        base = ctx.data_dir or Path(tempfile.gettempdir()) / "callvault"
        runner = JobRunner(ctx.db, ctx.storage, ctx.keyring, base / "jobs")
        state.callvault_jobs = runner
    await runner.start()
    return runner


Runner = Annotated[JobRunner, Depends(job_runner)]


def job_json(job: Job) -> dict[str, Any]:
    """A job for the API (an export's list of ids is summarised, not repeated)."""
    params = dict(job.params)
    if "recording_ids" in params:
        params["recordings"] = len(params.pop("recording_ids"))
    out: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "params": params,
        "result": job.result,
        "created_by": job.actor,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "expires_at": iso(job.expires_at),
        "download": None,
    }
    if job.kind == "export" and job.state == JobState.DONE.value and job.result_path:
        out["download"] = f"{router.prefix}/{job.id}/result"
    return out


async def visible_job(session: AsyncSession, principal: Principal, job_id: str) -> Job:
    """The caller's own job ``job_id``; anyone else's (or none) is 404."""
    job = await session.scalar(
        select(Job).where(
            Job.id == job_id,
            Job.account_id == principal.account_id,
            Job.created_by == principal.user.id,
        )
    )
    if job is None:
        raise not_found("job", job_id)
    return job


async def _accepted(
    session: AsyncSession,
    runner: JobRunner,
    job: Job,
    response: Response,
) -> dict[str, Any]:
    """Commit the new job (with the audit entry already added) and start it."""
    session.add(job)
    await session.commit()
    runner.launch(job)
    response.headers["Location"] = f"{router.prefix}/{job.id}"
    return job_json(job)


@router.post("/export", status_code=202)
async def start_export(
    request: Request,
    response: Response,
    principal: Exporter,
    session: Session,
    ctx: Context,
    runner: Runner,
    query: Annotated[ListQuery, Depends(list_query)],
) -> dict[str, Any]:
    """Export the recordings the list would show with these filters as a ZIP, in the background."""
    statement = (
        select(Recording.id)
        .outerjoin(
            CallRecord,
            and_(CallRecord.id == Recording.call_id, CallRecord.account_id == Recording.account_id),
        )
        .where(
            Recording.account_id == principal.account_id,
            recording_condition(principal.data_scope, principal.account_id),
            *recording_filters(query, ctx.dialect),
        )
    )
    count = int(await session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
    if count == 0:
        raise ApiError(422, "no recording you can see matches these filters", error="empty")
    if count > MAX_EXPORT:
        raise ApiError(
            422,
            f"{count} recordings match; one export takes at most {MAX_EXPORT}: narrow the filters",
            error="too_many",
            details={"matching": count, "limit": MAX_EXPORT},
        )
    ids = [str(value) for value in await session.scalars(sorted_recordings(statement, query))]
    job = runner.prepare(
        principal.account_id,
        "export",
        {"recording_ids": ids, "query": str(request.url.query)},
        created_by=principal.user.id,
        actor=principal.actor,
    )
    await audit.record(
        session,
        principal,
        "recordings.export_zip",
        "job",
        job.id,
        client_ip(request),
        {"recordings": len(ids), "query": str(request.url.query)},
    )
    return await _accepted(session, runner, job, response)


class EraseIn(BaseModel):
    """The caller number whose recordings to erase, in any form (``+48 600 100 001``...)."""

    number: str = Field(min_length=1, max_length=64)


@router.post("/erase", status_code=202)
async def start_erasure(
    body: EraseIn,
    request: Request,
    response: Response,
    principal: Eraser,
    session: Session,
    runner: Runner,
) -> dict[str, Any]:
    """Erase every recording of a caller number in the account, in the background."""
    if principal.data_scope.kind != "account":
        raise ApiError(
            403,
            "an erasure reaches every recording of the number in the account: it needs the "
            "account data scope",
            details={"data_scope": principal.data_scope.kind},
        )
    try:
        digits = normalize(body.number)
    except InvalidNumberError as exc:
        raise ApiError(422, str(exc)) from None
    job = runner.prepare(
        principal.account_id,
        "erase",
        {"number": digits},
        created_by=principal.user.id,
        actor=principal.actor,
    )
    await audit.record(
        session, principal, "recordings.erase", "job", job.id, client_ip(request),
        {"number": digits},
    )  # fmt: skip
    return await _accepted(session, runner, job, response)


@router.get("")
async def list_jobs(principal: Anyone, session: Session, runner: Runner) -> list[dict[str, Any]]:
    """The caller's jobs, newest first (at most 50)."""
    jobs = await session.scalars(
        select(Job)
        .where(Job.account_id == principal.account_id, Job.created_by == principal.user.id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(LIST_LIMIT)
    )
    return [job_json(job) for job in jobs]


@router.get("/{job_id}")
async def get_job(
    job_id: str, principal: Anyone, session: Session, runner: Runner
) -> dict[str, Any]:
    """One of the caller's jobs: state, progress, message and result (a lost one is failed)."""
    job = await visible_job(session, principal, job_id)
    if job.id not in runner.tasks and is_lost(job):
        await runner.recover(restarted=False)
        await session.refresh(job)
    return job_json(job)


@router.get("/{job_id}/result")
async def download_result(
    job_id: str,
    request: Request,
    principal: Exporter,
    session: Session,
    ctx: Context,
    runner: Runner,
) -> StreamingResponse:
    """The finished export's ZIP, decrypted as it streams."""
    job = await visible_job(session, principal, job_id)
    if job.kind != "export":
        raise ApiError(409, "only an export job has a file to download", error="no_result")
    if job.state != JobState.DONE.value:
        raise ApiError(
            409,
            f"the export is {job.state}; its file is ready when it is done",
            error="not_ready",
            details={"state": job.state, "progress": job.progress},
        )
    now = datetime.now(UTC)
    expired = job.expires_at is not None and as_utc(job.expires_at) <= now
    if job.result_path is None or job.result_key is None or expired:
        raise ApiError(410, "the export's file has expired: start the export again", error="gone")
    try:
        opened = await open_result(job, ctx.storage, ctx.keyring)
    except ObjectNotFound:
        raise ApiError(
            410, "the export's file is gone: start the export again", error="gone"
        ) from None
    except StorageError as exc:
        raise ApiError(503, f"the recording storage does not answer: {exc}") from None
    except DecryptError:
        raise ApiError(
            409, "the export's file cannot be decrypted", error="cannot_decrypt"
        ) from None
    size = opened.header.plain_length
    await audit.record(
        session, principal, "recordings.export_zip.download", "job", job.id, client_ip(request),
        {"size": size, "recordings": job.result.get("recordings")},
    )  # fmt: skip
    await session.commit()
    return StreamingResponse(
        opened.iter_range(0, size),
        media_type="application/zip",
        headers={
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="recordings-{job.id}.zip"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
