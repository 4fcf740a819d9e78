"""Tenant-scoped data access: every query of :class:`AccountScope` filters by account.

Code outside this package never builds a query: it asks an
:class:`AccountScope` (one company's data) or :class:`Accounts` (the
operator's view).  A scope cannot reach another account's rows -- every
statement it issues carries ``account_id == scope.account_id``, and lookups
of foreign ids come back as :class:`~callvault.store.errors.NotFoundError`.
Writes are checked against the account's plan first, so a refused write
leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.errors import ConflictError, InvalidInputError, NotFoundError, PlanLimitError
from callvault.store.models import (
    Account,
    CallObject,
    CallRecord,
    Number,
    ObjectKind,
    Prompt,
    Trunk,
)
from callvault.store.numbers import InvalidNumberError, normalize
from callvault.store.object_settings import (
    OBJECT_SETTINGS,
    SettingsModel,
    TrunkSettings,
    object_settings,
    trunk_settings,
)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ADDONS = ("ivr_api", "recording")
QUOTAS = ("numbers", "sip_accounts", "concurrent_calls", "recording_storage_mb")


def _check_length(what: str, value: str, limit: int) -> None:
    """Refuse text longer than its column (SQLite would store it, PostgreSQL refuse it)."""
    if len(value) > limit:
        raise InvalidInputError(f"{what} is {len(value)} characters long; at most {limit}")


def _check_extension(extension: str) -> None:
    if not (isinstance(extension, str) and extension.isascii() and extension.isdigit()):
        raise InvalidInputError(f"extension {extension!r} must be digits")


def _without(
    settings: dict[str, Any], unset: Collection[str], model: type[SettingsModel], what: str
) -> dict[str, Any]:
    """``settings`` minus the keys in ``unset`` (back to their defaults); unknown keys refused."""
    unknown = sorted(set(unset) - set(model.model_fields))
    if unknown:
        raise InvalidInputError(f"{what} settings.{unknown[0]}: unknown setting")
    return {key: value for key, value in settings.items() if key not in unset}


@dataclass(frozen=True)
class Plan:
    """What the operator sold an account: add-ons and quotas (``None`` = unlimited)."""

    addons: frozenset[str] = frozenset()
    quotas: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        """Read and validate a plan (unknown add-ons or quotas are refused)."""
        addons = frozenset(data.get("addons", []))
        unknown = addons - set(ADDONS)
        if unknown:
            raise InvalidInputError(
                f"unknown add-on(s) {sorted(unknown)}; available: {', '.join(ADDONS)}"
            )
        quotas = dict(data.get("quotas", {}))
        bad = set(quotas) - set(QUOTAS)
        if bad:
            raise InvalidInputError(
                f"unknown quota(s) {sorted(bad)}; available: {', '.join(QUOTAS)}"
            )
        for name, value in quotas.items():
            if value is not None and (not isinstance(value, int) or value < 0):
                raise InvalidInputError(f"quota {name} must be a non-negative integer or null")
        return cls(addons, quotas)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"addons": sorted(self.addons), "quotas": dict(self.quotas)}

    def require_addon(self, addon: str) -> None:
        """Refuse a feature the plan does not include."""
        if addon not in self.addons:
            raise PlanLimitError(
                f"the account's plan does not include the {addon} add-on; "
                "the operator adds it to the plan (account.plan.addons in the account file)"
            )

    def check_quota(self, name: str, used: int) -> None:
        """Refuse one more of ``name`` when ``used`` already reaches the quota."""
        limit = self.quotas.get(name)
        if limit is not None and used >= limit:
            raise PlanLimitError(f"quota {name} reached ({used} of {limit}); raise it in the plan")


class Accounts:
    """The operator's view: create, list, change and delete accounts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        slug: str,
        name: str,
        *,
        plan: dict[str, Any] | None = None,
        timezone: str = "Europe/Warsaw",
        sip_domain: str | None = None,
    ) -> Account:
        """A new account; the slug is its stable handle.

        ``sip_domain`` is the host part of its phones' addresses
        (``sip:jan@acme.example``): REGISTER and calls from phones find their
        account by it.  It defaults to the slug.
        """
        if not _SLUG.match(slug):
            raise InvalidInputError(
                f"invalid account slug {slug!r}: use 2-63 lower-case letters, digits and dashes"
            )
        _check_length("account name", name, 200)
        checked = Plan.from_json(plan or {}).to_json()
        domain = (sip_domain or slug).lower()
        account = Account(
            slug=slug, name=name or slug, plan=checked, timezone=timezone, sip_domain=domain
        )
        self.session.add(account)
        try:
            await self.session.flush()
        except IntegrityError:
            await self.session.rollback()
            raise ConflictError(
                f"account {slug!r} or SIP domain {domain!r} already exists"
            ) from None
        return account

    async def by_domain(self, domain: str) -> Account | None:
        """The account whose phones use ``domain``, or None."""
        return await self.session.scalar(
            select(Account).where(Account.sip_domain == domain.lower())
        )

    async def get(self, slug: str) -> Account:
        """The account with ``slug``."""
        account = await self.session.scalar(select(Account).where(Account.slug == slug))
        if account is None:
            raise NotFoundError(f"no account {slug!r} (see: callvault accounts list)")
        return account

    async def list(self) -> list[Account]:
        """Every account, by slug."""
        return list(await self.session.scalars(select(Account).order_by(Account.slug)))

    async def update(
        self, slug: str, *, name: str | None = None, plan: dict[str, Any] | None = None
    ) -> Account:
        """Change an account's name or plan."""
        account = await self.get(slug)
        if name is not None:
            _check_length("account name", name, 200)
            account.name = name
        if plan is not None:
            account.plan = Plan.from_json(plan).to_json()
        await self.session.flush()
        return account

    async def delete(self, slug: str) -> None:
        """Delete an account and everything it owns."""
        account = await self.get(slug)
        await self.session.delete(account)
        await self.session.flush()

    def scope(self, account: Account) -> AccountScope:
        """That account's data."""
        return AccountScope(self.session, account)


