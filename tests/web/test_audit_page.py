"""``/audit`` (dziennik audytu) over HTTP on SQLite and PostgreSQL: the account's entries only,
filters, paging links, the CSV link, the hash-chain check (and a tampered entry), the scope.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from callvault.store.identity import AuditEntry
from tests.web.conftest import World


async def test_auditor_sees_the_accounts_log_filters_it_and_checks_the_chain(
    world: World,
) -> None:
    await world.signed_in("beta_admin")  # another account's sign-in
    jan = await world.signed_in("consultant")
    await jan.get(f"/api/v1/recordings/{world.recordings['own']}/audio")  # a listen
    auditor = await world.signed_in("auditor")
    page = await auditor.get("/audit")
    assert page.status_code == 200 and "Dziennik audytu" in page.text
    assert 'href="/audit"' in page.text  # in the menu
    actors = set(re.findall(r"<td>([^<]+@[^<]+)</td>", page.text))
    assert {"jan@acme.example", "audit@acme.example"} <= actors
    assert "admin@beta.example" not in page.text
    assert "odsłuchanie nagrania" in page.text  # the listen, labelled in Polish

    listens = await auditor.get("/audit", params={"action": "recording.listen", "lang": "en"})
    rows = re.findall(r'<tr data-entry="\d+">', listens.text)
    assert len(rows) == 1 and "recording listened to" in listens.text
    assert f"recording {world.recordings['own']}" in listens.text
    assert "/api/v1/audit/export?action=recording.listen" in listens.text
    by_actor = await auditor.get("/audit", params={"actor": "jan@", "date_from": "2000-01-01"})
    assert set(re.findall(r"<td>([^<]+@[^<]+)</td>", by_actor.text)) == {"jan@acme.example"}
    assert "from=2000-01-01T00%3A00%3A00%2B01%3A00" in by_actor.text  # the account's midnight
    nothing = await auditor.get("/audit", params={"date_to": "2000-01-01"})
    assert 'data-entry="' not in nothing.text

    checked = await auditor.get("/audit", params={"verify": "1"})
    assert 'id="audit-chain"' in checked.text and "The hash chain holds" in checked.text
    async with world.db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "recording.listen")
        )
        assert entry is not None
        entry.actor = "someone-else@acme.example"
        tampered_id = entry.id
        await session.commit()
    broken = await auditor.get("/audit", params={"verify": "1", "lang": "en"})
    assert f"breaks at entry {tampered_id}" in broken.text

    assert (await jan.get("/audit")).status_code == 403
    assert 'href="/audit"' not in (await jan.get("/calls")).text
