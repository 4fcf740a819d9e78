"""Trunks: calls from a provider in, calls to the public network out.

Inbound, a DID call is accepted when it comes from one of the number's
account's trunk addresses (``inbound_addresses``).  An account without any
trunk address accepts DID calls from anywhere -- convenient on a fresh node,
and logged as such.  The provider's caller number, in whatever form it
sends, is normalised to E.164 for the call record and the IVR API.

Outbound, a phone's call to a number outside its account goes through the
account's first trunk with a ``gateway``: the dialled number is normalised
(``0048…``, ``+48…``, ``22 123 45 67`` all become ``48221234567``) and
re-formatted as the trunk wants (``number_format``); the caller-ID is the
phone's ``caller_id`` setting or else the account's number that leads to
that phone, else its first number; the provider's digest challenge is
answered with the trunk's credentials (RFC 3261 §22.2, 401 and 407 alike).
"""

from __future__ import annotations

import asyncio
import logging

from callvault.engine.call import Call
from callvault.engine.leg import Leg
from callvault.engine.outbound import DialFailed
from callvault.routing.directory import TrunkInfo
from callvault.routing.logic import CallLogic
from callvault.sip.errors import SipParseError
from callvault.sip.uri import SipUri
from callvault.store.numbers import InvalidNumberError, normalize
from callvault.store.object_settings import NumberFormat, SipAccountSettings, TrunkSettings

log = logging.getLogger("callvault.trunks")


def format_number(e164: str, number_format: NumberFormat, *, country_code: str = "48") -> str:
    """An E.164 number (digits) in a trunk's format."""
    if number_format == "+e164":
        return "+" + e164
    if number_format == "00":
        return "00" + e164
    if number_format == "national":
        return e164[len(country_code) :] if e164.startswith(country_code) else "00" + e164
    return e164


class TrunkLogic:
    """Inbound trunk matching and outbound calls through a trunk."""

    def __init__(self, logic: CallLogic) -> None:
        self.logic = logic

    async def inbound_allowed(self, account_id: int, source_ip: str) -> tuple[bool, str | None]:
        """Whether a DID call of ``account_id`` may come from ``source_ip``; the trunk's name."""
        trunks = await self.logic.directory.trunks(account_id)
        guarded = [t for t in trunks if TrunkSettings.model_validate(t.settings).inbound_addresses]
        for trunk in guarded:
            if TrunkSettings.model_validate(trunk.settings).accepts(source_ip):
                return True, trunk.name
        if guarded:
            return False, None
        log.info("account %d has no trunk addresses: DID call from %s accepted", account_id,
                 source_ip)  # fmt: skip
        return True, None

    async def call_out(self, call: Call, account_id: int, login: str, dialled: str) -> None:
        """Connect a phone's call to an outside number through the account's trunk."""
        logic = self.logic
        await logic.notify("call.started", call)
        try:
            e164 = normalize(dialled)
        except InvalidNumberError as exc:
            await logic.end(call, 484, f"cannot dial {dialled}: {exc}")
            return
        phone = await logic.directory.object(account_id, login)
        settings = SipAccountSettings.model_validate(phone.settings if phone else {})
        if not settings.outbound:
            await logic.end(call, 403, f"{login} may not call outside numbers")
            return
        caller_id = await self.caller_id(account_id, login, settings.caller_id)
        try:
            leg = await self.dial(call, account_id, e164, caller_id=caller_id)
        except TrunkUnavailable as exc:
            await logic.end(call, 503, str(exc))
            return
        except DialFailed as exc:
            status = exc.status if 400 <= exc.status < 700 else 502
            await logic.end(call, status, f"provider: {exc.status} {exc.reason}")
            return
        await call.caller.answer()
        await logic.talk(call, account_id, login, leg)

    async def dial(
        self, call: Call, account_id: int, e164: str, *, caller_id: str, timeout_s: float = 60.0
    ) -> Leg:
        """Dial ``e164`` through the account's gateway trunk; return the answered leg.

        Raises :class:`TrunkUnavailable` without a usable trunk and
        :class:`~callvault.engine.outbound.DialFailed` when the provider refuses.
        The caller's leg hears the provider's ringing (180).
        """
        trunk = await self._gateway_trunk(account_id)
        if trunk is None:
            raise TrunkUnavailable("the account has no trunk with a gateway")
        settings = TrunkSettings.model_validate(trunk.settings)
        assert settings.gateway is not None
        try:
            gateway = SipUri.parse(settings.gateway)
        except SipParseError:
            raise TrunkUnavailable(f"trunk {trunk.name} has a bad gateway URI") from None
        target = gateway.with_user(format_number(e164, settings.number_format))
        from_user = format_number(caller_id, settings.caller_id_format or settings.number_format)
        call.data.update(trunk=trunk.name, dialled_e164=e164)
        call.data.setdefault("objects", []).append({"kind": "trunk", "login": trunk.name})
        call.trace.add("call", "outbound", trunk=trunk.name, to=str(target), caller_id=from_user)
        call.log.info("outbound via trunk %s to %s as %s", trunk.name, target, from_user)
        credentials = (
            (settings.username or "", settings.password or "") if settings.password else None
        )
        caller = call.caller
        return await self.logic.engine.dial(
            call,
            target,
            from_user=from_user,
            credentials=credentials,
            timeout_s=timeout_s,
            on_ringing=lambda _leg: _spawn_ring(caller),
        )

    async def _gateway_trunk(self, account_id: int) -> TrunkInfo | None:
        for trunk in await self.logic.directory.trunks(account_id):
            if TrunkSettings.model_validate(trunk.settings).gateway:
                return trunk
        return None

    async def caller_id(self, account_id: int, login: str | None, wanted: str | None) -> str:
        """The E.164 number to show: ``wanted`` if it is the account's, else the number
        leading to ``login``, else the account's first number."""
        numbers = await self.logic.directory.numbers_of(account_id, login)
        if wanted:
            try:
                e164 = normalize(wanted)
            except InvalidNumberError:
                e164 = ""
            if e164 in numbers:
                return e164
            log.warning("caller-ID %s is not a number of account %d", wanted, account_id)
        return numbers[0] if numbers else (login or "anonymous")


class TrunkUnavailable(Exception):
    """The account cannot call out: no trunk with a usable gateway."""


def _spawn_ring(caller: Leg) -> None:
    """Pass the provider's ringing on to the phone (180 without SDP)."""
    task = asyncio.ensure_future(caller.ring())
    task.add_done_callback(lambda t: t.cancelled() or t.exception())
