"""``/live`` (trwające połączenia): the account's calls in progress, refreshed every few seconds.

The engine's live calls are the node's (``/api/v1/calls/live`` is an
operator endpoint); the panel shows a user only those of their own account
(``call.data["account_id"]``), and needs ``calls.read`` like the call
history.  ``/live.json`` is what the page's script polls; it answers JSON
errors (401/403) like the API, not redirects.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from callvault.engine.call import Call
from callvault.web.context import Session
from callvault.web.panel.render import panel_state, signed_in_page
from callvault.web.security import Principal, require

router = APIRouter(include_in_schema=False)
REFRESH_SECONDS = 3
Reader = Annotated[Principal, Depends(require("calls.read"))]


def live_json(call: Call, now: float) -> dict[str, Any]:
    """One call in progress: who talks to whom, since when, through what, recorded or not."""
    summary = call.summary()
    recording = call.data.get("recording") or {}
    return {
        "call_id": call.id,
        "from": summary["from"],
        "to": summary["to"],
        "direction": call.data.get("direction", "inbound"),
        "started_at": call.started_at,
        "duration_s": round(now - call.started_at, 1),
        "objects": [
            {"kind": hop.get("kind"), "login": hop.get("login")}
            for hop in call.data.get("objects", [])
            if isinstance(hop, dict)
        ],
        "parties": [leg["party"] for leg in summary["legs"] if leg.get("party")],
        "answered": any(leg.get("state") == "answered" for leg in summary["legs"]),
        "recorded": bool(recording.get("recorded")),
        "recording_id": recording.get("recording_id"),
    }


def account_calls(request: Request, account_id: int) -> list[dict[str, Any]]:
    """The live calls of one account, oldest first."""
    now = time.time()
    calls = [
        call
        for call in panel_state(request).live_calls()
        if call.data.get("account_id") == account_id and call.ended_at is None
    ]
    return [live_json(call, now) for call in sorted(calls, key=lambda c: c.started_at)]


@router.get("/live")
async def live_page(request: Request, session: Session) -> Response:
    """The live-calls table (filled and refreshed by ``static/live.js``)."""
    page = await signed_in_page(request, session)
    principal = page.require("calls.read")
    t = page.t
    return page.render(
        "live.html",
        section="live",
        calls=account_calls(request, principal.account_id),
        refresh_s=REFRESH_SECONDS,
        script={
            "lang": t.lang,
            "refresh_s": REFRESH_SECONDS,
            "messages": t.script_messages(),
            "labels": {
                key: t.messages[key]
                for key in t.messages
                if key.startswith(("object.", "direction."))
            },
        },
    )


@router.get("/live.json")
async def live_calls(request: Request, principal: Reader) -> JSONResponse:
    """The account's calls in progress as JSON (for the page's refresh)."""
    items = account_calls(request, principal.account_id)
    return JSONResponse({"items": items}, headers={"Cache-Control": "no-store"})
