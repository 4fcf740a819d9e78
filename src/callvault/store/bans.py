"""The ``source_bans`` table: the source guard's bans, kept across restarts and shared by nodes.

One row per banned address: why, when, until when (UTC) and which node
banned it.  :class:`callvault.engine.guard.SourceGuard` keeps the live bans
in memory and writes each new (or lifted) ban through a
:class:`SourceBanStore`; a starting node loads the live rows back, and every
node refreshes from the table, so a ban made on one node reaches the others.

The store imports nothing of the engine (docs/architecture.md): it takes any
object shaped like the guard's ``BanRecord`` (:class:`BanLike`) and gives
back plain :class:`StoredBan` values.  Imported at the end of
:mod:`callvault.store.models` so ``Base.metadata`` knows the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import DateTime, Index, String, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from callvault.store.db import Database
from callvault.store.models import Base

REASON_MAX = 200


class SourceBan(Base):
    """One banned source address."""

    __tablename__ = "source_bans"
    __table_args__ = (Index("ix_source_bans_expires_at", "expires_at"),)

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(REASON_MAX))
    banned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    node: Mapped[str | None] = mapped_column(String(100))
    """Who banned it (the node's host name)."""


class BanLike(Protocol):
    """What :meth:`SourceBanStore.save` reads of a ban (the guard's ``BanRecord``)."""

    @property
    def address(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def banned_at(self) -> float:
        """Seconds since the epoch."""

    @property
    def expires_at(self) -> float:
        """Seconds since the epoch."""

    @property
    def node(self) -> str | None: ...


@dataclass(frozen=True)
class StoredBan:
    """One row as plain values (times in seconds since the epoch)."""

    address: str
    reason: str
    banned_at: float
    expires_at: float
    node: str | None


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(value: datetime) -> float:
    # SQLite hands timezone-aware columns back naive; every stored time is UTC
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class SourceBanStore:
    """The guard's persistence port over a :class:`Database` (write-through, load at start)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, ban: BanLike) -> None:
        """Insert the ban of ``ban.address``, or replace the one there."""
        row = {
            "address": ban.address,
            "reason": ban.reason[:REASON_MAX],
            "banned_at": _utc(ban.banned_at),
            "expires_at": _utc(ban.expires_at),
            "node": ban.node[:100] if ban.node else None,
        }
        postgres = self.db.engine.dialect.name == "postgresql"
        insert = postgresql.insert if postgres else sqlite.insert
        statement = insert(SourceBan).values([row])
        async with self.db.session() as session:
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["address"],
                    set_={name: statement.excluded[name] for name in row if name != "address"},
                )
            )
            await session.commit()

    async def lift(self, address: str) -> None:
        """Delete the ban of ``address`` (nothing if there is none)."""
        async with self.db.session() as session:
            await session.execute(delete(SourceBan).where(SourceBan.address == address))
            await session.commit()

    async def load_live(self, now: float) -> list[StoredBan]:
        """Every ban that has not expired at ``now`` (seconds since the epoch)."""
        async with self.db.session() as session:
            rows = await session.scalars(select(SourceBan).where(SourceBan.expires_at > _utc(now)))
            return [
                StoredBan(
                    address=row.address,
                    reason=row.reason,
                    banned_at=_seconds(row.banned_at),
                    expires_at=_seconds(row.expires_at),
                    node=row.node,
                )
                for row in rows
            ]

    async def purge(self, now: float) -> int:
        """Delete the bans expired at ``now``; how many."""
        async with self.db.session() as session:
            result = await session.execute(
                delete(SourceBan).where(SourceBan.expires_at <= _utc(now))
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
