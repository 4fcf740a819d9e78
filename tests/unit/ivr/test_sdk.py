"""The IVR app SDK (callvault.ivr.sdk) and the helpdesk example driven over ASGI.

Requests are built with the platform's own :class:`IvrRequest` and POSTed as
the platform sends them (compact JSON, v2 ``X-Signature``); every reply is read
back with :func:`callvault.ivr.validate.parse_response`, the platform's check.
Contract: shared/spec/ivr-api.md ("Request", "Events", "Response").
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator

import examples.ivr_helpdesk as helpdesk
import httpx
import pytest
from pydantic import ValidationError
from starlette.types import ASGIApp

from callvault.ivr.models import (
    AnswerAction,
    CallByObjectLoginAction,
    CallExternalNumberAction,
    ErrorNo,
    EventKind,
    GetDTMFAction,
    HangupAction,
    IvrRequest,
    PlayAction,
    RequestBody,
    RequestError,
    RequestEvent,
    SayDigitsAction,
    SayNumberAction,
    TagAction,
)
from callvault.ivr.sdk import (
    EVENT_NAMES,
    IncomingRequest,
    IvrApp,
    Reply,
    answer,
    asgi_app,
    call_external,
    call_login,
    get_dtmf,
    hangup,
    play,
    say_digits,
    say_number,
    tag,
    verify_request,
)
from callvault.ivr.signing import sign
from callvault.ivr.validate import InvalidResponse, ParsedResponse, parse_response

VIP = "48601100200"
CALLER = "48500600700"
SECRET = "whsec_test"


def _request(
    event: EventKind,
    data: str = "",
    session: object = None,
    *,
    caller: str = CALLER,
    status: str = "Up",
    error: RequestError | None = None,
    hash_: str | None = None,
) -> IvrRequest:
    body = RequestBody.model_validate(
        {
            "FromNumber": caller,
            "ToNumber": "48221234567",
            "UniqueCallId": "c-sdk-1",
            "ChannelStatus": status,
            "Hash": hash_,
            "Event": RequestEvent(EventName=event, EventData=data),
            "Session": session,
            "Error": error,
        }
    )
    return IvrRequest(request=body)


def _client(app: ASGIApp) -> httpx.AsyncClient:
    """An HTTP client talking to ``app`` in-process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


async def _post(
    client: httpx.AsyncClient, request: IvrRequest, headers: dict[str, str] | None = None
) -> httpx.Response:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return await client.post("/ivr", content=request.to_json(), headers=all_headers)


async def _reply(client: httpx.AsyncClient, request: IvrRequest) -> ParsedResponse:
    response = await _post(client, request)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return parse_response(response.content)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(asgi_app(helpdesk.app)) as http:
        yield http


# --- the helpdesk example --------------------------------------------------------------


async def test_vip_goes_straight_to_the_vip_desk(client: httpx.AsyncClient) -> None:
    parsed = await _reply(client, _request("Connected", caller=VIP, status="Ringing"))
    assert parsed.actions == (CallByObjectLoginAction(Login="vip-desk"),)
    assert parsed.session == {"step": "agent", "target": "vip-desk"}
    plus = await _reply(client, _request("Connected", caller="+" + VIP, status="Ringing"))
    assert plus.actions == (CallByObjectLoginAction(Login="vip-desk"),)


async def test_other_caller_is_answered_and_asked_for_a_case_number(
    client: httpx.AsyncClient,
) -> None:
    parsed = await _reply(client, _request("Connected", status="Ringing"))
    ask = GetDTMFAction(Prompt="case-number", Timeout=5000, MaxDigits=8, FinishOnKey="#")
    assert parsed.actions == (AnswerAction(), ask)
    assert parsed.session == {"step": "case", "tries": 0}
    answered = await _reply(client, _request("Connected", status="Up"))
    assert answered.actions == (ask,)


async def test_empty_entries_are_asked_again_twice_then_routed_to_support(
    client: httpx.AsyncClient,
) -> None:
    session = (await _reply(client, _request("Connected", status="Ringing"))).session
    retry = GetDTMFAction(Prompt="case-number-retry", MaxDigits=8, FinishOnKey="#")
    for tries in (1, 2):
        parsed = await _reply(client, _request("GetDTMF", "", session))
        assert parsed.actions == (retry,)
        assert parsed.session == {"step": "case", "tries": tries}
        session = parsed.session
    routed = await _reply(client, _request("GetDTMF", "", session))
    assert routed.actions == (CallByObjectLoginAction(Login="support"),)
    assert routed.session == {"step": "agent", "target": "support"}


