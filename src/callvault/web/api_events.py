"""``GET /api/v1/events``: the account's call and recording events, live, as Server-Sent Events.

Each event is one SSE message -- ``id`` (the bus's sequence number),
``event`` (``call.started``, ``call.ringing``, ``call.answered``,
``call.ended``, ``recording.ready``, ``recording.failed``) and ``data``, the
same JSON envelope a webhook receives (``{"id", "event", "account",
"created_at", "data"}``).  Needs ``calls.read``; recording events also need
``recordings.list``.  Only calls the caller may see are streamed, by the same
data-scope rules as the call history (:mod:`callvault.web.datascope`),
applied to what is known of the call when the event happens: a consultant
sees their own phone ringing, a team leader their team's queues, an
administrator everything of the account.  ``?events=a,b`` narrows the names.

A comment line every :data:`HEARTBEAT_S` keeps proxies from closing the
stream; every :data:`RECHECK_S` the caller's credentials are checked again
(a revoked token, an ended session, a narrowed role or a login allow-list
takes effect on open streams too: the stream ends with an ``error`` event).
A caller that reads too slowly loses the oldest events and is told with a
``dropped`` event.  The node holds no database connection while streaming.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from callvault.events import EVENTS, Event
from callvault.web.admin_context import Admin
from callvault.web.context import Session, api_context
from callvault.web.datascope import number_forms
from callvault.web.errors import ApiError
from callvault.web.security import DataScope, Principal, authenticate, check_networks, require

router = APIRouter(prefix="/api/v1/events", tags=["events"])
Reader = Annotated[Principal, Depends(require("calls.read"))]

HEARTBEAT_S = 15.0
RECHECK_S = 60.0
MAX_STREAMS_PER_ACCOUNT = 50


def subject_visible(scope: DataScope, subject: dict[str, Any] | None) -> bool:
    """Whether a user with ``scope`` may see a call with these facts (deny by default)."""
    if scope.kind == "account":
        return True
    if subject is None:
        return False
    hops = subject.get("objects") or []
    logins = {str(hop.get("login")) for hop in hops if isinstance(hop, dict)}
    sip_accounts = {
        str(hop.get("login"))
        for hop in hops
        if isinstance(hop, dict) and hop.get("kind") == "sip_account"
    }
    rung = subject.get("login")

    def own() -> bool:
        login = scope.sip_login
        if not login:
            return False
        placed = subject.get("direction") in ("outbound", "internal")
        return (
            login in sip_accounts
            or rung == login
            or (placed and subject.get("from_number") == login)
        )

    if scope.kind == "own":
        return own()
    if scope.kind == "team":
        team = set(scope.objects)
        return own() or bool(logins & team) or rung in team
    if scope.kind == "numbers":
        forms = set(number_forms(scope.numbers))
        return subject.get("from_number") in forms or subject.get("to_number") in forms
    return False


def may_see(principal: Principal, event: Event, wanted: frozenset[str]) -> bool:
    """Whether ``event`` goes to ``principal``'s stream."""
    if event.name not in EVENTS or (wanted and event.name not in wanted):
        return False
    if not principal.has("calls.read"):
        return False
    if event.name.startswith("recording.") and not principal.has("recordings.list"):
        return False
    return subject_visible(principal.data_scope, event.subject)


def sse_message(event: Event) -> str:
    """One Server-Sent Events message (the webhook envelope as ``data``)."""
    body = json.dumps(
        {
            "id": event.id,
            "event": event.name,
            "account": event.account_id,
            "created_at": event.at.isoformat(),
            "data": event.data,
        },
        separators=(",", ":"),
        default=str,
    )
    return f"id: {event.id}\nevent: {event.name}\ndata: {body}\n\n"


def _notice(name: str, data: dict[str, Any]) -> str:
    """An SSE message of the stream itself (``dropped``, ``error``)."""
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@dataclass
class _Viewer:
    """The stream's caller, replaced when the credentials are checked again."""

    principal: Principal


async def _recheck(request: Request) -> Principal:
    """The caller's credentials and allow-list again (raises :class:`ApiError`)."""
    async with api_context(request).db.session() as session:
        principal = await authenticate(request, session)
        await check_networks(request, session, principal)
    if not principal.has("calls.read"):
        raise ApiError(403, "your role no longer allows this (needs calls.read)")
    return principal


@router.get(
    "",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the live events"}},
)
async def events(
    request: Request,
    principal: Reader,
    session: Session,
    admin: Admin,
    names: Annotated[
        str | None,
        Query(alias="events", max_length=200, description="comma-separated event names"),
    ] = None,
) -> StreamingResponse:
    """Stream the account's events the caller may see, as they happen."""
    wanted = frozenset(name.strip() for name in (names or "").split(",") if name.strip())
    unknown = sorted(wanted - set(EVENTS))
    if unknown:
        raise ApiError(
            422,
            f"unknown event(s) {', '.join(unknown)}; known: {', '.join(EVENTS)}",
            details={"unknown": unknown},
        )
    bus = admin.bus
    open_streams = sum(1 for s in bus.subscriptions if s.account_id == principal.account_id)
    if open_streams >= MAX_STREAMS_PER_ACCOUNT:
        raise ApiError(429, f"the account already has {open_streams} open event streams")
    viewer = _Viewer(principal)
    await session.close()  # streams last: hold no database connection

    async def stream() -> AsyncIterator[str]:
        """The messages: greeting, events, keep-alives, until disconnect or refusal."""
        # Subscribed here, not before: a stream that never starts leaves nothing behind.
        subscription = bus.subscribe(
            principal.account_id, lambda event: may_see(viewer.principal, event, wanted)
        )
        checked = time.monotonic()
        try:
            yield f"retry: 3000\n: connected as {viewer.principal.actor}\n\n"
            while True:
                event = await subscription.get(HEARTBEAT_S)
                dropped = subscription.take_dropped()
                if dropped:
                    yield _notice("dropped", {"dropped": dropped})
                if event is not None:
                    yield sse_message(event)
                elif subscription.closed:
                    return
                else:
                    yield ": keep-alive\n\n"
                if time.monotonic() - checked >= RECHECK_S:
                    try:
                        viewer.principal = await _recheck(request)
                    except ApiError as exc:
                        body = {"status": exc.status, "error": exc.error, "message": exc.message}
                        yield _notice("error", body)
                        return
                    checked = time.monotonic()
        finally:
            bus.unsubscribe(subscription)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
