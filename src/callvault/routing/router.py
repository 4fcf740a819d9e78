"""The data-driven router: a call's Request-URI and origin decide account and object.

Order of decisions for an inbound INVITE:

1. From a phone of an account (its From domain is the account's SIP domain):
   the INVITE must carry the phone's digest credentials (a 401 challenge
   first; toll-fraud protection), then a login, short number or own DID of
   that account is an internal call, and any other number goes out through
   the account's trunk.
2. A DID (any number format) owned by an account, from one of its trunk
   addresses (or from anywhere if the account lists none): that number's object.
3. The built-in demo numbers (``100``-``103``), when nothing else matched.

What an object does with the call lives in :mod:`callvault.routing.logic`
(SIP accounts), :mod:`~callvault.routing.queue` and :mod:`~callvault.routing.menu`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from callvault.engine.call import Call
from callvault.engine.engine import CallApp, Engine
from callvault.engine.registrar import Registrar
from callvault.ivr.live import IvrApiLogic
from callvault.routing.directory import Destination, Directory
from callvault.routing.logic import CallLogic
from callvault.routing.menu import MenuLogic
from callvault.routing.prompts import AccountPrompts
from callvault.routing.queue import QueueLogic
from callvault.routing.trunks import TrunkLogic
from callvault.sip.message import Request
from callvault.store.numbers import normalize_or_raw

log = logging.getLogger("callvault.routing")

FallbackRouter = Callable[[Call, Request], CallApp | None]


class DataRouter:
    """Routes calls by the store's numbers, objects and trunks."""

    def __init__(
        self,
        engine: Engine,
        directory: Directory,
        registrar: Registrar,
        *,
        fallback: FallbackRouter | None = None,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.registrar = registrar
        self.fallback = fallback
        self.logic = CallLogic(engine, directory, registrar, AccountPrompts(engine, directory))
        self.queues = QueueLogic(self.logic)
        self.menus = MenuLogic(self.logic)
        self.trunks = TrunkLogic(self.logic)
        self.ivr = IvrApiLogic(self.logic, self.trunks, engine.settings.ivr_allow_networks)

    async def __call__(self, call: Call, request: Request) -> CallApp | None:
        dialled = request.uri.user or ""
        from_uri = request.from_.uri
        account_id = await self.directory.account_id_for_domain(from_uri.host) if from_uri else None
        if account_id is not None:
            app = await self._from_phone(call, request, account_id, dialled)
            return await self._within_quota(call, app)
        destination = await self.directory.number(dialled) if dialled else None
        if destination is None:
            return self.fallback(call, request) if self.fallback else None
        source_ip = call.caller.peer[0]
        allowed, trunk = await self.trunks.inbound_allowed(destination.account_id, source_ip)
        if not allowed:
            call.log.warning("DID %s called from %s, not a trunk address", dialled, source_ip)
            return _refuse(403, "not a trunk address of this number's account")
        call.from_user = normalize_or_raw(call.from_user)
        if trunk is not None:
            call.data["trunk"] = trunk
        return await self._within_quota(call, self._route(call, destination, "inbound"))

    async def _within_quota(self, call: Call, app: CallApp | None) -> CallApp | None:
        """Refuse the call (503) when its account already has its plan's concurrent calls."""
        account_id = call.data.get("account_id")
        if account_id is None or app is None:
            return app
        limit = await self.directory.concurrent_calls_quota(account_id)
        if limit is None:
            return app
        live = sum(
            1 for other in self.engine.calls.values()
            if other is not call and other.data.get("account_id") == account_id
        )  # fmt: skip
        if live >= limit:
            call.log.warning("account %s at its %d concurrent calls; refusing", account_id, limit)
            return _refuse(503, f"the account's plan allows {limit} concurrent calls")
        return app

    async def _from_phone(
        self, call: Call, request: Request, account_id: int, dialled: str
    ) -> CallApp | None:
        leg = call.caller
        local = (self.engine.stack.local_host_for(leg.peer[0]), self.engine.stack.listen[1])
        decision = await self.registrar.authenticate(request, leg.peer, local)
        if not decision.ok:
            return _refuse(decision.status, decision.reason, decision.headers)
        login = decision.username or ""
        call.data["caller_login"] = login
        assert request.from_.uri is not None
        destination = await self.directory.internal(request.from_.uri.host, dialled)
        if destination is None:
            own = await self.directory.number(dialled)
            if own is not None and own.account_id == account_id:
                destination = own
        if destination is not None:
            return self._route(call, destination, "internal")
        call.data.update(account_id=account_id, direction="outbound")

        async def call_out(call: Call) -> None:
            await self.trunks.call_out(call, account_id, login, dialled)

        return call_out

    def _route(
        self, call: Call, destination: Destination, direction: str
    ) -> Callable[[Call], Awaitable[None]]:
        call.data.update(
            account_id=destination.account_id,
            direction=direction,
            number_label=destination.number_label,
        )
        if destination.number is not None:
            call.data["number"] = destination.number
        call.trace.add(
            "call", "routed", account=destination.account_slug, object_kind=destination.kind,
            login=destination.login, direction=direction,
        )  # fmt: skip

        async def run(call: Call) -> None:
            await self.logic.run(call, destination)

        return run


def _refuse(
    status: int, reason: str, headers: list[tuple[str, str]] | None = None
) -> Callable[[Call], Awaitable[None]]:
    async def refuse(call: Call) -> None:
        call.log.info("refusing: %d %s", status, reason)
        call.caller.reject(status, None if status in (401, 403) else reason, headers)

    return refuse
