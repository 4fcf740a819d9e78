"""Static IVR menus: a greeting, a key press, the object that key leads to.

The menu answers, plays its greeting (a key interrupts it -- barge-in) and
waits ``timeout_s`` for a choice.  Keys may be one to four characters long;
a longer key is collected until it is complete, ``#`` or the timeout.  A key
that leads nowhere plays ``invalid_prompt``, silence plays
``no_input_prompt``, and both try again up to ``retries`` times; after the
last, the caller goes to ``on_fail`` (an object, or ``hangup``).  DTMF
arrives as RFC 4733 events, SIP INFO or in-band tones, whichever the phone
sends.
"""

from __future__ import annotations

from callvault.engine.call import Call
from callvault.routing.directory import Destination
from callvault.routing.logic import CallLogic
from callvault.store.object_settings import MenuSettings

HANGUP = "hangup"


class MenuLogic:
    """Runs IVR menu objects for :class:`CallLogic`."""

    def __init__(self, logic: CallLogic) -> None:
        self.logic = logic
        logic.handlers["ivr_menu"] = self.run

    async def run(self, call: Call, destination: Destination) -> None:
        """Offer the menu until a valid choice, or give up after the retries."""
        settings = MenuSettings.model_validate(destination.settings)
        caller, account_id = call.caller, destination.account_id
        prompts = self.logic.prompts
        await caller.answer()
        caller.flush_digits()
        longest = max((len(key) for key in settings.options), default=1)
        for attempt in range(settings.retries + 1):
            await prompts.play(caller, account_id, [settings.greeting], barge_in=True)
            choice = await self._read_choice(call, settings, longest)
            call.trace.add("menu", "input", menu=destination.login, key=choice, attempt=attempt)
            if choice in settings.options:
                target = settings.options[choice]
                call.log.info("menu %s: key %s -> %s", destination.login, choice, target)
                await self._go(call, account_id, target)
                return
            feedback = settings.invalid_prompt if choice else settings.no_input_prompt
            await prompts.play(caller, account_id, [feedback])
        call.log.info("menu %s: no valid choice, going to %s", destination.login, settings.on_fail)
        await self._go(call, account_id, settings.on_fail)

    async def _read_choice(self, call: Call, settings: MenuSettings, longest: int) -> str:
        """One key (or a multi-character key) from the caller; ``""`` on timeout."""
        keys = settings.options
        collected = ""
        while len(collected) < longest:
            digits, reason = await call.caller.collect_digits(
                max_digits=1, finish_on="#" if longest > 1 else "", timeout_s=settings.timeout_s
            )
            if reason != "maxdigits":
                break
            collected += digits
            if collected in keys and not any(
                k.startswith(collected) and k != collected for k in keys
            ):
                break
        return collected

    async def _go(self, call: Call, account_id: int, target: str) -> None:
        if target == HANGUP:
            await self.logic.prompts.play(call.caller, account_id, ["goodbye"])
            await self.logic.end(call, 480, "menu hang-up")
            return
        if not await self.logic.run_login(call, account_id, target):
            await self.logic.end(call, 480, f"menu target {target} does not exist")
