"""A call: the caller's leg, the legs it is connected to, and its trace.

The call id (``c-<ULID>``) is the one id everything else keys on: the trace
file, log lines, and later the call record and the IVR API's UniqueCallId.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from callvault.engine.trace import CallLogger, CallTrace, new_call_id

if TYPE_CHECKING:
    from pathlib import Path

    from callvault.engine.leg import Leg

_log = logging.getLogger("callvault.call")


class Call:
    """One call through the node."""

    def __init__(self, *, from_user: str, to_user: str, traces_dir: Path | None) -> None:
        self.id = new_call_id()
        self.from_user = from_user
        self.to_user = to_user
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.legs: list[Leg] = []
        self.trace = CallTrace(self.id, traces_dir)
        self.log = CallLogger(_log, {"call_id": self.id})
        self.task: asyncio.Task[None] | None = None
        self.data: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.from_user} -> {self.to_user}>"

    @property
    def caller(self) -> Leg:
        """The first leg (the one that started the call)."""
        return self.legs[0]

    @property
    def live_legs(self) -> list[Leg]:
        """Legs not yet ended."""
        return [leg for leg in self.legs if leg.ended_at is None]

    async def hangup_all(self, reason: str = "normal") -> None:
        """End every leg still alive (BYE, CANCEL or a final response)."""
        legs = self.live_legs
        if legs:
            await asyncio.gather(*(leg.hangup(reason) for leg in legs), return_exceptions=True)

    def summary(self) -> dict[str, Any]:
        """What the live-calls view shows."""
        now = time.time()
        return {
            "call_id": self.id,
            "from": self.from_user,
            "to": self.to_user,
            "started_at": self.started_at,
            "duration_s": round(now - self.started_at, 1),
            "legs": [
                {
                    "direction": leg.direction,
                    "state": leg.state.value,
                    "party": leg.remote_party,
                    "codec": leg.negotiated.codec if leg.negotiated else None,
                }
                for leg in self.legs
            ],
        }
