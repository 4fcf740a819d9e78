"""The REST API's calls (``/api/v1/calls``) and :func:`install_api`, which mounts the whole API.

Call history (historia połączeń) is searched with the filters of
:mod:`callvault.web.listing` within the caller's account and data scope,
paginated, or exported as CSV (``format=csv``, audited as ``calls.export``).
A call the caller may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from sqlalchemy import select

from callvault.store.models import CallRecord, Recording
from callvault.web import audit
from callvault.web.context import ApiContext, Context, Session, client_ip
from callvault.web.datascope import call_condition, recording_condition
from callvault.web.errors import install_error_handlers, not_found
from callvault.web.listing import (
    EXPORT_LIMIT,
    ListQuery,
    call_filters,
    call_json,
    calls_csv,
    capped_total,
    list_query,
    recording_json,
    sorted_calls,
)
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])
Reader = Annotated[Principal, Depends(require("calls.read"))]


@router.get("", response_model=None)
async def list_calls(
    request: Request,
    principal: Reader,
    session: Session,
    ctx: Context,
    query: Annotated[ListQuery, Depends(list_query)],
) -> dict[str, Any] | Response:
    """The caller's visible calls matching the search: one page, or all of them as CSV."""
    statement = select(CallRecord).where(
        CallRecord.account_id == principal.account_id,
        call_condition(principal.data_scope, principal.account_id),
        *call_filters(query, ctx.dialect),
    )
    ordered = sorted_calls(statement, query, ctx.dialect)
    if query.format == "csv":
        rows = list(await session.scalars(ordered.limit(EXPORT_LIMIT)))
        await audit.record(
            session,
            principal,
            "calls.export",
            "calls",
            "",
            client_ip(request),
            {"rows": len(rows), "query": str(request.url.query)},
        )
        await session.commit()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            calls_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="calls-{stamp}.csv"'},
        )
    total, exact = await capped_total(session, statement)
    page = await session.scalars(ordered.limit(query.page_size).offset(query.offset))
    return {
        "items": [call_json(row) for row in page],
        "page": query.page,
        "page_size": query.page_size,
        "total": total,
        "total_exact": exact,
    }


@router.get("/{call_id}")
async def get_call(call_id: str, principal: Reader, session: Session) -> dict[str, Any]:
    """One call with its legs and IVR API trace, and the recordings the caller may see."""
    row = await session.scalar(
        select(CallRecord).where(
            CallRecord.id == call_id,
            CallRecord.account_id == principal.account_id,
            call_condition(principal.data_scope, principal.account_id),
        )
    )
    if row is None:
        raise not_found("call", call_id)
    out = call_json(row, full=True)
    out["recordings"] = []
    if principal.has("recordings.list"):
        recordings = await session.scalars(
            select(Recording)
            .where(
                Recording.call_id == row.id,
                Recording.account_id == principal.account_id,
                recording_condition(principal.data_scope, principal.account_id),
            )
            .order_by(Recording.started_at)
        )
        out["recordings"] = [recording_json(item, row) for item in recordings]
    return out


def install_api(app: FastAPI, ctx: ApiContext) -> None:
    """Mount the REST API (auth, tokens, calls, recordings, audit, share links) on ``app``."""
    from callvault.web import api_audit, api_auth, api_jobs, api_media, api_recordings, api_rules

    app.state.callvault_api = ctx
    install_error_handlers(app)
    app.include_router(api_auth.router)
    app.include_router(router)
    app.include_router(api_recordings.router)
    app.include_router(api_media.router)
    app.include_router(api_audit.router)
    app.include_router(api_rules.router)
    app.include_router(api_media.share_router)
    app.include_router(api_jobs.router)  # background export / erasure jobs
