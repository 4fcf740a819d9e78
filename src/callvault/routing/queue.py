"""Call queues: callers wait with music, members are rung by strategy, overflow after a limit.

A queue answers its caller at once (so the caller hears the welcome prompt,
position announcements and music on hold) and serves callers in arrival
order: only the caller at the head rings members.  Strategies:

- ``ring-all``: every free registered member rings together; first answer wins.
- ``round-robin``: one member at a time, continuing after the one tried last.
- ``least-recent``: one member at a time, the one whose last answered call is oldest.

A member is free when registered and not in another call.  After
``max_wait_s`` the caller goes to the ``overflow`` object (or hears goodbye).
Queue state (waiting callers, the round-robin pointer) lives in the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

from callvault.engine.call import Call
from callvault.engine.leg import LegEnded
from callvault.engine.registrar import Binding
from callvault.routing.directory import Destination
from callvault.routing.logic import CallLogic, ForkResult, stop_playback
from callvault.store.object_settings import QueueSettings


@dataclass
class QueueState:
    """Waiting callers of one queue, in order, and whom round-robin tried last."""

    waiting: list[str] = field(default_factory=list)
    last_tried: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def position(self, call_id: str) -> int:
        """1-based place of a call in the queue."""
        return self.waiting.index(call_id) + 1

    def leave(self, call_id: str) -> None:
        """A call stops waiting (answered, overflowed or hung up)."""
        if call_id in self.waiting:
            self.waiting.remove(call_id)
            self.changed.set()


class QueueLogic:
    """Runs queue objects for :class:`CallLogic`."""

    def __init__(self, logic: CallLogic) -> None:
        self.logic = logic
        self.states: dict[tuple[int, str], QueueState] = {}
        logic.handlers["queue"] = self.run

    async def run(self, call: Call, destination: Destination) -> None:
        """Queue the call until a member answers or the wait ends."""
        settings = QueueSettings.model_validate(destination.settings)
        key = (destination.account_id, destination.login)
        state = self.states.setdefault(key, QueueState())
        caller = call.caller
        await caller.answer()
        state.waiting.append(call.id)
        call.log.info("queued in %s at position %d", destination.login, len(state.waiting))
        call.trace.add("queue", "joined", queue=destination.login, position=len(state.waiting))
        hold = asyncio.ensure_future(self._hold(call, destination, settings, state))
        answered = None
        try:
            answered = await self._serve(call, destination, settings, state)
        finally:
            state.leave(call.id)
            await stop_playback(hold)
        if answered is not None and answered.leg is not None and answered.login is not None:
            call.trace.add("queue", "answered", queue=destination.login, member=answered.login)
            call.data.setdefault("objects", []).append(
                {"kind": "sip_account", "login": answered.login}
            )
            await self.logic.talk(call, destination.account_id, answered.login, answered.leg)
            return
        call.trace.add("queue", "timeout", queue=destination.login, waited_s=settings.max_wait_s)
        call.log.info("no member of %s answered in %.0f s", destination.login, settings.max_wait_s)
        if settings.overflow and await self.logic.run_login(
            call, destination.account_id, settings.overflow
        ):
            return
        await self.logic.prompts.play(caller, destination.account_id, ["goodbye"])
        await self.logic.end(call, 480, "queue timeout")

    async def _serve(
        self, call: Call, destination: Destination, settings: QueueSettings, state: QueueState
    ) -> ForkResult | None:
        """Ring members by strategy until one answers or the maximum wait passes."""
        deadline = time.monotonic() + settings.max_wait_s
        while (remaining := deadline - time.monotonic()) > 0:
            if call.caller.ended.is_set():
                raise LegEnded("caller hung up while queued")
            targets = self._targets(destination, settings, state) if (
                state.waiting and state.waiting[0] == call.id
            ) else []  # fmt: skip
            if not targets:
                state.changed.clear()
                await _wait_event(state.changed, min(remaining, 1.0))
                continue
            timeout = min(settings.ring_timeout_s, remaining)
            result = await self.logic.fork(call, targets, timeout_s=timeout)
            if result.leg is not None:
                return result
            call.trace.add("queue", "no-answer", members=sorted({t[0] for t in targets}))
            await asyncio.sleep(min(settings.retry_s, max(0.0, deadline - time.monotonic())))
        return None

    def _targets(
        self, destination: Destination, settings: QueueSettings, state: QueueState
    ) -> list[tuple[str, Binding]]:
        """The (member, contact) pairs to ring next, per the strategy."""
        account_id = destination.account_id
        presence = self.logic.presence
        free: dict[str, list[Binding]] = {}
        for login in settings.members:
            if presence.is_busy(account_id, login):
                continue
            bindings = self.logic.registrar.lookup(account_id, login)
            if bindings:
                free[login] = bindings
        if not free:
            return []
        if settings.strategy == "ring-all":
            chosen = list(free)
        elif settings.strategy == "round-robin":
            order = settings.members
            start = order.index(state.last_tried) + 1 if state.last_tried in order else 0
            rotated = order[start:] + order[:start]
            chosen = [next(login for login in rotated if login in free)]
            state.last_tried = chosen[0]
        else:  # least-recent
            chosen = [min(free, key=lambda m: presence.last_answered.get((account_id, m), 0.0))]
        return [(login, binding) for login in chosen for binding in free[login]]

    async def _hold(
        self, call: Call, destination: Destination, settings: QueueSettings, state: QueueState
    ) -> None:
        """What a waiting caller hears: welcome, position, music -- until cancelled."""
        prompts, caller, account_id = self.logic.prompts, call.caller, destination.account_id
        if settings.welcome_prompt:
            await prompts.play(caller, account_id, [settings.welcome_prompt])
        while True:
            if settings.announce_position and call.id in state.waiting:
                position = state.position(call.id)
                await prompts.play(
                    caller, account_id, ["queue-position", *number_prompts(position)]
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    prompts.loop(caller, account_id, settings.hold_music),
                    settings.announce_every_s,
                )


def number_prompts(value: int) -> list[str]:
    """Prompts saying a small number digit by digit."""
    return [f"digit-{digit}" for digit in str(value)]


async def _wait_event(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
