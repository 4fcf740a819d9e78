"""Defences of the SIP port: rate limits for strangers, bans for password guessers.

Port 5060 on the internet sees scanners (``svmap``), extension enumerators
(``svwar``) and password crackers (``svcrack``) all day.  :class:`SourceGuard`
sits in front of the parser: a banned address is dropped without a reply,
an unknown address gets a token bucket, and repeated failed authentications
ban the address for a while.  Phones with a live registration and trunk
addresses are trusted and never throttled.

Persistence (as the registrar's bindings).  The in-memory dict is what
:meth:`SourceGuard.admit` reads -- the packet path never waits for the
database.  With a :class:`BanStore` (``callvault.store.bans``, the
``source_bans`` table), :meth:`SourceGuard.start` loads the live bans; from
then on a new ban, or a lifted one, is written through in a background task
(bounded by a timeout; a failure is logged with the address and retried
later), and a maintenance task refreshes the memory from the table every
30 s -- bans made by other nodes on the same database appear -- and purges
expired rows every 60 s.  Bans made before the start are written by it.  The
guard keeps time on its own (monotonic) clock; the table holds wall-clock
UTC, converted at the boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("callvault.guard")

STORE_TIMEOUT_S = 5.0
"""A store call slower than this is abandoned (a write is retried by the maintenance task)."""
REFRESH_S = 30.0
PURGE_S = 60.0


@dataclass
class Ban:
    """One banned address (``until``/``started`` on the guard's clock)."""

    address: str
    until: float
    reason: str
    started: float
    node: str | None = None
    """The node that banned it (its host name), when known."""


@dataclass(frozen=True)
class BanRecord:
    """A ban as the store keeps it: times in seconds since the epoch (UTC)."""

    address: str
    reason: str
    banned_at: float
    expires_at: float
    node: str | None


class StoredBan(Protocol):
    """A ban as the store gives it back (plain values; times in epoch seconds)."""

    @property
    def address(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def banned_at(self) -> float: ...
    @property
    def expires_at(self) -> float: ...
    @property
    def node(self) -> str | None: ...


class BanStore(Protocol):
    """Where the guard keeps its bans across restarts and nodes (``store.bans``)."""

    async def save(self, ban: BanRecord) -> None:
        """Insert or replace the ban of ``ban.address``."""

    async def lift(self, address: str) -> None:
        """Delete the ban of ``address`` (if any)."""

    async def load_live(self, now: float) -> Sequence[StoredBan]:
        """Every ban not expired at ``now``."""

    async def purge(self, now: float) -> int:
        """Delete the bans expired at ``now``; how many."""


class SourceGuard:
    """Admission control per source address (monotonic clock injected for tests)."""

    def __init__(
        self,
        *,
        rate_per_s: float = 20.0,
        burst: int = 40,
        max_auth_failures: int = 5,
        failure_window_s: float = 60.0,
        ban_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        trusted: Callable[[], set[str]] | None = None,
        store: BanStore | None = None,
        wall_clock: Callable[[], float] = time.time,
        node_name: str | None = None,
    ) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.max_failures = max_auth_failures
        self.window = failure_window_s
        self.ban_s = ban_s
        self.clock = clock
        self.wall_clock = wall_clock
        """Seconds since the epoch: what the store's expiry times are measured in."""
        self.node_name = node_name if node_name is not None else (platform.node() or None)
        self.trusted = trusted or set
        self.static_trusted: set[str] = set()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._failures: dict[str, deque[float]] = {}
        self._bans: dict[str, Ban] = {}
        self.dropped = 0
        # write-through bookkeeping (only with a store):
        self._store = store
        self._pending: dict[str, BanRecord | None] = {}
        """Addresses changed in memory and not written yet -> the ban (None: lifted)."""
        self._saving: set[str] = set()
        self._touched: dict[str, int] = {}
        """Local change counter per address: a refresh keeps what changed after it began."""
        self._version = 0
        self._save_lock = asyncio.Lock()
        self._writes: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def admit(self, address: str) -> bool:
        """Whether a message from ``address`` may be processed now."""
        now = self.clock()
        ban = self._bans.get(address)
        if ban is not None:
            if ban.until > now:
                self.dropped += 1
                return False
            del self._bans[address]
            log.info("ban of %s expired", address)
        if address in self.static_trusted or address in self.trusted():
            return True
        tokens, last = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            self.dropped += 1
            return False
        self._buckets[address] = (tokens - 1.0, now)
        if len(self._buckets) > 10000:
            self._buckets.clear()
        return True

    def auth_failed(self, address: str) -> None:
        """Count a failed authentication; ban the address past the limit."""
        if address in self.static_trusted:
            return
        now = self.clock()
        failures = self._failures.setdefault(address, deque())
        failures.append(now)
        while failures and failures[0] < now - self.window:
            failures.popleft()
        if len(failures) >= self.max_failures:
            reason = f"{len(failures)} failed authentications in {self.window:.0f} s"
            self._bans[address] = Ban(address, now + self.ban_s, reason, now, self.node_name)
            failures.clear()
            log.warning("banned %s for %.0f s: %s", address, self.ban_s, reason)
            wall = self.wall_clock()
            self._changed(
                address, BanRecord(address, reason, wall, wall + self.ban_s, self.node_name)
            )

    def bans(self) -> list[Ban]:
        """Current bans."""
        now = self.clock()
        return [ban for ban in self._bans.values() if ban.until > now]

    def unban(self, address: str) -> bool:
        """Lift a ban; True if there was one."""
        lifted = self._bans.pop(address, None) is not None
        self._changed(address, None)
        return lifted

    # -- persistence (a BanStore: write-through in the background, load at start) --
    def _changed(self, address: str, record: BanRecord | None) -> None:
        """Note a new (``record``) or lifted (None) ban; write it through in the background."""
        if self._store is None:
            return
        self._pending[address] = record
        self._touch(address)
        if self._task is not None:  # before start(): written by start() (or stop())
            self._spawn(address)

    def _spawn(self, address: str) -> None:
        """Write ``address``'s ban in a background task (off the packet path)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop here: written by the maintenance task or stop()
        task = loop.create_task(self._flush(address))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _touch(self, address: str) -> None:
        self._version += 1
        self._touched[address] = self._version

    async def _flush(self, address: str) -> None:
        """Write ``address``'s ban through; a failure is logged and retried later."""
        try:
            await asyncio.wait_for(self._save(address), STORE_TIMEOUT_S)
        except Exception as exc:  # never into the packet path
            log.warning("saving the ban of %s failed: %s", address, str(exc) or type(exc).__name__)

    async def _save(self, address: str) -> None:
        assert self._store is not None
        async with self._save_lock:  # one write at a time: the last one has the latest state
            if address not in self._pending:
                return  # written meanwhile
            record = self._pending.pop(address)
            self._saving.add(address)
            saved = False
            try:
                if record is None:
                    await self._store.lift(address)
                else:
                    await self._store.save(record)
                saved = True
            finally:
                self._saving.discard(address)
                self._touch(address)
                if not saved:
                    self._pending.setdefault(address, record)

    async def restore(self) -> int:
        """Load the store's live bans into memory (a starting node); how many.

        Also the periodic refresh: other nodes' bans appear, lifted ones go;
        an address whose ban changed here since the read began, or that has
        a write pending, keeps its memory.
        """
        if self._store is None:
            return 0
        stamp = self._version
        rows = await self._store.load_live(self.wall_clock())
        now, wall = self.clock(), self.wall_clock()
        fresh = {
            row.address: Ban(
                row.address,
                now + (row.expires_at - wall),
                row.reason,
                now + (row.banned_at - wall),
                row.node,
            )
            for row in rows
            if row.address not in self.static_trusted
        }
        for address in fresh.keys() | self._bans.keys():
            if (
                self._touched.get(address, 0) > stamp
                or address in self._pending
                or address in self._saving
            ):
                continue
            if address in fresh:
                if address not in self._bans:
                    log.info("ban of %s (by %s) loaded", address, fresh[address].node or "?")
                self._bans[address] = fresh[address]
            else:
                self._bans.pop(address, None)
        self._touched = {k: v for k, v in self._touched.items() if v > stamp}
        return len(fresh)

    async def start(self, *, refresh_s: float | None = REFRESH_S, purge_s: float = PURGE_S) -> None:
        """Load the live bans, then maintain the store in the background (with a store)."""
        if self._store is None or self._task is not None:
            return
        try:
            restored = await asyncio.wait_for(self.restore(), STORE_TIMEOUT_S)
            log.info("restored %d ban(s)", restored)
        except Exception as exc:
            log.warning("cannot load the stored bans: %s", str(exc) or type(exc).__name__)
        self._task = asyncio.create_task(self._maintain(refresh_s, purge_s))
        for address in list(self._pending):  # banned before the start
            self._spawn(address)

    async def stop(self) -> None:
        """End the background task; wait for writes under way, one last try at the rest."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        for address in list(self._pending):
            await self._flush(address)

    async def _maintain(self, refresh_s: float | None, purge_s: float) -> None:
        """Retry failed writes, refresh the memory (``refresh_s``), purge expired rows."""
        assert self._store is not None
        step = min(refresh_s or purge_s, purge_s)
        last_purge = time.monotonic()
        while True:
            await asyncio.sleep(step)
            for address in list(self._pending):
                if address not in self._saving:
                    await self._flush(address)
            try:
                if refresh_s:
                    await asyncio.wait_for(self.restore(), STORE_TIMEOUT_S)
                if time.monotonic() - last_purge >= purge_s - 0.001:
                    last_purge = time.monotonic()
                    now = self.clock()
                    for address in [a for a, b in self._bans.items() if b.until <= now]:
                        del self._bans[address]
                    removed = await asyncio.wait_for(
                        self._store.purge(self.wall_clock()), STORE_TIMEOUT_S
                    )
                    if removed:
                        log.info("purged %d expired ban(s)", removed)
            except Exception as exc:
                log.warning("bans maintenance failed: %s", str(exc) or type(exc).__name__)
