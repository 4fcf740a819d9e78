"""Object call logic: what happens once a call has reached an object.

:class:`CallLogic` runs the object a number (or a menu key, or a queue's
overflow) leads to.  A call may pass through several objects -- a menu to a
queue, a queue to its overflow -- and each hop is noted in the call's data,
so the call record lists them.  SIP accounts ring every registered contact
(parallel forking, RFC 3261 §16.7 behaviour: first answer wins, CANCEL to the
rest); queues and menus live in their own modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callvault.engine.bridge import Bridge
from callvault.engine.call import Call
from callvault.engine.engine import Engine
from callvault.engine.leg import Leg, LegState
from callvault.engine.outbound import DialFailed
from callvault.engine.registrar import Binding, Registrar
from callvault.routing.directory import Destination, Directory
from callvault.routing.prompts import AccountPrompts
from callvault.sip.uri import SipUri
from callvault.store.object_settings import SipAccountSettings

MAX_HOPS = 10
"""Objects one call may pass through (menus pointing at each other loop otherwise)."""

ObjectHandler = Callable[[Call, Destination], Awaitable[None]]
CallObserver = Callable[[str, Call, dict[str, Any]], Awaitable[None]]
"""Told of a call's milestones: ``(event name, call, event data)``."""


@dataclass
class Presence:
    """Which SIP accounts are in a call now, and when each last answered one."""

    busy: set[tuple[int, str]] = field(default_factory=set)
    last_answered: dict[tuple[int, str], float] = field(default_factory=dict)

    def is_busy(self, account_id: int, login: str) -> bool:
        """Whether ``login`` is talking now."""
        return (account_id, login) in self.busy


