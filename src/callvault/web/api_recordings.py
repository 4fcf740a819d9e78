"""``/api/v1/recordings``: list and inspect recordings, notes, tags, deletion.

Every lookup goes through :func:`visible_recording`: the caller's account
*and* data scope, so another account's or another team's recording answers
404 exactly like one that does not exist.  The scope check (403) comes first
and does not depend on the recording, so it leaks nothing either.  Playback,
download and share links are in :mod:`callvault.web.api_media`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.recording.storage import StorageError
from callvault.store.identity import RecordingNote, User
from callvault.store.models import CallRecord, NumberHold, Recording, RecordingDeletion
from callvault.store.numbers import InvalidNumberError, normalize
from callvault.web import audit
from callvault.web.context import ApiContext, Context, Session, client_ip, iso
from callvault.web.datascope import recording_condition
from callvault.web.errors import ApiError, not_found
from callvault.web.listing import (
    EXPORT_LIMIT,
    ListQuery,
    capped_total,
    list_query,
    recording_filters,
    recording_json,
    recordings_csv,
)
from callvault.web.listing import sorted_recordings as order
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])
UNFINISHED = ("recording", "processing")
MAX_TAGS_BYTES = 4096

Lister = Annotated[Principal, Depends(require("recordings.list"))]
NoteTaker = Annotated[Principal, Depends(require("recordings.notes"))]
Deleter = Annotated[Principal, Depends(require("recordings.delete"))]


def _joined() -> Any:
    return select(Recording, CallRecord).outerjoin(
        CallRecord,
        and_(CallRecord.id == Recording.call_id, CallRecord.account_id == Recording.account_id),
    )


async def visible_recording(
    session: AsyncSession, ctx: ApiContext, principal: Principal, recording_id: str
) -> tuple[Recording, CallRecord | None]:
    """The recording and its call if the caller may see it; else 404 (never 403)."""
    found = (
        await session.execute(
            _joined().where(
                Recording.id == recording_id,
                Recording.account_id == principal.account_id,
                recording_condition(principal.data_scope, principal.account_id),
            )
        )
    ).first()
    if found is None:
        raise not_found("recording", recording_id)
    return found[0], found[1]


@router.get("", response_model=None)
async def list_recordings(
    request: Request,
    principal: Lister,
    session: Session,
    ctx: Context,
    query: Annotated[ListQuery, Depends(list_query)],
) -> dict[str, Any] | Response:
    """The caller's visible recordings matching the search: one page, or all as CSV."""
    conditions = [
        Recording.account_id == principal.account_id,
        recording_condition(principal.data_scope, principal.account_id),
        *recording_filters(query, ctx.dialect),
    ]
    statement = _joined().where(*conditions)
    if query.format == "csv":
        rows = [
            (row, call)
            for row, call in await session.execute(order(statement, query).limit(EXPORT_LIMIT))
        ]
        await audit.record(
            session,
            principal,
            "recordings.export",
            "recordings",
            "",
            client_ip(request),
            {"rows": len(rows), "query": request.url.query},
        )
        await session.commit()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            recordings_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="recordings-{stamp}.csv"'},
        )
    total, exact = await capped_total(session, statement)
    page = await session.execute(
        order(statement, query).limit(query.page_size).offset(query.offset)
    )
    return {
        "items": [recording_json(row, call) for row, call in page],
        "page": query.page,
        "page_size": query.page_size,
        "total": total,
        "total_exact": exact,
    }


@router.get("/{recording_id}")
async def get_recording(
    recording_id: str, principal: Lister, session: Session, ctx: Context
) -> dict[str, Any]:
    """A recording with its waveform peaks, the rule's explanation and the consent stamp."""
    row, call = await visible_recording(session, ctx, principal, recording_id)
    return recording_json(row, call, full=True)


class NoteIn(BaseModel):
    """A note to add."""

    text: str = Field(min_length=1, max_length=4000)


def _note_json(note: RecordingNote, email: str | None) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "author": email, "created_at": iso(note.created_at)}


