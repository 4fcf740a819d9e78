"""``/calls`` (historia połączeń) and ``/recordings`` (nagrania): searchable, sorted, paged lists.

Each page calls the REST API's own list function
(:func:`callvault.web.api_calls.list_calls`,
:func:`callvault.web.api_recordings.list_recordings`) with the query the
filter form stands for, so the account, the data scope, the filters and the
counts are exactly the API's.  The CSV export links point at the API.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from callvault.web.api_calls import list_calls
from callvault.web.api_recordings import list_recordings
from callvault.web.context import Context, Session
from callvault.web.listing import ListQuery
from callvault.web.panel.filters import (
    PAGE_SIZES,
    PERIODS,
    STATES,
    TYPES,
    Filters,
    api_params,
    read_filters,
)
from callvault.web.panel.i18n import DASH
from callvault.web.panel.render import Page, signed_in_page

router = APIRouter(include_in_schema=False)
HOP = " \u203a "
"""Between the objects of a call's route."""


def hops(objects: list[Any]) -> str:
    """The objects a call passed, ``sales \u203a jan``."""
    return HOP.join(str(hop.get("login", "")) for hop in objects if isinstance(hop, dict))


def _pages(found: dict[str, Any], filters: Filters) -> dict[str, Any]:
    """The pager: "1-50 of 230", page links; past the count's cap, "of more than 10 000"."""
    total, exact = int(found["total"]), bool(found.get("total_exact", True))
    shown = len(found["items"])
    if not exact and 0 < shown < filters.page_size:  # the last page: now the total is known
        total, exact = (filters.page - 1) * filters.page_size + shown, True
    count = max(1, math.ceil(total / filters.page_size))
    more = not exact and shown == filters.page_size
    return {
        "total": total,
        "exact": exact,
        "page": filters.page,
        "count": count,
        "first": (filters.page - 1) * filters.page_size + 1 if total else 0,
        "last": (filters.page - 1) * filters.page_size + shown,
        "prev": filters.link(page=filters.page - 1) if filters.page > 1 else "",
        "next": filters.link(page=filters.page + 1) if filters.page < count or more else "",
    }


def _form(page: Page, filters: Filters, recordings: bool) -> dict[str, Any]:
    t = page.t
    return {
        "filters": filters,
        "periods": [(value, t(f"period.{value}")) for value in PERIODS],
        "types": [(value, t.label("type", value)) for value in TYPES],
        "states": [(value, t.label("state", value)) for value in STATES] if recordings else [],
        "page_sizes": PAGE_SIZES,
        "problems": [t(key) for key in dict.fromkeys(filters.problems)],
        "timezone": page.t.tz.key,
    }


def _csv_link(path: str, query: ListQuery) -> str:
    return f"{path}?" + urlencode([*api_params(query), ("format", "csv")])


@router.get("/calls")
async def calls_page(request: Request, session: Session, ctx: Context) -> Response:
    """Call history with filters, sorting, pages and the CSV export link."""
    page = await signed_in_page(request, session)
    principal = page.require("calls.read")
    filters, query = read_filters(request.query_params, page.t.tz, datetime.now(UTC))
    found = await list_calls(request, principal, session, ctx, query)
    assert isinstance(found, dict)
    t = page.t
    rows = [
        {
            "id": item["id"],
            "when": t.when(item["started_at"]),
            "iso": t.iso_local(item["started_at"]),
            "direction": item["direction"],
            "direction_label": t.label("direction", item["direction"]),
            "from": item["from_number"] or DASH,
            "to": item["to_number"] or DASH,
            "hops": hops(item["objects"]),
            "disposition": t.label("disposition", item["disposition"]),
            "answered": item["disposition"] == "answered",
            "duration": t.duration(item["duration_s"]),
            "talk": t.duration(item["talk_s"]),
            "recording_id": (item["recording"] or {}).get("recording_id")
            if (item["recording"] or {}).get("recorded")
            else None,
        }
        for item in found["items"]
    ]
    return page.render(
        "calls.html",
        section="calls",
        rows=rows,
        pages=_pages(found, filters),
        csv_url=_csv_link("/api/v1/calls", query),
        **_form(page, filters, recordings=False),
    )


@router.get("/recordings")
async def recordings_page(request: Request, session: Session, ctx: Context) -> Response:
    """The recordings the user may see, with the same filters plus the state."""
    page = await signed_in_page(request, session)
    principal = page.require("recordings.list")
    now = datetime.now(UTC)
    filters, query = read_filters(request.query_params, page.t.tz, now, recordings=True)
    found = await list_recordings(request, principal, session, ctx, query)
    assert isinstance(found, dict)
    t = page.t
    rows = [
        {
            "id": item["id"],
            "call_id": item["call_id"],
            "when": t.when(item["started_at"]),
            "iso": t.iso_local(item["started_at"]),
            "direction": item["direction"],
            "direction_label": t.label("direction", item["direction"]),
            "from": item["caller_number"] or DASH,
            "to": item["to_number"] or DASH,
            "duration": t.duration(item["duration_s"]),
            "state": item["state"],
            "state_label": t.label("state", item["state"]),
            "rule": item["rule"] or DASH,
            "legal_hold": item["legal_hold"],
            "tags": ", ".join(f"{key}={value}" for key, value in sorted(item["tags"].items())),
        }
        for item in found["items"]
    ]
    return page.render(
        "recordings.html",
        section="recordings",
        rows=rows,
        pages=_pages(found, filters),
        csv_url=_csv_link("/api/v1/recordings", query),
        export_url="/api/v1/jobs/export?" + urlencode(api_params(query)),
        deleted=request.query_params.get("deleted", "")[:40],
        **_form(page, filters, recordings=True),
    )
