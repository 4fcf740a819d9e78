"""``/api/v1/reports``: calls per number label, object and day; answered, missed, wait; CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callvault.store.identity import AuditEntry
from callvault.store.models import CallRecord
from callvault.store.repository import Accounts
from tests.web.conftest import World
from tests.web.servers import token_for

PERIOD = {"since": "2026-11-26T00:00:00", "until": "2026-11-29T00:00:00"}
CALLS = [
    # id, account, to, objects, started (UTC), wait s (None: missed), direction, from
    ("n1", "acme", "48221234567", ["queue:sales", "sip_account:jan"], (26, 9, 0), 10, "inbound"),
    ("n2", "acme", "+48221234567", ["queue:sales"], (26, 9, 30), None, "inbound"),
    ("n3", "acme", "48221234568", ["ivr_menu:main", "queue:sales", "sip_account:ewa"],
     (26, 14, 0), 30, "inbound"),
    ("n4", "acme", "48221234568", ["queue:support", "sip_account:adam"], (27, 23, 30), 20,
     "inbound"),
    ("n5", "acme", "48500600700", ["trunk:main"], (27, 12, 0), 5, "outbound"),
    ("n6", "beta", "48221234567", ["queue:sales"], (26, 9, 0), 1, "inbound"),
]  # fmt: skip


async def _seed(world: World) -> None:
    async with world.db.session() as session:
        accounts = Accounts(session)
        scope = accounts.scope(await accounts.get("acme"))
        await scope.add_number("221234567", label="autumn")
        await scope.add_number("221234568", label="winter")
        await scope.add_number("221234569", label="unused")
        for call_id, account, to, hops, (day, hour, minute), wait, direction in CALLS:
            started = datetime(2026, 11, day, hour, minute, tzinfo=UTC)
            session.add(
                CallRecord(
                    id=f"c-{call_id}",
                    account_id=world.accounts[account].id,
                    from_number="jan" if direction == "outbound" else "48600100009",
                    to_number=to,
                    direction=direction,
                    objects=[{"kind": h.split(":")[0], "login": h.split(":")[1]} for h in hops],
                    disposition="answered" if wait is not None else "no answer",
                    started_at=started,
                    answered_at=started + timedelta(seconds=wait) if wait is not None else None,
                    ended_at=started + timedelta(seconds=60),
                )
            )
        await session.commit()


def counts(calls: int, answered: int, wait: float | None) -> dict[str, object]:
    return {
        "calls": calls,
        "answered": answered,
        "missed": calls - answered,
        "answer_rate": round(answered / calls, 4),
        "avg_wait_s": wait,
    }


async def test_reports_count_per_label_object_and_day(world: World) -> None:
    await _seed(world)
    admin = await world.signed_in("administrator")
    numbers = (await admin.get("/api/v1/reports/numbers", params=PERIOD)).json()
    assert numbers["timezone"] == "Europe/Warsaw"
    assert numbers["since"] == "2026-11-26T00:00:00+01:00"
    assert numbers["total"] == counts(4, 3, 20.0)
    assert numbers["rows"] == [
        {"label": "autumn", "numbers": ["48221234567"], **counts(2, 1, 10.0)},
        {"label": "winter", "numbers": ["48221234568"], **counts(2, 2, 25.0)},
    ]
    objects = (await admin.get("/api/v1/reports/objects", params=PERIOD)).json()
    rows = {(r["kind"], r["login"]): r for r in objects["rows"]}
    assert rows[("queue", "sales")] | {"kind": "", "login": ""} == {
        "kind": "",
        "login": "",
        **counts(3, 2, 20.0),
    }
    assert rows[("trunk", "main")]["calls"] == 1 and rows[("ivr_menu", "main")]["calls"] == 1
    assert objects["rows"][0]["login"] == "sales", "busiest first"
    assert objects["total"] == counts(5, 4, round(65 / 4, 1))
    days = (await admin.get("/api/v1/reports/days", params=PERIOD)).json()
    assert [(r["day"], r["calls"], r["missed"]) for r in days["rows"]] == [
        ("2026-11-26", 3, 1),
        ("2026-11-27", 1, 0),
        ("2026-11-28", 1, 0),  # 23:30 UTC is past midnight in Warsaw
    ]

    jan = await world.signed_in("consultant")
    own = (await jan.get("/api/v1/reports/days", params=PERIOD)).json()
    assert [(r["day"], r["calls"]) for r in own["rows"]] == [("2026-11-26", 1), ("2026-11-27", 1)]
    own_numbers = (await jan.get("/api/v1/reports/numbers", params=PERIOD)).json()
    assert own_numbers["rows"] == [
        {"label": "autumn", "numbers": ["48221234567"], **counts(1, 1, 10.0)}
    ]
    beta = await world.signed_in("beta_admin")
    theirs = (await beta.get("/api/v1/reports/objects", params=PERIOD)).json()
    assert theirs["total"]["calls"] == 1 and theirs["rows"][0]["login"] == "sales"


async def test_csv_is_audited(world: World) -> None:
    await _seed(world)
    admin = await world.signed_in("administrator")
    answer = await admin.get("/api/v1/reports/numbers", params={**PERIOD, "format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="calls-by-number.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == [
        "label",
        "numbers",
        "calls",
        "answered",
        "missed",
        "answer_rate",
        "avg_wait_s",
    ]
    assert rows[1] == ["autumn", "48221234567", "2", "1", "1", "0.5", "10.0"]
    days = await admin.get("/api/v1/reports/days", params={**PERIOD, "format": "csv"})
    assert days.text.splitlines()[1] == "2026-11-26,3,2,1,0.6667,20.0"
    async with world.db.session() as session:
        targets = list(
            await session.scalars(
                select(AuditEntry.target_id).where(AuditEntry.action == "reports.export")
            )
        )
    assert targets == ["number", "day"]


async def test_periods_and_scopes(world: World) -> None:
    admin = await world.signed_in("administrator")
    backwards = await admin.get(
        "/api/v1/reports/days", params={"since": "2026-11-29", "until": "2026-11-26"}
    )
    assert backwards.status_code == 422
    too_long = await admin.get(
        "/api/v1/reports/days", params={"since": "2024-01-01", "until": "2026-01-01"}
    )
    assert too_long.status_code == 422 and "366" in too_long.json()["message"]
    recent = await admin.get("/api/v1/reports/days")
    assert recent.status_code == 200 and recent.json()["truncated"] is False
    seeded = await admin.get(
        "/api/v1/reports/objects", params={"since": "2026-11-25", "until": "2026-11-26"}
    )
    assert seeded.json()["total"]["calls"] == 4, "the fixture's own calls"
    token = await token_for(world, "auditor", ["audit.read"])
    client = await world.client()
    headers = {"Authorization": f"Bearer {token}"}
    refused = await client.get("/api/v1/reports/days", headers=headers)
    assert refused.status_code == 403
    assert (await client.get("/api/v1/reports/numbers")).status_code == 401
