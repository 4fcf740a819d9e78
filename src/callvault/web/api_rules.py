"""``/api/v1/rules``: an account's recording rules and the dry run of a decision (``rules.manage``).

The dry run is the same pure function calls are recorded by
(:func:`callvault.recording.rules.decide`): give it a call's facts -- from,
to, direction, the number it came in on, the objects it passed, when -- and
it answers whether the call would be recorded, by which rule, and why each
rule matched or not.  Nothing is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from callvault.engine.trace import new_call_id
from callvault.recording.rule_store import load_rules
from callvault.recording.rules import CallFacts, decide, explain_text
from callvault.store.models import Account, CallObject, Number
from callvault.store.numbers import normalize_or_raw
from callvault.web.context import Session
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/rules", tags=["recording rules"])
Manager = Annotated[Principal, Depends(require("rules.manage"))]


class DryRun(BaseModel):
    """The facts of a call to decide on."""

    from_number: str = Field(max_length=64, examples=["+48 600 123 456"])
    to_number: str = Field(max_length=64, examples=["22 123 45 67"])
    direction: Literal["inbound", "outbound", "internal"] = "inbound"
    number: str | None = Field(None, description="the account DID; default: to_number if owned")
    objects: list[str] = Field(default_factory=list, description="logins the call passed")
    at: datetime | None = Field(None, description="when; naive = the account's time zone")
    call_id: str | None = Field(None, description="fixes sampling (default: a new id)")


@router.get("")
async def list_rules(principal: Manager, session: Session) -> list[dict[str, Any]]:
    """The account's rules in the order they are tried."""
    rules = await load_rules(session, principal.account_id)
    return [rule.model_dump(mode="json") for rule in rules]


@router.post("/test")
async def dry_run(principal: Manager, session: Session, facts_in: DryRun) -> dict[str, Any]:
    """Would this call be recorded? The decision and every rule's reasons."""
    account = await session.get(Account, principal.account_id)
    assert account is not None
    zone = account.timezone
    owned = set(await session.scalars(select(Number.e164).where(Number.account_id == account.id)))
    number = normalize_or_raw(facts_in.number) if facts_in.number else None
    if (
        number is None
        and facts_in.direction == "inbound"
        and normalize_or_raw(facts_in.to_number) in owned
    ):
        number = normalize_or_raw(facts_in.to_number)
    if number is not None and number not in owned:
        raise HTTPException(422, f"{facts_in.number} is not a number of this account")
    objects = []
    for login in facts_in.objects:
        obj = await session.scalar(
            select(CallObject).where(CallObject.account_id == account.id, CallObject.login == login)
        )
        if obj is None:
            raise HTTPException(422, f"no object {login!r} in this account")
        objects.append((obj.kind.value, obj.login))
    at = facts_in.at or datetime.now(UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(zone))
    facts = CallFacts(
        call_id=facts_in.call_id or new_call_id(),
        direction=facts_in.direction,
        from_number=normalize_or_raw(facts_in.from_number),
        to_number=normalize_or_raw(facts_in.to_number),
        number=number,
        objects=objects,
        started_at=at,
    )
    decision = decide(facts, await load_rules(session, account.id), timezone=zone)
    return {**decision.model_dump(mode="json"), "text": explain_text(decision)}
