"""Legal holds (blokada usuwania) and the deletion log, over :mod:`callvault.recording.lifecycle`.

A legal hold keeps recordings past their retention and refuses their
deletion and erasure, whoever asks (``DELETE /api/v1/recordings/{id}``
answers 409 ``legal_hold``; retention and erasure keep them and say so).

* ``PUT`` / ``DELETE /api/v1/recordings/{id}/hold`` (``recordings.delete``):
  put one recording on hold or lift it.  The recording must be visible to the
  caller (account *and* data scope), else 404 like one that does not exist.
  The answer is the recording's hold state: its own flag and what keeps it
  now (its own hold, or a hold on a number of its call).  Audited as
  ``recording.hold`` / ``recording.release``.
* ``GET /api/v1/holds/recordings`` (``recordings.delete``): the visible
  recordings on hold, newest first.
* ``GET /api/v1/holds/numbers``, ``PUT`` / ``DELETE
  /api/v1/holds/numbers/{number}`` (``recordings.delete`` and the
  ``account`` data scope, like the erasure job: a number's hold reaches
  every recording of the number in the account, caller or called): holds on
  numbers, in any usual form, stored as E.164 digits; ``PUT`` takes an
  optional ``reason``.  Audited as ``number.hold`` / ``number.release``.
* ``GET /api/v1/deletions`` (``audit.read``): the deletion log -- what
  retention, erasure requests and users deleted, when and why -- newest
  first, one page.  It is an audit trail, so it is read with the audit log's
  scope (the auditor role reads it; deleting is not needed to check what was
  deleted), account-wide like the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.recording.lifecycle import (
    _number_hold,
    e164,
    hold_number,
    hold_recording,
    release_number,
    release_recording,
)
from callvault.store.models import CallRecord, NumberHold, Recording, RecordingDeletion
from callvault.store.numbers import display
from callvault.web.api_admin import account_scope, audit_change
from callvault.web.api_recordings import hold_reason, visible_recording
from callvault.web.context import ApiContext, Context, Session, iso
from callvault.web.datascope import recording_condition
from callvault.web.errors import ApiError
from callvault.web.listing import recording_json
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1", tags=["legal holds"])

Deleter = Annotated[Principal, Depends(require("recordings.delete"))]
Auditor = Annotated[Principal, Depends(require("audit.read"))]
PhoneNumber = Annotated[str, Path(min_length=1, max_length=64, examples=["+48 600 100 001"])]
HELD_LIMIT = 500
"""Held recordings listed at most."""


class NumberHoldIn(BaseModel):
    """Why the number is held (a case reference, a request...)."""

    reason: str = Field("", max_length=200, examples=["court case 12/2026"])


def _whole_account(principal: Principal) -> None:
    """A number's hold reaches the whole account: 403 without the ``account`` data scope."""
    if principal.data_scope.kind != "account":
        raise ApiError(
            403,
            "a hold on a number reaches every recording of the number in the account: it needs "
            "the account data scope",
            details={"data_scope": principal.data_scope.kind},
        )


def number_hold_json(hold: NumberHold) -> dict[str, Any]:
    """A number's hold as the API shows it."""
    return {
        "number": hold.number,
        "display": display(hold.number),
        "reason": hold.reason,
        "created_at": iso(hold.created_at),
    }


def deletion_json(row: RecordingDeletion) -> dict[str, Any]:
    """One entry of the deletion log."""
    return {
        "id": row.id,
        "recording_id": row.recording_id,
        "call_id": row.call_id,
        "caller_number": row.caller_number,
        "reason": row.reason,
        "deleted_at": iso(row.deleted_at),
        "detail": row.detail,
    }


async def _hold_state(
    session: AsyncSession, row: Recording, call: CallRecord | None, changed: bool
) -> dict[str, Any]:
    kept = await hold_reason(session, row, call)
    return {"id": row.id, "legal_hold": row.legal_hold, "kept_by": kept, "changed": changed}


async def _set_recording_hold(
    request: Request,
    session: AsyncSession,
    ctx: ApiContext,
    principal: Principal,
    recording_id: str,
    held: bool,
) -> dict[str, Any]:
    row, call = await visible_recording(session, ctx, principal, recording_id)
    scope = await account_scope(session, principal)
    change = hold_recording if held else release_recording
    changed = await change(scope, row.id)
    out = await _hold_state(session, row, call, changed)
    action = "recording.hold" if held else "recording.release"
    detail = {"call_id": row.call_id, "changed": changed}
    await audit_change(request, session, principal, action, "recording", row.id, detail)
    return out


