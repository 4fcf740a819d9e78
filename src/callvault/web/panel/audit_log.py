"""``/audit`` (dziennik audytu): the account's audit log -- filters, pages, CSV, chain check.

The page calls the REST API's own :func:`~callvault.web.api_audit.audit_log`
(and :func:`~callvault.web.api_audit.verify` when asked), so it shows what
``/api/v1/audit`` answers the same user (``audit.read``, their account
only).  Dates are the account's local days; the CSV link is the API's
export with the same filters (the export itself is audited).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from callvault.web.api_audit import audit_log, verify
from callvault.web.context import Session
from callvault.web.panel.i18n import Translator
from callvault.web.panel.render import signed_in_page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
ACTIONS = (
    "login", "login.failed", "access.refused_ip", "recording.listen", "recording.download",
    "recording.share", "recording.share.revoke", "recording.delete", "recording.note",
    "recording.tags", "recording.hold", "recording.release", "recordings.export",
    "recordings.export_zip", "recordings.export_zip.download", "recordings.erase",
    "calls.export", "reports.export", "number.create", "number.update", "number.delete",
    "number.hold", "number.release", "object.create", "object.update", "object.delete",
    "prompt.create", "prompt.delete", "rule.create", "rule.update", "rule.delete",
    "user.create", "user.update", "user.delete", "role.create", "role.delete",
    "account.login_networks", "token.create", "token.delete", "webhook.create",
    "webhook.update", "webhook.delete", "audit.export",
)  # fmt: skip
"""Actions offered in the filter (any other can still be typed in the URL)."""


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _row(t: Translator, entry: dict[str, Any]) -> dict[str, Any]:
    """One entry as the table shows it (times in the account's zone, details as JSON)."""
    detail = entry["detail"]
    return {
        "id": entry["id"],
        "when": t.when(entry["at"], seconds=True),
        "iso": t.iso_local(entry["at"]),
        "actor": entry["actor"],
        "action": entry["action"],
        "target": " ".join(p for p in (entry["target_type"], entry["target_id"]) if p),
        "ip": entry["ip"] or "",
        "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True) if detail else "",
    }


@router.get("/audit")
async def audit_page(request: Request, session: Session) -> Response:
    """One page of the audit log with the filter form; ``?verify=1`` checks the hash chain."""
    page = await signed_in_page(request, session)
    principal = page.require("audit.read")
    t = page.t
    form = {
        name: request.query_params.get(name, "").strip()[:limit]
        for name, limit in (("action", 64), ("actor", 300), ("target", 64),
                            ("date_from", 10), ("date_to", 10))
    }  # fmt: skip
    day_from, day_to = _day(form["date_from"]), _day(form["date_to"])
    start = datetime.combine(day_from, time(), t.tz) if day_from else None
    end = datetime.combine(day_to + timedelta(days=1), time(), t.tz) if day_to else None
    try:
        number = max(1, min(100_000, int(request.query_params.get("page", "1"))))
    except ValueError:
        number = 1
    found = await audit_log(
        principal, session, form["action"] or None, form["actor"] or None,
        form["target"] or None, start, end, number, PAGE_SIZE,
    )  # fmt: skip
    rows = [_row(t, entry) for entry in found["items"]]
    api = {
        "action": form["action"],
        "actor": form["actor"],
        "target_id": form["target"],
        "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else "",
    }
    keep = urlencode({k: v for k, v in form.items() if v})
    total = int(found["total"])
    checked: dict[str, Any] | None = None
    if request.query_params.get("verify") == "1":
        checked = await verify(principal, session)
    return page.render(
        "audit.html",
        section="audit",
        rows=rows,
        actions=ACTIONS,
        form=form,
        total=total,
        page_number=number,
        pages=max(1, -(-total // PAGE_SIZE)),
        prev_url=f"/audit?{keep}&page={number - 1}" if number > 1 else "",
        next_url=f"/audit?{keep}&page={number + 1}" if number * PAGE_SIZE < total else "",
        csv_url="/api/v1/audit/export?" + urlencode({k: v for k, v in api.items() if v}),
        verify_url=f"/audit?{keep}&verify=1",
        checked=checked,
    )
