"""The source guard writes its bans through a store -- a fake one here.

A new ban is written in the background, on the wall clock while the guard
counts on its own; a failing or hanging store never breaks the guard (the
packet path stays synchronous, the write is logged and retried); refreshing
from the store adopts other nodes' bans and drops the ones lifted there
without undoing this node's unwritten ones; the maintenance task purges.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from callvault.engine import guard as guard_module
from callvault.engine.guard import BanRecord, SourceGuard

WALL = 1_800_000_000.0
"""The injected wall clock (seconds since the epoch)."""
MONO = 5_000.0
"""The injected guard clock (monotonic)."""
ATTACKER = "198.51.100.7"


@dataclass(frozen=True)
class Row:
    address: str
    reason: str
    banned_at: float
    expires_at: float
    node: str | None


class FakeStore:
    """The ``source_bans`` table as a dict; ``fail``/``hang`` make the next calls misbehave."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.saves: list[BanRecord] = []
        self.lifts: list[str] = []
        self.purges: list[float] = []
        self.fail = False
        self.hang = False

    async def _trouble(self) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail:
            raise ConnectionError("database is down")

    async def save(self, ban: BanRecord) -> None:
        await self._trouble()
        self.saves.append(ban)
        self.put(ban.address, ban.expires_at, ban.node, ban.reason, ban.banned_at)

    def put(
        self,
        address: str,
        expires_at: float,
        node: str | None = "other-node",
        reason: str = "5 failed authentications in 60 s",
        banned_at: float = WALL - 10,
    ) -> None:
        self.rows[address] = Row(address, reason, banned_at, expires_at, node)

    async def lift(self, address: str) -> None:
        await self._trouble()
        self.lifts.append(address)
        self.rows.pop(address, None)

    async def load_live(self, now: float) -> list[Row]:
        await self._trouble()
        return [row for row in self.rows.values() if row.expires_at > now]

    async def purge(self, now: float) -> int:
        await self._trouble()
        self.purges.append(now)
        return 0


def _guard(store: FakeStore) -> SourceGuard:
    return SourceGuard(
        max_auth_failures=3, ban_s=600, store=store, clock=lambda: MONO,
        wall_clock=lambda: WALL, node_name="this-node",
    )  # fmt: skip


def _ban(guard: SourceGuard, address: str = ATTACKER) -> None:
    for _ in range(guard.max_failures):
        guard.auth_failed(address)


async def _settle(guard: SourceGuard) -> None:
    """Let the background writes run."""
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_new_ban_is_written_in_the_background_on_the_wall_clock() -> None:
    store = FakeStore()
    guard = _guard(store)
    await guard.start(refresh_s=None)
    _ban(guard)
    assert not guard.admit(ATTACKER), "in memory at once: the packet path does not wait"
    assert store.saves == [], "written in the background"
    await _settle(guard)
    assert store.saves == [
        BanRecord(ATTACKER, "3 failed authentications in 60 s", WALL, WALL + 600, "this-node")
    ]
    [ban] = guard.bans()
    assert (ban.until, ban.started, ban.node) == (MONO + 600, MONO, "this-node")
    assert guard.unban(ATTACKER)
    await _settle(guard)
    assert store.lifts == [ATTACKER] and store.rows == {}
    assert guard.admit(ATTACKER)
    await guard.stop()


async def test_bans_before_the_start_are_written_by_it() -> None:
    store = FakeStore()
    guard = _guard(store)
    _ban(guard)  # not started (a node being built, a test): nothing runs in the background
    await _settle(guard)
    assert store.saves == []
    await guard.start(refresh_s=None)
    await _settle(guard)
    assert [ban.address for ban in store.saves] == [ATTACKER]
    assert not guard.admit(ATTACKER)
    await guard.stop()


async def test_a_failing_store_never_breaks_the_guard_and_the_write_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore()
    store.fail = True
    guard = _guard(store)
    with caplog.at_level(logging.WARNING, "callvault.guard"):
        await guard.start(refresh_s=None)  # the load fails too: logged, the guard starts
        _ban(guard)
        assert not guard.admit(ATTACKER)
        assert guard.admit("198.51.100.8")
        await _settle(guard)
    assert "cannot load the stored bans: database is down" in caplog.text
    assert f"saving the ban of {ATTACKER} failed: database is down" in caplog.text
    assert not guard.admit(ATTACKER), "still banned in memory"
    store.fail = False
    await guard.stop()  # retries what is pending (so does the maintenance task)
    assert list(store.rows) == [ATTACKER]


