"""`callvault ivr simulate` against a real IVR application on 127.0.0.1.

A uvicorn + Starlette app in a background thread plays the customer's
application (Connected → GetDTMF; "1234" → CallByObjectLogin sales; Busy →
Play sorry, Hangup) and checks every request's X-Signature; the simulator runs
the real loop and HTTP client through ``callvault.cli.main.main``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from callvault.cli.main import main
from callvault.ivr.models import GetDTMFAction
from callvault.ivr.signing import verify
from callvault.ivr.simulate import SimulatedCall, replay_script
from callvault.store.db import Database
from callvault.store.models import CallRecord
from callvault.store.repository import Accounts

SECRET = "whsec_test"


@dataclass
class FlowApp:
    """The integrator's app: a small flow; records each request and whether it was signed."""

    fail_with: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    signed: list[bool] = field(default_factory=list)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        event = request["Event"]
        name, data = event["EventName"], event["EventData"]
        if name == "Connected":
            action = {"Type": "GetDTMF", "MaxDigits": 4, "Prompt": "menu"}
            return {"Action": action, "Session": {"step": "menu"}}
        if name == "GetDTMF" and data == "1234":
            action = {"Type": "CallByObjectLogin", "Login": "sales"}
            return {"Action": action, "Session": {"step": "sales", "digits": data}}
        if name == "CallStatus" and data == "Busy":
            return {"Actions": [{"Type": "Play", "Prompt": "sorry"}, {"Type": "Hangup"}]}
        return {"Action": {"Type": "Hangup"}}

    def asgi(self) -> Starlette:
        async def ivr(request: Request) -> Response:
            body = await request.body()
            header = request.headers.get("x-signature", "")
            self.signed.append(verify(header, body, [SECRET], int(time.time())))
            self.requests.append(json.loads(body)["request"])
            if self.fail_with is not None:
                return Response("boom", status_code=self.fail_with)
            return JSONResponse(self.answer(self.requests[-1]))

        return Starlette(routes=[Route("/ivr", ivr, methods=["POST"])])

    def events(self) -> list[tuple[str, str]]:
        return [(r["Event"]["EventName"], r["Event"]["EventData"]) for r in self.requests]


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start apps with uvicorn in background threads; yields ``start(app) -> url``."""
    servers: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []

    def start(app: FlowApp) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app.asgi(), lifespan="off", log_config=None, access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append((server, thread, sock))
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{sock.getsockname()[1]}/ivr"

    yield start
    for server, thread, sock in servers:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _in_order(text: str, *parts: str) -> None:
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"{part!r} missing (in order) from:\n{text}"
        position = found + len(part)


def test_the_flow_runs_signed_with_session_echoed(
    serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app = FlowApp()
    url = serve(app)
    argv = ["ivr", "simulate", "--url", url, "--dtmf", "1234", "--call-status", "busy"]
    assert main([*argv, "--secret", SECRET, "--from", "48600100200"]) == 0
    out = capsys.readouterr().out
    _in_order(
        out,
        "→ POST seq 1 Connected · Ringing",
        "← 200 in ",
        'GetDTMF(MaxDigits=4, Prompt=menu) · Session {"step":"menu"}',
        'caller hears prompt "menu" (early media, not answered)',
        'caller keys 1234 → "1234" (maxdigits)',
        '→ POST seq 2 GetDTMF "1234" (Reason=maxdigits) · Ringing · Session {"step":"menu"}',
        "CallByObjectLogin(Login=sales)",
        "CallByObjectLogin sales → Busy",
        '→ POST seq 3 CallStatus "Busy" (Duration=0, Destination=sales)',
        "Play(Prompt=sorry), Hangup",
        'caller hears prompt "sorry"',
        "call hung up by the app",
        '→ POST seq 4 Hangup "app" · Hangup',
        "summary: 4 requests, 0 errors; ended by the app's Hangup (exit 0)",
    )
    assert app.events() == [
        ("Connected", ""),
        ("GetDTMF", "1234"),
        ("CallStatus", "Busy"),
        ("Hangup", "app"),
    ]
    assert [r["Session"] for r in app.requests[:3]] == [
        None,
        {"step": "menu"},
        {"step": "sales", "digits": "1234"},
    ]
    assert app.requests[0]["FromNumber"] == "48600100200"
    assert app.signed == [True] * 4


def test_json_lines_are_the_trace_entries(serve: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = serve(FlowApp())
    assert main(["ivr", "simulate", "--url", url, "--dtmf", "1234", "--json"]) == 0
    captured = capsys.readouterr()
    entries = [json.loads(line) for line in captured.out.splitlines()]
    kinds = [e["kind"] for e in entries]
    assert kinds[:2] == ["exchange", "action"] and kinds.count("exchange") == 4
    first = entries[0]
    assert {"at", "sequence", "request_id", "url", "request", "status", "response"} <= set(first)
    assert json.loads(first["request"])["request"]["Event"]["EventName"] == "Connected"
    assert entries[1] == {
        "at": entries[1]["at"],
        "kind": "action",
        "type": "GetDTMF",
        "Prompt": "menu",
        "Timeout": 5000,
        "MaxDigits": 4,
        "FinishOnKey": "#",
        "FirstDigitTimeout": None,
    }
    assert "summary: 4 requests" in captured.err


def test_an_app_error_runs_the_fallback(serve: Any, capsys: pytest.CaptureFixture[str]) -> None:
    app = FlowApp(fail_with=500)
    url = serve(app)
    assert main(["ivr", "simulate", "--url", url]) == 1
    out = capsys.readouterr().out
    _in_order(
        out,
        "→ POST seq 1 Connected",
        "✗ error 4: HTTP status 500 Internal Server Error",
        "response body: boom",
        "fallback Hangup after error 4: HTTP status 500 Internal Server Error",
        "call hung up by error (fallback)",
        "summary: 1 request, 1 error; ended by the fallback (Hangup) after error 4",
        "(exit 1)",
    )
    assert app.events() == [("Connected", "")]  # the fallback never calls the app


def test_a_closed_port_is_error_2_and_long_waits_do_not_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    assert main(["ivr", "simulate", "--url", f"http://127.0.0.1:{port}/ivr"]) == 1
    assert time.monotonic() - started < 5
    assert "✗ error 2: connection error: connection refused (3 attempts)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--url", "ftp://127.0.0.1/ivr"], "--url: Value error, url must be http"),
        (["--url", "http://127.0.0.1:9/ivr", "--dtmf", "12a"], "'a' is not a key"),
        (["--url", "http://127.0.0.1:9/ivr", "--call-status", "Ringing"], "unknown call status"),
        (["--url", "http://127.0.0.1:9/ivr", "--timeout-ms", "10"], "--timeout-ms: "),
        (["--url", "http://127.0.0.1:9/ivr", "--db", "sqlite://"], "only used with --replay"),
        (["--url", "http://127.0.0.1:9/ivr", "--ca-file", "/nonexistent.pem"], "--ca-file"),
        (["--url", "http://127.0.0.1:9/ivr", *["--secret", "s"] * 3], "--secret: "),
    ],
)
def test_unusable_options_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ivr", "simulate", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err


async def _insert_call(url: str, call_id: str, trace: list[dict[str, Any]]) -> None:
    db = Database(url)
    await asyncio.to_thread(db.migrate)
    async with db.session() as session:
        account = await Accounts(session).create("acme", "ACME")
        session.add(
            CallRecord(
                id=call_id,
                account_id=account.id,
                from_number="48600100200",
                to_number="48221234567",
                disposition="answered",
                ivr_trace=trace,
            )
        )
        await session.commit()
    await db.close()


def test_replay_drives_the_app_with_the_stored_caller_side(
    serve: Any, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = FlowApp()
    url = serve(first)
    argv = ["ivr", "simulate", "--url", url, "--dtmf", "1234", "--call-status", "Busy"]
    assert main([*argv, "--from", "48600100200", "--json"]) == 0
    trace = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    asyncio.run(_insert_call(database_url, "c-replay-1", trace))

    again = FlowApp()
    url = serve(again)
    argv = ["ivr", "simulate", "--url", url, "--replay", "c-replay-1", "--db", database_url]
    assert main([*argv, "--secret", SECRET]) == 0
    out = capsys.readouterr().out
    assert "replaying call c-replay-1: --dtmf '1234', --call-status Busy" in out
    assert again.events() == first.events()
    assert again.requests[0]["FromNumber"] == "48600100200"
    assert again.requests[0]["UniqueCallId"] != first.requests[0]["UniqueCallId"]
    assert again.signed == [True] * 4


def test_replay_of_an_unknown_call_or_one_without_trace_exits_2(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_insert_call(database_url, "c-no-ivr", []))
    argv = ["ivr", "simulate", "--url", "http://127.0.0.1:9/ivr", "--db", database_url]
    assert main([*argv, "--replay", "c-missing"]) == 2
    assert "error: no call 'c-missing' in the database" in capsys.readouterr().err
    assert main([*argv, "--replay", "c-no-ivr"]) == 2
    assert "call 'c-no-ivr' has no IVR trace" in capsys.readouterr().err


def test_replay_script_keeps_finish_keys_and_call_statuses() -> None:
    def exchange(name: str, data: str, reason: str | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {"EventName": name, "EventData": data}
        if reason:
            event["Details"] = {"Reason": reason}
        request = {"FromNumber": "481", "ToNumber": "482", "Event": event}
        return {"kind": "exchange", "request": json.dumps({"request": request})}

    script = replay_script(
        [
            exchange("Connected", ""),
            {"kind": "action", "type": "GetDTMF", "FinishOnKey": "#"},
            exchange("GetDTMF", "12", "finishkey"),
            {"kind": "action", "type": "GetDTMF", "FinishOnKey": "*"},
            exchange("GetDTMF", "7", "finishkey"),
            exchange("GetDTMF", "", "timeout"),
            exchange("CallStatus", "Noanswer"),
            {"kind": "fallback", "ErrorNo": 1},
        ]
    )
    assert (script.from_number, script.to_number) == ("481", "482")
    assert script.dtmf == ["12#", "7*", ""]
    assert script.call_status == ["Noanswer"]


@pytest.mark.parametrize(
    ("entry", "max_digits", "expected"),
    [
        ("12#", 10, ("12", "finishkey")),
        ("1234", 4, ("1234", "maxdigits")),
        ("123456", 4, ("1234", "maxdigits")),
        ("12", 4, ("12", "timeout")),
        ("", 4, ("", "timeout")),
        (None, 4, ("", "timeout")),
    ],
)
async def test_simulated_keys(
    entry: str | None, max_digits: int, expected: tuple[str, str]
) -> None:
    call = SimulatedCall(
        from_number="1",
        to_number="2",
        call_id="c",
        dtmf=[] if entry is None else [entry],
        emit=lambda _: None,
    )
    assert await call.get_dtmf(GetDTMFAction(MaxDigits=max_digits)) == expected


async def test_virtual_ringing_auto_answers_without_waiting() -> None:
    traced: list[tuple[str, dict[str, Any]]] = []
    call = SimulatedCall(
        from_number="1",
        to_number="2",
        call_id="c",
        auto_answer_s=3,
        emit=lambda _: None,
        trace=lambda kind, data: traced.append((kind, data)),
    )
    started = time.monotonic()
    await call.keep_ringing(2)
    statuses = [call.channel_status]
    await call.keep_ringing(600)
    statuses.append(call.channel_status)
    assert statuses == ["Ringing", "Up"]
    assert time.monotonic() - started < 1
    assert traced == [("auto-answer", {"after_s": 3})]
