"""``call_hops`` follows ``calls`` through the database's triggers (migration 0011), both databases.

And the data scopes read from it see exactly the calls the per-element test
of ``calls.objects`` saw.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from callvault.store.db import Database
from callvault.store.models import CallHop, CallRecord
from callvault.store.repository import Accounts
from callvault.web.datascope import call_condition
from callvault.web.security import DataScope

STARTED = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
Hop = tuple[int, int | None, str | None, str | None]
"""``(position, account_id, kind, login)``."""


async def _accounts(db: Database, *slugs: str) -> list[int]:
    async with db.session() as session:
        accounts = Accounts(session)
        ids = [(await accounts.create(slug, slug.upper())).id for slug in slugs]
        await session.commit()
    return ids


def _call(call_id: str, account_id: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": call_id,
        "account_id": account_id,
        "from_number": "48600100001",
        "to_number": "48221234567",
        "direction": "inbound",
        "objects": [],
        "started_at": STARTED,
        "legs": [],
    }
    return row | values


async def _insert(db: Database, *calls: dict[str, Any]) -> None:
    async with db.session() as session:
        await session.execute(insert(CallRecord), list(calls))
        await session.commit()


async def _hops(db: Database, call_id: str) -> list[Hop]:
    async with db.session() as session:
        rows = await session.execute(
            select(CallHop.position, CallHop.account_id, CallHop.kind, CallHop.login)
            .where(CallHop.call_id == call_id)
            .order_by(CallHop.position)
        )
        return [(position, account, kind, login) for position, account, kind, login in rows]


async def test_inserting_a_call_writes_one_hop_per_object(db: Database) -> None:
    (acme,) = await _accounts(db, "acme")
    objects = [
        {"kind": "ivr_menu", "login": "main"},
        {"kind": "queue", "login": "sales"},
        {"kind": "sip_account", "login": "jan"},
    ]
    await _insert(db, _call("c-in", acme, objects=objects))
    assert await _hops(db, "c-in") == [
        (0, acme, "ivr_menu", "main"),
        (1, acme, "queue", "sales"),
        (2, acme, "sip_account", "jan"),
    ]


async def test_an_outbound_or_internal_call_also_has_its_caller(db: Database) -> None:
    (acme,) = await _accounts(db, "acme")
    await _insert(
        db,
        _call("c-out", acme, direction="outbound", from_number="jan",
              objects=[{"kind": "trunk", "login": "main"}]),
        _call("c-int", acme, direction="internal", from_number="jan",
              objects=[{"kind": "sip_account", "login": "ewa"}]),
        _call("c-anon", acme, direction="outbound", from_number="", objects=[]),
        _call("c-inb", acme, direction="inbound", from_number="jan", objects=[]),
    )  # fmt: skip
    assert await _hops(db, "c-out") == [(-1, acme, "caller", "jan"), (0, acme, "trunk", "main")]
    assert await _hops(db, "c-int") == [
        (-1, acme, "caller", "jan"),
        (0, acme, "sip_account", "ewa"),
    ]
    assert await _hops(db, "c-anon") == []
    assert await _hops(db, "c-inb") == []


async def test_odd_elements_keep_their_position_with_no_kind_or_login(db: Database) -> None:
    (acme,) = await _accounts(db, "acme")
    objects = ["sales", {"login": "vip"}, {"kind": "queue", "login": 7}, [1], None, {}]
    await _insert(db, _call("c-odd", acme, objects=objects))
    assert await _hops(db, "c-odd") == [
        (0, acme, None, None),
        (1, acme, None, "vip"),
        (2, acme, "queue", None),
        (3, acme, None, None),
        (4, acme, None, None),
        (5, acme, None, None),
    ]


async def test_updates_rewrite_the_hops_and_deleting_the_call_removes_them(db: Database) -> None:
    acme, beta = await _accounts(db, "acme", "beta")
    await _insert(db, _call("c-1", acme, objects=[{"kind": "queue", "login": "sales"}]))

    async def change(**values: Any) -> None:
        async with db.session() as session:
            await session.execute(update(CallRecord).where(CallRecord.id == "c-1").values(values))
            await session.commit()

    support = [{"kind": "queue", "login": "support"}, {"kind": "sip_account", "login": "adam"}]
    await change(objects=support)
    assert await _hops(db, "c-1") == [
        (0, acme, "queue", "support"),
        (1, acme, "sip_account", "adam"),
    ]
    await change(direction="outbound", from_number="adam", objects=[])
    assert await _hops(db, "c-1") == [(-1, acme, "caller", "adam")]
    await change(from_number="ewa")
    assert await _hops(db, "c-1") == [(-1, acme, "caller", "ewa")]
    await change(account_id=beta)
    assert await _hops(db, "c-1") == [(-1, beta, "caller", "ewa")]
    await change(direction="inbound")
    assert await _hops(db, "c-1") == []
    await change(objects=[{"kind": "queue", "login": "sales"}], disposition="answered")
    await change(disposition="busy")  # not a watched column: the rows stay as they are
    assert await _hops(db, "c-1") == [(0, beta, "queue", "sales")]

    async with db.session() as session:
        await session.execute(delete(CallRecord).where(CallRecord.id == "c-1"))
        await session.commit()
    assert await _hops(db, "c-1") == []


async def test_the_migration_copies_the_calls_already_there(database_url: str) -> None:
    db = Database(database_url)
    try:
        db.migrate("0010")
        (acme,) = await _accounts(db, "acme")
        async with db.session() as session:  # no call_hops yet
            await session.execute(
                insert(CallRecord),
                [
                    _call("c-old", acme, objects=[{"kind": "queue", "login": "sales"}, "x"]),
                    _call("c-placed", acme, direction="internal", from_number="jan",
                          objects=[{"kind": "sip_account", "login": "ewa"}]),
                ],
            )  # fmt: skip
            await session.commit()
        await db.engine.dispose()
        db.migrate()
        assert await _hops(db, "c-old") == [(0, acme, "queue", "sales"), (1, acme, None, None)]
        assert await _hops(db, "c-placed") == [
            (-1, acme, "caller", "jan"),
            (0, acme, "sip_account", "ewa"),
        ]
        await _insert(db, _call("c-new", acme, objects=[{"kind": "queue", "login": "vip"}]))
        assert await _hops(db, "c-new") == [(0, acme, "queue", "vip")]
    finally:
        await db.close()


SCOPE_CALLS: dict[str, tuple[str, str, list[Any]]] = {
    # name: (direction, from_number, objects)
    "answered-by-jan": ("inbound", "4860", [{"kind": "queue", "login": "sales"},
                                            {"kind": "sip_account", "login": "jan"}]),
    "sales-unanswered": ("inbound", "4861", [{"kind": "queue", "login": "sales"}]),
    "support-by-adam": ("inbound", "4862", [{"kind": "queue", "login": "support"},
                                            {"kind": "sip_account", "login": "adam"}]),
    "placed-by-jan": ("outbound", "jan", [{"kind": "trunk", "login": "main"}]),
    "placed-by-ewa": ("outbound", "ewa", [{"kind": "trunk", "login": "main"}]),
    "jan-to-ewa": ("internal", "jan", [{"kind": "sip_account", "login": "ewa"}]),
    "inbound-from-jan": ("inbound", "jan", [{"kind": "queue", "login": "vip"}]),
    "jan-as-queue": ("inbound", "4863", [{"kind": "queue", "login": "jan"}]),
    "jan-no-kind": ("inbound", "4864", [{"login": "jan"}]),
    "ewa-no-kind": ("inbound", "4865", [{"login": "ewa"}, "ewa"]),
    "quoted": ("internal", "o'hara", [{"kind": "sip_account", "login": "back\\slash"}]),
}  # fmt: skip


def _expected(scope: DataScope, direction: str, from_number: str, objects: list[Any]) -> bool:
    """The data scope's rule over ``calls.objects`` itself (the per-element test)."""

    def has(login: str, kind: str | None = None) -> bool:
        return any(
            isinstance(element, dict)
            and element.get("login") == login
            and (kind is None or element.get("kind") == kind)
            for element in objects
        )

    login = scope.sip_login
    own = bool(login) and (
        has(str(login), "sip_account")
        or (direction in ("outbound", "internal") and from_number == login)
    )
    if scope.kind == "own":
        return own
    return own or any(has(name) for name in scope.objects)


