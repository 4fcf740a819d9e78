"""Call history: every call leaves a :class:`~callvault.store.models.CallRecord`.

Written once, when the call ends, from the engine's Call and Leg objects:
who called whom, the objects it passed through, each leg's times, the
disposition and which side hung up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from callvault.engine.call import Call
from callvault.engine.leg import Leg
from callvault.store.db import Database
from callvault.store.models import CallRecord

log = logging.getLogger("callvault.history")


def _when(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def disposition(call: Call) -> str:
    """answered, busy, no answer, failed or cancelled -- from the caller's leg."""
    caller = call.caller
    if caller.answered_at is not None:
        return "answered"
    if caller.end_reason == "cancelled":
        return "cancelled"
    status = caller.final_status
    if status in (486, 600):
        return "busy"
    if status in (408, 480, 487):
        return "no answer"
    return "failed"


def _iso(stamp: float | None) -> str | None:
    when = _when(stamp)
    return when.isoformat() if when is not None else None


def _leg_summary(leg: Leg) -> dict[str, Any]:
    return {
        "direction": leg.direction,
        "party": leg.remote_party,
        "started_at": _iso(leg.started_at),
        "answered_at": _iso(leg.answered_at),
        "ended_at": _iso(leg.ended_at),
        "end_reason": leg.end_reason,
        "hangup_side": leg.hangup_side,
        "final_status": leg.final_status,
    }


def _hangup_side(call: Call) -> str | None:
    """caller, callee, system: which side ended the conversation."""
    ended = [leg for leg in call.legs if leg.ended_at is not None and leg.hangup_side == "remote"]
    if ended:
        first = min(ended, key=lambda leg: leg.ended_at or 0.0)
        return "caller" if first is call.caller else "callee"
    return "system"


class CallHistory:
    """Writes call records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, call: Call) -> None:
        """Store the finished call (errors are logged, never raised into the engine)."""
        if not call.legs:
            return
        caller = call.caller
        if caller.final_status in (401, 407):
            return  # a digest challenge: the phone retries as a new call
        record = CallRecord(
            id=call.id,
            account_id=call.data.get("account_id"),
            from_number=call.from_user,
            to_number=call.to_user,
            direction=call.data.get("direction", "inbound"),
            objects=call.data.get("objects", []),
            disposition=disposition(call),
            hangup_side=_hangup_side(call),
            started_at=_when(call.started_at),
            answered_at=_when(caller.answered_at),
            ended_at=_when(call.ended_at),
            legs=[_leg_summary(leg) for leg in call.legs],
            tags=call.data.get("tags", {}),
            ivr_trace=call.data.get("ivr_trace", []),
            recording=call.data.get("recording", {}),
        )
        try:
            async with self.db.session() as session:
                session.add(record)
                await session.commit()
        except Exception:
            log.exception("[%s] could not store the call record", call.id)
