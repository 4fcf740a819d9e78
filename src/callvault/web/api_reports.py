"""``/api/v1/reports``: call counts per number label, per object and per day, as JSON or CSV.

Campaign tracking: give each number a label (``/api/v1/numbers``) and the
``numbers`` report counts the calls that came in on each label's numbers.
The ``objects`` report counts calls per object they passed (a call through a
menu and a queue counts for both), the ``days`` report per day in the
account's time zone.  Every row has ``calls``, ``answered``, ``missed``
(not answered), ``answer_rate`` and ``avg_wait_s``: the mean of answer time
minus start over the answered calls (for queues and menus, which pick up at
once, that is when the platform answered).

Reports need ``calls.read`` and count only the calls the caller may see (the
data scope of :mod:`callvault.web.datascope`), between ``since`` and
``until`` (default: the last 30 days; naive times are the account's time
zone; at most :data:`MAX_DAYS` days; at most :data:`MAX_CALLS` calls, else
``truncated``).  ``?format=csv`` answers a CSV file and is audited as
``reports.export``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from callvault.store.models import Account, CallRecord, Number
from callvault.store.numbers import normalize_or_raw
from callvault.web import audit
from callvault.web.context import Session, as_utc, client_ip
from callvault.web.datascope import call_condition
from callvault.web.errors import ApiError
from callvault.web.security import Principal, require

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
Reader = Annotated[Principal, Depends(require("calls.read"))]

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_CALLS = 200_000
COUNTS = ("calls", "answered", "missed", "answer_rate", "avg_wait_s")


@dataclass
class Tally:
    """Counts of one report row."""

    calls: int = 0
    answered: int = 0
    wait_s: float = 0.0

    def add(self, row: CallRow) -> None:
        """Count one call."""
        self.calls += 1
        if row.answered_at is not None:
            self.answered += 1
            self.wait_s += max(0.0, (row.answered_at - row.started_at).total_seconds())

    def json(self) -> dict[str, Any]:
        """The row's counts."""
        return {
            "calls": self.calls,
            "answered": self.answered,
            "missed": self.calls - self.answered,
            "answer_rate": round(self.answered / self.calls, 4) if self.calls else None,
            "avg_wait_s": round(self.wait_s / self.answered, 1) if self.answered else None,
        }


