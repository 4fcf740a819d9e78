"""Declarative accounts: make the database match a TOML description, idempotently.

One file describes one account -- its plan, objects, numbers and trunks
(format in ``docs/apply-format.md``).  :func:`apply_account` creates what is
missing, updates what differs and reports what it did; running it again
reports no changes.  It runs in the caller's transaction: on any error the
caller rolls back and nothing is written.  Errors name the TOML key path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.errors import NotFoundError, StoreError
from callvault.store.models import CallObject
from callvault.store.numbers import InvalidNumberError, normalize
from callvault.store.object_settings import trunk_settings
from callvault.store.repository import Accounts, AccountScope

_OBJECT_KEYS = {"kind", "login", "name", "extension", "password", "settings"}


@dataclass
class ApplyReport:
    """What an apply did, one line per change."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        """Human-readable summary."""
        if not self.changed:
            return [f"no changes ({self.unchanged} items already as described)"]
        out = [f"created {what}" for what in self.created]
        out += [f"updated {what}" for what in self.updated]
        out.append(
            f"{len(self.created)} created, {len(self.updated)} updated, {self.unchanged} unchanged"
        )
        return out


class ApplyError(StoreError):
    """A value in the file is wrong; the message starts with its key path."""

    code = "apply_invalid"


def _table(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise ApplyError(f"[{key}] is missing or not a table")
    return value


async def apply_account(session: AsyncSession, doc: dict[str, Any]) -> ApplyReport:
    """Make the account described by ``doc`` exist exactly as described."""
    report = ApplyReport()
    account_doc = _table(doc, "account")
    slug = account_doc.get("slug")
    if not isinstance(slug, str):
        raise ApplyError("account.slug: a string is required")
    accounts = Accounts(session)
    try:
        account = await accounts.get(slug)
    except NotFoundError:
        account = await accounts.create(
            slug,
            str(account_doc.get("name", slug)),
            plan=account_doc.get("plan"),
            timezone=str(account_doc.get("timezone", "Europe/Warsaw")),
            sip_domain=account_doc.get("sip_domain"),
        )
        report.created.append(f"account {slug}")
    else:
        changes: dict[str, Any] = {}
        if "name" in account_doc and account_doc["name"] != account.name:
            changes["name"] = account_doc["name"]
        if "plan" in account_doc and account_doc["plan"] != account.plan:
            changes["plan"] = account_doc["plan"]
        if changes:
            await accounts.update(slug, **changes)
            report.updated.append(f"account {slug} ({', '.join(sorted(changes))})")
        else:
            report.unchanged += 1
    scope = accounts.scope(account)
    for index, item in enumerate(doc.get("objects", [])):
        await _apply_object(scope, item, f"objects[{index}]", report)
    for index, item in enumerate(doc.get("numbers", [])):
        await _apply_number(scope, item, f"numbers[{index}]", report)
    for index, item in enumerate(doc.get("trunks", [])):
        await _apply_trunk(scope, item, f"trunks[{index}]", report)
    return report


def _wanted_settings(item: dict[str, Any], where: str) -> dict[str, Any]:
    settings = dict(item.get("settings", {}))
    if not isinstance(item.get("settings", {}), dict):
        raise ApplyError(f"{where}.settings: must be a table")
    if "password" in item:
        settings["password"] = str(item["password"])
    return settings


async def _apply_object(
    scope: AccountScope, item: dict[str, Any], where: str, report: ApplyReport
) -> None:
    unknown = set(item) - _OBJECT_KEYS
    if unknown:
        raise ApplyError(f"{where}: unknown key(s) {sorted(unknown)}")
    login, kind = item.get("login"), item.get("kind")
    if not isinstance(login, str) or not isinstance(kind, str):
        raise ApplyError(f"{where}: kind and login are required strings")
    settings = _wanted_settings(item, where)
    if kind == "sip_account" and not settings.get("password"):
        raise ApplyError(f"{where}.password: a SIP account needs a password")
    existing: CallObject | None = await scope.find_object(login)
    if existing is not None and existing.login != login:
        existing = None  # the login matched another object's extension
    try:
        if existing is None:
            await scope.create_object(
                kind, login, name=str(item.get("name", "")),
                extension=item.get("extension"), settings=settings,
            )  # fmt: skip
            report.created.append(f"{kind} {login}")
            return
        if existing.kind.value != kind:
            raise ApplyError(f"{where}.kind: {login} exists as {existing.kind.value}, not {kind}")
        changed = (
            existing.name != str(item.get("name", existing.name))
            or existing.extension != item.get("extension", existing.extension)
            or any(existing.settings.get(k) != v for k, v in settings.items())
        )
        if changed:
            await scope.update_object(
                login, name=item.get("name"), extension=item.get("extension"), settings=settings
            )
            report.updated.append(f"{kind} {login}")
        else:
            report.unchanged += 1
    except ApplyError:
        raise
    except StoreError as exc:
        raise ApplyError(f"{where}: {exc}") from None


async def _apply_number(
    scope: AccountScope, item: dict[str, Any], where: str, report: ApplyReport
) -> None:
    text = item.get("number")
    if not isinstance(text, str):
        raise ApplyError(f"{where}.number: a string is required")
    try:
        e164 = normalize(text)
    except InvalidNumberError as exc:
        raise ApplyError(f"{where}.number: {exc}") from None
    target, label = item.get("to"), str(item.get("label", ""))
    try:
        try:
            number = await scope.get_number(e164)
        except NotFoundError:
            await scope.add_number(e164, target_login=target, label=label)
            report.created.append(f"number +{e164}")
            return
        current_target = number.target.login if number.target else None
        if current_target != target or number.label != label:
            await scope.assign_number(e164, target_login=target or "", label=label)
            report.updated.append(f"number +{e164}")
        else:
            report.unchanged += 1
    except ApplyError:
        raise
    except StoreError as exc:
        raise ApplyError(f"{where}: {exc}") from None


async def _apply_trunk(
    scope: AccountScope, item: dict[str, Any], where: str, report: ApplyReport
) -> None:
    name = item.get("name")
    if not isinstance(name, str):
        raise ApplyError(f"{where}.name: a string is required")
    settings = {k: v for k, v in item.items() if k != "name"}
    try:
        trunk_settings(settings)
    except StoreError as exc:
        raise ApplyError(f"{where}: {exc}") from None
    existing = next((t for t in await scope.list_trunks() if t.name == name), None)
    if existing is None:
        await scope.create_trunk(name, settings)
        report.created.append(f"trunk {name}")
    elif existing.settings != settings:
        existing.settings = settings
        await scope.session.flush()
        report.updated.append(f"trunk {name}")
    else:
        report.unchanged += 1