@pytest.mark.parametrize(
    "scope",
    [
        DataScope("own", sip_login="jan"),
        DataScope("own", sip_login="ewa", objects=("sales",)),
        DataScope("own", sip_login=None),
        DataScope("team", sip_login="jan", objects=("sales",)),
        DataScope("team", sip_login="jan", objects=("jan", "vip")),
        DataScope("team", sip_login="lena", objects=("ewa",)),
        DataScope("team", sip_login=None, objects=("ewa", "support")),
        DataScope("team", sip_login="jan", objects=()),
        DataScope("team", sip_login=None, objects=()),
        DataScope("own", sip_login="o'hara"),
        DataScope("team", sip_login="x", objects=("back\\slash", "'); DROP TABLE calls; --")),
    ],
    ids=repr,
)
async def test_scopes_see_what_the_objects_say(db: Database, scope: DataScope) -> None:
    acme, beta = await _accounts(db, "acme", "beta")
    await _insert(
        db,
        *(
            _call(f"{account}-{name}", account, direction=direction, from_number=number,
                  objects=objects)
            for account in (acme, beta)
            for name, (direction, number, objects) in SCOPE_CALLS.items()
        ),
    )  # fmt: skip
    async with db.session() as session:
        seen = set(
            await session.scalars(
                select(CallRecord.id).where(
                    CallRecord.account_id == acme, call_condition(scope, acme)
                )
            )
        )
    expected = {
        f"{acme}-{name}"
        for name, (direction, number, objects) in SCOPE_CALLS.items()
        if _expected(scope, direction, number, objects)
    }
    assert seen == expected
