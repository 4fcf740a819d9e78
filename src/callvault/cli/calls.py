"""``callvault calls trace`` and ``callvault ivr simulate``: a call's IVR trace, read or replayed.

Both commands show the same timeline of IVR API trace entries (the
``{"at", "kind", **data}`` dicts the loop reports and ``CallRecord.ivr_trace``
stores): ``calls trace`` reads a stored call's, ``ivr simulate`` prints one as
it happens while :mod:`callvault.ivr.simulate` drives a real application
(optionally replaying a stored call's caller side).  Errors are one
``error: ...`` line on stderr with exit code 2, like the other commands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from callvault.ivr.simulate import as_dict, request_of

if TYPE_CHECKING:
    from callvault.ivr.simulate import Outcome
    from callvault.store.models import CallRecord

EXIT_ERROR = 2
_INDENT = " " * 25  # under the summary column of a `calls trace` line


class CommandError(Exception):
    """A command that cannot run as given; the message says what to do instead."""


# -- the timeline ---------------------------------------------------------------------


def _compact(value: object, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _loads(text: object) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _call_text(kind: object, params: Mapping[str, Any]) -> str:
    """``GetDTMF(MaxDigits=4)``: an action with its given (non-null) parameters."""
    shown = [
        f"{key}={value if isinstance(value, str | int | float) else _compact(value)}"
        for key, value in params.items()
        if key != "Type" and value is not None
    ]
    return f"{kind}({', '.join(shown)})" if shown else str(kind)


def _request_line(entry: Mapping[str, Any]) -> str:
    """``→ POST seq 2 GetDTMF "1234" (Reason=maxdigits) · Up · Session {...} · Error …``."""
    request = request_of(entry)
    line = f"→ POST seq {entry.get('sequence', '?')}"
    if not request:
        return line + " (request not readable)"
    event = as_dict(request.get("Event"))
    line += f" {event.get('EventName', '?')}"
    if event.get("EventData"):
        line += f" {json.dumps(event['EventData'], ensure_ascii=False)}"
    details = as_dict(event.get("Details"))
    if details:
        line += f" ({', '.join(f'{k}={v}' for k, v in details.items())})"
    line += f" · {request.get('ChannelStatus', '?')}"
    if request.get("Session") is not None:
        line += f" · Session {_compact(request['Session'])}"
    error = as_dict(request.get("Error"))
    if error:
        line += f" · Error {error.get('ErrorNo')}: {error.get('ErrorMsg')}"
    return line


def _response_lines(entry: Mapping[str, Any]) -> list[str]:
    """``← 200 in 12.3 ms: GetDTMF(MaxDigits=4) · Session {...}`` or ``✗ error N: …``."""
    elapsed = entry.get("elapsed_ms")
    took = f"{elapsed:.1f} ms" if isinstance(elapsed, int | float) else "? ms"
    attempts = entry.get("attempts")
    tries = f" ({attempts} attempts)" if isinstance(attempts, int) and attempts > 1 else ""
    error = as_dict(entry.get("error"))
    if error:
        lines = [f"✗ error {error.get('ErrorNo')}: {error.get('ErrorMsg')}{tries}"]
        if entry.get("response"):
            lines.append(f"  response body: {_clip(str(entry['response']))}")
        return lines
    line = f"← {entry.get('status')} in {took}{tries}"
    reply = as_dict(_loads(entry.get("response")))
    actions = reply.get("Actions") if reply.get("Action") is None else [reply["Action"]]
    if isinstance(actions, list):
        line += ": " + ", ".join(_call_text(a.get("Type"), a) for a in map(as_dict, actions))
    if reply.get("Session") is not None:
        line += f" · Session {_compact(reply['Session'])}"
    return [line]


def describe(entry: Mapping[str, Any]) -> list[str]:
    """Readable lines of one IVR trace entry (``{"at", "kind", **data}``)."""
    kind = entry.get("kind")
    data = {k: v for k, v in entry.items() if k not in ("at", "kind")}
    if kind == "exchange":
        return [_request_line(entry), *_response_lines(entry)]
    if kind == "action":
        return [_call_text(data.pop("type", "?"), data)]
    if kind == "action-error":
        return [f"✗ error {data.get('ErrorNo')}: {data.get('ErrorMsg')}"]
    if kind == "fallback":
        error = f"error {data.get('ErrorNo')}: {data.get('ErrorMsg')}"
        return [f"fallback {data.get('fallback')} after {error}"]
    if kind == "auto-answer":
        return [f"auto-answer after {data.get('after_s')} s"]
    if kind == "filler":
        return [f"filler prompt {data.get('prompt')} (the app is slow)"]
    return [f"{kind} {_compact(data)}"]


def timeline(entries: list[Any]) -> list[str]:
    """``+0.012s  exchange     → POST seq 1 Connected · Ringing``: offset, kind, summary."""
    entries = [as_dict(e) for e in entries]
    times = [e["at"] for e in entries if isinstance(e.get("at"), int | float)]
    start = min(times, default=0.0)
    lines = []
    for entry in entries:
        at = entry.get("at")
        offset = f"+{at - start:.3f}s" if isinstance(at, int | float) else ""
        first, *more = describe(entry)
        lines.append(f"{offset:>9}  {entry.get('kind', '?')!s:<12}  {first}")
        lines.extend(_INDENT + line for line in more)
    return lines


# -- calls trace ----------------------------------------------------------------------


async def load_call(url: str | None, call_id: str) -> CallRecord:
    """The call ``call_id`` (its UniqueCallId) from ``--db`` or the configured database."""
    from sqlalchemy.exc import SQLAlchemyError

    from callvault.cli.manage import database_for
    from callvault.store.models import CallRecord

    db = database_for(url)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            record = await session.get(CallRecord, call_id)
    except SQLAlchemyError as exc:
        text = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        raise CommandError(
            f"cannot use the database: {text[0]}; check --db or CALLVAULT_DATABASE_URL"
        ) from None
    finally:
        await db.close()
    if record is None:
        raise CommandError(
            f"no call {call_id!r} in the database; the id is the call's UniqueCallId "
            "(as the IVR app received it); check it and --db"
        )
    return record


def _header(record: CallRecord) -> list[str]:
    started = record.started_at.isoformat(timespec="seconds") if record.started_at else "?"
    lines = [
        f"call {record.id}: {record.from_number or '?'} → {record.to_number or '?'}, "
        f"{record.direction}, {record.disposition or 'no disposition'}, started {started}"
    ]
    if record.tags:
        lines.append(f"tags: {json.dumps(record.tags, ensure_ascii=False, sort_keys=True)}")
    return lines


async def trace_command(call_id: str, *, url: str | None, as_json: bool) -> int:
    """``callvault calls trace``: the stored IVR trace of one call."""
    try:
        record = await load_call(url, call_id)
    except CommandError as exc:
        return _fail(exc)
    trace = list(record.ivr_trace or [])
    if as_json:
        print(json.dumps(trace, indent=2, ensure_ascii=False))
        return 0
    for line in _header(record):
        print(line)
    if not trace:
        print("no IVR trace: the call did not reach an IVR API object")
        return 0
    print(f"IVR trace, {len(trace)} entries:")
    for line in timeline(trace):
        print(line)
    return 0


# -- ivr simulate -------------------------------------------------------------------------


async def simulate_command(args: argparse.Namespace) -> int:
    """``callvault ivr simulate``: options checked (exit 2), then the simulated call."""
    from callvault.ivr.simulate import Simulation, SimulationError, call_status, replay_script
    from callvault.ivr.simulate import simulate as run_simulation

    sim = Simulation(
        url=args.url,
        secrets=list(args.secret or []),
        hash=args.hash or "",
        timeout_ms=args.timeout_ms,
        insecure=args.insecure,
        auto_answer_s=args.auto_answer_s,
        max_requests=args.max_requests,
    )
    note = ""
    try:
        if args.db is not None and args.replay is None:
            raise CommandError("--db is only used with --replay UNIQUECALLID")
        if args.replay is not None:
            record = await load_call(args.db, args.replay)
            if not record.ivr_trace:
                raise CommandError(
                    f"call {args.replay!r} has no IVR trace (it did not reach an IVR API object)"
                )
            script = replay_script(record.ivr_trace)
            sim.from_number, sim.to_number = script.from_number, script.to_number
            sim.dtmf, sim.call_status = script.dtmf, script.call_status
            note = (
                f"replaying call {args.replay}: --dtmf {' '.join(map(repr, sim.dtmf)) or '-'}, "
                f"--call-status {' '.join(sim.call_status) or '-'}"
            )
        sim.from_number = args.from_number or sim.from_number
        sim.to_number = args.to_number or sim.to_number
        if args.dtmf is not None:
            sim.dtmf = list(args.dtmf)
        if args.call_status is not None:
            sim.call_status = [call_status(text) for text in args.call_status]
        if args.ca_file is not None:
            sim.ca_bundle = _read_pem(args.ca_file)
        sim.settings()
    except (CommandError, SimulationError) as exc:
        return _fail(exc)

    def on_entry(entry: dict[str, Any]) -> None:
        if args.json:
            _out(json.dumps(entry, ensure_ascii=False, default=str))
        elif entry["kind"] != "action":  # the caller-side lines show what each action did
            for line in describe(entry):
                _out(line)

    if not args.json:
        _out(f"simulated call {sim.call_id}: {sim.from_number} → {sim.to_number}, app {sim.url}")
        if note:
            _out(note)
    outcome = await run_simulation(sim, on_entry, (lambda _: None) if args.json else _out)
    print(_summary(outcome), file=sys.stderr if args.json else sys.stdout, flush=True)
    return outcome.code


def _read_pem(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read --ca-file {path}: {exc}") from None


def _summary(outcome: Outcome) -> str:
    entries = outcome.entries
    requests = sum(1 for e in entries if e["kind"] == "exchange")
    errors = sum(1 for e in entries if "error" in e or e["kind"] == "action-error")
    fallback = next((e for e in entries if e["kind"] == "fallback"), None)
    if fallback is not None:
        ended = (
            f"ended by the fallback ({fallback['fallback']}) after error "
            f"{fallback['ErrorNo']}: {fallback['ErrorMsg']}"
        )
    else:
        ended = "ended by the app's Hangup" if outcome.code == 0 else "ended by the caller"
    left = [f"{len(outcome.call.dtmf)} --dtmf"] if outcome.call.dtmf else []
    left += [f"{len(outcome.call.call_status)} --call-status"] if outcome.call.call_status else []
    unused = f"; unused: {', '.join(left)}" if left else ""
    return (
        f"summary: {requests} request{'s' * (requests != 1)}, "
        f"{errors} error{'s' * (errors != 1)}; {ended}{unused} (exit {outcome.code})"
    )


# -- plumbing -------------------------------------------------------------------------------


def _out(line: str) -> None:
    print(line, flush=True)


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def run_calls(args: argparse.Namespace) -> int:
    """Run one parsed ``calls`` or ``ivr`` command; the exit code."""
    if args.command == "calls":
        return asyncio.run(trace_command(args.call_id, url=args.db, as_json=args.json))
    return asyncio.run(simulate_command(args))
