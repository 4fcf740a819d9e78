"""``/reports`` (raporty): calls per number label (campaign), per object and per day.

The page calls the REST API's own report functions
(:mod:`callvault.web.api_reports`: the user's data scope, the account's time
zone, answered/missed, the average wait) for the chosen local days, and
links the same report as CSV (the export is audited by the API).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response

from callvault.web.api_reports import DEFAULT_DAYS, MAX_DAYS, by_day, by_number, by_object
from callvault.web.context import Session
from callvault.web.panel.i18n import DASH, Translator
from callvault.web.panel.render import signed_in_page

router = APIRouter(include_in_schema=False)
REPORTS = {"numbers": by_number, "objects": by_object, "days": by_day}
"""Report name: the API function that makes it."""


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _counts(t: Translator, row: dict[str, Any], most: int) -> dict[str, Any]:
    """A row's counts as the page shows them, and its bar's width against the busiest row."""
    rate = row["answer_rate"]
    wait = row["avg_wait_s"]
    return {
        "calls": row["calls"],
        "answered": row["answered"],
        "missed": row["missed"],
        "rate": f"{round(rate * 100)} %" if rate is not None else DASH,
        "wait": t.duration(wait) if wait is not None else DASH,
        "bar": round(100 * row["calls"] / most) if most else 0,
    }


def _label(t: Translator, report: str, row: dict[str, Any]) -> str:
    if report == "numbers":
        return str(row["label"] or t("reports.no_label"))
    if report == "objects":
        return f"{t.label('object', row['kind'])}: {row['login']}"
    return t.when(datetime.combine(date.fromisoformat(row["day"]), time(12), t.tz))[:10]


@router.get("/reports")
async def reports_page(request: Request, session: Session) -> Response:
    """One report over the chosen local days (default: the last 30), with totals and a CSV link."""
    page = await signed_in_page(request, session)
    principal = page.require("calls.read")
    t = page.t
    report = request.query_params.get("report", "numbers")
    report = report if report in REPORTS else "numbers"
    today = datetime.now(UTC).astimezone(t.tz).date()
    last = _day(request.query_params.get("date_to", "")) or today
    first = _day(request.query_params.get("date_from", "")) or last - timedelta(DEFAULT_DAYS - 1)
    first = max(min(first, last), last - timedelta(MAX_DAYS - 1))
    since = datetime.combine(first, time(), t.tz)
    until = datetime.combine(last + timedelta(days=1), time(), t.tz)
    body = await REPORTS[report](request, principal, session, since, until, "json")
    assert isinstance(body, dict)
    most = max((row["calls"] for row in body["rows"]), default=0)
    rows = [{"label": _label(t, report, row), **_counts(t, row, most)} for row in body["rows"]]
    form = {"report": report, "date_from": first.isoformat(), "date_to": last.isoformat()}
    api = {"since": since.isoformat(), "until": until.isoformat(), "format": "csv"}
    return page.render(
        "reports.html",
        section="reports",
        form=form,
        reports=[(name, t(f"reports.kind.{name}")) for name in REPORTS],
        rows=rows,
        total=_counts(t, body["total"], 0),
        truncated=body["truncated"],
        timezone=body["timezone"],
        csv_url=f"/api/v1/reports/{report}?" + urlencode(api),
    )
