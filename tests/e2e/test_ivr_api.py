"""The IVR API end to end: a SIPp caller, callvault, and a real HTTP application.

The application (Starlette under uvicorn on loopback) answers each POST with
the next action of the test's script; SIPp sends RFC 2833 DTMF from its
captures, a SIPp agent phone takes ``CallByObjectLogin`` and hangs up first
so the app gets ``CallStatus`` while the caller is still there.  Failures
(HTTP 500, non-JSON, unknown action, timeout, connection refused, objects
that are not there, external calls disabled, the loop guard) each yield the
spec's error number and the fallback, which never calls the application.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callvault.ivr.signing import verify
from callvault.store.db import Database
from callvault.store.models import CallRecord
from callvault.store.repository import Accounts
from tests.certs import Certs, make_certs
from tests.e2e.harness import (
    Node,
    call_records,
    free_port,
    render_scenario,
    run_sipp,
    start_node,
    start_sipp,
)
from tests.e2e.ivr_app import IvrApp, Misbehave, serve_ivr_app

pytestmark = pytest.mark.e2e

SECRET = "whsec-test-1"
IVR_NUMBER = "221234520"
AGENT_NUMBER = "221234521"


async def _provision(
    url: str, app_url: str, provider_port: int | None = None, **settings: Any
) -> None:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        accounts = Accounts(session)
        account = await accounts.create(
            "acme", "ACME", sip_domain="acme.test", plan={"addons": ["ivr_api"]}
        )
        scope = accounts.scope(account)
        await scope.create_object("sip_account", "agent1", settings={"password": "s3cret"})
        ivr = {"url": app_url, "hash": "h4sh", "timeout_ms": 1500, "signing_secrets": [SECRET],
               "fallback": "Play", "fallback_prompt": "goodbye", **settings}  # fmt: skip
        await scope.create_object("ivr_api", "crm", settings=ivr)
        await scope.add_number(IVR_NUMBER, target_login="crm", label="CRM line")
        await scope.add_number(AGENT_NUMBER, target_login="agent1", label="Agent DID")
        if provider_port is not None:
            gateway = {"gateway": f"sip:127.0.0.1:{provider_port}", "number_format": "national"}
            await scope.create_trunk("provider", gateway)
        await session.commit()
    await db.close()


@pytest.fixture
def run_call(tmp_path: Path) -> Iterator[Any]:
    """Provision, start a node, place one SIPp call; yields a function doing all that."""
    nodes: list[Node] = []
    phones: list[subprocess.Popen[bytes]] = []

    def run(
        app: IvrApp,
        *,
        agent_talk_ms: int | None = None,
        caller: str = "uac_wait_bye.xml",
        answered: bool = True,
        allow_networks: str = '["127.0.0.0/8"]',
        provider_talk_ms: int | None = None,
        **settings: Any,
    ) -> CallRecord:
        url = f"sqlite:///{tmp_path / 'ivr.db'}"
        provider_port = free_port() if provider_talk_ms is not None else None
        asyncio.run(_provision(url, app.url, provider_port, **settings))
        node = start_node(tmp_path, database_url=url, ivr_allow_networks=allow_networks)
        nodes.append(node)
        if agent_talk_ms is not None:
            _start_agent(node, tmp_path, agent_talk_ms, phones)
        if provider_port is not None:
            scenario = render_scenario(
                tmp_path, "uas_answer_then_bye.xml", "provider", TALK_MS=provider_talk_ms
            )
            phones.append(start_sipp(str(scenario), "", tmp=tmp_path, port=provider_port))
        result = run_sipp(caller, node.uri_host, tmp=tmp_path, service=IVR_NUMBER,
                          timeout_s=40)  # fmt: skip
        assert (result.returncode == 0) == answered, result.output + node.log()
        node.wait_idle(timeout=15)
        (record,) = asyncio.run(call_records(url))
        stored = node.get(f"/api/v1/calls/{record.id}/ivr-trace")
        assert stored == {"call_id": record.id, "tags": record.tags, "ivr_trace": record.ivr_trace}
        return record

    yield run
    for phone in phones:
        phone.kill()
        phone.wait()
    for node in nodes:
        assert node.stop() == 0, node.log()


def _start_agent(
    node: Node, tmp: Path, talk_ms: int, phones: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    scenario = render_scenario(tmp, "uas_answer_then_bye.xml", "agent1", TALK_MS=talk_ms)
    phones.append(start_sipp(str(scenario), "", tmp=tmp, port=port, timeout_s=60))
    inf = tmp / "agent1.csv"
    inf.write_text(f"SEQUENTIAL\nagent1;acme.test;{port};\n")
    register = render_scenario(tmp, "uac_register.xml", "register-agent1")
    register.write_text(register.read_text().replace("username=jan", "username=agent1"))
    result = run_sipp(str(register), node.uri_host, tmp=tmp, inf=inf)
    assert result.returncode == 0, result.output + node.log()


def _script(steps: dict[str, Any]) -> Any:
    """A respond function: the next response by the event's name."""

    def respond(body: dict[str, Any]) -> Any:
        event = body["request"]["Event"]["EventName"]
        answer = steps.get(event, {"Action": {"Type": "Hangup"}})
        return answer(body) if callable(answer) else answer

    return respond


