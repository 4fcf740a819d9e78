"""The IVR API on live calls: :class:`LegControl` plays the loop's actions on a real call.

:class:`IvrApiLogic` is the call logic of IVR API objects: it rings the
caller, opens the object's HTTP client (TLS settings, signing secrets, the
SSRF guard with the operator's allow-list), runs :class:`~callvault.ivr.loop.IvrLoop`
and stores the loop's trace and the app's tags with the call record.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from pydantic import JsonValue

from callvault.demo.sounds import UnknownPromptError
from callvault.engine.bridge import Bridge
from callvault.engine.call import Call
from callvault.engine.leg import LegEnded, LegState
from callvault.engine.outbound import DialFailed
from callvault.engine.sources import PromptSource
from callvault.ivr.client import IvrClientSettings, IvrHttpClient
from callvault.ivr.loop import (
    ActionRefused,
    CallGone,
    ChannelStatus,
    ConnectOutcome,
    IvrLoop,
)
from callvault.ivr.models import (
    AnyAction,
    CallByObjectLoginAction,
    CallExternalNumberAction,
    CallLocalNumberAction,
    ErrorNo,
    GetDTMFAction,
)
from callvault.ivr.speech import SpeechUnavailable, say_prompts
from callvault.ivr.ssrf import check_url
from callvault.routing.directory import Destination
from callvault.routing.logic import CallLogic, stop_playback
from callvault.routing.trunks import TrunkLogic, TrunkUnavailable
from callvault.store.numbers import InvalidNumberError, normalize, normalize_or_raw
from callvault.store.object_settings import IvrApiSettings

_DIAL_STATUS = {486: "Busy", 600: "Busy", 603: "Busy", 408: "Noanswer", 480: "Noanswer",
                487: "Noanswer"}  # fmt: skip


class LegControl:
    """A live call as the IVR loop sees it (the ``CallControl`` protocol)."""

    def __init__(
        self, call: Call, destination: Destination, logic: CallLogic, trunks: TrunkLogic,
        settings: IvrApiSettings,
    ) -> None:  # fmt: skip
        self.call = call
        self.leg = call.caller
        self.account_id = destination.account_id
        self.logic = logic
        self.trunks = trunks
        self.settings = settings
        self.from_number = call.from_user
        self.to_number = normalize_or_raw(call.to_user)
        self.call_id = call.id

    @property
    def channel_status(self) -> ChannelStatus:
        state = self.leg.state
        if state == LegState.ANSWERED:
            return "Up"
        return "Hangup" if state == LegState.ENDED else "Ringing"

    @contextlib.asynccontextmanager
    async def _alive(self) -> AsyncIterator[None]:
        """Turn the engine's 'leg ended' into the loop's 'caller gone'."""
        if self.leg.ended.is_set():
            raise CallGone
        try:
            yield
        except LegEnded:
            raise CallGone from None

    async def _audible(self) -> None:
        """Before the answer, audio needs early media (183 with SDP, RFC 3960)."""
        if self.leg.state in (LegState.NEW, LegState.RINGING):
            await self.leg.early_media()

    async def answer(self) -> None:
        async with self._alive():
            await self.leg.answer()

    async def keep_ringing(self, seconds: float | None) -> None:
        async with self._alive():
            await self.leg.ring()
            if seconds:
                await self.wait(seconds)

    async def play(self, prompt: str) -> None:
        async with self._alive():
            await self._audible()
            try:
                await self.logic.prompts.play(self.leg, self.account_id, [prompt])
            except UnknownPromptError:
                raise ActionRefused(ErrorNo.UNKNOWN_PROMPT, f"no prompt {prompt!r}") from None

    async def say(self, what: AnyAction) -> None:
        async with self._alive():
            await self._audible()
            assert self.leg.negotiated is not None
            try:
                prompts = await say_prompts(self.logic.engine, what, self.leg.negotiated.codec)
            except SpeechUnavailable as exc:
                raise ActionRefused(ErrorNo.UNKNOWN_PROMPT, str(exc)) from None
            await self.leg.play(PromptSource(prompts))

    async def get_dtmf(self, action: GetDTMFAction) -> tuple[str, str]:
        async with self._alive():
            if action.Prompt:
                await self._audible()
                try:
                    await self.logic.prompts.play(
                        self.leg, self.account_id, [action.Prompt], barge_in=True
                    )
                except UnknownPromptError:
                    raise ActionRefused(
                        ErrorNo.UNKNOWN_PROMPT, f"no prompt {action.Prompt!r}"
                    ) from None
            first = action.FirstDigitTimeout
            return await self.leg.collect_digits(
                max_digits=action.MaxDigits,
                finish_on=action.FinishOnKey,
                timeout_s=action.Timeout / 1000,
                first_timeout_s=first / 1000 if first is not None else None,
            )

    async def wait(self, seconds: float) -> None:
        if await self.leg.wait_ended(seconds):
            raise CallGone

    async def hangup(self, cause: str) -> None:
        await self.leg.hangup(cause)

    async def tag(self, data: dict[str, JsonValue]) -> None:
        self.call.data.setdefault("tags", {}).update(data)

    async def recording(self, command: str) -> None:
        """Hand the command to the recording hook (``call.data["recording_control"]``)."""
        self.call.data.setdefault("recording_commands", []).append(
            {"at": time.time(), "command": command}
        )
        control = self.call.data.get("recording_control")
        if callable(control):
            await control(command)

    async def filler(self, prompt: str) -> None:
        with contextlib.suppress(UnknownPromptError, LegEnded):
            await self.logic.prompts.loop(self.leg, self.account_id, prompt)

    async def wait_gone(self) -> None:
        await self.leg.ended.wait()

    # -- Call* ----------------------------------------------------------------
    async def connect(self, action: AnyAction) -> ConnectOutcome:
        async with self._alive():
            if isinstance(action, CallByObjectLoginAction):
                target = await self.logic.directory.object(self.account_id, action.Login)
                if target is None:
                    raise ActionRefused(ErrorNo.OBJECT_NOT_FOUND, f"no object {action.Login!r}")
                return await self._to_object(target, action.Login)
            if isinstance(action, CallLocalNumberAction):
                target = await self.logic.directory.number(action.Destination)
                if target is None or target.account_id != self.account_id:
                    message = f"{action.Destination} is not a number of this account"
                    raise ActionRefused(ErrorNo.DESTINATION_NOT_ALLOWED, message)
                return await self._to_object(target, action.Destination)
            assert isinstance(action, CallExternalNumberAction)
            return await self._external(action)

    async def _to_object(self, target: Destination, label: str) -> ConnectOutcome:
        started = time.monotonic()
        if target.kind == "sip_account":
            bindings = self.logic.registrar.lookup(target.account_id, target.login)
            if not bindings:
                raise ActionRefused(ErrorNo.OBJECT_NOT_FOUND, f"{target.login} is not registered")
            self.call.data.setdefault("objects", []).append(
                {"kind": target.kind, "login": target.login}
            )
            ringback = await self._ring_caller()
            try:
                result = await self.logic.fork(
                    self.call, [(target.login, b) for b in bindings], timeout_s=30.0
                )
            finally:
                await stop_playback(ringback)
            if result.leg is None:
                return ConnectOutcome("Busy" if result.busy else "Noanswer", label)
            return await self._talk(target.login, result.leg, label, started)
        await self.logic.run(self.call, target)  # a queue, menu or another IVR takes over
        answered = "answered_by" in self.call.data
        return ConnectOutcome("Answer" if answered else "Noanswer", label,
                              time.monotonic() - started, not self.leg.ended.is_set())  # fmt: skip

    async def _external(self, action: CallExternalNumberAction) -> ConnectOutcome:
        if not self.settings.allow_external:
            raise ActionRefused(ErrorNo.EXTERNAL_NOT_ALLOWED,
                                "external calls are not allowed for this object")  # fmt: skip
        try:
            e164 = normalize(action.Destination)
        except InvalidNumberError as exc:
            raise ActionRefused(ErrorNo.DESTINATION_NOT_ALLOWED, str(exc)) from None
        caller_id = await self.trunks.caller_id(self.account_id, None, action.CallerId)
        started = time.monotonic()
        ringback = await self._ring_caller()
        try:
            leg = await self.trunks.dial(
                self.call, self.account_id, e164, caller_id=caller_id, timeout_s=action.Timeout
            )
        except TrunkUnavailable as exc:
            raise ActionRefused(ErrorNo.DESTINATION_NOT_ALLOWED, str(exc)) from None
        except DialFailed as exc:
            status = _DIAL_STATUS.get(exc.status, "Error")
            await stop_playback(ringback)
            if action.Options.PlayCallStatus and status in ("Busy", "Noanswer"):
                prompt = "call-busy" if status == "Busy" else "call-no-answer"
                with contextlib.suppress(UnknownPromptError):
                    await self._audible()
                    await self.logic.prompts.play(self.leg, self.account_id, [prompt])
            return ConnectOutcome(status, e164)  # type: ignore[arg-type]
        finally:
            await stop_playback(ringback)
        return await self._talk(None, leg, e164, started)

    async def _ring_caller(self) -> asyncio.Task[None] | None:
        """Ringing for the caller while we dial: 180 before the answer, a tone after it."""
        if self.leg.state == LegState.ANSWERED:
            return asyncio.ensure_future(self.logic.prompts.loop(self.leg, self.account_id,
                                                                 "ringback"))  # fmt: skip
        if self.leg.state == LegState.NEW:
            await self.leg.ring()
        return None

    async def _talk(
        self, login: str | None, leg: Any, label: str, started: float
    ) -> ConnectOutcome:
        await self.leg.answer()
        if login is not None:
            first_ended = await self.logic.talk(self.call, self.account_id, login, leg)
        else:
            first_ended = await Bridge(self.leg, leg).run()
        duration = time.monotonic() - started
        if first_ended is self.leg:
            return ConnectOutcome("Answer", label, duration, caller_still_here=False)
        await leg.hangup()
        return ConnectOutcome("Answer", label, duration)


class IvrApiLogic:
    """Runs IVR API objects for :class:`CallLogic`."""

    def __init__(self, logic: CallLogic, trunks: TrunkLogic, allow_networks: list[str]) -> None:
        self.logic = logic
        self.trunks = trunks
        self.allow_networks = list(allow_networks)
        logic.handlers["ivr_api"] = self.run

    async def run(self, call: Call, destination: Destination) -> None:
        """Ring, then let the application steer the call until it ends."""
        settings = IvrApiSettings.model_validate(destination.settings)
        control = LegControl(call, destination, self.logic, self.trunks, settings)
        trace: list[dict[str, Any]] = call.data.setdefault("ivr_trace", [])

        def record(kind: str, data: dict[str, Any]) -> None:
            trace.append({"at": round(time.time(), 3), "kind": kind, **data})
            call.trace.add("ivr", kind, **{k: v for k, v in data.items() if k != "kind"})

        client_settings = IvrClientSettings(
            url=settings.url, timeout_ms=settings.timeout_ms,
            ignore_ssl_errors=settings.ignore_ssl_errors, ca_bundle=settings.ca_bundle,
            signing_secrets=settings.signing_secrets,
        )  # fmt: skip
        guard = partial(check_url, allow=self.allow_networks)
        if call.caller.state == LegState.NEW:
            await call.caller.ring()
        async with IvrHttpClient(client_settings, url_guard=guard) as client:
            channel = client.new_call()
            loop = IvrLoop(control, settings, partial(client.send, channel), record,
                           max_requests=settings.max_requests)  # fmt: skip
            state = await loop.run()
        call.log.info("IVR loop ended after %d request(s): %s", state.requests,
                      "fallback" if state.fallback_ran else state.hangup_cause)  # fmt: skip