class AccountScope:
    """One account's numbers, objects, trunks and calls."""

    def __init__(self, session: AsyncSession, account: Account) -> None:
        self.session = session
        self.account = account
        self.account_id = account.id

    @property
    def plan(self) -> Plan:
        """The account's plan."""
        return Plan.from_json(self.account.plan)

    async def _count(
        self, model: type[Number | CallObject | Trunk | Prompt], *conditions: Any
    ) -> int:
        statement = (
            select(func.count())
            .select_from(model)
            .where(model.account_id == self.account_id, *conditions)
        )
        return int(await self.session.scalar(statement) or 0)

    async def usage(self) -> dict[str, int]:
        """How many objects (all, and SIP accounts), numbers, trunks and prompts it has."""
        return {
            "objects": await self._count(CallObject),
            "sip_accounts": await self._count(
                CallObject, CallObject.kind == ObjectKind.SIP_ACCOUNT
            ),
            "numbers": await self._count(Number),
            "trunks": await self._count(Trunk),
            "prompts": await self._count(Prompt),
        }

    async def _flush_unique(self, what: str) -> None:
        try:
            await self.session.flush()
        except IntegrityError:
            await self.session.rollback()
            raise ConflictError(f"{what} already exists") from None

    # -- objects --------------------------------------------------------------
    async def create_object(
        self,
        kind: str,
        login: str,
        *,
        name: str = "",
        extension: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> CallObject:
        """A SIP account, queue, IVR menu or IVR API object with a unique login."""
        try:
            object_kind = ObjectKind(kind)
        except ValueError:
            kinds = ", ".join(k.value for k in ObjectKind)
            raise InvalidInputError(f"unknown object kind {kind!r}; use one of {kinds}") from None
        if not _LOGIN.match(login):
            raise InvalidInputError(
                f"invalid login {login!r}: letters, digits, dot, dash, underscore; max 64"
            )
        if extension is not None:
            _check_extension(extension)
        _check_length("object name", name, 200)
        if object_kind is ObjectKind.IVR_API:
            self.plan.require_addon("ivr_api")
        if object_kind is ObjectKind.SIP_ACCOUNT:
            used = await self._count(CallObject, CallObject.kind == ObjectKind.SIP_ACCOUNT)
            self.plan.check_quota("sip_accounts", used)
        object_settings(object_kind.value, settings or {})
        obj = CallObject(
            account_id=self.account_id,
            kind=object_kind,
            login=login,
            name=name,
            extension=extension,
            settings=settings or {},
        )
        self.session.add(obj)
        taken = f" or extension {extension!r}" if extension else ""
        await self._flush_unique(f"an object with login {login!r}{taken}")
        return obj

    async def get_object(self, login: str) -> CallObject:
        """The object with ``login`` in this account."""
        obj = await self.session.scalar(
            select(CallObject).where(
                CallObject.account_id == self.account_id, CallObject.login == login
            )
        )
        if obj is None:
            raise NotFoundError(f"no object with login {login!r} in account {self.account.slug}")
        return obj

    async def find_object(self, login_or_extension: str) -> CallObject | None:
        """The object with that login or short number, or None."""
        return await self.session.scalar(
            select(CallObject).where(
                CallObject.account_id == self.account_id,
                (CallObject.login == login_or_extension)
                | (CallObject.extension == login_or_extension),
            )
        )

    async def list_objects(self, kind: str | None = None) -> list[CallObject]:
        """This account's objects, by login."""
        statement = select(CallObject).where(CallObject.account_id == self.account_id)
        if kind is not None:
            statement = statement.where(CallObject.kind == ObjectKind(kind))
        return list(await self.session.scalars(statement.order_by(CallObject.login)))

    async def update_object(
        self,
        login: str,
        *,
        name: str | None = None,
        extension: str | None = None,
        settings: dict[str, Any] | None = None,
        unset: Collection[str] = (),
    ) -> CallObject:
        """Change an object's name, extension or settings.

        ``settings`` are merged into the stored ones; keys in ``unset`` are
        removed (back to their defaults).  An empty ``extension`` clears it.
        """
        obj = await self.get_object(login)
        if extension:
            _check_extension(extension)
        if name is not None:
            _check_length("object name", name, 200)
            obj.name = name
        if extension is not None:
            obj.extension = extension or None
        if settings is not None or unset:
            kind = obj.kind.value
            merged = {**obj.settings, **(settings or {})}
            merged = _without(merged, unset, OBJECT_SETTINGS[kind], kind)
            object_settings(kind, merged)
            obj.settings = merged
        await self._flush_unique(f"extension {extension!r}")
        return obj

    async def delete_object(self, login: str) -> None:
        """Delete an object; numbers pointing at it become unassigned."""
        obj = await self.get_object(login)
        await self.session.delete(obj)
        await self.session.flush()

    # -- numbers --------------------------------------------------------------
    async def add_number(
        self, text: str, *, target_login: str | None = None, label: str = ""
    ) -> Number:
        """Add a DID (any usual input form), optionally assigned to an object."""
        try:
            e164 = normalize(text)
        except InvalidNumberError as exc:
            raise InvalidInputError(str(exc)) from None
        _check_length("label", label, 200)
        self.plan.check_quota("numbers", await self._count(Number))
        target = await self.get_object(target_login) if target_login else None
        number = Number(
            account_id=self.account_id,
            e164=e164,
            label=label,
            object_id=target.id if target else None,
        )
        self.session.add(number)
        await self._flush_unique(f"number +{e164}")
        return number

    async def get_number(self, text: str) -> Number:
        """This account's number, in any input form."""
        try:
            e164 = normalize(text)
        except InvalidNumberError as exc:
            raise InvalidInputError(str(exc)) from None
        number = await self.session.scalar(
            select(Number).where(Number.account_id == self.account_id, Number.e164 == e164)
        )
        if number is None:
            raise NotFoundError(f"no number +{e164} in account {self.account.slug}")
        return number

    async def list_numbers(self) -> list[Number]:
        """This account's numbers."""
        statement = select(Number).where(Number.account_id == self.account_id)
        return list(await self.session.scalars(statement.order_by(Number.e164)))

    async def assign_number(
        self, text: str, *, target_login: str | None, label: str | None = None
    ) -> Number:
        """Point a number at another object (or none) and/or change its label."""
        number = await self.get_number(text)
        if label is not None:
            _check_length("label", label, 200)
        if target_login is not None:
            target = await self.get_object(target_login) if target_login else None
            number.object_id = target.id if target else None
            number.target = target
        if label is not None:
            number.label = label
        await self.session.flush()
        return number

    async def delete_number(self, text: str) -> None:
        """Remove a number from the account."""
        await self.session.delete(await self.get_number(text))
        await self.session.flush()

    # -- trunks ---------------------------------------------------------------
    async def create_trunk(self, name: str, settings: dict[str, Any]) -> Trunk:
        """A provider trunk."""
        if not name.strip() or len(name) > 64:
            raise InvalidInputError(f"invalid trunk name {name!r}: 1 to 64 characters")
        trunk_settings(settings)
        trunk = Trunk(account_id=self.account_id, name=name, settings=settings)
        self.session.add(trunk)
        await self._flush_unique(f"trunk {name!r}")
        return trunk

    async def list_trunks(self) -> list[Trunk]:
        """This account's trunks."""
        statement = select(Trunk).where(Trunk.account_id == self.account_id)
        return list(await self.session.scalars(statement.order_by(Trunk.name)))

    async def get_trunk(self, name: str) -> Trunk:
        """The trunk called ``name`` in this account."""
        trunk = await self.session.scalar(
            select(Trunk).where(Trunk.account_id == self.account_id, Trunk.name == name)
        )
        if trunk is None:
            raise NotFoundError(f"no trunk {name!r} in account {self.account.slug}")
        return trunk

    async def update_trunk(
        self, name: str, *, settings: dict[str, Any] | None = None, unset: Collection[str] = ()
    ) -> Trunk:
        """Merge ``settings`` into a trunk's settings and remove the keys in ``unset``."""
        trunk = await self.get_trunk(name)
        merged = _without({**trunk.settings, **(settings or {})}, unset, TrunkSettings, "trunk")
        trunk_settings(merged)
        trunk.settings = merged
        await self.session.flush()
        return trunk

    async def delete_trunk(self, name: str) -> None:
        """Remove a trunk from the account."""
        await self.session.delete(await self.get_trunk(name))
        await self.session.flush()

    # -- calls ----------------------------------------------------------------
    async def list_calls(self, limit: int = 100) -> list[CallRecord]:
        """This account's most recent calls."""
        statement = (
            select(CallRecord)
            .where(CallRecord.account_id == self.account_id)
            .order_by(CallRecord.started_at.desc())
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def get_call(self, call_id: str) -> CallRecord:
        """One call of this account."""
        record = await self.session.scalar(
            select(CallRecord).where(
                CallRecord.account_id == self.account_id, CallRecord.id == call_id
            )
        )
        if record is None:
            raise NotFoundError(f"no call {call_id} in account {self.account.slug}")
        return record


async def find_number_owner(session: AsyncSession, text: str) -> Number | None:
    """Routing: the number (any form) with its account id and target, across accounts.

    The one cross-account read: an inbound call names a DID, and the DID
    decides the account.  It returns the number row only.
    """
    try:
        e164 = normalize(text)
    except InvalidNumberError:
        return None
    return await session.scalar(select(Number).where(Number.e164 == e164))