def test_the_loop_runs_every_kind_of_action_and_event(run_call: Any) -> None:
    script = _script({
        "Connected": {"Action": {"Type": "Answer"}, "Session": {"step": 1}},
        "Answer": {"Actions": [
            {"Type": "Play", "Prompt": "connecting"},
            {"Type": "SayNumber", "Number": "21", "Gender": "f"},
            {"Type": "SayDigits", "Digits": "12", "Language": "en"},
            {"Type": "SayDate", "Date": "2026-11-25"},
            {"Type": "SayTime", "Time": "14:30"},
            {"Type": "Say", "Text": "Dzień dobry"},
        ], "Session": {"step": 2}},
        "Say": {"Action": {"Type": "GetDTMF", "MaxDigits": "2", "Timeout": "4000"},
                "Session": {"step": 3}},
        "GetDTMF": {"Actions": [{"Type": "Tag", "Data": {"ticket": "T-42"}},
                                {"Type": "Wait", "WaitTime": 1}]},
        "Wait": {"Action": {"Type": "CallByObjectLogin", "Login": "agent1"}},
        "CallStatus": {"Actions": [{"Type": "StartRecording"}, {"Type": "Hangup"}]},
    })  # fmt: skip
    with serve_ivr_app(script) as app:
        record = run_call(app, agent_talk_ms=1500, caller="uac_dtmf_2833.xml")
    assert app.events() == [
        ("Connected", ""), ("Answer", ""), ("Say", "completed"), ("GetDTMF", "42"),
        ("Wait", ""), ("CallStatus", "Answer"), ("Hangup", "app"),
    ]  # fmt: skip
    requests = [r.body["request"] for r in app.received]
    assert [r["ChannelStatus"] for r in requests[:2]] == ["Ringing", "Up"]
    assert [r["Session"] for r in requests[:4]] == [None, {"step": 1}, {"step": 2}, {"step": 3}]
    assert all(r["Hash"] == "h4sh" and r["UniqueCallId"] == record.id for r in requests)
    assert requests[0]["ToNumber"] == "48221234520"
    assert requests[3]["Event"]["Details"] == {"Reason": "maxdigits"}
    assert requests[5]["Event"]["Details"]["Destination"] == "agent1"
    for index, received in enumerate(app.received, start=1):
        headers = received.headers
        assert verify(headers["x-signature"], received.raw, [SECRET], int(time.time()))
        assert headers["x-sequence"] == str(index)
        assert (
            headers["traceparent"].split("-")[1]
            == app.received[0].headers["traceparent"].split("-")[1]
        )
    assert record.tags == {"ticket": "T-42"}
    assert record.objects == [
        {"kind": "ivr_api", "login": "crm"},
        {"kind": "sip_account", "login": "agent1"},
    ]
    exchanges = [e for e in record.ivr_trace if e["kind"] == "exchange"]
    assert len(exchanges) == 7 and all(e["status"] == 200 for e in exchanges)
    actions = [e["type"] for e in record.ivr_trace if e["kind"] == "action"]
    assert "StartRecording" in actions and actions[-1] == "Hangup"


def _answer_then(failure: Any) -> Any:
    return _script({"Connected": {"Action": {"Type": "Answer"}}, "Answer": failure})


