"""Typed wire models of the IVR API (shared/spec/ivr-api.md).

One Pydantic model per action ``Type`` of the spec's table (section
"Response"), joined in the discriminated union :data:`AnyAction`; the request
the platform POSTs (section "Request"); the error numbers (section "Errors").
The same models validate responses (:mod:`callvault.ivr.validate`) and produce
the published JSON Schema (:mod:`callvault.ivr.schema`).

"Values may arrive as strings or numbers": integer parameters accept ``1200``
and ``"1200"``, text parameters accept ``"1"`` and ``1``; booleans are never
taken for numbers. Where the spec is silent the bounds below decide (they are
in the JSON Schema too). Unknown extra keys are ignored, as applications
written for the original service may send them.
"""

from __future__ import annotations

import datetime
import enum
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

SESSION_MAX_BYTES = 16 * 1024
TAG_DATA_MAX_BYTES = 4 * 1024
MAX_ACTIONS = 32
_INT_PATTERN = r"^\s*[-+]?[0-9]+\s*$"
_INT_RE = re.compile(_INT_PATTERN)


class ErrorNo(enum.IntEnum):
    """The spec's error numbers (section "Errors")."""

    TIMEOUT = 1
    CONNECTION = 2
    TLS = 3
    HTTP_STATUS = 4
    INVALID_RESPONSE = 5
    OBJECT_NOT_FOUND = 6
    EXTERNAL_NOT_ALLOWED = 7
    UNKNOWN_PROMPT = 8
    DESTINATION_NOT_ALLOWED = 9
    LOOP_GUARD = 10


def json_size(value: object) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON: the measure of the spec's size limits."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _limit(name: str, limit: int) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        size = json_size(value)
        if size > limit:
            raise ValueError(f"{name} is {size} bytes, more than {limit}")
        return value

    return check


def _calendar_date(value: str) -> str:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a calendar date") from None
    return value


def _to_int(value: object) -> object:
    if isinstance(value, bool):
        raise PydanticCustomError("int_like", "expected an integer, got a boolean")
    if isinstance(value, str):
        if not _INT_RE.fullmatch(value):
            raise PydanticCustomError(
                "int_like", "expected an integer, got {value}", {"value": repr(value)}
            )
        return int(value)
    return value


_FLAGS = {True: True, False: False, "1": True, "0": False, "true": True, "false": False}


def _to_flag(value: object) -> object:
    key = value.strip().lower() if isinstance(value, str) else value
    if isinstance(key, bool | int | str) and key in _FLAGS:  # 1 == True, 0 == False
        return _FLAGS[key]
    raise PydanticCustomError(
        "flag", "expected 0, 1, true or false, got {value}", {"value": repr(value)}
    )


@dataclass(frozen=True)
class IntLike:
    """``Annotated[int, IntLike(lo, hi)]``: an integer sent as a JSON number or decimal string."""

    ge: int
    le: int

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        inner = core_schema.int_schema(ge=self.ge, le=self.le)
        return core_schema.no_info_before_validator_function(_to_int, inner)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        number = {"type": "integer", "minimum": self.ge, "maximum": self.le}
        return {"anyOf": [number, {"type": "string", "pattern": _INT_PATTERN}]}


@dataclass(frozen=True)
class TextLike:
    """``Annotated[str, TextLike(...)]``: a string; an integer is taken as its decimal text."""

    min_length: int = 1
    max_length: int = 128
    pattern: str | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        inner = core_schema.str_schema(
            min_length=self.min_length, max_length=self.max_length, pattern=self.pattern
        )
        return core_schema.no_info_before_validator_function(
            lambda v: str(v) if type(v) is int else v, inner
        )

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        text: dict[str, Any] = {"type": "string", "minLength": self.min_length}
        text["maxLength"] = self.max_length
        if self.pattern is not None:
            text["pattern"] = self.pattern
        return {"anyOf": [text, {"type": "integer"}]}