async def test_case_number_is_tagged_then_routed_to_support(client: httpx.AsyncClient) -> None:
    session = {"step": "case", "tries": 1}
    parsed = await _reply(client, _request("GetDTMF", "12345678", session))
    assert parsed.actions == (
        TagAction(Data={"case_number": "12345678"}),
        CallByObjectLoginAction(Login="support"),
    )
    assert json.loads(parsed.response.model_dump_json())["Actions"][0] == {
        "Type": "Tag",
        "Data": {"case_number": "12345678"},
    }


async def test_agent_hangup_starts_the_survey(client: httpx.AsyncClient) -> None:
    session = {"step": "agent", "target": "support"}
    parsed = await _reply(client, _request("CallStatus", "Answer", session))
    assert parsed.actions == (GetDTMFAction(Prompt="survey", MaxDigits=1),)
    assert parsed.session == {"step": "survey"}


async def test_survey_score_is_tagged_then_hangup(client: httpx.AsyncClient) -> None:
    parsed = await _reply(client, _request("GetDTMF", "5", {"step": "survey"}))
    assert parsed.actions == (TagAction(Data={"survey_score": 5}), HangupAction())


@pytest.mark.parametrize("digits", ["", "0", "9", "*"])
async def test_no_or_bad_survey_score_just_hangs_up(client: httpx.AsyncClient, digits: str) -> None:
    parsed = await _reply(client, _request("GetDTMF", digits, {"step": "survey"}))
    assert parsed.actions == (HangupAction(),)


async def test_whole_call_with_sessions_echoed_by_the_platform(client: httpx.AsyncClient) -> None:
    first = await _reply(client, _request("Connected", status="Ringing"))
    second = await _reply(client, _request("GetDTMF", "", first.session))
    third = await _reply(client, _request("GetDTMF", "4711", second.session))
    assert third.actions[0] == TagAction(Data={"case_number": "4711"})
    fourth = await _reply(client, _request("CallStatus", "Answer", third.session))
    fifth = await _reply(client, _request("GetDTMF", "3", fourth.session))
    assert fifth.actions == (TagAction(Data={"survey_score": 3}), HangupAction())
    last = await _reply(client, _request("Hangup", "caller", fifth.session, status="Hangup"))
    assert last.actions == (HangupAction(),)


async def test_busy_vip_desk_falls_back_to_support_then_goodbye(client: httpx.AsyncClient) -> None:
    vip = {"step": "agent", "target": "vip-desk"}
    parsed = await _reply(client, _request("CallStatus", "Busy", vip))
    assert parsed.actions == (CallByObjectLoginAction(Login="support"),)
    gone = await _reply(client, _request("CallStatus", "Noanswer", parsed.session))
    assert gone.actions == (PlayAction(Prompt="no-agent"), HangupAction())


async def test_routing_error_is_handled(client: httpx.AsyncClient) -> None:
    error = RequestError(ErrorNo=ErrorNo.OBJECT_NOT_FOUND, ErrorMsg="vip-desk not registered")
    vip = {"step": "agent", "target": "vip-desk"}
    parsed = await _reply(client, _request("CallStatus", "Error", vip, error=error))
    assert parsed.actions == (CallByObjectLoginAction(Login="support"),)
    other = await _reply(client, _request("Play", "completed", {"step": "done"}, error=error))
    assert other.actions == (PlayAction(Prompt="no-agent"), HangupAction())


async def test_module_asgi_reads_secrets_and_hash_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IVR_SIGNING_SECRETS", f" {SECRET} , whsec_old")
    monkeypatch.setenv("IVR_HASH", "s3cret")
    try:
        module = importlib.reload(helpdesk)
        async with _client(module.asgi) as test_client:
            request = _request("Connected", hash_="s3cret")
            body = request.to_json()
            unsigned = await _post(test_client, request)
            assert unsigned.status_code == 401
            signature = sign(body, ["whsec_old"], int(time.time()))
            signed = await _post(test_client, request, {"X-Signature": signature})
            assert signed.status_code == 200
            parse_response(signed.content)
    finally:
        monkeypatch.delenv("IVR_SIGNING_SECRETS")
        monkeypatch.delenv("IVR_HASH")
        importlib.reload(helpdesk)


# --- signatures and Hash ---------------------------------------------------------------