@pytest.mark.parametrize(
    ("failure", "error_no", "message"),
    [
        (Misbehave(status=500, body="boom"), 4, "HTTP status 500"),
        (Misbehave(body="<html>not json</html>"), 5, "invalid response"),
        (Misbehave(then={"Action": {"Type": "Dance"}}), 5, "/Action/Type"),
        (Misbehave(then={"Action": {"Type": "GetDTMF", "MaxDigits": "many"}}), 5,
         "/Action/MaxDigits"),
        (Misbehave(delay_s=3.0, then={"Action": {"Type": "Hangup"}}), 1, "timeout"),
    ],
)  # fmt: skip
def test_app_failures_run_the_fallback_without_calling_the_app_again(
    run_call: Any, failure: Misbehave, error_no: int, message: str
) -> None:
    with serve_ivr_app(_answer_then(lambda _body: failure)) as app:
        record = run_call(app)
    assert app.events() == [("Connected", ""), ("Answer", "")]
    errors = [e["error"] for e in record.ivr_trace if e["kind"] == "exchange" and "error" in e]
    assert [e["ErrorNo"] for e in errors] == [error_no]
    assert message in errors[0]["ErrorMsg"] + errors[0].get("pointer", "")
    (fallback,) = [e for e in record.ivr_trace if e["kind"] == "fallback"]
    assert fallback["ErrorNo"] == error_no and fallback["fallback"] == "Play"
    assert record.disposition == "answered" and record.hangup_side == "system"


def test_unreachable_app_is_error_2_and_the_fallback_plays_as_early_media(
    run_call: Any, tmp_path: Path
) -> None:
    with serve_ivr_app(_script({})) as app:
        app.url = f"http://127.0.0.1:{free_port()}/ivr"  # nobody listens there
        record = run_call(app, answered=False)
    (fallback,) = [e for e in record.ivr_trace if e["kind"] == "fallback"]
    assert fallback["ErrorNo"] == 2 and "refused" in fallback["ErrorMsg"]
    messages = (tmp_path / "uac_wait_bye-messages.log").read_text(errors="replace")
    assert "SIP/2.0 183" in messages and "SIP/2.0 480" in messages
    assert record.disposition == "no answer"


def test_ssrf_guard_keeps_live_calls_away_from_loopback_without_the_allow_list(
    run_call: Any,
) -> None:
    with serve_ivr_app(_script({"Connected": {"Action": {"Type": "Hangup"}}})) as app:
        record = run_call(app, answered=False, allow_networks="[]")
    assert app.received == []
    (fallback,) = [e for e in record.ivr_trace if e["kind"] == "fallback"]
    assert fallback["ErrorNo"] == 2 and "loopback" in fallback["ErrorMsg"]


def test_errors_6_and_7_reach_the_app_and_a_second_in_a_row_runs_the_fallback(
    run_call: Any,
) -> None:
    def after_answer(body: dict[str, Any]) -> dict[str, Any]:
        error = body["request"].get("Error")
        if error is None:
            return {"Action": {"Type": "CallByObjectLogin", "Login": "agent1"}}
        return {"Action": {"Type": "CallExternalNumber", "Destination": "+48225551234"}}

    script = _script({"Connected": {"Action": {"Type": "Answer"}}, "Answer": after_answer,
                      "CallStatus": after_answer})  # fmt: skip
    with serve_ivr_app(script) as app:
        record = run_call(app)  # agent1 is not registered; external calls are off
    assert app.events() == [("Connected", ""), ("Answer", ""), ("CallStatus", "Error")]
    assert app.received[2].body["request"]["Error"]["ErrorNo"] == 6
    assert "not registered" in app.received[2].body["request"]["Error"]["ErrorMsg"]
    (fallback,) = [e for e in record.ivr_trace if e["kind"] == "fallback"]
    assert fallback["ErrorNo"] == 7


