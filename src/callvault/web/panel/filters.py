"""The list pages' filter form: date presets, call type, durations -> the API's :class:`ListQuery`.

The panel's form speaks in the account's local days (``period`` = today,
yesterday, last 7 days, this month, or a custom range of dates) and one
call *type* (inbound, outbound, internal, queue, IVR); this module turns it
into the very :class:`~callvault.web.listing.ListQuery` the REST API builds
from its own query string (UTC times, ``direction`` or ``kind``), so the
lists, their counts and the CSV export link show the same rows as the API.
Invalid values are dropped and reported (message keys), never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import QueryParams

from callvault.store.models import RecordingState
from callvault.web.listing import ListQuery, list_query

PERIODS = ("today", "yesterday", "7d", "month", "custom")
DIRECTIONS = ("inbound", "outbound", "internal")
KINDS = ("queue", "ivr")
TYPES = DIRECTIONS + KINDS
STATES = tuple(state.value for state in RecordingState)
SORT_KEYS = ("started_at", "duration", "from", "to")
PAGE_SIZES = (25, 50, 100)
_TEXT_FIELDS = {
    "number": ("number", 64),
    "object_login": ("object", 64),
    "call_id": ("call_id", 40),
}
"""Free-text fields: the attribute, its query parameter and its longest value."""


@dataclass
class Filters:
    """The filter form as the user filled it in (strings, as the inputs show them)."""

    period: str = ""
    date_from: str = ""
    date_to: str = ""
    number: str = ""
    object_login: str = ""
    """The ``object`` parameter (a user's or object's login)."""
    type: str = ""
    min_duration: str = ""
    max_duration: str = ""
    call_id: str = ""
    state: str = ""
    sort: str = "-started_at"
    page: int = 1
    page_size: int = 50
    problems: list[str] = field(default_factory=list)
    """Message keys of values that were ignored."""

    def link(self, **changes: object) -> str:
        """The query string of this search with ``changes`` (sort and page links)."""
        values = replace(self, **changes)  # type: ignore[arg-type]
        params = []
        for item in fields(values):
            value = getattr(values, item.name)
            default = item.default
            if item.name == "problems" or value in ("", None) or value == default:
                continue
            params.append(("object" if item.name == "object_login" else item.name, str(value)))
        return "?" + urlencode(params)

    def sort_link(self, key: str) -> str:
        """Sort by ``key``: descending first, then toggling; back to page 1."""
        return self.link(sort=key if self.sort == f"-{key}" else f"-{key}", page=1)

    def sort_state(self, key: str) -> str:
        """``aria-sort`` of a column header."""
        if self.sort == key:
            return "ascending"
        return "descending" if self.sort == f"-{key}" else "none"


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def period_range(
    filters: Filters, tz: ZoneInfo, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The period as UTC ``[from, to)``: local midnights of the account's time zone."""
    today = now.astimezone(tz).date()
    tomorrow = today + timedelta(days=1)
    if filters.period == "today":
        return _midnight(today, tz), _midnight(tomorrow, tz)
    if filters.period == "yesterday":
        return _midnight(today - timedelta(days=1), tz), _midnight(today, tz)
    if filters.period == "7d":
        return _midnight(today - timedelta(days=6), tz), _midnight(tomorrow, tz)
    if filters.period == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return _midnight(first, tz), _midnight(following, tz)
    if filters.period == "custom":
        start, end = _day(filters.date_from), _day(filters.date_to)
        if (filters.date_from and start is None) or (filters.date_to and end is None):
            filters.problems.append("filters.problem.date")
        low = _midnight(start, tz) if start else None
        high = _midnight(end + timedelta(days=1), tz) if end else None
        return low, high
    return None, None


def _seconds(filters: Filters, name: str) -> float | None:
    text = getattr(filters, name).strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:
        filters.problems.append("filters.problem.duration")
        setattr(filters, name, "")
        return None
    return value


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(high, max(low, int(text or default)))
    except ValueError:
        return default


def read_filters(
    params: QueryParams, tz: ZoneInfo, now: datetime, *, recordings: bool = False
) -> tuple[Filters, ListQuery]:
    """The form's values (cleaned) and the API's query for them."""
    get = params.get
    filters = Filters(
        period=get("period", "") if get("period", "") in PERIODS else "",
        date_from=get("date_from", "")[:10],
        date_to=get("date_to", "")[:10],
        type=get("type", "") if get("type", "") in TYPES else "",
        state=get("state", "") if recordings and get("state", "") in STATES else "",
        min_duration=get("min_duration", "")[:12],
        max_duration=get("max_duration", "")[:12],
        page=_int(get("page"), 1, 1, 100_000),
    )
    for name, (param, limit) in _TEXT_FIELDS.items():
        setattr(filters, name, get(param, "").strip()[:limit])
    size = _int(get("page_size"), 50, 1, 200)
    filters.page_size = size if size in PAGE_SIZES else 50
    sort = get("sort", "-started_at")
    filters.sort = sort if sort.lstrip("-") in SORT_KEYS else "-started_at"
    low, high = period_range(filters, tz, now)
    query = list_query(
        date_from=low,
        date_to=high,
        number=filters.number or None,
        direction=filters.type if filters.type in DIRECTIONS else None,  # type: ignore[arg-type]
        object_login=filters.object_login or None,
        kind=filters.type if filters.type in KINDS else None,  # type: ignore[arg-type]
        min_duration=_seconds(filters, "min_duration"),
        max_duration=_seconds(filters, "max_duration"),
        call_id=filters.call_id or None,
        state=filters.state or None,
        sort=filters.sort,
        page=filters.page,
        page_size=filters.page_size,
    )
    return filters, query


def api_params(query: ListQuery) -> list[tuple[str, str]]:
    """The REST API's query string for ``query`` (the CSV export link)."""
    out = [
        ("from", query.date_from.isoformat() if query.date_from else None),
        ("to", query.date_to.isoformat() if query.date_to else None),
        ("number", query.number),
        ("direction", query.direction),
        ("object", query.object_login),
        ("kind", query.kind),
        ("min_duration", query.min_duration),
        ("max_duration", query.max_duration),
        ("call_id", query.call_id),
        ("state", query.state),
        ("sort", query.sort),
    ]
    return [(key, str(value)) for key, value in out if value is not None]
