"""`callvault calls trace`: a stored call's IVR trace as a timeline, or as JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from callvault.cli.main import main
from callvault.store.db import Database
from callvault.store.models import CallRecord
from callvault.store.repository import Accounts

T0 = 1_795_000_000.0


def _request(event: dict[str, Any], session: Any = None, **extra: Any) -> str:
    body = {
        "FromNumber": "48600100200",
        "ToNumber": "48221234567",
        "UniqueCallId": "c-trace-1",
        "ChannelStatus": "Ringing",
        "Event": event,
        "Session": session,
        **extra,
    }
    return json.dumps({"request": body}, separators=(",", ":"))


def _exchange(at: float, sequence: int, request: str, **result: Any) -> dict[str, Any]:
    entry = {"at": T0 + at, "kind": "exchange", "sequence": sequence}
    entry |= {"request_id": f"r-{sequence}", "url": "https://app.example/ivr", "request": request}
    entry |= {"status": 200, "response": None, "elapsed_ms": 0.0, "attempts": 1} | result
    return entry


TRACE: list[dict[str, Any]] = [
    _exchange(
        0.0,
        1,
        _request({"EventName": "Connected", "EventData": ""}),
        response='{"Action":{"Type":"GetDTMF","MaxDigits":"4"},"Session":{"step":"menu"}}',
        elapsed_ms=12.3,
    ),
    {"at": T0 + 0.013, "kind": "action", "type": "GetDTMF", "Prompt": None, "MaxDigits": 4},
    _exchange(
        2.5,
        2,
        _request(
            {"EventName": "GetDTMF", "EventData": "1234", "Details": {"Reason": "maxdigits"}},
            {"step": "menu"},
        ),
        response='{"Action":{"Type":"CallByObjectLogin","Login":"nobody"}}',
        elapsed_ms=8.04,
    ),
    {"at": T0 + 2.51, "kind": "action", "type": "CallByObjectLogin", "Login": "nobody"},
    {"at": T0 + 2.52, "kind": "action-error", "ErrorNo": 6, "ErrorMsg": "no object nobody"},
    _exchange(
        2.53,
        3,
        _request(
            {"EventName": "CallStatus", "EventData": "Error"},
            Error={"ErrorNo": 6, "ErrorMsg": "no object nobody"},
        ),
        status=None,
        elapsed_ms=500.4,
        error={"ErrorNo": 1, "ErrorMsg": "application timeout after 500 ms"},
    ),
    {
        "at": T0 + 3.031,
        "kind": "fallback",
        "ErrorNo": 1,
        "ErrorMsg": "application timeout after 500 ms",
        "fallback": "Hangup",
    },
]


async def _insert(url: str, trace: list[dict[str, Any]], call_id: str = "c-trace-1") -> None:
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
                tags={"ticket": "T-42"},
                ivr_trace=trace,
            )
        )
        await session.commit()
    await db.close()


def test_the_trace_reads_as_a_timeline(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_insert(database_url, TRACE))
    assert main(["calls", "trace", "c-trace-1", "--db", database_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("call c-trace-1: 48600100200 → 48221234567, inbound, answered")
    assert lines[1] == 'tags: {"ticket": "T-42"}'
    assert lines[2] == "IVR trace, 7 entries:"
    assert lines[3:] == [
        "  +0.000s  exchange      → POST seq 1 Connected · Ringing",
        '                         ← 200 in 12.3 ms: GetDTMF(MaxDigits=4) · Session {"step":"menu"}',
        "  +0.013s  action        GetDTMF(MaxDigits=4)",
        '  +2.500s  exchange      → POST seq 2 GetDTMF "1234" (Reason=maxdigits) · Ringing'
        ' · Session {"step":"menu"}',
        "                         ← 200 in 8.0 ms: CallByObjectLogin(Login=nobody)",
        "  +2.510s  action        CallByObjectLogin(Login=nobody)",
        "  +2.520s  action-error  ✗ error 6: no object nobody",
        '  +2.530s  exchange      → POST seq 3 CallStatus "Error" · Ringing'
        " · Error 6: no object nobody",
        "                         ✗ error 1: application timeout after 500 ms",
        "  +3.031s  fallback      fallback Hangup after error 1: application timeout after 500 ms",
    ]


def test_json_prints_the_stored_list(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_insert(database_url, TRACE))
    assert main(["calls", "trace", "c-trace-1", "--db", database_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == TRACE


def test_a_call_without_ivr_says_so(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_insert(database_url, [], call_id="c-plain"))
    assert main(["calls", "trace", "c-plain", "--db", database_url]) == 0
    out = capsys.readouterr().out
    assert "no IVR trace: the call did not reach an IVR API object" in out
    assert main(["calls", "trace", "c-plain", "--db", database_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_an_unknown_call_is_exit_2(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_insert(database_url, TRACE))
    assert main(["calls", "trace", "c-nope", "--db", database_url]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: no call 'c-nope' in the database")
    assert "UniqueCallId" in captured.err
