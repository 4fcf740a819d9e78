"""``/jobs`` (zadania w tle): the signed-in user's background jobs, for anyone signed in.

Each job -- a ZIP export of recordings or the erasure of a number's
recordings -- with when it was started, its state, a progress bar, its
message and its result: the "Download ZIP" link of a finished export
(``/api/v1/jobs/{id}/result``) or the erasure's report.  The rows are
:func:`callvault.web.api_jobs.list_jobs`'s (the user's own jobs only);
``static/jobs.js`` polls ``GET /api/v1/jobs`` every 2 s while a job is
queued or running and redraws the rows it changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from callvault.store.numbers import display
from callvault.web.api_jobs import job_runner, list_jobs
from callvault.web.context import Session
from callvault.web.panel.i18n import Translator
from callvault.web.panel.render import signed_in_page

router = APIRouter(include_in_schema=False)
POLL_MS = 2000
"""How often ``jobs.js`` asks for the jobs while one is unfinished."""
UNFINISHED = ("queued", "running")


def erase_summary(t: Translator, result: dict[str, Any]) -> str:
    """An erasure's report in one line (the same message ``jobs.js`` uses)."""
    left = int(result.get("pending", 0)) + int(result.get("gone", 0))
    return t(
        "js.jobs_erase_summary",
        found=result.get("found", 0),
        deleted=result.get("deleted", 0),
        held=result.get("held", 0),
        left=left,
        errors=result.get("errors", 0),
    )


def job_row(t: Translator, job: dict[str, Any]) -> dict[str, Any]:
    """One job for the table."""
    params, result = job["params"], job["result"] or {}
    if job["kind"] == "export":
        about = t("jobs.export_of", count=params.get("recordings", 0))
    else:
        about = t("jobs.erase_of", number=display(str(params.get("number", ""))))
    summary = ""
    if job["state"] == "done" and job["kind"] == "erase":
        summary = erase_summary(t, result)
    elif job["state"] == "done" and job["kind"] == "export" and "recordings" in result:
        summary = t(
            "js.jobs_export_summary",
            recordings=result["recordings"],
            skipped=len(result.get("skipped") or []),
        )
    return {
        "id": job["id"],
        "kind": job["kind"],
        "kind_label": t(f"js.jobs_kind_{job['kind']}"),
        "about": about,
        "created": t.when(job["created_at"]),
        "iso": t.iso_local(job["created_at"]),
        "state": job["state"],
        "state_label": t(f"js.jobs_state_{job['state']}"),
        "progress": job["progress"],
        # a finished job's result is summarised in the page's language; the runner's own
        # (English) message is for jobs in progress and for failures
        "message": "" if job["state"] == "done" and summary else job["message"],
        "download": job["download"],
        "summary": summary,
        "report": result.get("items", []) if job["kind"] == "erase" else [],
    }


@router.get("/jobs")
async def jobs_page(request: Request, session: Session) -> Response:
    """The user's jobs, newest first, with their progress and results."""
    page = await signed_in_page(request, session)
    assert page.principal is not None
    jobs = await list_jobs(page.principal, session, await job_runner(request))
    rows = [job_row(page.t, job) for job in jobs]
    messages = {
        k: v for k, v in page.t.script_messages().items() if k.startswith(("jobs_", "error_"))
    }
    return page.render(
        "jobs.html",
        section="jobs",
        rows=rows,
        jobs_script={"messages": messages, "poll_ms": POLL_MS},
        polling=any(row["state"] in UNFINISHED for row in rows),
    )
