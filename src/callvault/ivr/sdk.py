"""A small typed helper for writing IVR API applications (shared/spec/ivr-api.md).

One handler per event name, replies from small builders, served as ASGI::

    app = IvrApp()

    @app.on("Connected")
    def connected(req: IncomingRequest) -> Reply:
        return (answer() + get_dtmf("menu")).with_session({"step": "menu"})

    asgi = asgi_app(app, secrets=["whsec_..."])  # uvicorn module:asgi

Handlers may be plain or ``async``. A reply without :meth:`Reply.with_session`
echoes the request's ``Session``. Every reply is checked with the platform's own
validation (:func:`~callvault.ivr.validate.parse_response` over
:class:`~callvault.ivr.models.IvrResponse`) before it leaves, so a bad parameter
fails in the application, not as error 5 on a live call.
"""

from __future__ import annotations

import enum
import hmac
import inspect
import json
import logging
import time
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from pydantic import JsonValue, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from callvault.ivr import models as m
from callvault.ivr.signing import DEFAULT_TOLERANCE_S, verify
from callvault.ivr.validate import InvalidResponse, parse_response

log = logging.getLogger(__name__)

EVENT_NAMES: frozenset[str] = frozenset(typing.get_args(m.EventKind))
"""Every ``EventName`` the platform sends (follows :data:`callvault.ivr.models.EventKind`)."""


class _Keep(enum.Enum):
    """``Reply.session`` of a reply that sets none: the request's ``Session`` is echoed."""

    KEEP = "keep"


KEEP = _Keep.KEEP


@dataclass(frozen=True)
class Reply:
    """A handler's answer: actions run in order (join with ``+``), maybe a new ``Session``."""

    actions: tuple[m.AnyAction, ...]
    session: JsonValue | _Keep = KEEP

    def __add__(self, other: Reply) -> Reply:
        return combine(self, other)

    def with_session(self, session: JsonValue) -> Reply:
        """The same actions with ``session`` as the new ``Session`` (``None`` clears it)."""
        return replace(self, session=session)

    def render(self, previous_session: JsonValue = None) -> bytes:
        """The response body (``previous_session`` unless one is set), validated as the platform
        does; raises :class:`~callvault.ivr.validate.InvalidResponse`."""
        session = previous_session if self.session is KEEP else self.session
        dumped = [action.model_dump(mode="json") for action in self.actions]
        wire = [{k: v for k, v in d.items() if v is not None} for d in dumped]  # unset optionals
        document: dict[str, object] = {"Action": wire[0]} if len(wire) == 1 else {"Actions": wire}
        document["Session"] = session
        raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        parse_response(raw)  # the platform's own check; raises InvalidResponse
        return raw


def combine(*replies: Reply) -> Reply:
    """One reply running the actions of ``replies`` in order; the last session set wins."""
    sessions = [r.session for r in replies if r.session is not KEEP]
    joined = tuple(action for r in replies for action in r.actions)
    return Reply(joined, sessions[-1] if sessions else KEEP)


def _one(action: m.AnyAction) -> Reply:
    return Reply((action,))


def answer() -> Reply:
    """``Answer``: answer the call."""
    return _one(m.AnswerAction())


def play(prompt: str) -> Reply:
    """``Play``: a prompt of the object's library, by id."""
    return _one(m.PlayAction(Prompt=prompt))


def get_dtmf(
    prompt: str | None = None,
    timeout_ms: int = 5000,
    max_digits: int = 1,
    finish_on_key: str = "#",
    first_digit_timeout_ms: int | None = None,
) -> Reply:
    """``GetDTMF``: collect up to ``max_digits`` keys; the next ``EventData`` holds them."""
    return _one(
        m.GetDTMFAction(
            Prompt=prompt,
            Timeout=timeout_ms,
            MaxDigits=max_digits,
            FinishOnKey=finish_on_key,
            FirstDigitTimeout=first_digit_timeout_ms,
        )
    )


def call_login(login: str) -> Reply:
    """``CallByObjectLogin``: a SIP account, queue or other object of the account."""
    return _one(m.CallByObjectLoginAction(Login=login))


def call_external(
    number: str,
    timeout_s: int = 30,
    caller_id: str | None = None,
    play_call_status: bool = False,
) -> Reply:
    """``CallExternalNumber``: dial outside the account (needs ``allow_external``)."""
    options = m.CallOptions(PlayCallStatus=play_call_status)
    action = m.CallExternalNumberAction(
        Destination=number, Timeout=timeout_s, CallerId=caller_id, Options=options
    )
    return _one(action)


def hangup() -> Reply:
    """``Hangup``: end the call."""
    return _one(m.HangupAction())


def say_number(number: int, gender: Literal["m", "f", "n"] = "m", language: m.Lang = "pl") -> Reply:
    """``SayNumber``: a whole number; ``gender`` is that of the counted noun."""
    return _one(m.SayNumberAction(Number=number, Gender=gender, Language=language))


