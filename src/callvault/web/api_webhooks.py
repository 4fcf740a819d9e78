"""``/api/v1/webhooks``: an account's signed event subscriptions (``objects.manage``).

A webhook is a URL and the events it wants (:data:`callvault.events.EVENTS`;
none listed: every event).  Its signing secret is generated here and shown in
the answer to the creation only -- receivers check ``X-Signature`` with it
(:func:`callvault.ivr.signing.verify`); to change it, create a new webhook
and delete the old one.  The URL must pass the same SSRF guard deliveries
pass (public addresses, or the operator's allow-list), checked at once so a
mistake is seen when it is made.  Changes are audited.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from callvault.ivr.ssrf import UrlNotAllowed, check_url
from callvault.store.errors import InvalidInputError, NotFoundError
from callvault.store.models import Webhook
from callvault.web.admin_context import Admin
from callvault.web.api_admin import RowId, audit_change
from callvault.web.context import Session, iso
from callvault.web.errors import ApiError
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
Manager = Annotated[Principal, Depends(require("objects.manage"))]

EventName = Literal[
    "call.started",
    "call.ringing",
    "call.answered",
    "call.ended",
    "recording.ready",
    "recording.failed",
]
MAX_WEBHOOKS = 20
CHECK_TIMEOUT_S = 5.0


class WebhookIn(BaseModel):
    """A new subscription."""

    url: str = Field(min_length=8, max_length=500, pattern=r"^https?://")
    events: list[EventName] = Field(default_factory=list, description="none: every event")


def webhook_json(hook: Webhook) -> dict[str, Any]:
    """A webhook without its secret."""
    return {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events),
        "enabled": hook.enabled,
        "created_at": iso(hook.created_at),
        "last_delivery_at": iso(hook.last_delivery_at),
        "last_event": hook.last_event,
        "last_outcome": hook.last_outcome,
        "failures_in_row": hook.failures_in_row or 0,
    }


class WebhookPatch(BaseModel):
    """Changes to a subscription."""

    enabled: bool | None = None
    events: list[EventName] | None = Field(None, description="[]: every event")


async def _own(session: Session, principal: Principal, webhook_id: int) -> Webhook:
    hook = await session.get(Webhook, webhook_id)
    if hook is None or hook.account_id != principal.account_id:
        raise NotFoundError(f"no webhook {webhook_id}")
    return hook


@router.get("")
async def list_webhooks(principal: Manager, session: Session) -> list[dict[str, Any]]:
    """The account's webhooks (never their secrets)."""
    rows = await session.scalars(
        select(Webhook).where(Webhook.account_id == principal.account_id).order_by(Webhook.id)
    )
    return [webhook_json(hook) for hook in rows]


@router.post("", status_code=201)
async def add_webhook(
    body: WebhookIn, request: Request, principal: Manager, session: Session, admin: Admin
) -> dict[str, Any]:
    """Subscribe a URL to events; ``secret`` is in this answer only."""
    allow = admin.webhooks.allow_networks if admin.webhooks is not None else admin.allow_networks
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await check_url(body.url, allow)
    except UrlNotAllowed as exc:
        raise InvalidInputError(f"url: not allowed: {exc.reason}") from None
    except TimeoutError:
        raise InvalidInputError(f"url: its host did not resolve in {CHECK_TIMEOUT_S} s") from None
    count = await session.scalar(
        select(func.count()).select_from(Webhook).where(Webhook.account_id == principal.account_id)
    )
    if (count or 0) >= MAX_WEBHOOKS:
        raise InvalidInputError(f"an account may have at most {MAX_WEBHOOKS} webhooks")
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        account_id=principal.account_id,
        url=body.url,
        secret=secret,
        events=list(dict.fromkeys(body.events)),
        enabled=True,
    )
    session.add(hook)
    await session.flush()
    out = webhook_json(hook)
    await audit_change(request, session, principal, "webhook.create", "webhook", str(hook.id), out)
    return {**out, "secret": secret}


@router.patch("/{webhook_id}")
async def change_webhook(
    webhook_id: RowId, body: WebhookPatch, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Pause or resume a subscription, or change its events."""
    hook = await _own(session, principal, webhook_id)
    if body.enabled is not None:
        hook.enabled = body.enabled
    if body.events is not None:
        hook.events = list(dict.fromkeys(body.events))
    await session.flush()
    changes = body.model_dump(exclude_unset=True)
    await audit_change(
        request, session, principal, "webhook.update", "webhook", str(webhook_id), changes
    )
    return webhook_json(hook)


@router.post("/{webhook_id}/test", status_code=202)
async def test_webhook(
    webhook_id: RowId, principal: Manager, session: Session, admin: Admin
) -> dict[str, Any]:
    """Send a signed ``webhook.test`` event to this URL now (retries as usual); its outcome
    shows on the webhook as ``last_outcome``."""
    hook = await _own(session, principal, webhook_id)
    if admin.webhooks is None:
        raise ApiError(503, "this node sends no webhooks", error="unavailable")
    data = {"webhook_id": hook.id, "message": "a test delivery from callvault"}
    body = admin.webhooks.body(principal.account_id, "webhook.test", data)
    admin.webhooks.send(hook, "webhook.test", body)
    return {"queued": True, "event": "webhook.test"}


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(
    webhook_id: RowId, request: Request, principal: Manager, session: Session
) -> Response:
    """Stop a subscription."""
    hook = await _own(session, principal, webhook_id)
    detail = {"url": hook.url}
    await session.delete(hook)
    await session.flush()
    await audit_change(
        request, session, principal, "webhook.delete", "webhook", str(webhook_id), detail
    )
    return Response(status_code=204)
