"""``/admin/retention``: retention (retencja), legal holds (blokada usuwania), deletions, erasure.

* how long each recording rule keeps its recordings (read-only; they are
  changed on ``/admin/rules``);
* the recordings on legal hold the user sees, each with a release button
  (``DELETE /api/v1/recordings/{id}/hold``), and a form to hold one by id;
* the numbers on legal hold, with their reasons: add one, release one
  (``/api/v1/holds/numbers``; these reach the whole account, so they are
  offered only with the ``account`` data scope);
* the deletion log, latest 100 (``GET /api/v1/deletions``, ``audit.read``);
* erasure of a caller number's recordings on request (RODO/GDPR):
  ``POST /api/v1/jobs/erase``, then the job is followed on ``/jobs``.

Everything shown comes from :mod:`callvault.web.api_holds` and
:mod:`callvault.web.api_rules`; the screen needs ``recordings.delete``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from callvault.recording.rules import RuleDecision
from callvault.store.numbers import display
from callvault.web.api_holds import deletions, held_numbers, held_recordings
from callvault.web.api_rules import list_rules
from callvault.web.context import Context, Session
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.panel.i18n import DASH, Translator

router = APIRouter(include_in_schema=False)
LOG_SIZE = 100
"""Deletion-log entries shown."""


def _number(text: str | None) -> str:
    if not text:
        return DASH
    return display(text) if text.isdigit() else text


def _retention(rule: dict[str, Any]) -> dict[str, Any]:
    decision = RuleDecision.model_validate(rule["decision"])
    return {
        "name": rule["name"],
        "enabled": rule["enabled"],
        "record": decision.record,
        "days": decision.retention_days if decision.record else None,
    }


def _held(t: Translator, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "when": t.when(item["started_at"]),
        "caller": _number(item["caller_number"]),
        "to": _number(item["to_number"]),
        "rule": item["rule"] or DASH,
        "expires": t.when(item["expires_at"]) if item["expires_at"] else t("rec.no_expiry"),
    }


def _deletion(t: Translator, item: dict[str, Any]) -> dict[str, Any]:
    detail = item["detail"] or {}
    return {
        "id": item["id"],
        "recording_id": item["recording_id"],
        "when": t.when(item["deleted_at"]),
        "reason": item["reason"],
        "reason_label": t.label("retention.why", item["reason"]),
        "caller": _number(item["caller_number"]),
        "rule": detail.get("rule") or DASH,
        "by": detail.get("by") or detail.get("requested_by") or DASH,
    }


@router.get("/admin/retention")
async def retention_page(request: Request, session: Session, ctx: Context) -> Response:
    """Retention per rule, holds on recordings and numbers, the deletion log, erasure."""
    page = await admin_page(request, session, "retention")
    principal = page.principal
    assert principal is not None
    t = page.t
    whole_account = principal.data_scope.kind == "account"
    numbers = None
    if whole_account:
        numbers = [
            {**hold, "when": t.when(hold["created_at"])}
            for hold in await held_numbers(principal, session)
        ]
    log = None
    if page.can("audit.read"):
        found = await deletions(principal, session, None, 1, LOG_SIZE)
        log = {"rows": [_deletion(t, item) for item in found["items"]], "total": found["total"]}
    return render_admin(
        page,
        "retention",
        "admin/retention.html",
        rules=[_retention(rule) for rule in await list_rules(principal, session)],
        can_edit_rules=page.can("rules.manage"),
        held=[_held(t, item) for item in await held_recordings(principal, session, ctx)],
        whole_account=whole_account,
        numbers=numbers,
        log=log,
        log_size=LOG_SIZE,
    )
