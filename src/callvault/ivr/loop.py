"""The IVR API control loop (shared/spec/ivr-api.md): ask the app, run its actions, repeat.

The loop knows nothing of SIP: it drives a :class:`CallControl` -- a live
call (:mod:`callvault.ivr.live`) or a simulated one (``callvault ivr
simulate``) -- and talks to the application through a ``send`` function
(normally :meth:`callvault.ivr.client.IvrHttpClient.send`).  Everything it
does is reported to a ``trace`` callback, which the live call stores with
the call record.

Rules from the spec, section by section:

- *Request*: the first request carries ``Connected``; each later one the
  event of the action that completed (section "Events"), ``Session`` exactly
  as last returned, ``Error`` only after a problem.
- *Response*: ``Action``, or v2 ``Actions`` run in order; the next request
  comes after the last one, or after the first that produces input
  (``GetDTMF``) or ends a connection (``Call*``).
- *Errors*: 1-5 and 10 run the fallback at once; 6-9 are reported in the
  next request, and a second consecutive one runs the fallback.  The
  fallback never calls the application.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import JsonValue

from callvault.ivr.client import IvrResult
from callvault.ivr.models import (
    AnswerAction,
    AnyAction,
    CallByObjectLoginAction,
    CallExternalNumberAction,
    CallLocalNumberAction,
    DontAnswerAction,
    ErrorNo,
    GetDTMFAction,
    HangupAction,
    IvrRequest,
    PauseRecordingAction,
    PlayAction,
    RequestBody,
    RequestError,
    RequestEvent,
    ResumeRecordingAction,
    SayAction,
    SayDateAction,
    SayDigitsAction,
    SayNumberAction,
    SayTimeAction,
    StartRecordingAction,
    StopRecordingAction,
    TagAction,
    WaitAction,
)
from callvault.store.object_settings import IvrApiSettings

MAX_REQUESTS = 500
"""Loop guard: requests one call may make (error 10 beyond)."""

ChannelStatus = Literal["Ringing", "Up", "Hangup"]
CallStatus = Literal["Answer", "Busy", "Noanswer", "Cancel", "Error"]
Send = Callable[[IvrRequest], Awaitable[IvrResult]]
Trace = Callable[[str, dict[str, Any]], None]


class ActionRefused(Exception):
    """An action could not run for a reason the app should hear about (errors 6-9)."""

    def __init__(self, error_no: ErrorNo, message: str) -> None:
        super().__init__(message)
        self.error_no = error_no


class CallGone(Exception):
    """The caller hung up; the loop ends."""


@dataclass(frozen=True)
class ConnectOutcome:
    """How a ``Call*`` action ended, for the ``CallStatus`` event."""

    status: CallStatus
    destination: str
    duration_s: float = 0.0
    caller_still_here: bool = True


class CallControl(Protocol):
    """What the loop needs from a call.  Methods raise :class:`CallGone` once the caller left."""

    from_number: str
    to_number: str
    call_id: str

    @property
    def channel_status(self) -> ChannelStatus:
        """``Ringing`` before the answer, ``Up`` after, ``Hangup`` once over."""

    async def answer(self) -> None:
        """Answer (200 OK)."""

    async def keep_ringing(self, seconds: float | None) -> None:
        """Ring (180) and, if given, wait ``seconds``."""

    async def play(self, prompt: str) -> None:
        """Play a prompt of the object's library (early media before the answer)."""

    async def say(self, what: AnyAction) -> None:
        """Speak a ``Say*`` action."""

    async def get_dtmf(self, action: GetDTMFAction) -> tuple[str, str]:
        """Collect digits: (digits without the finish key, reason)."""

    async def wait(self, seconds: float) -> None:
        """Silence for ``seconds``."""

    async def connect(self, action: AnyAction) -> ConnectOutcome:
        """Run a ``Call*`` action; raise :class:`ActionRefused` for errors 6, 7 or 9."""

    async def hangup(self, cause: str) -> None:
        """End the call."""

    async def tag(self, data: dict[str, JsonValue]) -> None:
        """Store the app's data with the call."""

    async def recording(self, command: str) -> None:
        """``start``, ``stop``, ``pause`` or ``resume`` the recording."""

    async def filler(self, prompt: str) -> None:
        """Play ``prompt`` until cancelled (while a slow app thinks)."""

    async def wait_gone(self) -> None:
        """Return when the caller has hung up."""


@dataclass
class StepResult:
    """What running one response's actions led to."""

    event: RequestEvent | None = None
    error: RequestError | None = None
    finished: bool = False


