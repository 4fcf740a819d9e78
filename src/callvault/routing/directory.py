"""Read-side lookups the engine needs from the store (accounts, objects, numbers, trunks).

Each lookup opens a short session; results are plain values, so nothing
lazy leaks into the call's coroutines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from callvault.engine.registrar import SipAccountRef
from callvault.store.db import Database
from callvault.store.models import Account, CallObject, Number, ObjectKind, Prompt, Trunk
from callvault.store.repository import find_number_owner


@dataclass(frozen=True)
class Destination:
    """Where a dialled string leads: an object of an account."""

    account_id: int
    account_slug: str
    kind: str
    login: str
    settings: dict[str, Any]
    number_label: str = ""
    number: str | None = None
    """The account DID (E.164 digits) the call reached this object through, if any."""


@dataclass(frozen=True)
class TrunkInfo:
    """A provider trunk of an account, as routing needs it."""

    account_id: int
    account_slug: str
    name: str
    settings: dict[str, Any]


class Directory:
    """Store lookups for routing and registration."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def sip_account(self, domain: str, login: str) -> SipAccountRef | None:
        """The SIP account ``login`` of the account using ``domain``."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(Account.id, CallObject.settings)
                    .join(CallObject, CallObject.account_id == Account.id)
                    .where(
                        Account.sip_domain == domain.lower(),
                        CallObject.kind == ObjectKind.SIP_ACCOUNT,
                        CallObject.login == login,
                    )
                )
            ).first()
        if row is None:
            return None
        password = str(row.settings.get("password", ""))
        if not password:
            return None
        return SipAccountRef(
            account_id=row.id, domain=domain.lower(), login=login, password=password
        )

    async def number(self, dialled: str) -> Destination | None:
        """The object a DID leads to (any number format), or None."""
        async with self.db.session() as session:
            number = await find_number_owner(session, dialled)
            if number is None or number.target is None:
                return None
            account = await session.get(Account, number.account_id)
            assert account is not None
            target = number.target
            return Destination(
                account.id, account.slug, target.kind.value, target.login,
                dict(target.settings), number.label, number.e164,
            )  # fmt: skip

    async def internal(self, domain: str, login_or_extension: str) -> Destination | None:
        """An object of the account using ``domain`` by login or short number."""
        async with self.db.session() as session:
            account = await session.scalar(
                select(Account).where(Account.sip_domain == domain.lower())
            )
            if account is None:
                return None
            obj = await session.scalar(
                select(CallObject).where(
                    CallObject.account_id == account.id,
                    (CallObject.login == login_or_extension)
                    | (CallObject.extension == login_or_extension),
                )
            )
            if obj is None:
                return None
            return Destination(
                account.id, account.slug, obj.kind.value, obj.login, dict(obj.settings)
            )

    async def object(self, account_id: int, login: str) -> Destination | None:
        """The object ``login`` of an account (overflow targets, menu choices)."""
        async with self.db.session() as session:
            account = await session.get(Account, account_id)
            if account is None:
                return None
            obj = await session.scalar(
                select(CallObject).where(
                    CallObject.account_id == account_id, CallObject.login == login
                )
            )
            if obj is None:
                return None
            return Destination(
                account.id, account.slug, obj.kind.value, obj.login, dict(obj.settings)
            )

    async def concurrent_calls_quota(self, account_id: int) -> int | None:
        """The account plan's limit on simultaneous calls (``None``: unlimited)."""
        async with self.db.session() as session:
            plan = await session.scalar(select(Account.plan).where(Account.id == account_id))
        quota = (plan or {}).get("quotas", {}).get("concurrent_calls")
        return int(quota) if quota is not None else None

    async def object_by_login_or_extension(self, account_id: int, text: str) -> Destination | None:
        """An object of the account by login or short number (transfer targets)."""
        async with self.db.session() as session:
            account = await session.get(Account, account_id)
            obj = await session.scalar(
                select(CallObject).where(
                    CallObject.account_id == account_id,
                    (CallObject.login == text) | (CallObject.extension == text),
                )
            )
            if account is None or obj is None:
                return None
            return Destination(
                account.id, account.slug, obj.kind.value, obj.login, dict(obj.settings)
            )

    async def account_id_for_domain(self, domain: str) -> int | None:
        """The account whose phones use SIP domain ``domain``."""
        async with self.db.session() as session:
            return await session.scalar(
                select(Account.id).where(Account.sip_domain == domain.lower())
            )

    async def trunks(self, account_id: int | None = None) -> list[TrunkInfo]:
        """Trunks of one account, or of every account (inbound source matching)."""
        statement = select(Trunk, Account.slug).join(Account, Account.id == Trunk.account_id)
        if account_id is not None:
            statement = statement.where(Trunk.account_id == account_id)
        async with self.db.session() as session:
            rows = (await session.execute(statement.order_by(Trunk.id))).all()
        return [TrunkInfo(t.account_id, slug, t.name, dict(t.settings)) for t, slug in rows]

    async def numbers_of(self, account_id: int, login: str | None = None) -> list[str]:
        """E.164 numbers of an account (those leading to ``login`` first)."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Number.e164, CallObject.login)
                    .outerjoin(CallObject, CallObject.id == Number.object_id)
                    .where(Number.account_id == account_id)
                    .order_by(Number.id)
                )
            ).all()
        ordered = sorted(rows, key=lambda row: row[1] != login)  # stable: by id otherwise
        return [e164 for e164, _ in ordered]

    async def prompt_wav(self, account_id: int, name: str) -> bytes | None:
        """An uploaded prompt of the account (8 kHz mono WAV), or None."""
        async with self.db.session() as session:
            return await session.scalar(
                select(Prompt.wav).where(Prompt.account_id == account_id, Prompt.name == name)
            )