def test_loop_guard_stops_an_app_that_never_ends_the_call(run_call: Any) -> None:
    script = _script({"Connected": {"Action": {"Type": "Answer"}},
                      "Answer": {"Action": {"Type": "Wait", "WaitTime": 0}},
                      "Wait": {"Action": {"Type": "Wait", "WaitTime": 0}}})  # fmt: skip
    with serve_ivr_app(script) as app:
        record = run_call(app, max_requests=8)
    assert len(app.received) == 8
    (fallback,) = [e for e in record.ivr_trace if e["kind"] == "fallback"]
    assert fallback["ErrorNo"] == 10


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def test_dont_answer_early_media_external_call_filler_over_https(
    run_call: Any, certs: Certs, tmp_path: Path
) -> None:
    slow_goodbye = Misbehave(delay_s=1.2, then={"Action": {"Type": "Hangup"}})
    script = _script({
        "Connected": {"Action": {"Type": "DontAnswer", "WaitTime": "1"}},
        "DontAnswer": {"Action": {"Type": "Play", "Prompt": "connecting"}},
        "Play": {"Action": {"Type": "CallExternalNumber", "Destination": "+48225551234",
                            "Timeout": "20", "Options": {"PlayCallStatus": "1"}}},
        "CallStatus": lambda _body: slow_goodbye,
    })  # fmt: skip
    with serve_ivr_app(script, tls=certs.self_signed) as app:
        record = run_call(
            app, provider_talk_ms=1500, allow_external=True, ignore_ssl_errors=True,
            filler_prompt="hold-music", filler_after_ms=300, timeout_ms=3000,
        )  # fmt: skip
    assert app.url.startswith("https://")
    assert app.events() == [
        ("Connected", ""), ("DontAnswer", ""), ("Play", "completed"), ("CallStatus", "Answer"),
        ("Hangup", "app"),
    ]  # fmt: skip
    statuses = [r.body["request"]["ChannelStatus"] for r in app.received]
    assert statuses == ["Ringing", "Ringing", "Ringing", "Up", "Hangup"]
    messages = (tmp_path / "uac_wait_bye-messages.log").read_text(errors="replace")
    assert "SIP/2.0 183" in messages  # the prompt went out as early media
    provider = (tmp_path / "provider-messages.log").read_text(errors="replace")
    assert "INVITE sip:225551234@127.0.0.1" in provider  # national format for this trunk
    assert "From: <sip:221234520@" in provider  # caller-ID: the account's number
    assert any(e["kind"] == "filler" for e in record.ivr_trace)
    assert record.objects == [
        {"kind": "ivr_api", "login": "crm"},
        {"kind": "trunk", "login": "provider"},
    ]


def test_tls_verification_is_on_by_default(run_call: Any, certs: Certs) -> None:
    with serve_ivr_app(_script({}), tls=certs.self_signed) as app:
        record = run_call(app, answered=False)
    assert app.received == []
    (fallback,) = [e for e in record.ivr_trace if e["kind"] == "fallback"]
    assert fallback["ErrorNo"] == 3 and "certificate" in fallback["ErrorMsg"]


def test_auto_answer_unknown_prompt_error_8_and_call_local_number(run_call: Any) -> None:
    def after_wait(body: dict[str, Any]) -> dict[str, Any]:
        return {"Action": {"Type": "Play", "Prompt": "no-such-prompt"}}

    script = _script({
        "Connected": {"Action": {"Type": "Wait", "WaitTime": "2"}},
        "Wait": after_wait,
        "Play": {"Action": {"Type": "CallLocalNumber", "Destination": "48" + AGENT_NUMBER}},
        "CallStatus": {"Action": {"Type": "Hangup"}},
    })  # fmt: skip
    with serve_ivr_app(script) as app:
        record = run_call(app, agent_talk_ms=1000, auto_answer_s=1)
    requests = [r.body["request"] for r in app.received]
    assert [r["ChannelStatus"] for r in requests[:2]] == ["Ringing", "Up"]  # answered after 1 s
    assert app.events()[:4] == [
        ("Connected", ""), ("Wait", ""), ("Play", "error"), ("CallStatus", "Answer"),
    ]  # fmt: skip
    assert requests[2]["Error"] == {"ErrorNo": 8, "ErrorMsg": "no prompt 'no-such-prompt'"}
    assert "Error" not in requests[3]
    assert any(e["kind"] == "auto-answer" for e in record.ivr_trace)
    assert record.objects[-1] == {"kind": "sip_account", "login": "agent1"}


def test_fallback_can_connect_to_an_object(run_call: Any) -> None:
    with serve_ivr_app(_answer_then(lambda _body: Misbehave(status=503))) as app:
        record = run_call(
            app, agent_talk_ms=1000, fallback="CallByObjectLogin", fallback_login="agent1"
        )
    assert app.events() == [("Connected", ""), ("Answer", "")]
    (fallback,) = [e for e in record.ivr_trace if e["kind"] == "fallback"]
    assert fallback["ErrorNo"] == 4 and fallback["fallback"] == "CallByObjectLogin"
    assert record.objects == [
        {"kind": "ivr_api", "login": "crm"},
        {"kind": "sip_account", "login": "agent1"},
    ]
    assert len(record.legs) == 2 and record.legs[1]["answered_at"] is not None
