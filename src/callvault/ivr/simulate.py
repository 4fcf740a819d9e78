"""``callvault ivr simulate``: run the real IVR loop against an app, without a phone.

An integrator points the simulator at their application and sees, request by
request, what the platform would send and how it reads the answers.  The
:class:`IvrLoop` and :class:`IvrHttpClient` are the production ones (signed
requests, timeouts, error numbers, fallback); only the call is simulated:
:class:`SimulatedCall` takes the caller's keys and the outcomes of ``Call*``
actions from the command line, prints what the caller would hear, and never
really waits (rings, silences and digit timeouts pass on a virtual clock, which
also drives ``auto_answer_s``).  There is no SSRF guard: it is the integrator's
own tool, so loopback addresses are fine.

:func:`replay_script` recovers a stored call's caller side (numbers, keys,
call statuses) from its ``CallRecord.ivr_trace`` for ``--replay``.  Printing
is the command line's job (:mod:`callvault.cli.calls`): :func:`simulate`
hands over each trace entry as it happens.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from datetime import time as dt_time
from typing import Any

from pydantic import JsonValue, ValidationError

from callvault.ivr.client import IvrClientSettings, IvrHttpClient, IvrResult
from callvault.ivr.loop import CallStatus, ChannelStatus, ConnectOutcome, IvrLoop, Trace
from callvault.ivr.models import (
    AnyAction,
    CallByObjectLoginAction,
    CallExternalNumberAction,
    GetDTMFAction,
    IvrRequest,
    SayDateAction,
    SayDigitsAction,
    SayNumberAction,
    SayTimeAction,
)
from callvault.ivr.say import KEYS, say_date, say_digits, say_number, say_time
from callvault.store.object_settings import IvrApiSettings

DEFAULT_FROM = "48123456789"
DEFAULT_TO = "48221234567"
DEFAULT_MAX_REQUESTS = 100
CALL_STATUSES: tuple[CallStatus, ...] = ("Answer", "Busy", "Noanswer", "Cancel", "Error")
Emit = Callable[[str], None]
_OPTIONS = {"signing_secrets": "--secret", "ca_bundle": "--ca-file"}
"""Setting -> option in error messages, where it is not ``timeout_ms`` -> ``--timeout-ms``."""
_CALLER = "    "  # indent of what the caller side does, below the exchange lines


class SimulationError(ValueError):
    """The simulation cannot run as asked; the message says what to change."""


def call_status(text: str) -> CallStatus:
    """``--call-status`` value in any case (``busy``) as the spec spells it (``Busy``)."""
    for status in CALL_STATUSES:
        if status.lower() == text.strip().lower():
            return status
    raise SimulationError(f"unknown call status {text!r} (use {', '.join(CALL_STATUSES)})")


def dtmf_entry(text: str) -> str:
    """A ``--dtmf`` entry, checked: keys 0-9, ``*`` and ``#`` only (may be empty)."""
    bad = sorted(set(text) - KEYS)
    if bad:
        what = f"{', '.join(map(repr, bad))} {'is not a key' if len(bad) == 1 else 'are not keys'}"
        raise SimulationError(f"--dtmf {text!r}: {what} (use 0-9, * and #)")
    return text