def say_digits(digits: str, language: m.Lang = "pl") -> Reply:
    """``SayDigits``: keys ``0-9*#`` one at a time."""
    return _one(m.SayDigitsAction(Digits=digits, Language=language))


def tag(data: dict[str, JsonValue]) -> Reply:
    """v2 ``Tag``: merge ``data`` (a JSON object, at most 4 KiB) into the call's data."""
    return _one(m.TagAction(Data=data))


@dataclass(frozen=True)
class IncomingRequest:
    """One platform request as a handler sees it: the parsed body plus shortcuts."""

    body: m.RequestBody
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def event_name(self) -> m.EventKind:
        return self.body.Event.EventName

    @property
    def event_data(self) -> str:
        return self.body.Event.EventData

    @property
    def details(self) -> dict[str, JsonValue]:
        """v2 ``Event.Details`` (``{}`` when absent)."""
        return dict(self.body.Event.Details or {})

    @property
    def digits(self) -> str:
        """Keys entered, without the finish key, for a ``GetDTMF`` event; ``""`` otherwise."""
        return self.body.Event.EventData if self.event_name == "GetDTMF" else ""

    @property
    def session(self) -> dict[str, JsonValue]:
        """A copy of ``Session`` when it is a JSON object; ``{}`` otherwise (first request)."""
        value = self.body.Session
        return dict(value) if isinstance(value, dict) else {}

    @property
    def error(self) -> m.RequestError | None:
        """``Error`` of the request: the previous action's problem (errors 6-9)."""
        return self.body.Error

    @property
    def from_number(self) -> str:
        return self.body.FromNumber


Handler = Callable[[IncomingRequest], Reply | Awaitable[Reply]]
H = TypeVar("H", bound=Handler)


class IvrApp:
    """Handlers keyed by ``EventName``; unhandled events go to the default (``Hangup``)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._default: Handler = lambda _request: hangup()

    def on(self, event: m.EventKind) -> Callable[[H], H]:
        """Decorator: the handler of ``event`` (one of :data:`EVENT_NAMES`)."""
        if event not in EVENT_NAMES:
            raise ValueError(f"unknown event {event!r}; expected one of {sorted(EVENT_NAMES)}")

        def register(handler: H) -> H:
            self._handlers[event] = handler
            return handler

        return register

    def default(self, handler: H) -> H:
        """Decorator: the handler of every event without its own."""
        self._default = handler
        return handler

    async def dispatch(self, request: IncomingRequest) -> Reply:
        """Run the handler of the request's event and return its reply."""
        handler = self._handlers.get(request.event_name, self._default)
        result = handler(request)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Reply):
            raise TypeError(f"handler {handler!r} returned {type(result).__name__}, not Reply")
        return result

    async def respond(self, request: IncomingRequest) -> bytes:
        """The validated response body for ``request`` (``Session`` echoed unless set)."""
        reply = await self.dispatch(request)
        return reply.render(request.body.Session)


def verify_request(
    headers: Mapping[str, str],
    body: bytes,
    secrets: list[str],
    now: float | None = None,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """Whether ``X-Signature`` in ``headers`` signs the raw ``body`` with one of ``secrets``
    within ``tolerance_s`` of ``now`` (default: the current unix time)."""
    header = next((v for k, v in headers.items() if k.lower() == "x-signature"), None)
    if header is None:
        return False
    moment = int(time.time() if now is None else now)
    return verify(header, body, secrets, moment, tolerance_s)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def asgi_app(app: IvrApp, *, secrets: list[str] | None = None, hash: str | None = None) -> ASGIApp:
    """An ASGI application serving ``app`` on ``POST`` to any path.

    With ``secrets`` a request without a valid v2 ``X-Signature`` gets 401; with
    ``hash`` one whose v1 ``Hash`` differs gets 401. A body that is not an IVR API
    request gets 400; a handler's invalid reply 500 (the platform then runs the
    object's fallback, error 4).
    """
    if secrets is not None and (not secrets or not all(secrets)):
        raise ValueError("secrets must be non-empty strings; pass None to skip signature checks")

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        if secrets is not None and not verify_request(request.headers, raw, secrets):
            return _error(401, "invalid or missing X-Signature")
        try:
            parsed = m.IvrRequest.model_validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = "/".join(str(p) for p in first["loc"])
            return _error(400, f"not an IVR API request: {where}: {first['msg']}")
        given = (parsed.request.Hash or "").encode()
        if hash is not None and not hmac.compare_digest(given, hash.encode()):
            return _error(401, "invalid Hash")
        try:
            body = await app.respond(IncomingRequest(parsed.request, request.headers))
        except InvalidResponse as exc:
            log.error("call %s: invalid reply: %s", parsed.request.UniqueCallId, exc)
            return _error(500, f"invalid reply: {exc}")
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])
