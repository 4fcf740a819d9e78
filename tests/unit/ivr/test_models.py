"""IVR API wire models, response validation with JSON pointers, and the published schema.

Contract: shared/spec/ivr-api.md ("Request", "Response", "Errors").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from callvault.ivr.models import (
    ACTION_TYPES,
    CallExternalNumberAction,
    ErrorNo,
    GetDTMFAction,
    IvrRequest,
    PlayAction,
    SayNumberAction,
    TagAction,
)
from callvault.ivr.schema import build_schema, render_schema
from callvault.ivr.validate import InvalidResponse, json_pointer, parse_response

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "docs" / "ivr-api.schema.json"

SPEC_TYPES = {
    "Answer",
    "DontAnswer",
    "Play",
    "GetDTMF",
    "Wait",
    "CallExternalNumber",
    "CallLocalNumber",
    "CallByObjectLogin",
    "Hangup",
    "SayNumber",
    "SayDigits",
    "SayDate",
    "SayTime",
    "Say",
    "StartRecording",
    "StopRecording",
    "PauseRecording",
    "ResumeRecording",
    "Tag",
}

SPEC_REQUEST = {
    "request": {
        "FromNumber": "48123456789",
        "ToNumber": "48221234567",
        "UniqueCallId": "c-01JD…",
        "ChannelStatus": "Ringing",
        "Hash": "s3cret",
        "Event": {"EventName": "Connected", "EventData": ""},
        "Session": None,
        "Error": {"ErrorNo": 1, "ErrorMsg": "application timeout after 5000 ms"},
    }
}


def _parse(document: Any) -> Any:
    return parse_response(json.dumps(document).encode())


def _invalid(document: Any) -> InvalidResponse:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    with pytest.raises(InvalidResponse) as info:
        parse_response(raw)
    return info.value


# --- models ----------------------------------------------------------------------------


def test_one_model_per_action_type_of_the_spec() -> None:
    assert set(ACTION_TYPES) == SPEC_TYPES
    assert len(ACTION_TYPES) == len(SPEC_TYPES)


def test_defaults_follow_the_spec() -> None:
    dtmf = GetDTMFAction()
    assert (dtmf.Timeout, dtmf.MaxDigits, dtmf.FinishOnKey) == (5000, 1, "#")
    assert dtmf.Prompt is None and dtmf.FirstDigitTimeout is None
    call = CallExternalNumberAction.model_validate({"Destination": "48221234567"})
    assert call.Timeout == 30 and call.Options.PlayCallStatus is False
    assert SayNumberAction.model_validate({"Number": 7}).Language == "pl"


def test_values_arrive_as_strings_or_numbers() -> None:
    parsed = _parse(
        {"Action": {"Type": "GetDTMF", "Prompt": 1, "Timeout": "1200", "MaxDigits": "10"}}
    )
    (action,) = parsed.actions
    assert action == GetDTMFAction(Prompt="1", Timeout=1200, MaxDigits=10)
    same = _parse({"Action": {"Type": "GetDTMF", "Timeout": 1200}}).actions
    assert same == (GetDTMFAction(Timeout=1200),)
    call = _parse(
        {
            "Action": {
                "Type": "CallExternalNumber",
                "Destination": 48221234567,
                "Timeout": "20",
                "Options": {"PlayCallStatus": "1"},
            }
        }
    ).actions[0]
    assert call.Destination == "48221234567" and call.Timeout == 20
    assert call.Options.PlayCallStatus is True


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(ValidationError, match="boolean"):
        GetDTMFAction.model_validate({"Timeout": True})


def test_spec_response_example() -> None:
    parsed = _parse(
        {
            "Action": {"Type": "GetDTMF", "Prompt": "1", "Timeout": "1200", "MaxDigits": "10"},
            "Session": {"step": "ask-case-id", "tries": 1},
        }
    )
    assert parsed.session == {"step": "ask-case-id", "tries": 1} and parsed.session_given


def test_actions_list_runs_in_order() -> None:
    parsed = _parse(
        {"Actions": [{"Type": "Answer"}, {"Type": "Play", "Prompt": "7"}, {"Type": "Hangup"}]}
    )
    assert [a.Type for a in parsed.actions] == ["Answer", "Play", "Hangup"]
    assert parsed.actions[1] == PlayAction(Prompt="7")
    assert parsed.session is None and not parsed.session_given


def test_request_serialises_exactly_like_the_spec_example() -> None:
    request = IvrRequest.model_validate(SPEC_REQUEST)
    assert request.request.Error is not None and request.request.Error.ErrorNo is ErrorNo.TIMEOUT
    expected = json.dumps(SPEC_REQUEST, separators=(",", ":"), ensure_ascii=False).encode()
    assert request.to_json() == expected


def test_request_omits_absent_hash_and_error_but_keeps_null_session() -> None:
    body = {k: v for k, v in SPEC_REQUEST["request"].items() if k not in ("Hash", "Error")}
    request = IvrRequest.model_validate({"request": body})
    out = json.loads(request.to_json())
    assert list(out["request"]) == [
        "FromNumber",
        "ToNumber",
        "UniqueCallId",
        "ChannelStatus",
        "Event",
        "Session",
    ]
    assert out["request"]["Session"] is None
    assert out["request"]["Event"] == {"EventName": "Connected", "EventData": ""}


def test_request_event_details_are_sent_when_given() -> None:
    event = {"EventName": "GetDTMF", "EventData": "123", "Details": {"Reason": "finishkey"}}
    body = {**SPEC_REQUEST["request"], "Event": event}
    out = json.loads(IvrRequest.model_validate({"request": body}).to_json())
    assert out["request"]["Event"] == event


def test_tag_data_is_an_object_of_at_most_4_kib() -> None:
    assert TagAction(Data={"crm_id": "A-17", "n": 3}).Data["crm_id"] == "A-17"
    with pytest.raises(ValidationError, match="more than 4096"):
        TagAction(Data={"x": "y" * 4096})


# --- validation: JSON pointers of the bad field ---------------------------------------


@pytest.mark.parametrize(
    ("document", "pointer", "message"),
    [
        ({"Action": {"Type": "Dance"}}, "/Action/Type", "unknown action type 'Dance'"),
        ({"Action": {"Prompt": "1"}}, "/Action/Type", "required"),
        (
            {"Actions": [{"Type": "Answer"}, {"Type": "Fly"}]},
            "/Actions/1/Type",
            "unknown action type 'Fly'",
        ),
        (
            {"Action": {"Type": "GetDTMF", "Timeout": "soon"}},
            "/Action/Timeout",
            "expected an integer, got 'soon'",
        ),
        (
            {"Action": {"Type": "GetDTMF", "Timeout": 50}},
            "/Action/Timeout",
            "Input should be greater than or equal to 100",
        ),
        (
            {"Actions": [{"Type": "Answer"}, {"Type": "GetDTMF", "MaxDigits": "0"}]},
            "/Actions/1/MaxDigits",
            "Input should be greater than or equal to 1",
        ),
        ({"Action": {"Type": "Play"}}, "/Action/Prompt", "required"),
        (
            {"Action": {"Type": "CallExternalNumber", "Destination": "1", "Options": {"X": 1}}},
            None,
            None,
        ),
        (
            {
                "Action": {
                    "Type": "CallExternalNumber",
                    "Destination": "48221234567",
                    "Options": {"PlayCallStatus": "maybe"},
                }
            },
            "/Action/Options/PlayCallStatus",
            "expected 0, 1, true or false, got 'maybe'",
        ),
        (
            {"Action": {"Type": "SayDate", "Date": "2025-02-30"}},
            "/Action/Date",
            "'2025-02-30' is not a calendar date",
        ),
        ({"Action": {"Type": "SayNumber", "Number": 1.5}}, "/Action/Number", None),
        ({"Action": {"Type": "Tag", "Data": [1]}}, "/Action/Data", "expected a JSON object"),
        ({"Action": "Hangup"}, "/Action", "expected a JSON object"),
        ({"Actions": []}, "/Actions", None),
        ({"Actions": {"Type": "Hangup"}}, "/Actions", "expected a JSON array"),
        (
            {"Action": {"Type": "Hangup"}, "Actions": [{"Type": "Hangup"}]},
            "/Actions",
            "give either Action or Actions, not both",
        ),
        ({"Session": {}}, "", "Action or Actions is required"),
        ([{"Type": "Hangup"}], "", "expected a JSON object with Action or Actions"),
        (
            {"Action": {"Type": "Hangup"}, "Session": {"blob": "x" * 16384}},
            "/Session",
            "Session is 16395 bytes, more than 16384",
        ),
    ],
)
def test_invalid_responses_name_the_field(
    document: Any, pointer: str | None, message: str | None
) -> None:
    if pointer is None:  # a valid document in the table: extra keys are ignored
        _parse(document)
        return
    error = _invalid(document)
    assert error.pointer == pointer
    if message is not None:
        assert error.message == message
    assert str(error) == (f"{pointer}: {error.message}" if pointer else error.message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "not JSON: empty body"),
        (b"<html>oops</html>", "not JSON: Expecting value (line 1, column 1)"),
        (b'{"Action": ', "not JSON: Expecting value (line 1, column 12)"),
        (b"\xff\xfe{}", "not JSON: not UTF-8 (byte 0)"),
        (b'{"Action": {"Type": "Wait", "WaitTime": NaN}}', "not JSON: NaN is not valid JSON"),
    ],
)
def test_non_json_is_invalid_at_the_root(raw: bytes, message: str) -> None:
    error = _invalid(raw)
    assert (error.pointer, error.message) == ("", message)


def test_session_of_exactly_16_kib_is_accepted() -> None:
    blob = "x" * (16384 - len('{"b":""}'))
    assert _parse({"Action": {"Type": "Hangup"}, "Session": {"b": blob}}).session == {"b": blob}


def test_json_pointer_escapes_per_rfc_6901() -> None:
    assert json_pointer(["Action", "a/b~c", 0]) == "/Action/a~1b~0c/0"
    assert json_pointer([]) == ""


# --- the published JSON Schema ---------------------------------------------------------


def test_committed_schema_equals_the_models() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render_schema(), (
        "docs/ivr-api.schema.json is stale: run scripts/export_ivr_schema.py"
    )


def test_schema_covers_request_and_every_action() -> None:
    schema = build_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    defs = schema["$defs"]
    assert {"IvrRequest", "IvrResponse", "RequestBody"} <= set(defs)
    mapping = defs["IvrResponse"]["properties"]["Action"]["anyOf"][0]["discriminator"]["mapping"]
    assert set(mapping) == SPEC_TYPES
    dtmf = defs["GetDTMFAction"]
    assert dtmf["required"] == ["Type"]
    assert dtmf["properties"]["Timeout"]["default"] == 5000
    timeout_types = [alt["type"] for alt in dtmf["properties"]["Timeout"]["anyOf"]]
    assert timeout_types == ["integer", "string"]
    assert set(defs["RequestBody"]["required"]) == {
        "FromNumber",
        "ToNumber",
        "UniqueCallId",
        "ChannelStatus",
        "Event",
    }