class SimulatedCall:
    """A :class:`~callvault.ivr.loop.CallControl` with no phone: scripted caller, printed audio."""

    def __init__(
        self,
        *,
        from_number: str,
        to_number: str,
        call_id: str,
        dtmf: Sequence[str] = (),
        call_status: Sequence[CallStatus] = (),
        auto_answer_s: float = 0,
        emit: Emit = print,
        trace: Trace | None = None,
    ) -> None:
        self.from_number, self.to_number, self.call_id = from_number, to_number, call_id
        self.dtmf, self.call_status = list(dtmf), list(call_status)
        self.auto_answer_s = auto_answer_s
        self.virtual_s = 0.0
        """Seconds the call would have lasted beyond the real time spent (waits not waited)."""
        self._emit, self._trace = emit, trace
        self._status: ChannelStatus = "Ringing"
        self._started = time.monotonic()

    @property
    def channel_status(self) -> ChannelStatus:
        """``Ringing`` until answered, ``Up`` after, ``Hangup`` once over."""
        self._auto_answer()
        return self._status

    def _say(self, text: str) -> None:
        self._emit(_CALLER + text)

    def _pass(self, seconds: float) -> None:
        """Let ``seconds`` pass on the virtual clock (nothing really waits)."""
        self.virtual_s += max(seconds, 0.0)
        self._auto_answer()

    def _auto_answer(self) -> None:
        """``auto_answer_s``: answer once that long passed, real plus virtual time."""
        due = self.auto_answer_s
        now = time.monotonic() - self._started + self.virtual_s
        if self._status == "Ringing" and 0 < due <= now:
            self._status = "Up"
            if self._trace is not None:
                self._trace("auto-answer", {"after_s": due})

    async def answer(self) -> None:
        """The call is answered."""
        self._say("call answered")
        self._status = "Up"

    async def keep_ringing(self, seconds: float | None) -> None:
        """Keep ringing; a given duration passes on the virtual clock only."""
        self._say("keeps ringing" + (f" for {seconds:g} s (not waited)" if seconds else ""))
        self._pass(seconds or 0)

    async def play(self, prompt: str) -> None:
        """Print the prompt the caller would hear."""
        early = " (early media, not answered)" if self._status == "Ringing" else ""
        self._say(f"caller hears prompt {json.dumps(prompt)}{early}")

    async def say(self, what: AnyAction) -> None:
        """Print the fragments a ``Say*`` action plays (the text for speech synthesis)."""
        if isinstance(what, SayNumberAction):
            label, parts = str(what.Number), say_number(what.Number, what.Language, what.Gender)
        elif isinstance(what, SayDigitsAction):
            label, parts = what.Digits, say_digits(what.Digits, what.Language)
        elif isinstance(what, SayDateAction):
            label, parts = what.Date, say_date(date.fromisoformat(what.Date), what.Language)
        elif isinstance(what, SayTimeAction):
            label, parts = what.Time, say_time(dt_time.fromisoformat(what.Time), what.Language)
        else:
            text = getattr(what, "Text", "")
            self._say(f"caller hears speech synthesis: {json.dumps(text, ensure_ascii=False)}")
            return
        self._say(f"caller hears {what.Type} {label}: {' '.join(parts)}")

    async def get_dtmf(self, action: GetDTMFAction) -> tuple[str, str]:
        """The next ``--dtmf`` entry as the platform would collect it: (digits, reason)."""
        if action.Prompt:
            await self.play(action.Prompt)
        entry = self.dtmf.pop(0) if self.dtmf else ""
        digits, reason = "", "timeout"
        for key in entry:
            if action.FinishOnKey and key == action.FinishOnKey:
                reason = "finishkey"
                break
            digits += key
            if len(digits) >= action.MaxDigits:
                reason = "maxdigits"
                break
        if reason == "timeout":
            first = action.FirstDigitTimeout or action.Timeout
            waited = (action.Timeout if digits else first) / 1000
            self._pass(waited)
            how = f"timeout after {waited:g} s, not waited"
        else:
            how = reason
        keys = f"caller keys {entry}" if entry else "caller presses nothing"
        self._say(f"{keys} → {json.dumps(digits)} ({how})")
        return digits, reason

    async def wait(self, seconds: float) -> None:
        """Silence; the duration passes on the virtual clock only."""
        self._say(f"silence for {seconds:g} s (not waited)")
        self._pass(seconds)

    async def connect(self, action: AnyAction) -> ConnectOutcome:
        """The next ``--call-status`` (default ``Answer``) as the outcome of a ``Call*`` action."""
        if isinstance(action, CallByObjectLoginAction):
            destination = action.Login
        else:
            destination = str(getattr(action, "Destination", ""))
        status: CallStatus = self.call_status.pop(0) if self.call_status else "Answer"
        external = isinstance(action, CallExternalNumberAction)
        self._say(f"{action.Type} {destination} → {status}" + (" (external)" if external else ""))
        return ConnectOutcome(status=status, destination=destination)

    async def hangup(self, cause: str) -> None:
        """The call ends."""
        self._say("call hung up by " + ("the app" if cause == "app" else f"{cause} (fallback)"))
        self._status = "Hangup"

    async def tag(self, data: dict[str, JsonValue]) -> None:
        """Print the data the platform would store with the call."""
        self._say(f"tag stored with the call: {json.dumps(data, ensure_ascii=False)}")

    async def recording(self, command: str) -> None:
        """Print the recording command."""
        self._say(f"recording: {command}")

    async def filler(self, prompt: str) -> None:
        """Print the filler prompt, then 'play' it until cancelled."""
        self._say(f"caller hears filler {json.dumps(prompt)} while the app thinks")
        await asyncio.Event().wait()

    async def wait_gone(self) -> None:
        """A simulated caller never hangs up."""
        await asyncio.Event().wait()


# -- replay ---------------------------------------------------------------------------


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}`` (stored traces are read defensively)."""
    return value if isinstance(value, dict) else {}


def request_of(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The ``request`` object an ``exchange`` trace entry posted (``{}`` if unreadable)."""
    try:
        body = json.loads(entry.get("request") or "null")
    except (TypeError, ValueError):
        return {}
    return as_dict(as_dict(body).get("request"))


@dataclass(frozen=True)
class ReplayScript:
    """The caller's side of a stored call: its numbers, keys and ``Call*`` outcomes."""

    from_number: str
    to_number: str
    dtmf: list[str]
    call_status: list[CallStatus]


