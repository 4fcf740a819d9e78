"""``/api/v1/audit``: the account's audit log (``audit.read``), its CSV export and a check of
its hash chain."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select

from callvault.store.identity import AuditEntry
from callvault.web.audit import record, verify_chain
from callvault.web.context import Session, as_utc, client_ip, iso
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require("audit.read"))]


def _entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "ip": entry.ip,
        "detail": entry.detail,
        "hash": entry.hash,
    }


@router.get("")
async def audit_log(
    principal: Auditor,
    session: Session,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=300, description="any part of it")] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The account's audit entries, newest first, one page."""
    conditions = _conditions(principal, action, actor, target_id, date_from, date_to)
    total = await session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    rows = await session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return {
        "items": [_entry_json(row) for row in rows],
        "page": page,
        "page_size": page_size,
        "total": int(total or 0),
    }


@router.get("/export")
async def export(
    request: Request,
    principal: Auditor,
    session: Session,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=300)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
) -> Response:
    """Every matching entry as CSV, oldest first, with its hashes (the export is audited)."""
    conditions = _conditions(principal, action, actor, target_id, date_from, date_to)
    rows = list(
        await session.scalars(select(AuditEntry).where(*conditions).order_by(AuditEntry.id))
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "actor", "action", "target_type", "target_id", "ip",
                     "detail", "prev_hash", "hash"])  # fmt: skip
    for row in rows:
        writer.writerow([row.id, iso(row.at), row.actor, row.action, row.target_type,
                         row.target_id, row.ip, json.dumps(row.detail, sort_keys=True),
                         row.prev_hash, row.hash])  # fmt: skip
    await record(session, principal, "audit.export", "audit", "", client_ip(request),
                 {"entries": len(rows)})  # fmt: skip
    await session.commit()
    disposition = 'attachment; filename="audit.csv"'
    return Response(out.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": disposition})  # fmt: skip


def _conditions(
    principal: Principal,
    action: str | None,
    actor: str | None,
    target_id: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> list[Any]:
    conditions: list[Any] = [AuditEntry.account_id == principal.account_id]
    if action:
        conditions.append(AuditEntry.action == action)
    if actor:
        conditions.append(AuditEntry.actor.contains(actor, autoescape=True))
    if target_id:
        conditions.append(AuditEntry.target_id == target_id)
    if date_from:
        conditions.append(AuditEntry.at >= as_utc(date_from))
    if date_to:
        conditions.append(AuditEntry.at < as_utc(date_to))
    return conditions


@router.get("/verify")
async def verify(principal: Auditor, session: Session) -> dict[str, Any]:
    """Recompute the account's hash chain: ``ok``, and the first entry that does not match."""
    ok, first_bad = await verify_chain(session, principal.account_id)
    count = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.account_id == principal.account_id)
    )
    return {"ok": ok, "first_bad_id": first_bad, "entries": int(count or 0)}
