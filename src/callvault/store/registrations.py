"""The ``registrations`` table: the registrar's bindings, kept across restarts (RFC 3261 §10.3).

One row per binding: an account's login (the address-of-record) and one of
its contacts, with what routing needs -- the address the REGISTER came from
(NAT), its transport -- the absolute expiry, and the Call-ID/CSeq the
registrar checks ordering against.  :class:`callvault.engine.registrar.Registrar`
keeps the live bindings in memory and writes each change through a
:class:`RegistrationStore`; a starting node loads the live rows back.

The store imports nothing of the engine (docs/architecture.md): it takes any
object shaped like the registrar's ``Binding`` (:class:`BindingLike`) and
gives back plain :class:`StoredBinding` values.  Imported at the end of
:mod:`callvault.store.models` so ``Base.metadata`` knows the table.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from callvault.store.db import Database
from callvault.store.models import Base, utcnow


class Registration(Base):
    """One live binding of a login's contact (the key: account, login, contact URI text)."""

    __tablename__ = "registrations"
    __table_args__ = (Index("ix_registrations_expires_at", "expires_at"),)

    account_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("accounts.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact: Mapped[str] = mapped_column(Text, primary_key=True)
    """The Contact URI as text (``sip:jan@192.0.2.7:5062;transport=tcp``)."""
    source_host: Mapped[str] = mapped_column(String(64))
    source_port: Mapped[int] = mapped_column(Integer)
    """Where the REGISTER came from: calls to a phone behind NAT go there."""
    transport: Mapped[str] = mapped_column(String(8))
    """``udp`` or ``tcp`` (over TCP requests go back through the phone's connection)."""
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    call_id: Mapped[str] = mapped_column(Text)
    cseq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BindingLike(Protocol):
    """What :meth:`RegistrationStore.save` reads of a binding (the registrar's ``Binding``)."""

    @property
    def contact(self) -> object:
        """The Contact URI; ``str()`` of it is the key."""

    @property
    def expires_at(self) -> float:
        """Absolute expiry, seconds since the epoch."""

    @property
    def source(self) -> tuple[str, int]: ...

    @property
    def transport(self) -> str: ...

    @property
    def call_id(self) -> str: ...

    @property
    def cseq(self) -> int: ...


@dataclass(frozen=True)
class StoredBinding:
    """One row as plain values (``expires_at`` in seconds since the epoch)."""

    account_id: int
    login: str
    contact: str
    source_host: str
    source_port: int
    transport: str
    expires_at: float
    call_id: str
    cseq: int


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(value: datetime) -> float:
    # SQLite hands timezone-aware columns back naive; every stored time is UTC
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


class RegistrationStore:
    """The registrar's persistence port over a :class:`Database` (write-through, load at start)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(
        self,
        account_id: int,
        login: str,
        bindings: Sequence[BindingLike],
        removed: Collection[str] = (),
    ) -> None:
        """Upsert ``bindings`` of ``login`` and delete its contacts named in ``removed``.

        Contacts of the login that are in neither stay as they are: another
        node sharing the database may have registered them.
        """
        now = utcnow()
        rows: list[dict[str, Any]] = [
            {
                "account_id": account_id,
                "login": login,
                "contact": str(b.contact),
                "source_host": b.source[0],
                "source_port": b.source[1],
                "transport": b.transport,
                "expires_at": _utc(b.expires_at),
                "call_id": b.call_id,
                "cseq": b.cseq,
                "updated_at": now,
            }
            for b in bindings
        ]
        kept = {row["contact"] for row in rows}
        gone = [contact for contact in removed if contact not in kept]
        async with self.db.session() as session:
            if gone:
                await session.execute(
                    delete(Registration).where(
                        Registration.account_id == account_id,
                        Registration.login == login,
                        Registration.contact.in_(gone),
                    )
                )
            if rows:
                postgres = self.db.engine.dialect.name == "postgresql"
                insert = postgresql.insert if postgres else sqlite.insert
                statement = insert(Registration).values(rows)
                columns = ("source_host", "source_port", "transport", "expires_at", "call_id",
                           "cseq", "updated_at")  # fmt: skip
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["account_id", "login", "contact"],
                        set_={name: statement.excluded[name] for name in columns},
                    )
                )
            await session.commit()

    async def load_live(self, now: float) -> list[StoredBinding]:
        """Every binding that has not expired at ``now`` (seconds since the epoch)."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Registration).where(Registration.expires_at > _utc(now))
            )
            return [
                StoredBinding(
                    account_id=row.account_id,
                    login=row.login,
                    contact=row.contact,
                    source_host=row.source_host,
                    source_port=row.source_port,
                    transport=row.transport,
                    expires_at=_seconds(row.expires_at),
                    call_id=row.call_id,
                    cseq=row.cseq,
                )
                for row in rows
            ]

    async def purge(self, now: float) -> int:
        """Delete the bindings expired at ``now``; how many."""
        async with self.db.session() as session:
            result = await session.execute(
                delete(Registration).where(Registration.expires_at <= _utc(now))
            )
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