@pytest.fixture
async def signed_client() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(asgi_app(helpdesk.app, secrets=[SECRET])) as http:
        yield http


async def test_good_signature_is_200(signed_client: httpx.AsyncClient) -> None:
    request = _request("Connected", caller=VIP)
    signature = sign(request.to_json(), [SECRET, "whsec_other"], int(time.time()))
    response = await _post(signed_client, request, {"X-Signature": signature})
    assert response.status_code == 200
    assert parse_response(response.content).actions == (CallByObjectLoginAction(Login="vip-desk"),)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "garbage",
        f"t={int(time.time())},v1=" + "0" * 64,
        "wrong-secret",
        "stale",
        "other-body",
    ],
)
async def test_bad_signature_is_401(
    signed_client: httpx.AsyncClient, signature: str | None
) -> None:
    request = _request("Connected", caller=VIP)
    body, now = request.to_json(), int(time.time())
    if signature == "wrong-secret":
        signature = sign(body, ["whsec_wrong"], now)
    elif signature == "stale":
        signature = sign(body, [SECRET], now - 301)
    elif signature == "other-body":
        signature = sign(body + b" ", [SECRET], now)
    headers = {} if signature is None else {"X-Signature": signature}
    response = await _post(signed_client, request, headers)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or missing X-Signature"}


async def test_v1_hash_is_checked_when_configured() -> None:
    async with _client(asgi_app(helpdesk.app, hash="s3cret")) as test_client:
        assert (await _post(test_client, _request("Connected", hash_="s3cret"))).status_code == 200
        assert (await _post(test_client, _request("Connected", hash_="guess"))).status_code == 401
        assert (await _post(test_client, _request("Connected"))).status_code == 401


def test_verify_request_finds_the_header_in_any_case() -> None:
    body, now = b'{"request":{}}', 1_700_000_000
    signature = sign(body, [SECRET], now)
    assert verify_request({"x-signature": signature}, body, [SECRET], now=now)
    assert verify_request({"X-SIGNATURE": signature}, body, [SECRET], now=now + 300)
    assert not verify_request({"X-Signature": signature}, body, [SECRET], now=now + 301)
    assert verify_request({"X-Signature": signature}, body, [SECRET], now + 600, tolerance_s=600)
    assert not verify_request({}, body, [SECRET], now=now)


def test_empty_secret_list_is_refused() -> None:
    with pytest.raises(ValueError, match="secrets"):
        asgi_app(helpdesk.app, secrets=[])
    with pytest.raises(ValueError, match="secrets"):
        asgi_app(helpdesk.app, secrets=[""])


# --- the SDK ---------------------------------------------------------------------------


async def test_not_a_request_is_400_and_get_is_405(client: httpx.AsyncClient) -> None:
    response = await client.post("/", content=b'{"request": {"FromNumber": "1"}}')
    assert response.status_code == 400
    assert response.json()["error"].startswith("not an IVR API request: request/")
    assert (await client.post("/", content=b"not json")).status_code == 400
    assert (await client.get("/")).status_code == 405


def test_builders_produce_valid_actions_and_refuse_bad_parameters() -> None:
    reply = (
        answer()
        + play("welcome")
        + say_number(42, gender="f", language="en")
        + say_digits("12#")
        + call_external("+48221234567", timeout_s=20, caller_id="48221234567")
        + call_login("jan")
        + tag({"crm_id": "A-17", "vip": True, "none": None})
        + get_dtmf()
    )
    parsed = parse_response(reply.render())
    assert parsed.actions[2] == SayNumberAction(Number=42, Gender="f", Language="en")
    assert parsed.actions[3] == SayDigitsAction(Digits="12#")
    external = parsed.actions[4]
    assert isinstance(external, CallExternalNumberAction) and external.Timeout == 20
    assert parsed.actions[6] == TagAction(Data={"crm_id": "A-17", "vip": True, "none": None})
    assert parsed.actions[7] == GetDTMFAction()
    assert parsed.session is None and parsed.session_given
    wire = json.loads(reply.render())
    assert wire["Actions"][7] == {
        "Type": "GetDTMF",
        "Timeout": 5000,
        "MaxDigits": 1,
        "FinishOnKey": "#",
    }
    with pytest.raises(ValidationError):
        get_dtmf(max_digits=0)
    with pytest.raises(ValidationError):
        get_dtmf(timeout_ms=50)
    with pytest.raises(ValidationError):
        call_external("not-a-number")
    with pytest.raises(ValidationError, match="more than 4096"):
        tag({"blob": "x" * 4096})


