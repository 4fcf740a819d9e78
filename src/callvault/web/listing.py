"""Search, sort and pages of the call and recording lists, their JSON, and the CSV export.

The query parameters (``from``, ``to``, ``number``, ``direction``, ``object``,
``kind``, ``min_duration``, ``max_duration``, ``call_id``, ``state``, ``sort``,
``page``, ``page_size``, ``format``) become SQL conditions; the caller adds
the account and the data scope.  Times are compared in UTC (an offset-less
time is taken as UTC); ``to`` is exclusive.  Durations are in seconds.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from callvault.store.models import CallRecord, Recording
from callvault.web.context import as_utc, iso
from callvault.web.datascope import object_in_call, object_kind_in_call

CALL_SORTS = {"started_at", "-started_at", "duration", "-duration", "from", "-from", "to", "-to"}
EXPORT_LIMIT = 10_000
TOTAL_CAP = 10_000
"""A list counts its matching rows up to this many: past it, ``total`` is the cap and
``total_exact`` is false (an exact count of 100 000 rows in a data scope costs
seconds on PostgreSQL; see BENCHMARKS.md)."""
CALL_KINDS: dict[str, tuple[str, ...]] = {"queue": ("queue",), "ivr": ("ivr_menu", "ivr_api")}
"""``kind``: calls that passed a queue, or an IVR menu / IVR API object."""
_EPSILON = 0.001
"""Slack when comparing computed durations (SQLite's julianday arithmetic is not exact)."""


@dataclass
class ListQuery:
    """The search parameters of one list request."""

    date_from: datetime | None = None
    date_to: datetime | None = None
    number: str | None = None
    direction: str | None = None
    object_login: str | None = None
    kind: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    call_id: str | None = None
    state: str | None = None
    sort: str = "-started_at"
    page: int = 1
    page_size: int = 50
    format: str = "json"

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def list_query(
    date_from: Annotated[datetime | None, Query(alias="from")] = None,
    date_to: Annotated[datetime | None, Query(alias="to")] = None,
    number: Annotated[str | None, Query(max_length=64, description="any part of a number")] = None,
    direction: Annotated[Literal["inbound", "outbound", "internal"] | None, Query()] = None,
    object_login: Annotated[str | None, Query(alias="object", max_length=64)] = None,
    kind: Annotated[
        Literal["queue", "ivr"] | None, Query(description="passed a queue / IVR")
    ] = None,
    min_duration: Annotated[float | None, Query(ge=0)] = None,
    max_duration: Annotated[float | None, Query(ge=0)] = None,
    call_id: Annotated[str | None, Query(max_length=40)] = None,
    state: Annotated[str | None, Query(max_length=24)] = None,
    sort: Annotated[str, Query(pattern=r"^-?(started_at|duration|from|to)$")] = "-started_at",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> ListQuery:
    """The FastAPI dependency reading a :class:`ListQuery` from the query string."""
    return ListQuery(
        date_from=as_utc(date_from) if date_from else None,
        date_to=as_utc(date_to) if date_to else None,
        number=number.strip() or None if number else None,
        direction=direction,
        object_login=object_login,
        kind=kind,
        min_duration=min_duration,
        max_duration=max_duration,
        call_id=call_id,
        state=state,
        sort=sort,
        page=page,
        page_size=page_size,
        format=format,
    )


def call_duration(dialect: str) -> ColumnElement[Any]:
    """A call's length in seconds (``ended_at - started_at``; NULL while unfinished)."""
    if dialect == "postgresql":
        return func.extract("epoch", CallRecord.ended_at - CallRecord.started_at)
    return (func.julianday(CallRecord.ended_at) - func.julianday(CallRecord.started_at)) * 86400.0


def _durations(expr: ColumnElement[Any], query: ListQuery) -> list[ColumnElement[bool]]:
    out = []
    if query.min_duration is not None:
        out.append(expr >= query.min_duration - _EPSILON)
    if query.max_duration is not None:
        out.append(expr <= query.max_duration + _EPSILON)
    return out


def call_filters(query: ListQuery, dialect: str) -> list[ColumnElement[bool]]:
    """Conditions on ``calls`` for the search parameters."""
    out: list[ColumnElement[bool]] = []
    if query.date_from is not None:
        out.append(CallRecord.started_at >= query.date_from)
    if query.date_to is not None:
        out.append(CallRecord.started_at < query.date_to)
    if query.number:
        out.append(
            or_(
                CallRecord.from_number.contains(query.number, autoescape=True),
                CallRecord.to_number.contains(query.number, autoescape=True),
            )
        )
    if query.direction:
        out.append(CallRecord.direction == query.direction)
    if query.object_login:
        out.append(object_in_call(dialect, [query.object_login]))
    if query.kind:
        out.append(object_kind_in_call(dialect, CALL_KINDS.get(query.kind, ())))
    if query.call_id:
        out.append(CallRecord.id == query.call_id)
    return out + _durations(call_duration(dialect), query)


def recording_filters(query: ListQuery, dialect: str) -> list[ColumnElement[bool]]:
    """Conditions on ``recordings`` (outer-joined to their ``calls``) for the search."""
    out: list[ColumnElement[bool]] = []
    if query.date_from is not None:
        out.append(Recording.started_at >= query.date_from)
    if query.date_to is not None:
        out.append(Recording.started_at < query.date_to)
    if query.number:
        out.append(_recording_has_number(query.number, dialect))
    if query.direction:
        out.append(CallRecord.direction == query.direction)
    if query.object_login:
        out.append(and_(CallRecord.id.is_not(None), object_in_call(dialect, [query.object_login])))
    if query.kind:
        kinds = CALL_KINDS.get(query.kind, ())
        out.append(and_(CallRecord.id.is_not(None), object_kind_in_call(dialect, kinds)))
    if query.call_id:
        out.append(Recording.call_id == query.call_id)
    if query.state:
        out.append(Recording.state == query.state)
    return out + _durations(Recording.duration_ms / 1000.0, query)


def _recording_has_number(fragment: str, dialect: str) -> ColumnElement[bool]:
    """The recording's caller number, or its (outer-joined) call's from/to number, has ``fragment``.

    On PostgreSQL written as ``recordings.id IN (by caller number UNION by a
    matching call)``: each part is found by its trigram index and joined back
    by primary key, where the ``OR`` across the outer join made it join every
    call first (BENCHMARKS.md, "Call and recording lists at scale").  SQLite
    has no index for a part of a string and scans either way; the plain ``OR``
    is its better plan.  The same rows: a call matches through the list's own
    ``(id, account_id)`` join.
    """

    def caller_has(recording: type[Recording]) -> ColumnElement[bool]:
        return recording.caller_number.contains(fragment, autoescape=True)

    def call_has(call: type[CallRecord]) -> ColumnElement[bool]:
        return or_(
            call.from_number.contains(fragment, autoescape=True),
            call.to_number.contains(fragment, autoescape=True),
        )

    if dialect != "postgresql":
        return or_(caller_has(Recording), call_has(CallRecord))
    by_caller = aliased(Recording, name="number_recording")
    by_call, call = aliased(Recording, name="number_call_recording"), aliased(CallRecord)
    joined = and_(call.id == by_call.call_id, call.account_id == by_call.account_id)
    matching = union(
        select(by_caller.id).where(caller_has(by_caller)),
        select(by_call.id).join(call, joined).where(call_has(call)),
    )
    return Recording.id.in_(matching)


def sorted_calls(statement: Select[Any], query: ListQuery, dialect: str) -> Select[Any]:
    """``statement`` ordered by ``query.sort`` (ties by id)."""
    key = query.sort.lstrip("-")
    column: SQLColumnExpression[Any] = {
        "started_at": CallRecord.started_at,
        "duration": call_duration(dialect),
        "from": CallRecord.from_number,
        "to": CallRecord.to_number,
    }[key]
    desc = query.sort.startswith("-")
    return statement.order_by(
        column.desc() if desc else column.asc(),
        CallRecord.id.desc() if desc else CallRecord.id.asc(),
    )


def sorted_recordings(statement: Select[Any], query: ListQuery) -> Select[Any]:
    """``statement`` ordered by ``query.sort`` (ties by id)."""
    key = query.sort.lstrip("-")
    column: SQLColumnExpression[Any] = {
        "started_at": Recording.started_at,
        "duration": Recording.duration_ms,
        "from": Recording.caller_number,
        "to": CallRecord.to_number,
    }[key]
    desc = query.sort.startswith("-")
    return statement.order_by(
        column.desc() if desc else column.asc(),
        Recording.id.desc() if desc else Recording.id.asc(),
    )


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((as_utc(end) - as_utc(start)).total_seconds(), 3)


def call_json(row: CallRecord, *, full: bool = False) -> dict[str, Any]:
    """A call for the API; ``full`` adds its legs and IVR API trace."""
    out: dict[str, Any] = {
        "id": row.id,
        "started_at": iso(row.started_at),
        "answered_at": iso(row.answered_at),
        "ended_at": iso(row.ended_at),
        "from_number": row.from_number,
        "to_number": row.to_number,
        "direction": row.direction,
        "disposition": row.disposition,
        "hangup_side": row.hangup_side,
        "duration_s": _seconds(row.started_at, row.ended_at),
        "talk_s": _seconds(row.answered_at, row.ended_at),
        "objects": row.objects,
        "tags": row.tags,
        "recording": row.recording,
    }
    if full:
        out["legs"] = row.legs
        out["ivr_trace"] = row.ivr_trace
    return out


def recording_json(
    row: Recording, call: CallRecord | None, *, full: bool = False
) -> dict[str, Any]:
    """A recording for the API; ``full`` adds peaks, the rule's explanation and consent."""
    out: dict[str, Any] = {
        "id": row.id,
        "call_id": row.call_id,
        "state": row.state,
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "duration_s": row.duration_ms / 1000,
        "format": row.format,
        "mode": row.mode,
        "size_bytes": row.size_bytes,
        "caller_number": row.caller_number,
        "to_number": call.to_number if call else None,
        "direction": call.direction if call else None,
        "rule": row.rule_name,
        "tags": row.tags,
        "legal_hold": row.legal_hold,
        "expires_at": iso(row.expires_at),
    }
    if full:
        out.update(
            peaks=row.peaks,
            explanation=row.explanation,
            consent=row.consent,
            sha256=row.sha256,
            error=row.error,
            objects=call.objects if call else [],
        )
    return out


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    risky = text[:1] in ("=", "@", "\t", "\r") or (
        text[:1] in ("+", "-") and not text[1:].replace(".", "", 1).isdigit()
    )
    return "'" + text if risky else text


CSV_COLUMNS = (
    "id",
    "started_at",
    "direction",
    "from_number",
    "to_number",
    "disposition",
    "duration_s",
    "talk_s",
    "objects",
    "recorded",
)
RECORDING_CSV_COLUMNS = (
    "id",
    "call_id",
    "started_at",
    "duration_s",
    "caller_number",
    "to_number",
    "direction",
    "state",
    "rule",
    "legal_hold",
)


def _csv(header: tuple[str, ...], items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for item in items:
        writer.writerow([_cell(item[column]) for column in header])
    return out.getvalue()


def calls_csv(rows: list[CallRecord]) -> str:
    """The calls as CSV (header row first)."""
    items = []
    for row in rows:
        item = call_json(row)
        item["objects"] = " > ".join(str(hop.get("login", "")) for hop in row.objects)
        item["recorded"] = "yes" if row.recording.get("recorded") else "no"
        items.append(item)
    return _csv(CSV_COLUMNS, items)


def recordings_csv(rows: list[tuple[Recording, CallRecord | None]]) -> str:
    """The recordings as CSV (header row first)."""
    return _csv(RECORDING_CSV_COLUMNS, [recording_json(row, call) for row, call in rows])


async def capped_total(session: AsyncSession, statement: Select[Any]) -> tuple[int, bool]:
    """How many rows ``statement`` matches, counting at most :data:`TOTAL_CAP` + 1 of them.

    The answer is ``(total, exact)``: the exact count when it is at most the
    cap, else ``(TOTAL_CAP, False)`` -- "more than 10 000".  The count reads
    no further than the row after the cap, so it costs the same for a list
    of 11 000 rows as for one of a million.
    """
    limited = statement.limit(TOTAL_CAP + 1).subquery()
    counted = int(await session.scalar(select(func.count()).select_from(limited)) or 0)
    return min(counted, TOTAL_CAP), counted <= TOTAL_CAP
