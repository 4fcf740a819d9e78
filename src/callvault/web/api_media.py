"""Listening, downloading and sharing recordings; the anonymous ``/share/{token}`` player.

``GET /api/v1/recordings/{id}/audio`` (``recordings.listen``) streams with
HTTP Range for the player; it is audited as ``recording.listen`` when a
playback starts (a request from byte 0), not for every seek.
``GET .../download`` (``recordings.download``) sends the whole file as an
attachment and is always audited.  A share link (``recordings.share``) is a
random token whose SHA-256 is stored: ``/share/{token}`` streams the
recording to anyone holding it until it expires or is revoked, and answers
404 after that -- as it does for a token that never existed.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from callvault.store.identity import ShareLink
from callvault.store.models import Recording
from callvault.web import audit
from callvault.web.api_recordings import visible_recording
from callvault.web.context import Context, Session, as_utc, client_ip, iso
from callvault.web.errors import ApiError, not_found
from callvault.web.security import Principal, digest, require
from callvault.web.streaming import audio_response, open_audio, parse_range

router = APIRouter(prefix="/api/v1/recordings", tags=["recordings"])
share_router = APIRouter(tags=["share"])

MAX_SHARE = timedelta(days=30)
Listener = Annotated[Principal, Depends(require("recordings.listen"))]
Downloader = Annotated[Principal, Depends(require("recordings.download"))]
Sharer = Annotated[Principal, Depends(require("recordings.share"))]
RangeHeader = Annotated[str | None, Header(alias="Range")]


def _starts_playback(range_header: str | None) -> bool:
    try:
        wanted = parse_range(range_header, 1 << 62)
    except ApiError:
        return False
    return wanted is None or wanted[0] == 0


@router.get("/{recording_id}/audio")
async def audio(
    recording_id: str,
    request: Request,
    principal: Listener,
    session: Session,
    ctx: Context,
    range_header: RangeHeader = None,
) -> StreamingResponse:
    """The clear audio, streamed with HTTP Range support, decrypted on the fly."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    source = await open_audio(session, ctx, row)
    response = audio_response(source, row, range_header)
    if _starts_playback(range_header):
        await audit.record(
            session,
            principal,
            "recording.listen",
            "recording",
            row.id,
            client_ip(request),
            {"range": range_header or ""},
        )
        await session.commit()
    return response


@router.get("/{recording_id}/download")
async def download(
    recording_id: str,
    request: Request,
    principal: Downloader,
    session: Session,
    ctx: Context,
) -> StreamingResponse:
    """The whole clear audio as an attachment."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    source = await open_audio(session, ctx, row)
    response = audio_response(source, row, None, attachment=True)
    await audit.record(
        session,
        principal,
        "recording.download",
        "recording",
        row.id,
        client_ip(request),
        {"size": source.size},
    )
    await session.commit()
    return response


class ShareIn(BaseModel):
    """How long a new share link works."""

    expires_in_s: int = Field(default=7 * 86400, ge=60, le=int(MAX_SHARE.total_seconds()))


def _share_json(link: ShareLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "recording_id": link.recording_id,
        "expires_at": iso(link.expires_at),
        "revoked_at": iso(link.revoked_at),
        "created_at": iso(link.created_at),
    }


@router.post("/{recording_id}/share", status_code=201)
async def create_share(
    recording_id: str,
    body: ShareIn,
    request: Request,
    principal: Sharer,
    session: Session,
    ctx: Context,
) -> dict[str, Any]:
    """A new link that plays the recording without signing in, until it expires."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    link = ShareLink(
        id=digest(token),
        recording_id=row.id,
        account_id=row.account_id,
        created_by=principal.user.id,
        expires_at=now + timedelta(seconds=body.expires_in_s),
        created_at=now,
    )
    session.add(link)
    await audit.record(
        session,
        principal,
        "recording.share",
        "recording",
        row.id,
        client_ip(request),
        {"share_id": link.id, "expires_at": iso(link.expires_at)},
    )
    await session.commit()
    path = f"/share/{token}"
    return {**_share_json(link), "path": path, "url": str(request.base_url).rstrip("/") + path}


@router.get("/{recording_id}/share")
async def list_shares(
    recording_id: str, principal: Sharer, session: Session, ctx: Context
) -> list[dict[str, Any]]:
    """The recording's share links (active and ended), newest first."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    links = await session.scalars(
        select(ShareLink)
        .where(ShareLink.recording_id == row.id, ShareLink.account_id == row.account_id)
        .order_by(ShareLink.created_at.desc())
    )
    return [_share_json(link) for link in links]


@router.delete("/{recording_id}/share/{share_id}", status_code=204)
async def revoke_share(
    recording_id: str,
    share_id: str,
    request: Request,
    principal: Sharer,
    session: Session,
    ctx: Context,
) -> Response:
    """Revoke a share link: it stops working at once."""
    row, _ = await visible_recording(session, ctx, principal, recording_id)
    link = await session.scalar(
        select(ShareLink).where(
            ShareLink.id == share_id,
            ShareLink.recording_id == row.id,
            ShareLink.account_id == row.account_id,
        )
    )
    if link is None:
        raise not_found("share link", share_id)
    if link.revoked_at is None:
        link.revoked_at = datetime.now(UTC)
        await audit.record(
            session,
            principal,
            "recording.share.revoke",
            "recording",
            row.id,
            client_ip(request),
            {"share_id": link.id},
        )
        await session.commit()
    return Response(status_code=204)


@share_router.get("/share/{token}")
async def shared_audio(
    token: str,
    request: Request,
    session: Session,
    ctx: Context,
    range_header: RangeHeader = None,
) -> StreamingResponse:
    """Anonymous playback through a share link (404 once expired or revoked)."""
    now = datetime.now(UTC)
    link = await session.get(ShareLink, digest(token)) if len(token) <= 100 else None
    if link is None or link.revoked_at is not None or as_utc(link.expires_at) <= now:
        raise not_found("share link", "(this link)")
    row = await session.scalar(
        select(Recording).where(
            Recording.id == link.recording_id, Recording.account_id == link.account_id
        )
    )
    if row is None:
        raise not_found("share link", "(this link)")
    source = await open_audio(session, ctx, row)
    response = audio_response(source, row, range_header)
    if _starts_playback(range_header):
        await audit.record(
            session,
            None,
            "recording.share.listen",
            "recording",
            row.id,
            client_ip(request),
            {"share_id": link.id},
            account_id=row.account_id,
            actor=f"share link {link.id[:12]}",
        )
        await session.commit()
    return response
