"""``/admin/rules``: the account's recording rules (reguły nagrywania) and their dry run.

The rules are listed in the order calls try them (priority, then name), each
with its conditions in words and its decision (record or never; mode,
format, retention, announcement), from :func:`callvault.web.api_rules.list_rules`.
Creating, changing and deleting go through ``/api/v1/rules`` (validated by
:mod:`callvault.recording.rule_store`, audited); the dry-run form posts to
``/api/v1/rules/test`` and ``static/admin-rules.js`` shows the decision and
why each rule matched or not, without leaving the page.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from callvault.recording.rules import RuleDecision, ScheduleWindow
from callvault.store.numbers import display
from callvault.web.api_rules import list_rules
from callvault.web.context import Session
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.panel.i18n import DASH, Translator

router = APIRouter(include_in_schema=False)

EXAMPLE_CONDITIONS = {
    "directions": ["inbound"],
    "numbers": ["+48 22 123 45 67"],
    "schedule": ["mon-fri 08:00-17:00"],
}
EXAMPLE_DECISION = {
    "record": True,
    "mode": "stereo",
    "format": "opus",
    "retention_days": 90,
    "announcement": "recording-notice",
}
"""What the new-rule form shows as an example."""
DIRECTIONS = ("inbound", "outbound", "internal")


def _numbers(values: list[str]) -> str:
    return ", ".join(display(value) for value in values)


def conditions_text(t: Translator, conditions: dict[str, Any]) -> list[str]:
    """A rule's conditions, one readable line each (``every call`` when it has none)."""
    lines = []
    for key, value in conditions.items():
        if value is None:
            continue
        if key == "directions":
            text = ", ".join(t.label("direction", item) for item in value)
        elif key == "object_kinds":
            text = ", ".join(t.label("object", item) for item in value)
        elif key in ("numbers", "caller_list"):
            text = _numbers(value)
        elif key == "schedule":
            text = "; ".join(ScheduleWindow.model_validate(w).describe() for w in value)
        elif key == "sample_percent":
            lines.append(t("rules.cond.sample_percent", percent=value))
            continue
        else:
            text = ", ".join(str(item) for item in value)
        lines.append(t(f"rules.cond.{key}", values=text))
    return lines or [t("rules.cond.any")]


def rule_row(t: Translator, rule: dict[str, Any]) -> dict[str, Any]:
    """One rule for the table and its edit form."""
    conditions = {key: value for key, value in rule["conditions"].items() if value is not None}
    decision = RuleDecision.model_validate(rule["decision"])
    record = decision.record
    return {
        "name": rule["name"],
        "path": quote(rule["name"], safe=""),
        "priority": rule["priority"],
        "enabled": rule["enabled"],
        "conditions": conditions_text(t, conditions),
        "record": record,
        "mode": t(f"js.rules_mode_{decision.mode}") if record else DASH,
        "format": decision.format if record else DASH,
        "retention_days": decision.retention_days if record else None,
        "announcement": (decision.announcement or DASH) if record else DASH,
        "dtmf": t("rules.dtmf", pause=decision.pause_code, resume=decision.resume_code)
        if record and decision.allow_dtmf_pause
        else "",
        "conditions_json": json.dumps(conditions, ensure_ascii=False, indent=2),
        "decision_json": json.dumps(rule["decision"], ensure_ascii=False, indent=2),
    }


@router.get("/admin/rules")
async def rules_page(request: Request, session: Session) -> Response:
    """The rules in priority order, forms to add, change or delete one, and the dry run."""
    page = await admin_page(request, session, "rules")
    assert page.principal is not None
    rules = await list_rules(page.principal, session)
    return render_admin(
        page,
        "rules",
        "admin/rules.html",
        rows=[rule_row(page.t, rule) for rule in rules],
        directions=[(value, page.t.label("direction", value)) for value in DIRECTIONS],
        example_conditions=json.dumps(EXAMPLE_CONDITIONS, ensure_ascii=False, indent=2),
        example_decision=json.dumps(EXAMPLE_DECISION, ensure_ascii=False, indent=2),
        timezone=page.t.tz.key,
    )
