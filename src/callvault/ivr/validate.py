"""Validation of the application's answer (shared/spec/ivr-api.md, "Response", "Errors").

:func:`parse_response` turns the raw HTTP body into a :class:`ParsedResponse`
or raises :class:`InvalidResponse` — error 5 of the spec — carrying the
RFC 6901 JSON pointer of the offending field (``/Action/Timeout``,
``/Actions/1/Type``; ``""`` for the whole document), so the ``ErrorMsg`` the
application gets next time names exactly what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue, ValidationError
from pydantic_core import ErrorDetails

from callvault.ivr.models import ACTION_TYPES, AnyAction, IvrResponse


class InvalidResponse(ValueError):
    """The answer is not usable (error 5): ``pointer`` names the field, ``message`` why."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer}: {message}" if pointer else message)
        self.pointer = pointer
        self.message = message


@dataclass(frozen=True)
class ParsedResponse:
    """A valid answer: the actions to run in order and the Session to echo next time.

    ``session_given`` tells an explicit ``"Session": null`` from an absent one.
    """

    actions: tuple[AnyAction, ...]
    session: JsonValue
    session_given: bool
    response: IvrResponse


def json_pointer(path: Sequence[str | int]) -> str:
    """RFC 6901 pointer of ``path`` (``~`` becomes ``~0``, ``/`` becomes ``~1``)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decode(raw: bytes) -> object:
    if not raw.strip():
        raise InvalidResponse("", "not JSON: empty body")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidResponse("", f"not JSON: not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidResponse(
            "", f"not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:
        raise InvalidResponse("", f"not JSON: {exc}") from None


def _field_path(loc: tuple[str | int, ...]) -> list[str | int]:
    """Drop the union tag pydantic puts after ``Action`` / ``Actions/<i>`` in error locations."""
    path = list(loc)
    at = 1 if path[:1] == ["Action"] else 2 if path[:1] == ["Actions"] else None
    if at is not None and len(path) > at and path[at] in ACTION_TYPES:
        del path[at]
    return path


_MESSAGES = {
    "model_type": "expected a JSON object",
    "model_attributes_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
    "list_type": "expected a JSON array",
    "missing": "required",
}


def _error(error: ErrorDetails) -> InvalidResponse:
    path = _field_path(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "union_tag_invalid":
        return InvalidResponse(
            json_pointer([*path, "Type"]), f"unknown action type {ctx.get('tag', '?')!r}"
        )
    if kind == "union_tag_not_found":
        return InvalidResponse(json_pointer([*path, "Type"]), "required")
    message = _MESSAGES.get(kind, error["msg"]).removeprefix("Value error, ")
    return InvalidResponse(json_pointer(path), message)


def parse_response(raw: bytes) -> ParsedResponse:
    """Parse and validate the application's answer; raise :class:`InvalidResponse`."""
    document = _decode(raw)
    if not isinstance(document, dict):
        raise InvalidResponse("", "expected a JSON object with Action or Actions")
    try:
        response = IvrResponse.model_validate(document)
    except ValidationError as exc:
        raise _error(exc.errors(include_url=False)[0]) from None
    return ParsedResponse(
        actions=tuple(response.actions),
        session=response.Session,
        session_given="Session" in document,
        response=response,
    )