@dataclass
class ForkResult:
    """The outcome of ringing several contacts at once."""

    leg: Leg | None
    login: str | None = None
    statuses: list[int] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Every contact said busy."""
        return bool(self.statuses) and all(s in (486, 600) for s in self.statuses)


class CallLogic:
    """Runs objects for calls; one per node."""

    def __init__(
        self,
        engine: Engine,
        directory: Directory,
        registrar: Registrar,
        prompts: AccountPrompts,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.registrar = registrar
        self.prompts = prompts
        self.presence = Presence()
        self.handlers: dict[str, ObjectHandler] = {"sip_account": self.ring_sip_account}
        self.before_bridge: list[Callable[[Call, Leg], Awaitable[None]]] = []
        """Run before a new party is bridged to the caller (e.g. the recording announcement)."""
        self.observers: list[CallObserver] = []
        """Told of ``call.started``, ``call.ringing`` (login rung) and ``call.answered`` (login
        bridged); :class:`callvault.events.CallEvents` publishes them to integrations."""

    async def notify(self, event: str, call: Call, **data: Any) -> None:
        """Tell the observers of a milestone (their failures are logged, never raised)."""
        for observer in self.observers:
            try:
                await observer(event, call, data)
            except Exception:
                call.log.exception("call observer failed on %s", event)

    async def run(self, call: Call, destination: Destination) -> None:
        """Hand the call to ``destination``'s logic (noting the hop)."""
        hops: list[dict[str, str]] = call.data.setdefault("objects", [])
        first = not hops
        hop = {"kind": destination.kind, "login": destination.login}
        if not hops or hops[-1] != hop:
            hops.append(hop)
        if first:
            await self.notify("call.started", call)
        if len(hops) > MAX_HOPS:
            call.log.warning("call passed %d objects; stopping a routing loop", len(hops))
            await self.end(call, 482, "routing loop")
            return
        call.trace.add("call", "object", object_kind=destination.kind, login=destination.login)
        handler = self.handlers.get(destination.kind)
        if handler is None:
            await self.end(call, 480, f"{destination.kind} objects cannot take calls yet")
            return
        await handler(call, destination)

    async def run_login(self, call: Call, account_id: int, login: str) -> bool:
        """Run the object ``login`` of the account; False if there is none."""
        destination = await self.directory.object(account_id, login)
        if destination is None:
            call.log.warning("object %s does not exist (any more)", login)
            return False
        await self.run(call, destination)
        return True

    async def end(self, call: Call, status: int, reason: str) -> None:
        """Finish the caller's side: a final response if unanswered, else BYE."""
        caller = call.caller
        call.log.info("ending: %d %s", status, reason)
        if caller.state == LegState.ANSWERED:
            await caller.hangup(reason)
        else:
            caller.reject(status, reason)

    # -- SIP accounts ---------------------------------------------------------
    async def ring_sip_account(self, call: Call, destination: Destination) -> None:
        """Ring a person's phones; bridge the caller to the one that answers."""
        settings = SipAccountSettings.model_validate(destination.settings)
        caller = call.caller
        account_id, login = destination.account_id, destination.login
        bindings = self.registrar.lookup(account_id, login)
        if not bindings:
            await self.end(call, 480, f"{login} is not registered")
            return
        if self.presence.is_busy(account_id, login):
            await self.end(call, 486, f"{login} is busy")
            return
        ringback: asyncio.Task[None] | None = None
        if caller.state == LegState.ANSWERED:
            ringback = asyncio.ensure_future(self.prompts.loop(caller, account_id, "ringback"))
        else:
            await caller.ring()
        try:
            result = await self.fork(
                call, [(login, b) for b in bindings], timeout_s=settings.ring_timeout_s
            )
        finally:
            await stop_playback(ringback)
        if result.leg is None:
            await self.end(call, 486 if result.busy else 480, f"{login} did not answer")
            return
        await caller.answer()
        await self.talk(call, account_id, login, result.leg)

    async def talk(self, call: Call, account_id: int, login: str, leg: Leg) -> Leg:
        """Bridge the caller to ``login``'s answered leg until either side ends.

        The callee may hand the caller on with REFER (blind transfer, RFC 3515
        and RFC 5589 §6): the target -- a login or short number of the account --
        is rung and bridged in the referrer's place; the referrer hears
        NOTIFYs and is released.  Returns the leg that ended first.
        """
        while True:
            key = (account_id, login)
            self.presence.busy.add(key)
            self.presence.last_answered[key] = time.time()
            call.data.setdefault("answered_by", login)
            try:
                await self.notify("call.answered", call, login=login)
                for hook in self.before_bridge:
                    await hook(call, leg)
                ended, target = await _bridge(call.caller, leg)
            finally:
                self.presence.busy.discard(key)
            if ended is not None or target is None:
                return ended or leg
            moved = await self._transfer(call, account_id, login, leg, target)
            if moved is None:
                return call.caller if call.caller.ended.is_set() else leg
            login, leg = moved

    async def _transfer(
        self, call: Call, account_id: int, login: str, referrer: Leg, target: SipUri
    ) -> tuple[str, Leg] | None:
        """Carry out a blind transfer of the caller; the new (login, leg), or None if the
        caller went elsewhere (a queue, a menu) or nobody answered."""
        dialer = self.engine.dialer
        destination = await self.directory.object_by_login_or_extension(
            account_id, target.user or ""
        )
        if destination is None:
            await dialer.notify_refer(referrer, "SIP/2.0 404 Not Found", final=True)
            call.log.info("transfer target %s is not in the account", target)
            return (login, referrer) if not referrer.ended.is_set() else None
        call.trace.add("call", "transfer", to=destination.login, object_kind=destination.kind)
        await dialer.notify_refer(referrer, "SIP/2.0 200 OK", final=True)
        await referrer.hangup("transferred")
        if destination.kind != "sip_account":
            await self.run(call, destination)
            return None
        call.data.setdefault("objects", []).append(
            {"kind": destination.kind, "login": destination.login}
        )
        bindings = self.registrar.lookup(account_id, destination.login)
        if not bindings:
            await self.end(call, 480, f"transfer target {destination.login} is not registered")
            return None
        ringback = asyncio.ensure_future(self.prompts.loop(call.caller, account_id, "ringback"))
        try:
            settings = SipAccountSettings.model_validate(destination.settings)
            result = await self.fork(
                call, [(destination.login, b) for b in bindings], timeout_s=settings.ring_timeout_s
            )
        finally:
            await stop_playback(ringback)
        if result.leg is None:
            await self.end(call, 480, f"transfer target {destination.login} did not answer")
            return None
        return destination.login, result.leg

    async def fork(
        self, call: Call, targets: list[tuple[str, Binding]], *, timeout_s: float
    ) -> ForkResult:
        """Dial every (login, contact) at once; the first answer wins, the rest get CANCEL."""
        attempts: dict[asyncio.Task[Leg], str] = {}
        for login in dict.fromkeys(login for login, _ in targets):
            await self.notify("call.ringing", call, login=login)
        for login, binding in targets:
            attempt = asyncio.create_task(
                self.engine.dial(
                    call,
                    binding.contact,
                    from_user=call.from_user or "anonymous",
                    timeout_s=timeout_s,
                    route_to=binding.route(),
                )
            )
            attempts[attempt] = login
        result = ForkResult(None)
        pending = set(attempts)
        try:
            while pending and result.leg is None:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for attempt in done:
                    try:
                        leg = attempt.result()
                    except DialFailed as exc:
                        result.statuses.append(exc.status)
                        continue
                    if result.leg is None:
                        result.leg, result.login = leg, attempts[attempt]
                    else:
                        await leg.hangup("answered-elsewhere")
        finally:
            for attempt in pending:
                attempt.cancel()
            for attempt in pending:
                with contextlib.suppress(asyncio.CancelledError, DialFailed):
                    other = await attempt
                    await other.hangup("answered-elsewhere")  # answered while we cancelled
        return result


async def stop_playback(task: asyncio.Task[None] | None) -> None:
    """Cancel a background playback and wait until it let go of the media."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _bridge(caller: Leg, other: Leg) -> tuple[Leg | None, SipUri | None]:
    """Relay until a leg ends (that leg) or ``other`` asks for a transfer (its target)."""
    bridge = Bridge(caller, other)
    bridge.start()
    waits: dict[asyncio.Future[Any], str] = {
        asyncio.ensure_future(caller.ended.wait()): "caller",
        asyncio.ensure_future(other.ended.wait()): "other",
        asyncio.ensure_future(other.refer_requests.get()): "refer",
    }
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in waits:
            future.cancel()
        bridge.stop()
    first = next(iter(done))
    what = waits[first]
    if what == "refer" and not caller.ended.is_set() and not other.ended.is_set():
        return None, first.result()
    return (caller if caller.ended.is_set() else other), None