@router.put("/recordings/{recording_id}/hold")
async def hold_one(
    recording_id: str, request: Request, principal: Deleter, session: Session, ctx: Context
) -> dict[str, Any]:
    """Put the recording on legal hold: it cannot be deleted, nor expire, nor be erased."""
    return await _set_recording_hold(request, session, ctx, principal, recording_id, True)


@router.delete("/recordings/{recording_id}/hold")
async def release_one(
    recording_id: str, request: Request, principal: Deleter, session: Session, ctx: Context
) -> dict[str, Any]:
    """Lift the recording's own legal hold (a hold on a number of its call still keeps it)."""
    return await _set_recording_hold(request, session, ctx, principal, recording_id, False)


@router.get("/holds/recordings")
async def held_recordings(
    principal: Deleter, session: Session, ctx: Context
) -> list[dict[str, Any]]:
    """The recordings on legal hold that the caller sees, newest first (at most 500)."""
    rows = await session.execute(
        select(Recording, CallRecord)
        .outerjoin(
            CallRecord,
            and_(CallRecord.id == Recording.call_id, CallRecord.account_id == Recording.account_id),
        )
        .where(
            Recording.account_id == principal.account_id,
            Recording.legal_hold.is_(True),
            recording_condition(principal.data_scope, principal.account_id),
        )
        .order_by(Recording.started_at.desc(), Recording.id.desc())
        .limit(HELD_LIMIT)
    )
    return [recording_json(row, call) for row, call in rows]


@router.get("/holds/numbers")
async def held_numbers(principal: Deleter, session: Session) -> list[dict[str, Any]]:
    """The account's numbers on legal hold, newest first."""
    _whole_account(principal)
    holds = await session.scalars(
        select(NumberHold)
        .where(NumberHold.account_id == principal.account_id)
        .order_by(NumberHold.created_at.desc(), NumberHold.id.desc())
    )
    return [number_hold_json(hold) for hold in holds]


@router.put("/holds/numbers/{number}")
async def hold_a_number(
    number: PhoneNumber,
    request: Request,
    principal: Deleter,
    session: Session,
    body: NumberHoldIn | None = None,
) -> dict[str, Any]:
    """Put every recording of the number (caller or called) on legal hold."""
    _whole_account(principal)
    scope = await account_scope(session, principal)
    reason = body.reason.strip() if body is not None else ""
    changed = await hold_number(scope, number, reason=reason)
    hold = await _number_hold(scope, e164(number))
    assert hold is not None
    out = {**number_hold_json(hold), "changed": changed}
    detail = {"reason": hold.reason, "changed": changed}
    await audit_change(request, session, principal, "number.hold", "number", hold.number, detail)
    return out


@router.delete("/holds/numbers/{number}", status_code=204)
async def release_a_number(
    number: PhoneNumber, request: Request, principal: Deleter, session: Session
) -> Response:
    """Lift the legal hold on the number (404 when it has none)."""
    _whole_account(principal)
    scope = await account_scope(session, principal)
    digits = e164(number)
    if not await release_number(scope, digits):
        raise ApiError(404, f"number +{digits} is not on legal hold",
                       details={"type": "number_hold", "id": digits})  # fmt: skip
    await audit_change(request, session, principal, "number.release", "number", digits)
    return Response(status_code=204)


@router.get("/deletions")
async def deletions(
    principal: Auditor,
    session: Session,
    reason: Annotated[str | None, Query(max_length=64, examples=["retention"])] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The deletion log (``retention``, ``erasure``, ``user``), newest first, one page."""
    conditions = [RecordingDeletion.account_id == principal.account_id]
    if reason:
        conditions.append(RecordingDeletion.reason == reason)
    total = await session.scalar(
        select(func.count()).select_from(RecordingDeletion).where(*conditions)
    )
    rows = await session.scalars(
        select(RecordingDeletion)
        .where(*conditions)
        .order_by(RecordingDeletion.deleted_at.desc(), RecordingDeletion.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return {
        "items": [deletion_json(row) for row in rows],
        "page": page,
        "page_size": page_size,
        "total": int(total or 0),
    }
