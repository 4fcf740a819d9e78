"""``/api/v1/rules/{name}`` and ``POST /api/v1/rules``: changing an account's recording rules.

Beside :mod:`callvault.web.api_rules` (the list and the dry run), with the
same scope, ``rules.manage``.  Rules go through
:mod:`callvault.recording.rule_store` -- the same validation and storage as
``callvault rules`` -- so numbers are normalised, unknown fields refused, and
adding or changing a rule needs the ``recording`` add-on in the account's
plan (403 ``plan_limit`` otherwise).  Every change is audited with the rule
as stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from callvault.recording.rule_store import add_rule, delete_rule, get_rule, to_rule, update_rule
from callvault.recording.rules import RecordingRule, RuleConditions, RuleDecision
from callvault.store.models import RecordingRuleRow
from callvault.web.api_admin import account_scope, audit_change
from callvault.web.context import Session
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/rules", tags=["recording rules"])
Manager = Annotated[Principal, Depends(require("rules.manage"))]


class RulePatch(BaseModel):
    """Changes to a rule: rename, reorder, enable or disable, new conditions or decision."""

    name: str | None = Field(None, min_length=1, max_length=64)
    priority: int | None = Field(None, ge=-1_000_000, le=1_000_000)
    enabled: bool | None = None
    conditions: RuleConditions | None = None
    decision: RuleDecision | None = None


def rule_json(row: RecordingRuleRow) -> dict[str, Any]:
    """A stored rule as JSON (absent conditions left out)."""
    rule = to_rule(row).model_dump(mode="json")
    rule["conditions"] = {k: v for k, v in rule["conditions"].items() if v is not None}
    return rule


@router.get("/{name}")
async def get_one(name: str, principal: Manager, session: Session) -> dict[str, Any]:
    """One rule of the account."""
    return rule_json(await get_rule(await account_scope(session, principal), name))


@router.post("", status_code=201)
async def create(
    rule: RecordingRule, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Add a rule (its name must be free in the account)."""
    row = await add_rule(await account_scope(session, principal), rule)
    out = rule_json(row)
    await audit_change(request, session, principal, "rule.create", "rule", row.name, out)
    return out


@router.patch("/{name}")
async def change(
    name: str, body: RulePatch, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Change parts of a rule; what is not given stays."""
    row = await update_rule(
        await account_scope(session, principal),
        name,
        new_name=body.name,
        priority=body.priority,
        enabled=body.enabled,
        conditions=body.conditions,
        decision=body.decision,
    )
    out = rule_json(row)
    detail = {"was": name, "rule": out}
    await audit_change(request, session, principal, "rule.update", "rule", row.name, detail)
    return out


@router.delete("/{name}", status_code=204)
async def remove(name: str, request: Request, principal: Manager, session: Session) -> Response:
    """Delete a rule."""
    await delete_rule(await account_scope(session, principal), name)
    await audit_change(request, session, principal, "rule.delete", "rule", name)
    return Response(status_code=204)
