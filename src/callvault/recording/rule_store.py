"""An account's recording rules in the database: list, add, update, delete, load.

The functions work on one :class:`~callvault.store.repository.AccountScope`
(its session, its account id), so one company never reads or changes
another's rules.  A rule is validated as a
:class:`~callvault.recording.rules.RecordingRule` before it is written and
stored as JSON (conditions without the absent ones); :func:`load_rules` turns
the rows back into rules for :func:`~callvault.recording.rules.decide`.
Adding or changing rules needs the ``recording`` add-on in the account's plan.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.recording.rules import RecordingRule, RuleConditions, RuleDecision
from callvault.store.errors import ConflictError, InvalidInputError, NotFoundError
from callvault.store.models import RecordingRuleRow
from callvault.store.repository import AccountScope


def validate_rule(data: dict[str, Any]) -> RecordingRule:
    """``data`` as a rule, or :class:`InvalidInputError` naming each bad field."""
    try:
        return RecordingRule.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'rule'}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise InvalidInputError("invalid rule: " + "; ".join(problems)) from None


def to_rule(row: RecordingRuleRow) -> RecordingRule:
    """The stored row as a rule."""
    return validate_rule(
        {
            "name": row.name,
            "priority": row.priority,
            "enabled": row.enabled,
            "conditions": row.conditions,
            "decision": row.decision,
        }
    )


def _write(row: RecordingRuleRow, rule: RecordingRule) -> None:
    row.name = rule.name
    row.priority = rule.priority
    row.enabled = rule.enabled
    row.conditions = rule.conditions.model_dump(mode="json", exclude_none=True)
    row.decision = rule.decision.model_dump(mode="json")


def _in_order(account_id: int) -> Select[RecordingRuleRow]:
    return (
        select(RecordingRuleRow)
        .where(RecordingRuleRow.account_id == account_id)
        .order_by(RecordingRuleRow.priority, RecordingRuleRow.name)
    )


async def _find(scope: AccountScope, name: str) -> RecordingRuleRow | None:
    return await scope.session.scalar(
        select(RecordingRuleRow).where(
            RecordingRuleRow.account_id == scope.account_id, RecordingRuleRow.name == name
        )
    )


async def list_rules(scope: AccountScope) -> list[RecordingRuleRow]:
    """The account's rules in the order they are tried (priority, then name)."""
    return list(await scope.session.scalars(_in_order(scope.account_id)))


async def get_rule(scope: AccountScope, name: str) -> RecordingRuleRow:
    """The rule called ``name`` in this account."""
    row = await _find(scope, name)
    if row is None:
        raise NotFoundError(f"no recording rule {name!r} in account {scope.account.slug}")
    return row


async def add_rule(scope: AccountScope, rule: RecordingRule) -> RecordingRuleRow:
    """Store a new rule; its name must be free in the account."""
    scope.plan.require_addon("recording")
    if await _find(scope, rule.name) is not None:
        raise ConflictError(f"a recording rule {rule.name!r} already exists")
    row = RecordingRuleRow(account_id=scope.account_id)
    _write(row, rule)
    scope.session.add(row)
    await scope.session.flush()
    return row


async def update_rule(
    scope: AccountScope,
    name: str,
    *,
    new_name: str | None = None,
    priority: int | None = None,
    enabled: bool | None = None,
    conditions: RuleConditions | None = None,
    decision: RuleDecision | None = None,
) -> RecordingRuleRow:
    """Change some parts of a rule (rename, reorder, enable, new conditions or decision)."""
    scope.plan.require_addon("recording")
    row = await get_rule(scope, name)
    rule = to_rule(row)
    changes: dict[str, Any] = {
        "name": new_name,
        "priority": priority,
        "enabled": enabled,
        "conditions": conditions,
        "decision": decision,
    }
    updated = validate_rule(rule.model_dump() | {k: v for k, v in changes.items() if v is not None})
    if updated.name != name and await _find(scope, updated.name) is not None:
        raise ConflictError(f"a recording rule {updated.name!r} already exists")
    _write(row, updated)
    await scope.session.flush()
    return row


async def delete_rule(scope: AccountScope, name: str) -> None:
    """Remove a rule from the account."""
    await scope.session.delete(await get_rule(scope, name))
    await scope.session.flush()


async def load_rules(session: AsyncSession, account_id: int) -> list[RecordingRule]:
    """Every rule of the account, ready for :func:`~callvault.recording.rules.decide`."""
    return [to_rule(row) for row in await session.scalars(_in_order(account_id))]