async def test_a_hanging_store_is_abandoned_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(guard_module, "STORE_TIMEOUT_S", 0.05)
    store = FakeStore()
    store.hang = True
    guard = _guard(store)
    with caplog.at_level(logging.WARNING, "callvault.guard"):
        await asyncio.wait_for(guard.start(refresh_s=None), 2)  # a hanging load: start goes on
        _ban(guard)
        assert not guard.admit(ATTACKER), "dropped while the write hangs"
        await asyncio.sleep(0.2)
    assert "cannot load the stored bans: TimeoutError" in caplog.text
    assert f"saving the ban of {ATTACKER} failed: TimeoutError" in caplog.text
    store.hang = False
    await guard.stop()
    assert list(store.rows) == [ATTACKER]


async def test_a_ban_made_without_a_running_loop_is_written_by_stop() -> None:
    store = FakeStore()
    guard = _guard(store)

    def ban_outside_the_loop() -> None:
        _ban(guard)  # no event loop in this thread: nothing is scheduled

    await asyncio.to_thread(ban_outside_the_loop)
    assert not guard.admit(ATTACKER) and store.rows == {}
    await guard.stop()
    assert list(store.rows) == [ATTACKER]


async def test_refresh_adopts_other_nodes_bans_but_keeps_unwritten_local_ones() -> None:
    store = FakeStore()
    guard = _guard(store)
    await guard.start(refresh_s=None)
    store.put("203.0.113.5", WALL + 300)  # banned on another node, 300 s left
    store.put("203.0.113.6", WALL - 1)  # expired
    assert guard.admit("203.0.113.5")
    assert await guard.restore() == 1
    assert not guard.admit("203.0.113.5"), "another node's ban holds here"
    assert guard.admit("203.0.113.6")
    [ban] = guard.bans()
    assert (ban.address, ban.node, ban.until) == ("203.0.113.5", "other-node", MONO + 300)
    assert ban.started == MONO - 10
    store.rows.pop("203.0.113.5")  # lifted over there
    await guard.restore()
    assert guard.admit("203.0.113.5") and guard.bans() == []

    # a ban made here while the store is read wins over the (older) snapshot
    reading = asyncio.Event()
    release = asyncio.Event()
    load_live = store.load_live

    async def slow_load(now: float) -> list[Row]:
        rows = await load_live(now)
        reading.set()
        await release.wait()
        return rows

    store.load_live = slow_load  # type: ignore[method-assign]
    refresh = asyncio.create_task(guard.restore())
    await reading.wait()
    _ban(guard)
    release.set()
    await refresh
    assert not guard.admit(ATTACKER)
    store.load_live = load_live  # type: ignore[method-assign]

    # a ban whose write failed is not dropped by a refresh that does not see it
    store.fail = True
    _ban(guard, "198.51.100.9")
    await _settle(guard)
    store.fail = False
    store.rows.pop(ATTACKER)
    store.rows.pop("198.51.100.9", None)
    await guard.restore()
    assert {ban.address for ban in guard.bans()} == {"198.51.100.9"}
    await guard.stop()
    assert set(store.rows) == {"198.51.100.9", "203.0.113.6"}, "written at last (and the expired)"


async def test_the_maintenance_task_refreshes_purges_and_stops() -> None:
    store = FakeStore()
    guard = _guard(store)
    await guard.start(refresh_s=0.01, purge_s=0.01)
    store.put("203.0.113.5", WALL + 300)
    for _ in range(200):
        if store.purges and not guard.admit("203.0.113.5"):
            break
        await asyncio.sleep(0.01)
    await guard.stop()
    assert store.purges and store.purges[0] == WALL
    assert not guard.admit("203.0.113.5"), "refreshed: the other node's ban arrived"
    count = len(store.purges)
    await asyncio.sleep(0.05)
    assert len(store.purges) == count, "stopped"


async def test_without_a_store_nothing_changes() -> None:
    guard = SourceGuard(max_auth_failures=1, clock=lambda: MONO)
    await guard.start()
    guard.auth_failed(ATTACKER)
    assert not guard.admit(ATTACKER)
    assert await guard.restore() == 0
    await guard.stop()
