"""The list searches rewritten for the listing indexes (migration 0008) find the same rows.

On PostgreSQL a recording's number search is a ``UNION`` of "by caller
number" and "by a matching call" (and the team scope tests ``objects`` with
``jsonb`` containment); SQLite keeps the plain ``OR``.  Checked on both: a
match through the call's number only, through the caller number only (no
call record yet), a literal ``%``, and the team and account scopes.
"""

from __future__ import annotations

import pytest

from callvault.web import listing
from callvault.web.panel import filters
from tests.web.conftest import World


async def _recording_ids(world: World, who: str, number: str) -> set[str]:
    client = await world.signed_in(who)
    answer = await client.get("/api/v1/recordings", params={"number": number})
    assert answer.status_code == 200, answer.text
    return {item["id"] for item in answer.json()["items"]}


async def test_recording_number_search_finds_both_ways_within_the_scope(world: World) -> None:
    acme = {world.recordings[name] for name in ("own", "team", "other")}
    # "1234567" is only in the calls' to_number (48221234567), not in any caller number.
    assert await _recording_ids(world, "administrator", "1234567") == acme
    sales = {world.recordings["own"], world.recordings["team"]}
    assert await _recording_ids(world, "team_leader", "1234567") == sales
    # No call record (yet): found by its caller number alone, at account scope.
    orphan = await world.add_recording("orphan", "acme", caller_number="48700800900")
    assert await _recording_ids(world, "administrator", "800900") == {orphan}
    assert await _recording_ids(world, "team_leader", "800900") == set()
    assert await _recording_ids(world, "administrator", "%") == set()
    assert await _recording_ids(world, "beta_admin", "1234567") == {world.recordings["foreign"]}


async def test_totals_are_counted_up_to_the_cap_and_the_pager_says_more_than(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await world.signed_in("administrator")
    exact = (await admin.get("/api/v1/calls", params={"page_size": 1})).json()
    calls = exact["total"]
    assert exact["total_exact"] is True and calls >= 3
    monkeypatch.setattr(listing, "TOTAL_CAP", calls - 1)
    capped = (await admin.get("/api/v1/calls", params={"page_size": 1})).json()
    assert capped["total"] == calls - 1 and capped["total_exact"] is False
    assert len(capped["items"]) == 1
    monkeypatch.setattr(listing, "TOTAL_CAP", 1)
    recordings = (await admin.get("/api/v1/recordings", params={"page_size": 1})).json()
    assert recordings["total"] == 1 and recordings["total_exact"] is False
    # The panel: a full page says "more than"; the last page knows the total again.
    monkeypatch.setattr(filters, "PAGE_SIZES", (1, 25))
    first = await admin.get("/calls", params={"page_size": 1, "lang": "en"})
    assert "1\u20131 of more than 1" in first.text and 'rel="next"' in first.text
    assert "Page 1<" in first.text
    whole = await admin.get("/calls", params={"page_size": 25, "lang": "en"})
    assert f"1\u2013{calls} of {calls}<" in whole.text and 'rel="next"' not in whole.text
    monkeypatch.setattr(listing, "TOTAL_CAP", calls)
    counted = (await admin.get("/api/v1/calls", params={"page_size": 1})).json()
    assert counted["total"] == calls and counted["total_exact"] is True