@router.get("/{recording_id}/notes")
async def list_notes(
    recording_id: str, principal: NoteTaker, session: Session, ctx: Context
) -> list[dict[str, Any]]:
    """The recording's notes, oldest first."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    notes = await session.execute(
        select(RecordingNote, User.email)
        .outerjoin(User, User.id == RecordingNote.user_id)
        .where(RecordingNote.recording_id == row.id, RecordingNote.account_id == row.account_id)
        .order_by(RecordingNote.id)
    )
    return [_note_json(note, email) for note, email in notes]


@router.post("/{recording_id}/notes", status_code=201)
async def add_note(
    recording_id: str,
    body: NoteIn,
    request: Request,
    principal: NoteTaker,
    session: Session,
    ctx: Context,
) -> dict[str, Any]:
    """Add a note to the recording."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    note = RecordingNote(
        recording_id=row.id, account_id=row.account_id, user_id=principal.user.id, text=body.text
    )
    session.add(note)
    await session.flush()
    await audit.record(
        session,
        principal,
        "recording.note",
        "recording",
        row.id,
        client_ip(request),
        {"note_id": note.id},
    )
    await session.commit()
    return _note_json(note, principal.user.email)


@router.patch("/{recording_id}/tags")
async def patch_tags(
    recording_id: str,
    body: dict[str, Any],
    request: Request,
    principal: NoteTaker,
    session: Session,
    ctx: Context,
) -> dict[str, Any]:
    """Merge ``body`` into the recording's tags; a ``null`` value removes that tag."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    tags = dict(row.tags)
    for key, value in body.items():
        if not 0 < len(key) <= 64:
            raise ApiError(422, f"tag name {key[:70]!r} must have 1 to 64 characters")
        if value is None:
            tags.pop(key, None)
        else:
            tags[key] = value
    if len(json.dumps(tags, ensure_ascii=False).encode()) > MAX_TAGS_BYTES:
        raise ApiError(422, f"tags may take at most {MAX_TAGS_BYTES} bytes of JSON")
    row.tags = tags
    await audit.record(
        session,
        principal,
        "recording.tags",
        "recording",
        row.id,
        client_ip(request),
        {"changed": sorted(body)},
    )
    await session.commit()
    return {"id": row.id, "tags": tags}


def _digits(text: str) -> str:
    try:
        return normalize(text)
    except InvalidNumberError:
        return text


async def hold_reason(session: AsyncSession, row: Recording, call: CallRecord | None) -> str | None:
    """Why the recording must be kept (its legal hold, or one on a number of its call)."""
    if row.legal_hold:
        return "the recording is on legal hold"
    numbers = {_digits(row.caller_number)}
    if call is not None:
        numbers |= {_digits(call.from_number), _digits(call.to_number)}
    held = await session.scalar(
        select(NumberHold.number)
        .where(NumberHold.account_id == row.account_id, NumberHold.number.in_(numbers - {""}))
        .limit(1)
    )
    return f"number +{held} is on legal hold" if held else None


@router.delete("/{recording_id}", status_code=204)
async def delete_recording(
    recording_id: str, request: Request, principal: Deleter, session: Session, ctx: Context
) -> Response:
    """Delete the audio from the storage and the row; logged as a ``user`` deletion."""
    row, call = await visible_recording(session, ctx, principal, recording_id)
    held = await hold_reason(session, row, call)
    if held:
        raise ApiError(409, f"{held}: it cannot be deleted", error="legal_hold")
    if row.state in UNFINISHED:
        raise ApiError(
            409,
            f"the recording is still {row.state}; try again when it is stored",
            error="not_finished",
        )
    if row.storage_key:
        try:
            await ctx.storage.delete(row.storage_key)
        except StorageError as exc:
            raise ApiError(503, f"the recording storage does not answer: {exc}") from None
    detail = {
        "storage_key": row.storage_key,
        "size_bytes": row.size_bytes,
        "rule": row.rule_name,
        "by": principal.actor,
    }
    session.add(
        RecordingDeletion(
            account_id=row.account_id,
            recording_id=row.id,
            call_id=row.call_id,
            caller_number=row.caller_number,
            reason="user",
            detail=detail,
        )
    )
    await session.delete(row)
    await audit.record(
        session,
        principal,
        "recording.delete",
        "recording",
        recording_id,
        client_ip(request),
        {"call_id": row.call_id},
    )
    await session.commit()
    return Response(status_code=204)