@dataclass
class LoopState:
    """The loop's memory between requests."""

    session: JsonValue = None
    requests: int = 0
    consecutive_errors: int = 0
    hangup_cause: str = "caller"
    fallback_ran: bool = False
    log: list[dict[str, Any]] = field(default_factory=list)


_RECORDING: dict[type, tuple[str, str]] = {
    StartRecordingAction: ("start", "started"),
    StopRecordingAction: ("stop", "stopped"),
    PauseRecordingAction: ("pause", "paused"),
    ResumeRecordingAction: ("resume", "resumed"),
}
_SAY = (SayNumberAction, SayDigitsAction, SayDateAction, SayTimeAction, SayAction)
_CONNECT = (CallExternalNumberAction, CallLocalNumberAction, CallByObjectLoginAction)


class IvrLoop:
    """Runs one call's control loop against one application."""

    def __init__(
        self,
        control: CallControl,
        settings: IvrApiSettings,
        send: Send,
        trace: Trace,
        *,
        max_requests: int = MAX_REQUESTS,
    ) -> None:
        self.control = control
        self.settings = settings
        self.send = send
        self.trace = trace
        self.max_requests = max_requests
        self.state = LoopState()

    async def run(self) -> LoopState:
        """Drive the call until it ends; returns what happened."""
        state = self.state
        auto_answer = self._start_auto_answer()
        event = RequestEvent(EventName="Connected")
        error: RequestError | None = None
        try:
            while True:
                if state.requests >= self.max_requests:
                    await self._fallback(ErrorNo.LOOP_GUARD, f"more than {self.max_requests} "
                                         "requests for one call")  # fmt: skip
                    return state
                result = await self._ask(event, error)
                if result.error is not None or result.response is None:
                    assert result.error is not None
                    await self._fallback(result.error.error_no, result.error.message)
                    return state
                if result.response.session_given:
                    state.session = result.response.session
                else:
                    state.session = None
                step = await self._run_actions(list(result.response.actions))
                if step.finished:
                    return state
                if step.error is not None:
                    state.consecutive_errors += 1
                    if state.consecutive_errors >= 2:
                        await self._fallback(ErrorNo(step.error.ErrorNo), step.error.ErrorMsg)
                        return state
                else:
                    state.consecutive_errors = 0
                error = step.error
                event = step.event or RequestEvent(EventName="Wait")
        except CallGone:
            state.hangup_cause = "caller"
            return state
        finally:
            if auto_answer is not None:
                auto_answer.cancel()
            await self._notify_hangup()

    # -- talking to the app ---------------------------------------------------
    def _request(self, event: RequestEvent, error: RequestError | None) -> IvrRequest:
        control = self.control
        return IvrRequest(
            request=RequestBody(
                FromNumber=control.from_number,
                ToNumber=control.to_number,
                UniqueCallId=control.call_id,
                ChannelStatus=control.channel_status,
                Hash=self.settings.hash or None,
                Event=event,
                Session=self.state.session,
                Error=error,
            )
        )

    async def _ask(self, event: RequestEvent, error: RequestError | None) -> IvrResult:
        """One request, with the filler prompt if the app is slow and the call is up."""
        self.state.requests += 1
        request = self._request(event, error)
        sending = asyncio.ensure_future(self.send(request))
        filler: asyncio.Task[None] | None = None
        gone = asyncio.ensure_future(self.control.wait_gone())
        try:
            prompt = self.settings.filler_prompt
            if prompt and self.control.channel_status == "Up":
                done, _ = await asyncio.wait(
                    {sending, gone}, timeout=self.settings.filler_after_ms / 1000,
                    return_when=asyncio.FIRST_COMPLETED,
                )  # fmt: skip
                if not done:
                    self.trace("filler", {"prompt": prompt})
                    filler = asyncio.ensure_future(self.control.filler(prompt))
            await asyncio.wait({sending, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not sending.done():
                sending.cancel()
                raise CallGone
            result = sending.result()
        finally:
            gone.cancel()
            if filler is not None:
                filler.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await filler
        self._trace_exchange(result)
        return result

    def _trace_exchange(self, result: IvrResult) -> None:
        entry: dict[str, Any] = {
            "sequence": result.sequence,
            "request_id": result.request_id,
            "url": result.url,
            "request": result.request_body,
            "status": result.status_code,
            "response": result.response_text,
            "elapsed_ms": result.elapsed_ms,
            "attempts": result.attempts,
        }
        if result.error is not None:
            entry["error"] = {
                "ErrorNo": int(result.error.error_no),
                "ErrorMsg": result.error.message,
            }
            if result.error.pointer:
                entry["error"]["pointer"] = result.error.pointer
        self.state.log.append(entry)
        self.trace("exchange", entry)

    async def _notify_hangup(self) -> None:
        """v2: a final ``Hangup`` event (its response is ignored)."""
        if not self.settings.notify_hangup or self.state.requests == 0 or self.state.fallback_ran:
            return  # after a fallback the application is not called again
        event = RequestEvent(EventName="Hangup", EventData=self.state.hangup_cause)
        self.state.requests += 1
        with contextlib.suppress(Exception):
            result = await self.send(self._request(event, None))
            self._trace_exchange(result)

    # -- running actions --------------------------------------------------------
    async def _run_actions(self, actions: list[AnyAction]) -> StepResult:
        step = StepResult()
        for action in actions:
            self.trace("action", {"type": action.Type, **action.model_dump(exclude={"Type"})})
            try:
                step = await self._run(action)
            except ActionRefused as refused:
                self.trace(
                    "action-error", {"ErrorNo": int(refused.error_no), "ErrorMsg": str(refused)}
                )
                event = _event_for_failure(action)
                return StepResult(
                    event, RequestError(ErrorNo=refused.error_no, ErrorMsg=str(refused))
                )
            if step.finished or isinstance(action, (GetDTMFAction, *_CONNECT)):
                return step
        return step

    async def _run(self, action: AnyAction) -> StepResult:
        control = self.control
        if isinstance(action, AnswerAction):
            await control.answer()
            return StepResult(RequestEvent(EventName="Answer"))
        if isinstance(action, DontAnswerAction):
            await control.keep_ringing(action.WaitTime)
            return StepResult(RequestEvent(EventName="DontAnswer"))
        if isinstance(action, PlayAction):
            await control.play(action.Prompt)
            return StepResult(RequestEvent(EventName="Play", EventData="completed"))
        if isinstance(action, _SAY):
            await control.say(action)
            return StepResult(RequestEvent(EventName="Say", EventData="completed"))
        if isinstance(action, GetDTMFAction):
            digits, reason = await control.get_dtmf(action)
            return StepResult(
                RequestEvent(EventName="GetDTMF", EventData=digits, Details={"Reason": reason})
            )
        if isinstance(action, WaitAction):
            await control.wait(action.WaitTime)
            return StepResult(RequestEvent(EventName="Wait"))
        if isinstance(action, _CONNECT):
            outcome = await control.connect(action)
            if not outcome.caller_still_here:
                raise CallGone
            details: dict[str, JsonValue] = {
                "Duration": round(outcome.duration_s), "Destination": outcome.destination,
            }  # fmt: skip
            return StepResult(
                RequestEvent(EventName="CallStatus", EventData=outcome.status, Details=details)
            )
        if isinstance(action, HangupAction):
            self.state.hangup_cause = "app"
            await control.hangup("app")
            return StepResult(finished=True)
        if isinstance(action, TagAction):
            await control.tag(dict(action.Data))
            return StepResult(RequestEvent(EventName="Tag"))
        command, done = _RECORDING[type(action)]
        await control.recording(command)
        return StepResult(RequestEvent(EventName="Recording", EventData=done))

    async def _fallback(self, error_no: ErrorNo, message: str) -> None:
        """The object's fallback (spec "Errors"): never calls the application."""
        settings, control = self.settings, self.control
        self.state.fallback_ran = True
        self.state.hangup_cause = "error"
        self.trace("fallback", {"ErrorNo": int(error_no), "ErrorMsg": message,
                                "fallback": settings.fallback})  # fmt: skip
        try:
            if settings.fallback == "Play" and settings.fallback_prompt:
                await control.play(settings.fallback_prompt)
            elif settings.fallback == "CallByObjectLogin" and settings.fallback_login:
                with contextlib.suppress(ActionRefused):
                    await control.connect(CallByObjectLoginAction(Login=settings.fallback_login))
            await control.hangup("error")
        except (CallGone, ActionRefused):
            pass

    def _start_auto_answer(self) -> asyncio.Task[None] | None:
        delay = self.settings.auto_answer_s
        if delay <= 0:
            return None

        async def answer_later() -> None:
            await asyncio.sleep(delay)
            if self.control.channel_status == "Ringing":
                self.trace("auto-answer", {"after_s": delay})
                with contextlib.suppress(CallGone):
                    await self.control.answer()

        return asyncio.ensure_future(answer_later())


def _event_for_failure(action: AnyAction) -> RequestEvent:
    """The event a request carries when ``action`` was refused (errors 6-9)."""
    if isinstance(action, _CONNECT):
        return RequestEvent(EventName="CallStatus", EventData="Error")
    if isinstance(action, PlayAction):
        return RequestEvent(EventName="Play", EventData="error")
    if isinstance(action, _SAY):
        return RequestEvent(EventName="Say", EventData="error")
    return RequestEvent(EventName="Wait")
