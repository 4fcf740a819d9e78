"""The source guard's bans in the database (``source_bans``), on SQLite and PostgreSQL.

The store round trip (upsert, live-only load, lift, purge), and a second
guard started on the same database -- a restarted node, or another node --
that drops packets from the address the first one banned.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from callvault.engine.guard import BanRecord, SourceGuard
from callvault.store.bans import SourceBan, SourceBanStore
from callvault.store.db import Database

NOW = 1_800_000_000.0


async def _rows(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SourceBan)) or 0)


async def test_save_upserts_loads_live_bans_lifts_and_purges(db: Database) -> None:
    store = SourceBanStore(db)
    await store.save(BanRecord("198.51.100.7", "5 failed authentications", NOW, NOW + 600, "n1"))
    await store.save(BanRecord("2001:db8::7", "x" * 300, NOW, NOW + 30, None))
    await store.save(BanRecord("198.51.100.7", "again", NOW + 10, NOW + 900, "n2"))  # upsert
    assert await _rows(db) == 2
    loaded = {ban.address: ban for ban in await store.load_live(NOW)}
    assert set(loaded) == {"198.51.100.7", "2001:db8::7"}
    first = loaded["198.51.100.7"]
    assert (first.reason, first.node) == ("again", "n2")
    assert first.banned_at == pytest.approx(NOW + 10, abs=1e-3)
    assert first.expires_at == pytest.approx(NOW + 900, abs=1e-3)
    assert loaded["2001:db8::7"].reason == "x" * 200, "cut to the column"
    assert loaded["2001:db8::7"].node is None
    # 60 s later the 30 s ban is not live any more, and the purge deletes it
    assert [ban.address for ban in await store.load_live(NOW + 60)] == ["198.51.100.7"]
    assert await store.purge(NOW + 60) == 1
    assert await _rows(db) == 1
    await store.lift("203.0.113.1")  # nothing to lift: no error
    await store.lift("198.51.100.7")
    assert await store.load_live(NOW) == []
    assert await _rows(db) == 0


async def test_a_second_guard_on_the_same_database_drops_the_banned_address(db: Database) -> None:
    first = SourceGuard(max_auth_failures=3, ban_s=600, store=SourceBanStore(db), node_name="n1")
    await first.start(refresh_s=None)
    for _ in range(3):
        first.auth_failed("198.51.100.7")
    assert not first.admit("198.51.100.7")
    await first.stop()  # waits for the background write
    [row] = await SourceBanStore(db).load_live(time.time())
    assert (row.address, row.node) == ("198.51.100.7", "n1")
    assert row.expires_at == pytest.approx(time.time() + 600, abs=5)

    second = SourceGuard(max_auth_failures=3, ban_s=600, store=SourceBanStore(db), node_name="n2")
    assert second.admit("198.51.100.8"), "memory only until started"
    await second.start(refresh_s=None)
    try:
        assert not second.admit("198.51.100.7"), "banned before the restart: dropped"
        assert second.admit("198.51.100.8"), "another address is let in"
        [ban] = second.bans()
        assert ban.address == "198.51.100.7" and ban.node == "n1"
        assert "3 failed authentications" in ban.reason
        # the guard's own (monotonic) clock: the ban ends about 600 s from now
        assert ban.until - time.monotonic() == pytest.approx(600, abs=5)
        assert second.unban("198.51.100.7")
    finally:
        await second.stop()
    assert await SourceBanStore(db).load_live(time.time()) == [], "the lift is written through"
