"""``/admin/webhooks``: the account's signed event subscriptions (``objects.manage``).

The list is the API's own (:func:`callvault.web.api_webhooks.list_webhooks`:
never the secrets); the events offered are the API's
(:data:`callvault.web.api_webhooks.EventName`).  Adding one goes through
``POST /api/v1/webhooks``, whose answer holds the signing secret once:
``static/admin-webhooks.js`` shows it and it is never shown again.  Deleting
goes through ``DELETE /api/v1/webhooks/{id}``.
"""

from __future__ import annotations

from typing import get_args

from fastapi import APIRouter, Request, Response

from callvault.web.api_webhooks import MAX_WEBHOOKS, EventName, list_webhooks
from callvault.web.context import Session
from callvault.web.panel.admin import admin_page, render_admin

router = APIRouter(include_in_schema=False)
EVENTS: tuple[str, ...] = get_args(EventName)
"""The event names a webhook may subscribe to."""


@router.get("/admin/webhooks")
async def webhooks_page(request: Request, session: Session) -> Response:
    """The webhooks and the form for a new one."""
    page = await admin_page(request, session, "webhooks")
    assert page.principal is not None
    t = page.t
    rows = [
        {
            "id": hook["id"],
            "url": hook["url"],
            "events": list(hook["events"]),
            "enabled": bool(hook["enabled"]),
            "created": t.when(hook["created_at"]),
            "last_at": t.when(hook["last_delivery_at"], seconds=True),
            "last_event": hook["last_event"] or "",
            "last_outcome": hook["last_outcome"] or "",
            "delivered": str(hook["last_outcome"] or "").startswith("delivered"),
            "failures": hook["failures_in_row"],
        }
        for hook in await list_webhooks(page.principal, session)
    ]
    return render_admin(
        page,
        "webhooks",
        "admin/webhooks.html",
        rows=rows,
        events=EVENTS,
        full=len(rows) >= MAX_WEBHOOKS,
        most=MAX_WEBHOOKS,
    )