@dataclass(frozen=True)
class FlagLike:
    """``Annotated[bool, FlagLike()]``: ``1``/``0``, ``"1"``/``"0"`` or ``true``/``false``."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(_to_flag, core_schema.bool_schema())

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [{"type": "boolean"}, {"enum": [0, 1, "0", "1", "true", "false"]}]}


Millis = Annotated[int, IntLike(100, 60_000)]
PromptId = Annotated[str, TextLike(1, 128)]
PhoneNumber = Annotated[str, TextLike(1, 32, r"^\+?[0-9]{1,31}$")]
Lang = Literal["pl", "en"]


def _require_type(schema: dict[str, Any]) -> None:
    """JSON Schema tweak: ``Type`` is required on the wire although models default it."""
    schema["properties"]["Type"].pop("default", None)
    schema["required"] = ["Type", *(n for n in schema.get("required", []) if n != "Type")]


class _Wire(BaseModel):
    """Base of every wire model: immutable, schema titles are the wire names."""

    model_config = ConfigDict(frozen=True, field_title_generator=lambda name, _: name)


class _Action(_Wire):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_require_type)


class AnswerAction(_Action):
    """Answer the call."""

    Type: Literal["Answer"] = "Answer"


class DontAnswerAction(_Action):
    """Keep ringing; a later ``Play`` runs as early media, ``Call*`` forwards unanswered."""

    Type: Literal["DontAnswer"] = "DontAnswer"
    WaitTime: Annotated[int, IntLike(0, 600)] | None = Field(None, description="seconds")


class PlayAction(_Action):
    """Play a prompt of the object's library."""

    Type: Literal["Play"] = "Play"
    Prompt: PromptId


class GetDTMFAction(_Action):
    """Collect digits; the next request's ``EventData`` holds them."""

    Type: Literal["GetDTMF"] = "GetDTMF"
    Prompt: PromptId | None = None
    Timeout: Millis = Field(5000, description="ms per digit")
    MaxDigits: Annotated[int, IntLike(1, 64)] = 1
    FinishOnKey: Annotated[str, TextLike(0, 1, r"^[0-9*#]?$")] = Field(
        "#", description="v2; empty: no finish key"
    )
    FirstDigitTimeout: Millis | None = Field(None, description="v2, ms; default Timeout")


class WaitAction(_Action):
    """Wait (silence) for ``WaitTime`` seconds."""

    Type: Literal["Wait"] = "Wait"
    WaitTime: Annotated[int, IntLike(0, 3600)] = Field(description="seconds")


class CallOptions(_Wire):
    """``CallExternalNumber.Options``."""

    model_config = ConfigDict(extra="ignore")
    PlayCallStatus: Annotated[bool, FlagLike()] = Field(
        False, description="1: the caller hears busy / no answer"
    )


class CallExternalNumberAction(_Action):
    """Dial a number outside the account (only when the object allows it)."""

    Type: Literal["CallExternalNumber"] = "CallExternalNumber"
    Destination: PhoneNumber
    Timeout: Annotated[int, IntLike(1, 300)] = Field(30, description="seconds of ringing")
    CallerId: PhoneNumber | None = None
    Options: CallOptions = Field(default_factory=CallOptions)


class CallLocalNumberAction(_Action):
    """Call a number of the same account (goes to that number's target)."""

    Type: Literal["CallLocalNumber"] = "CallLocalNumber"
    Destination: PhoneNumber


class CallByObjectLoginAction(_Action):
    """Call a SIP account, queue or other object of the account by its login."""

    Type: Literal["CallByObjectLogin"] = "CallByObjectLogin"
    Login: Annotated[str, TextLike(1, 128)]


class HangupAction(_Action):
    """Hang up."""

    Type: Literal["Hangup"] = "Hangup"


class SayNumberAction(_Action):
    """Say a whole number."""

    Type: Literal["SayNumber"] = "SayNumber"
    Number: Annotated[int, IntLike(-999_999_999, 999_999_999)]
    Gender: Literal["m", "f", "n"] = Field("m", description="v2; gender of the counted noun")
    Language: Lang = "pl"


class SayDigitsAction(_Action):
    """Say keys one at a time."""

    Type: Literal["SayDigits"] = "SayDigits"
    Digits: Annotated[str, TextLike(1, 64, r"^[0-9*#]+$")]
    Language: Lang = "pl"


class SayDateAction(_Action):
    """Say a calendar date ``YYYY-MM-DD``."""

    Type: Literal["SayDate"] = "SayDate"
    Date: Annotated[
        str, TextLike(10, 10, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_calendar_date)
    ]
    Language: Lang = "pl"