@dataclass(frozen=True)
class CallRow:
    """What a report reads of one call."""

    to_number: str
    objects: list[Any]
    started_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class Period:
    """The report's time range and the account's time zone."""

    since: datetime
    until: datetime
    zone: ZoneInfo


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    """A naive time is in the account's time zone."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


async def _period(
    session: Session, principal: Principal, since: datetime | None, until: datetime | None
) -> Period:
    """The checked period of a report (defaults: the last 30 days)."""
    account = await session.get(Account, principal.account_id)
    assert account is not None
    zone = ZoneInfo(account.timezone)
    end = _aware(until, zone) if until is not None else datetime.now(UTC)
    start = _aware(since, zone) if since is not None else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ApiError(422, "since must be before until", details={"since": str(start)})
    if end - start > timedelta(days=MAX_DAYS):
        raise ApiError(422, f"a report covers at most {MAX_DAYS} days")
    return Period(start, end, zone)


async def _calls(
    session: Session, principal: Principal, period: Period
) -> tuple[list[CallRow], bool]:
    """The visible calls of the period (and whether there were more than :data:`MAX_CALLS`)."""
    result = await session.execute(
        select(
            CallRecord.to_number,
            CallRecord.objects,
            CallRecord.started_at,
            CallRecord.answered_at,
        )
        .where(
            CallRecord.account_id == principal.account_id,
            call_condition(principal.data_scope, principal.account_id),
            CallRecord.started_at >= period.since,
            CallRecord.started_at < period.until,
        )
        .order_by(CallRecord.started_at)
        .limit(MAX_CALLS + 1)
    )
    rows = [
        CallRow(
            to_number=to_number or "",
            objects=list(objects or []),
            started_at=as_utc(started),
            answered_at=as_utc(answered) if answered is not None else None,
        )
        for to_number, objects, started, answered in result
    ]
    return rows[:MAX_CALLS], len(rows) > MAX_CALLS


def _answer(
    period: Period, total: Tally, rows: list[dict[str, Any]], truncated: bool
) -> dict[str, Any]:
    """The JSON body of a report."""
    return {
        "since": period.since.isoformat(),
        "until": period.until.isoformat(),
        "timezone": str(period.zone),
        "total": total.json(),
        "rows": rows,
        "truncated": truncated,
    }


async def _respond(
    request: Request,
    session: Session,
    principal: Principal,
    name: str,
    body: dict[str, Any],
    keys: Iterable[str],
    format_: str,
) -> dict[str, Any] | Response:
    """The report as JSON, or as an audited CSV download."""
    if format_ != "csv":
        return body
    columns = [*keys, *COUNTS]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in body["rows"]:
        writer.writerow([" ".join(v) if isinstance(v := row.get(c), list) else v for c in columns])
    await audit.record(
        session,
        principal,
        "reports.export",
        "report",
        name,
        client_ip(request),
        {"rows": len(body["rows"]), "query": str(request.url.query)},
    )
    await session.commit()
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="calls-by-{name}.csv"'},
    )


Since = Annotated[datetime | None, Query(description="from (default: 30 days before until)")]
Until = Annotated[datetime | None, Query(description="to, exclusive (default: now)")]
Format = Annotated[Literal["json", "csv"], Query()]


@router.get("/numbers", response_model=None)
async def by_number(
    request: Request,
    principal: Reader,
    session: Session,
    since: Since = None,
    until: Until = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Calls per number label (campaign): which labels brought calls, and were they answered."""
    period = await _period(session, principal, since, until)
    labels = {
        number.e164: number.label
        for number in await session.scalars(
            select(Number).where(Number.account_id == principal.account_id)
        )
    }
    calls, truncated = await _calls(session, principal, period)
    tallies: dict[str, Tally] = defaultdict(Tally)
    numbers: dict[str, set[str]] = defaultdict(set)
    total = Tally()
    for call in calls:
        e164 = normalize_or_raw(call.to_number)
        if e164 not in labels:
            continue
        total.add(call)
        tallies[labels[e164]].add(call)
        numbers[labels[e164]].add(e164)
    rows = [
        {"label": label, "numbers": sorted(numbers[label]), **tally.json()}
        for label, tally in sorted(tallies.items(), key=lambda item: (-item[1].calls, item[0]))
    ]
    body = _answer(period, total, rows, truncated)
    return await _respond(request, session, principal, "number", body, ("label", "numbers"), format)


@router.get("/objects", response_model=None)
async def by_object(
    request: Request,
    principal: Reader,
    session: Session,
    since: Since = None,
    until: Until = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Calls per object they passed (queues, menus, SIP accounts, IVR apps, trunks)."""
    period = await _period(session, principal, since, until)
    calls, truncated = await _calls(session, principal, period)
    tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    total = Tally()
    for call in calls:
        total.add(call)
        hops = {
            (str(hop.get("kind", "")), str(hop.get("login", "")))
            for hop in call.objects
            if isinstance(hop, dict)
        }
        for hop in hops:
            tallies[hop].add(call)
    rows = [
        {"kind": kind, "login": login, **tally.json()}
        for (kind, login), tally in sorted(
            tallies.items(), key=lambda item: (-item[1].calls, item[0])
        )
    ]
    body = _answer(period, total, rows, truncated)
    return await _respond(request, session, principal, "object", body, ("kind", "login"), format)


@router.get("/days", response_model=None)
async def by_day(
    request: Request,
    principal: Reader,
    session: Session,
    since: Since = None,
    until: Until = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Calls per day (in the account's time zone)."""
    period = await _period(session, principal, since, until)
    calls, truncated = await _calls(session, principal, period)
    tallies: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for call in calls:
        total.add(call)
        tallies[call.started_at.astimezone(period.zone).date().isoformat()].add(call)
    rows = [{"day": day, **tally.json()} for day, tally in sorted(tallies.items())]
    body = _answer(period, total, rows, truncated)
    return await _respond(request, session, principal, "day", body, ("day",), format)
