"""The rules, retention and jobs pages over HTTP (SQLite and PostgreSQL).

``/admin/rules`` lists the account's own rules in priority order with their
conditions in words, the forms to add, change and delete one, and the dry
run; ``/admin/retention`` lists the recordings and numbers on legal hold and
the deletion log, and offers the erasure form; ``/jobs`` lists only the
user's own jobs; the recordings list offers "Export ZIP" to who may download.
A consultant may open ``/jobs`` but not the two admin screens; ``?lang=en``
switches the language.
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx

from tests.web.conftest import World

OFFICE = {
    "name": "office-hours",
    "priority": 10,
    "conditions": {"directions": ["inbound"], "schedule": ["mon-fri 08:00-17:00"]},
    "decision": {"mode": "stereo", "format": "opus", "retention_days": 30,
                 "announcement": "recording-notice"},
}  # fmt: skip
NEVER = {"name": "no-internal", "priority": 1, "conditions": {"directions": ["internal"]},
         "decision": {"record": False}}  # fmt: skip


async def _finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(600):
        body: dict[str, Any] = (await client.get(f"/api/v1/jobs/{job_id}")).json()
        if body["state"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def _rows(page: str, attribute: str) -> list[str]:
    return [html.unescape(value) for value in re.findall(rf'<tr {attribute}="([^"]+)"', page)]


async def test_rules_page_lists_the_accounts_rules_in_order_with_the_dry_run(world: World) -> None:
    admin = await world.signed_in("administrator")
    for rule in (OFFICE, NEVER):
        assert (await admin.post("/api/v1/rules", json=rule)).status_code == 201
    beta = await world.signed_in("beta_admin")
    assert (await beta.post("/api/v1/rules", json={"name": "beta-only"})).status_code == 201

    page = await admin.get("/admin/rules")
    assert page.status_code == 200
    text = page.text
    assert _rows(text, "data-rule") == ["no-internal", "office-hours"], "priority order"
    assert "beta-only" not in text
    office = text[text.index('<tr data-rule="office-hours">') :]
    office = office[: office.index("</tr>")]
    for shown in ("kierunek: przychodzące", "czas: mon-fri 08:00-17:00", "nagrywaj",
                  "stereo", "opus", "30 dni", "recording-notice"):  # fmt: skip
        assert shown in office, shown
    never = text[text.index('<tr data-rule="no-internal">') :]
    assert "nigdy nie nagrywaj" in never[: never.index("</tr>")]
    assert 'data-api="DELETE /api/v1/rules/office-hours"' in text
    assert 'data-api="PATCH /api/v1/rules/{rule}"' in text
    assert 'name="rule" value="office-hours"' in text
    assert 'id="rule-form" data-api="POST /api/v1/rules"' in text
    assert 'id="dry-run" data-api="POST /api/v1/rules/test" data-then="show"' in text
    for field in ("from_number", "to_number", "direction", "number", "objects", "at"):
        assert f'name="{field}"' in text, field
    assert 'id="dry-run-explanation"' in text and "/static/admin-rules.js" in text

    english = await admin.get("/admin/rules", params={"lang": "en"})
    assert "Test the rules" in english.text and "direction: inbound" in english.text
    assert "never record" in english.text and '<html lang="en">' in english.text


async def test_retention_page_lists_holds_numbers_and_deletions(world: World) -> None:
    admin = await world.signed_in("administrator")
    own, team, other = (world.recordings[n] for n in ("own", "team", "other"))
    assert (await admin.post("/api/v1/rules", json=OFFICE)).status_code == 201
    assert (await admin.put(f"/api/v1/recordings/{own}/hold")).status_code == 200
    held = await admin.put("/api/v1/holds/numbers/600100003", json={"reason": "sprawa 7/2026"})
    assert held.status_code == 200
    assert (await admin.delete(f"/api/v1/recordings/{team}")).status_code == 204
    beta = await world.signed_in("beta_admin")
    assert (await beta.put(f"/api/v1/recordings/{world.recordings['foreign']}/hold")).is_success
    assert (await beta.put("/api/v1/holds/numbers/600999999")).is_success

    page = await admin.get("/admin/retention")
    assert page.status_code == 200
    text = page.text
    assert _rows(text, "data-rule") == ["office-hours"] and "30 dni" in text
    assert 'href="/admin/rules"' in text
    assert _rows(text, "data-recording") == [own]
    assert f'data-api="DELETE /api/v1/recordings/{own}/hold"' in text
    assert _rows(text, "data-number") == ["48600100003"]
    assert "+48 60 010 00 03" in text and "sprawa 7/2026" in text
    assert 'data-api="DELETE /api/v1/holds/numbers/48600100003"' in text
    assert 'data-api="PUT /api/v1/holds/numbers/{number}"' in text
    assert len(_rows(text, "data-deletion")) == 1 and team in text
    assert "usunięte przez użytkownika" in text and "admin@acme.example" in text
    assert 'data-api="POST /api/v1/jobs/erase" data-then="/jobs"' in text
    assert other not in text and world.recordings["foreign"] not in text

    english = await admin.get("/admin/retention?lang=en")
    assert "Deletion log" in english.text and "deleted by a user" in english.text

    # recordings.delete, but only the sales team's calls
    narrow = await world.signed_in_new_user(
        "sales-admin@acme.example", "administrator", {"kind": "team", "objects": ["sales"]}
    )
    limited = (await narrow.get("/admin/retention")).text
    assert _rows(limited, "data-recording") == [own]
    assert 'id="numbers-need-account"' in limited and 'id="held-numbers"' not in limited
    assert "/api/v1/jobs/erase" not in limited


async def test_jobs_page_lists_only_the_users_own_jobs(world: World) -> None:
    admin = await world.signed_in("administrator")
    export = (await admin.post("/api/v1/jobs/export")).json()
    erase = (await admin.post("/api/v1/jobs/erase", json={"number": "600100003"})).json()
    beta = await world.signed_in("beta_admin")
    theirs = (await beta.post("/api/v1/jobs/export")).json()
    assert (await _finished(admin, export["id"]))["state"] == "done"
    assert (await _finished(admin, erase["id"]))["state"] == "done"
    assert (await _finished(beta, theirs["id"]))["state"] == "done"

    page = await admin.get("/jobs")
    assert page.status_code == 200
    text = page.text
    assert set(_rows(text, "data-job")) == {export["id"], erase["id"]}
    assert theirs["id"] not in text
    assert f'href="/api/v1/jobs/{export["id"]}/result"' in text and "Pobierz ZIP" in text
    assert "Znalezione: 1, usunięte: 1" in text and "nagrania: 3" in text
    assert 'value="100"' in text and "zakończone" in text
    assert 'aria-current="page">Zadania' in text and "/static/jobs.js" in text
    assert (await admin.get(f"/api/v1/jobs/{export['id']}/result")).status_code == 200

    english = await admin.get("/jobs", params={"lang": "en"})
    assert "Background jobs" in english.text and "Download ZIP" in english.text

    lena = await world.signed_in("team_leader")
    assert _rows((await lena.get("/jobs")).text, "data-job") == []


async def test_consultant_may_open_jobs_but_not_the_rules_or_retention(world: World) -> None:
    jan = await world.signed_in("consultant")
    assert (await jan.get("/admin/rules")).status_code == 403
    assert (await jan.get("/admin/retention")).status_code == 403
    jobs = await jan.get("/jobs")
    assert jobs.status_code == 200 and "Nie masz zadań w tle" in jobs.text
    listing = await jan.get("/recordings")
    assert 'id="export-zip"' not in listing.text, "no recordings.download, no export"
    auditor = await world.signed_in("auditor")
    assert (await auditor.get("/admin/retention")).status_code == 403
    anonymous = await world.client()
    assert (await anonymous.get("/jobs")).status_code == 303


async def test_recordings_list_offers_the_zip_export_of_its_filters(world: World) -> None:
    lena = await world.signed_in("team_leader")
    page = await lena.get("/recordings", params={"number": "600100002", "sort": "duration"})
    found = re.search(r'id="export-zip" data-export="([^"]+)"', page.text)
    assert found is not None
    url = html.unescape(found[1])
    assert url == "/api/v1/jobs/export?number=600100002&sort=duration"
    started = await lena.post(url)
    assert started.status_code == 202 and started.json()["params"]["recordings"] == 1