def replay_script(trace: Sequence[Any]) -> ReplayScript:
    """What the caller did in a stored trace: ``--dtmf`` entries from the ``GetDTMF`` events
    (plus the finish key when ``Details.Reason`` is ``finishkey``), ``--call-status`` from the
    ``CallStatus`` events, the numbers from the first request."""
    first: dict[str, Any] | None = None
    finish_key = "#"
    dtmf: list[str] = []
    statuses: list[CallStatus] = []
    for entry in (as_dict(e) for e in trace):
        if entry.get("kind") == "action" and entry.get("type") == "GetDTMF":
            finish_key = str(entry.get("FinishOnKey") or "#")
        request = request_of(entry) if entry.get("kind") == "exchange" else {}
        if not request:
            continue
        first = first or request
        event = as_dict(request.get("Event"))
        data = str(event.get("EventData") or "")
        if event.get("EventName") == "GetDTMF":
            finished = as_dict(event.get("Details")).get("Reason") == "finishkey"
            dtmf.append(data + (finish_key if finished else ""))
        elif event.get("EventName") == "CallStatus":
            statuses.append(call_status(data))
    if first is None:
        raise SimulationError("the trace holds no readable IVR API request")
    from_number = str(first.get("FromNumber", DEFAULT_FROM))
    return ReplayScript(from_number, str(first.get("ToNumber", DEFAULT_TO)), dtmf, statuses)


# -- running ------------------------------------------------------------------------------


@dataclass
class Simulation:
    """What ``callvault ivr simulate`` was asked to do."""

    url: str
    call_id: str = field(default_factory=lambda: f"sim-{secrets.token_hex(8)}")
    from_number: str = DEFAULT_FROM
    to_number: str = DEFAULT_TO
    dtmf: list[str] = field(default_factory=list)
    call_status: list[CallStatus] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    hash: str = ""
    timeout_ms: int = 5000
    insecure: bool = False
    ca_bundle: str | None = None
    auto_answer_s: float = 0
    max_requests: int = DEFAULT_MAX_REQUESTS

    def settings(self) -> tuple[IvrClientSettings, IvrApiSettings]:
        """The client's and the loop's settings, validated like an object's (errors name the
        option: ``--timeout-ms: Input should be greater than or equal to 500``)."""
        common = {"url": self.url, "timeout_ms": self.timeout_ms, "signing_secrets": self.secrets}
        try:
            client = IvrClientSettings.model_validate(
                {**common, "ignore_ssl_errors": self.insecure, "ca_bundle": self.ca_bundle}
            )
            api = IvrApiSettings.model_validate(
                {**common, "hash": self.hash, "auto_answer_s": self.auto_answer_s}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "url"
            option = _OPTIONS.get(name, "--" + name.replace("_", "-"))
            raise SimulationError(f"{option}: {first['msg']}") from None
        if self.max_requests < 1:
            raise SimulationError("--max-requests must be at least 1")
        for entry in self.dtmf:
            dtmf_entry(entry)
        return client, api


@dataclass
class Outcome:
    """How a simulated call went: the exit code, the trace, the inputs left unused."""

    code: int
    entries: list[dict[str, Any]]
    call: SimulatedCall


async def simulate(
    sim: Simulation, on_entry: Callable[[dict[str, Any]], None], emit: Emit = print
) -> Outcome:
    """Run one simulated call; ``code`` 0 when the app hung up, 1 when the fallback ended it.

    Each trace entry goes to ``on_entry`` as it happens, what the caller hears and does to
    ``emit``.  Raises :class:`SimulationError` before any request when the options are unusable.
    """
    client_settings, api = sim.settings()
    entries: list[dict[str, Any]] = []
    start_wall, start = time.time(), time.monotonic()
    call: SimulatedCall

    def trace(kind: str, data: dict[str, Any]) -> None:
        at = start_wall + (time.monotonic() - start) + call.virtual_s
        entries.append({"at": round(at, 6), "kind": kind, **data})
        on_entry(entries[-1])

    call = SimulatedCall(
        from_number=sim.from_number,
        to_number=sim.to_number,
        call_id=sim.call_id,
        dtmf=sim.dtmf,
        call_status=sim.call_status,
        auto_answer_s=sim.auto_answer_s,
        emit=emit,
        trace=trace,
    )
    async with IvrHttpClient(client_settings) as client:
        context = client.new_call()

        async def send(request: IvrRequest) -> IvrResult:
            return await client.send(context, request)

        # auto-answer runs on the call's virtual clock (SimulatedCall), not in real time
        loop_settings = api.model_copy(update={"auto_answer_s": 0})
        state = await IvrLoop(call, loop_settings, send, trace, max_requests=sim.max_requests).run()
    code = 1 if state.fallback_ran or state.hangup_cause != "app" else 0
    return Outcome(code, entries, call)