def test_one_action_goes_out_as_action_and_session_rules() -> None:
    assert json.loads(hangup().render()) == {"Action": {"Type": "Hangup"}, "Session": None}
    kept = json.loads(hangup().render(previous_session={"step": 3}))
    assert kept["Session"] == {"step": 3}
    cleared = json.loads(hangup().with_session(None).render(previous_session={"step": 3}))
    assert cleared["Session"] is None
    later = play("a").with_session({"n": 1}) + hangup().with_session({"n": 2})
    assert json.loads(later.render())["Session"] == {"n": 2}
    earlier = play("a").with_session({"n": 1}) + hangup()
    assert json.loads(earlier.render())["Session"] == {"n": 1}


async def test_invalid_reply_is_refused_before_it_leaves() -> None:
    too_big = hangup().with_session({"blob": "x" * 16_384})
    with pytest.raises(InvalidResponse) as info:
        too_big.render()
    assert info.value.pointer == "/Session"
    many = Reply(hangup().actions * 33)
    with pytest.raises(InvalidResponse) as many_info:
        many.render()
    assert many_info.value.pointer == "/Actions"

    app = IvrApp()

    @app.on("Connected")
    def connected(req: IncomingRequest) -> Reply:
        return too_big

    async with _client(asgi_app(app)) as test_client:
        response = await _post(test_client, _request("Connected"))
    assert response.status_code == 500
    assert response.json()["error"].startswith("invalid reply: /Session:")


async def test_app_dispatch_async_handlers_default_and_request_helpers() -> None:
    app = IvrApp()
    seen: list[IncomingRequest] = []

    @app.on("GetDTMF")
    async def digits(req: IncomingRequest) -> Reply:
        await asyncio.sleep(0)
        seen.append(req)
        return say_digits(req.digits or "0")

    @app.on("Tag")
    def tagged(req: IncomingRequest) -> Reply:
        return hangup()

    async with _client(asgi_app(app)) as test_client:
        error = RequestError(ErrorNo=ErrorNo.UNKNOWN_PROMPT, ErrorMsg="unknown prompt 'x'")
        parsed = await _reply(test_client, _request("GetDTMF", "123", [1, 2], error=error))
        assert parsed.actions == (SayDigitsAction(Digits="123"),)
        assert parsed.session == [1, 2]  # not set by the handler: echoed
        (req,) = seen
        assert req.digits == "123" and req.session == {} and req.error == error
        assert req.headers["content-type"] == "application/json"
        unhandled = await _reply(test_client, _request("Play", "completed", {"a": 1}))
        assert unhandled.actions == (HangupAction(),) and unhandled.session == {"a": 1}
        assert (await _reply(test_client, _request("Tag"))).actions == (HangupAction(),)

    @app.default
    def fallback(req: IncomingRequest) -> Reply:
        return play("menu")

    async with _client(asgi_app(app)) as test_client:
        assert (await _reply(test_client, _request("Answer"))).actions == (
            PlayAction(Prompt="menu"),
        )


def test_incoming_request_shortcuts() -> None:
    body = _request("CallStatus", "Answer", {"step": "agent"}).request
    event = RequestEvent(EventName="CallStatus", EventData="Answer", Details={"Duration": 42})
    req = IncomingRequest(body.model_copy(update={"Event": event}))
    assert req.digits == "" and req.event_data == "Answer" and req.event_name == "CallStatus"
    assert req.session == {"step": "agent"} and req.error is None
    assert req.details == {"Duration": 42} and req.from_number == CALLER
    req.session["step"] = "changed"
    assert req.session == {"step": "agent"}


def test_every_platform_event_can_be_handled_including_v2_ones() -> None:
    assert {"Connected", "GetDTMF", "CallStatus", "Hangup", "Tag", "Recording"} <= EVENT_NAMES
    app = IvrApp()
    for name in EVENT_NAMES:
        app.on(name)(lambda req: hangup())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown event"):
        app.on("Dance")  # type: ignore[arg-type]


async def test_handler_must_return_a_reply() -> None:
    app = IvrApp()

    @app.default
    def broken(req: IncomingRequest) -> Reply:
        return "Hangup"  # type: ignore[return-value]

    with pytest.raises(TypeError, match="not Reply"):
        await app.dispatch(IncomingRequest(_request("Connected").request))
