"""``/reports`` (raporty) over HTTP on SQLite and PostgreSQL: the API's numbers per label,
object and local day, the user's data scope, the period form and the CSV link."""

from __future__ import annotations

import re

from tests.web.conftest import World
from tests.web.test_reports_api import _seed

DAYS = {"date_from": "2026-11-26", "date_to": "2026-11-28"}


def _rows(html: str) -> dict[str, list[str]]:
    table = html.split('id="report"', 1)[1]
    row = r'<th scope="row">([^<]+)</th>\s*((?:<td class="num">[^<]*</td>\s*)+)'
    found = re.findall(row, table)
    return {label: re.findall(r'<td class="num">([^<]*)</td>', cells) for label, cells in found}


async def test_reports_page_counts_per_label_object_and_day_within_the_scope(
    world: World,
) -> None:
    await _seed(world)
    admin = await world.signed_in("administrator")
    numbers = await admin.get("/reports", params=DAYS)
    assert numbers.status_code == 200 and "Raporty" in numbers.text
    assert _rows(numbers.text) == {
        "autumn": ["2", "1", "1", "50 %", "0:10"],
        "winter": ["2", "2", "0", "100 %", "0:25"],
    }
    assert "/api/v1/reports/numbers?since=2026-11-26T00%3A00%3A00%2B01%3A00" in numbers.text
    assert "until=2026-11-29T00%3A00%3A00%2B01%3A00&amp;format=csv" in numbers.text
    objects = await admin.get("/reports", params={**DAYS, "report": "objects", "lang": "en"})
    by_object = _rows(objects.text)
    assert by_object["queue: sales"][:3] == ["3", "2", "1"]
    assert by_object["SIP account: jan"][:2] == ["1", "1"]
    days = await admin.get("/reports", params={**DAYS, "report": "days"})
    assert [cells[0] for cells in _rows(days.text).values()] == ["3", "1", "1"]
    assert list(_rows(days.text)) == ["2026-11-26", "2026-11-27", "2026-11-28"]

    jan = await world.signed_in("consultant")
    own = await jan.get("/reports", params=DAYS)
    assert _rows(own.text) == {"autumn": ["1", "1", "0", "100 %", "0:10"]}
    auditor = await world.signed_in("auditor")
    assert (await auditor.get("/reports", params=DAYS)).status_code == 200
    empty = await admin.get("/reports", params={"date_from": "2020-01-01", "date_to": "2020-01-02"})
    assert "Brak połączeń" in empty.text or "No calls" in empty.text