class SayTimeAction(_Action):
    """Say a 24-hour clock time ``HH:MM``."""

    Type: Literal["SayTime"] = "SayTime"
    Time: Annotated[str, TextLike(5, 5, r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    Language: Lang = "pl"


class SayAction(_Action):
    """v2: speak ``Text`` with speech synthesis."""

    Type: Literal["Say"] = "Say"
    Text: Annotated[str, TextLike(1, 2000)]
    Language: Lang = "pl"


class StartRecordingAction(_Action):
    """v2: start recording the call."""

    Type: Literal["StartRecording"] = "StartRecording"


class StopRecordingAction(_Action):
    """v2: stop recording the call."""

    Type: Literal["StopRecording"] = "StopRecording"


class PauseRecordingAction(_Action):
    """v2: write silence instead of audio (e.g. while a card number is read)."""

    Type: Literal["PauseRecording"] = "PauseRecording"


class ResumeRecordingAction(_Action):
    """v2: resume recording after ``PauseRecording``."""

    Type: Literal["ResumeRecording"] = "ResumeRecording"


class TagAction(_Action):
    """v2: merge ``Data`` (a JSON object of at most 4 KiB) into the call's data."""

    Type: Literal["Tag"] = "Tag"
    Data: Annotated[dict[str, JsonValue], AfterValidator(_limit("Data", TAG_DATA_MAX_BYTES))] = (
        Field(description="JSON object, at most 4 KiB")
    )


# fmt: off
ACTION_MODELS = (
    AnswerAction | DontAnswerAction | PlayAction | GetDTMFAction | WaitAction
    | CallExternalNumberAction | CallLocalNumberAction | CallByObjectLoginAction | HangupAction
    | SayNumberAction | SayDigitsAction | SayDateAction | SayTimeAction | SayAction
    | StartRecordingAction | StopRecordingAction | PauseRecordingAction | ResumeRecordingAction
    | TagAction
)
# fmt: on
AnyAction = Annotated[ACTION_MODELS, Field(discriminator="Type")]
"""Any one action; ``Type`` picks the model."""
ACTION_TYPES: tuple[str, ...] = tuple(
    m.model_fields["Type"].default for m in typing.get_args(ACTION_MODELS)
)


SessionJson = Annotated[JsonValue, AfterValidator(_limit("Session", SESSION_MAX_BYTES))]


def _omit_none(value: object) -> bool:
    return value is None


class IvrResponse(_Wire):
    """The application's answer: ``Action`` (one) or v2 ``Actions`` (run in order)."""

    model_config = ConfigDict(extra="ignore")
    Action: AnyAction | None = Field(None, exclude_if=_omit_none)
    Actions: list[AnyAction] | None = Field(
        None, min_length=1, max_length=MAX_ACTIONS, exclude_if=_omit_none
    )
    Session: SessionJson = Field(None, description="any JSON, at most 16 KiB; echoed next time")

    @field_validator("Actions")
    @classmethod
    def _not_both(cls, value: list[AnyAction] | None, info: Any) -> list[AnyAction] | None:
        if value is not None and info.data.get("Action") is not None:
            raise ValueError("give either Action or Actions, not both")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> IvrResponse:
        if self.Action is None and self.Actions is None:
            raise ValueError("Action or Actions is required")
        return self

    @property
    def actions(self) -> list[AnyAction]:
        """The actions to run, in order (``Action`` as a one-item list)."""
        return [self.Action] if self.Action is not None else list(self.Actions or [])


EventKind = Literal[
    "Connected",
    "Answer",
    "DontAnswer",
    "Wait",
    "Play",
    "Say",
    "GetDTMF",
    "CallStatus",
    "Hangup",
    "Tag",
    "Recording",
]
"""v2 adds ``Tag`` (the data was stored) and ``Recording`` (``started``, ``stopped``,
``paused``, ``resumed``) for responses whose last action has no event of its own."""


class RequestEvent(_Wire):
    """What happened since the last request (spec section "Events")."""

    EventName: EventKind
    EventData: Annotated[str, TextLike(0, 1024)] = ""
    Details: dict[str, JsonValue] | None = Field(None, exclude_if=_omit_none)


class RequestError(_Wire):
    """The problem the previous action met (``Error`` of the request)."""

    ErrorNo: ErrorNo
    ErrorMsg: str


class RequestBody(_Wire):
    """The call's data, posted as ``{"request": ...}``."""

    FromNumber: Annotated[str, TextLike(0, 64)]
    ToNumber: Annotated[str, TextLike(0, 64)]
    UniqueCallId: Annotated[str, TextLike(1, 128)]
    ChannelStatus: Literal["Ringing", "Up", "Hangup"]
    Hash: str | None = Field(None, exclude_if=_omit_none, description="only when configured")
    Event: RequestEvent
    Session: SessionJson = Field(None, description="the last response's Session; null at first")
    Error: RequestError | None = Field(
        None, exclude_if=_omit_none, description="only after a problem"
    )


class IvrRequest(_Wire):
    """The POST body the platform sends to the application's URL."""

    request: RequestBody

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON, absent ``Hash``/``Error``/``Details`` omitted (the signed body)."""
        return self.model_dump_json().encode()
