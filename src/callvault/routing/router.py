"""The data-driven router: a call's Request-URI and origin decide account and object.

Order of decisions for an inbound INVITE:

1. From a phone of an account (its From domain is the account's SIP domain):
   a login or short number of that account (internal call).
2. A DID (any number format) owned by an account: that number's object.
3. The built-in demo numbers (``100``-``103``), when nothing else matched.

Object kinds with call logic so far: SIP accounts (ring every registered
contact, first to answer wins).  Queues, IVR menus and IVR API objects are
refused with ``480`` and a reason until their logic lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from callvault.engine.bridge import Bridge
from callvault.engine.call import Call
from callvault.engine.engine import CallApp, Engine
from callvault.engine.leg import Leg
from callvault.engine.outbound import DialFailed
from callvault.engine.registrar import Binding, Registrar
from callvault.routing.directory import Destination, Directory
from callvault.sip.message import Request

log = logging.getLogger("callvault.routing")

FallbackRouter = Callable[[Call, Request], CallApp | None]


class DataRouter:
    """Routes calls by the store's numbers and objects."""

    def __init__(
        self,
        engine: Engine,
        directory: Directory,
        registrar: Registrar,
        *,
        fallback: FallbackRouter | None = None,
        ring_timeout_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.registrar = registrar
        self.fallback = fallback
        self.ring_timeout_s = ring_timeout_s

    async def __call__(self, call: Call, request: Request) -> CallApp | None:
        dialled = request.uri.user or ""
        from_uri = request.from_.uri
        destination: Destination | None = None
        direction = "inbound"
        if from_uri is not None and dialled:
            destination = await self.directory.internal(from_uri.host, dialled)
            if destination is not None:
                direction = "internal"
        if destination is None and dialled:
            destination = await self.directory.number(dialled)
        if destination is None:
            return self.fallback(call, request) if self.fallback else None
        call.data.update(
            account_id=destination.account_id,
            direction=direction,
            objects=[{"kind": destination.kind, "login": destination.login}],
            number_label=destination.number_label,
        )
        call.trace.add(
            "call", "routed", account=destination.account_slug, object_kind=destination.kind,
            login=destination.login, direction=direction,
        )  # fmt: skip
        if destination.kind == "sip_account":
            return self._ring_sip_account(destination)
        return _unavailable(f"{destination.kind} objects cannot take calls yet")

    def _ring_sip_account(self, destination: Destination) -> Callable[[Call], Awaitable[None]]:
        async def ring(call: Call) -> None:
            caller = call.caller
            bindings = self.registrar.lookup(destination.account_id, destination.login)
            if not bindings:
                call.log.info("%s is not registered", destination.login)
                caller.reject(480, f"{destination.login} is not registered")
                return
            await caller.ring()
            leg = await self._fork(call, bindings, destination.login)
            if leg is None:
                return
            await caller.answer()
            await Bridge(caller, leg).run()

        return ring

    async def _fork(self, call: Call, bindings: list[Binding], login: str) -> Leg | None:
        """Dial every contact at once; the first answer wins, the rest get CANCEL (§16.7)."""
        attempts = []
        for binding in bindings:
            attempts.append(
                asyncio.ensure_future(
                    self.engine.dial(
                        call,
                        binding.contact,
                        from_user=call.from_user or "anonymous",
                        timeout_s=self.ring_timeout_s,
                        route_to=binding.route(),
                    )
                )
            )
        statuses: list[int] = []
        winner: Leg | None = None
        try:
            for next_done in asyncio.as_completed(attempts):
                try:
                    winner = await next_done
                    break
                except DialFailed as exc:
                    statuses.append(exc.status)
        finally:
            for attempt in attempts:
                if not attempt.done():
                    attempt.cancel()
            for attempt in attempts:
                with contextlib.suppress(asyncio.CancelledError, DialFailed):
                    other = await attempt
                    if other is not winner:
                        await other.hangup("answered-elsewhere")  # lost the race
        if winner is None:
            status = 486 if statuses and all(s in (486, 600) for s in statuses) else 480
            call.log.info("no contact of %s answered (%s)", login, statuses)
            call.caller.reject(status)
        return winner


def _unavailable(reason: str) -> Callable[[Call], Awaitable[None]]:
    async def refuse(call: Call) -> None:
        call.log.info("refusing: %s", reason)
        call.caller.reject(480, reason)

    return refuse
