"""The commands behind ``callvault accounts|numbers|objects|trunks`` (wired in cli/admin.py).

Each handler does one thing through the repository in the runner's
transaction and returns a :class:`~callvault.cli.admin.Result` to print
after the commit.  Handlers never print and never commit: a
:class:`~callvault.cli.admin.UsageError` or a store error they raise makes
the runner roll back, so nothing is written.  Secrets (passwords, IVR API
hashes and signing secrets) are shown as ``***``.
"""

from __future__ import annotations

import argparse
import json
import types
from collections.abc import Awaitable, Callable
from typing import Any, Union, get_args, get_origin

from callvault.cli.admin import Result, UsageError
from callvault.store.models import Account, CallObject, Number, Trunk
from callvault.store.numbers import display
from callvault.store.object_settings import OBJECT_SETTINGS, SettingsModel, TrunkSettings
from callvault.store.repository import Accounts, AccountScope, Plan

Handler = Callable[[Accounts, argparse.Namespace], Awaitable[Result]]
SECRETS = frozenset({"password", "hash", "signing_secrets"})
"""Setting keys whose values are never printed."""


# -- values -------------------------------------------------------------------


def parse_settings(pairs: list[str], model: type[SettingsModel], what: str) -> dict[str, Any]:
    """``--set KEY=VALUE`` options as settings: VALUE as JSON when it parses, else as text.

    A number given for a text setting (``--set caller_id=221234567``) stays text.
    """
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set wants KEY=VALUE, not {pair!r} (e.g. --set ring_timeout_s=20)")
        field = model.model_fields.get(key)
        if field is None:
            raise UsageError(
                f"{what} has no setting {key!r}; its settings are: {', '.join(model.model_fields)}"
            )
        settings[key] = _value(text, field.annotation)
    return settings


def _value(text: str, annotation: Any) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, int | float) and not isinstance(value, bool) and _wants_text(annotation):
        return text
    return value


def _wants_text(annotation: Any) -> bool:
    union = get_origin(annotation) in (Union, types.UnionType)
    options = set(get_args(annotation)) if union else {annotation}
    return str in options and not options & {int, float}


def masked(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with every secret replaced by ``***``."""
    return {key: "***" if key in SECRETS and value else value for key, value in settings.items()}


def _plan(
    current: dict[str, Any], add: list[str], remove: list[str], quotas: list[str]
) -> dict[str, Any]:
    """``current`` plan with add-ons added/removed and ``NAME=N`` quotas set."""
    Plan.from_json({"addons": [*add, *remove]})  # refuses unknown add-on names
    addons = (set(current.get("addons", [])) | set(add)) - set(remove)
    limits = dict(current.get("quotas", {}))
    for text in quotas:
        name, sep, value = (part.strip() for part in text.partition("="))
        if not sep:
            raise UsageError(f"--quota wants NAME=N, not {text!r} (e.g. --quota numbers=10)")
        Plan.from_json({"quotas": {name: None}})  # refuses unknown quota names
        if value.lower() in ("unlimited", "none", "null"):
            limits.pop(name, None)
            continue
        try:
            limits[name] = int(value)
        except ValueError:
            raise UsageError(
                f"--quota {name}={value}: give a whole number, or {name}=unlimited"
            ) from None
    return {"addons": sorted(addons), "quotas": limits}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun if count == 1 else noun + 's'}"


# -- views --------------------------------------------------------------------


def account_view(account: Account) -> dict[str, Any]:
    """An account as printed by ``list`` and ``show``."""
    plan = Plan.from_json(account.plan)
    return {
        "slug": account.slug,
        "name": account.name,
        "sip_domain": account.sip_domain,
        "timezone": account.timezone,
        "plan": {"addons": sorted(plan.addons), "quotas": dict(plan.quotas)},
        "created_at": account.created_at.isoformat(),
    }


def number_view(number: Number) -> dict[str, Any]:
    """A number as printed by ``list`` and ``show`` (its target must be loaded)."""
    target = number.target
    return {
        "number": "+" + number.e164,
        "display": display(number.e164),
        "to": target.login if target else None,
        "kind": target.kind.value if target else None,
        "label": number.label,
    }


def object_view(obj: CallObject, numbers: list[Number]) -> dict[str, Any]:
    """An object with the numbers (of ``numbers``) that lead to it."""
    return {
        "login": obj.login,
        "kind": obj.kind.value,
        "name": obj.name,
        "extension": obj.extension,
        "numbers": ["+" + n.e164 for n in numbers if n.object_id == obj.id],
        "settings": masked(obj.settings),
    }


def trunk_view(trunk: Trunk) -> dict[str, Any]:
    """A trunk as printed by ``list`` and ``show``."""
    return {"name": trunk.name, "settings": masked(trunk.settings)}


async def _scope(accounts: Accounts, args: argparse.Namespace) -> AccountScope:
    return accounts.scope(await accounts.get(args.account))


# -- accounts -----------------------------------------------------------------


async def accounts_create(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``accounts create SLUG``."""
    plan = _plan({}, args.addon, [], args.quota)
    account = await accounts.create(
        args.slug,
        args.name or args.slug,
        plan=plan,
        timezone=args.timezone,
        sip_domain=args.sip_domain,
    )
    return Result(f"created account {account.slug} (SIP domain {account.sip_domain})")


async def accounts_list(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``accounts list``."""
    return Result(
        rows=[account_view(account) for account in await accounts.list()],
        columns=(
            ("slug", "SLUG"),
            ("name", "NAME"),
            ("sip_domain", "SIP DOMAIN"),
            ("plan.addons", "ADDONS"),
            ("plan.quotas", "QUOTAS"),
        ),
        empty="no accounts yet; create one: callvault accounts create SLUG --name NAME",
    )


async def accounts_show(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``accounts show SLUG``: the account, its plan and what it uses."""
    account = await accounts.get(args.slug)
    usage = await accounts.scope(account).usage()
    return Result(item={**account_view(account), "usage": usage})


async def accounts_update(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``accounts update SLUG``: name, add-ons, quotas."""
    plan_changes = args.addon or args.remove_addon or args.quota
    if args.name is None and not plan_changes:
        raise UsageError("nothing to change: give --name, --addon, --remove-addon or --quota")
    account = await accounts.get(args.slug)
    plan = _plan(account.plan, args.addon, args.remove_addon, args.quota) if plan_changes else None
    await accounts.update(args.slug, name=args.name, plan=plan)
    return Result(f"updated account {args.slug}")


async def accounts_delete(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``accounts delete SLUG``: refused while it owns anything, unless ``--force``."""
    account = await accounts.get(args.slug)
    usage = await accounts.scope(account).usage()
    owned = [_plural(usage[key], key[:-1]) for key in ("objects", "numbers", "trunks", "prompts")]
    owned = [text for text in owned if not text.startswith("0 ")]
    if owned and not args.force:
        raise UsageError(
            f"account {args.slug} still has {', '.join(owned)}; delete them first, or add "
            "--force to delete the account with everything it owns"
        )
    await accounts.delete(args.slug)
    return Result(f"deleted account {args.slug}" + (f" with {', '.join(owned)}" if owned else ""))


# -- numbers ------------------------------------------------------------------


async def numbers_create(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``numbers create NUMBER --account SLUG [--to LOGIN] [--label TEXT]``."""
    scope = await _scope(accounts, args)
    number = await scope.add_number(args.number, target_login=args.to, label=args.label)
    leads = f"leading to {args.to}" if args.to else "leading nowhere yet"
    return Result(f"added number {display(number.e164)} to account {args.account}, {leads}")


async def numbers_list(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``numbers list --account SLUG``."""
    scope = await _scope(accounts, args)
    return Result(
        rows=[number_view(number) for number in await scope.list_numbers()],
        columns=(("display", "NUMBER"), ("to", "TO"), ("kind", "KIND"), ("label", "LABEL")),
        empty=f"no numbers in account {args.account}; add one: "
        f"callvault numbers create NUMBER --account {args.account}",
    )


async def numbers_show(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``numbers show NUMBER --account SLUG``."""
    scope = await _scope(accounts, args)
    return Result(item=number_view(await scope.get_number(args.number)))


async def numbers_update(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``numbers update NUMBER --account SLUG``: target and/or label."""
    if args.to is None and not args.unassign and args.label is None:
        raise UsageError("nothing to change: give --to LOGIN, --unassign or --label TEXT")
    scope = await _scope(accounts, args)
    target = args.to if args.to is not None else ("" if args.unassign else None)
    number = await scope.assign_number(args.number, target_login=target, label=args.label)
    view = number_view(number)
    return Result(
        f"updated number {view['display']}: leads to {view['to'] or 'nowhere'}, "
        f"label {view['label']!r}"
    )


async def numbers_delete(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``numbers delete NUMBER --account SLUG``."""
    scope = await _scope(accounts, args)
    number = await scope.get_number(args.number)
    await scope.delete_number(number.e164)
    return Result(f"deleted number {display(number.e164)} from account {args.account}")


# -- objects ------------------------------------------------------------------


async def objects_create(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``objects create --account SLUG --kind KIND --login LOGIN ...``."""
    settings = parse_settings(args.set, OBJECT_SETTINGS[args.kind], args.kind)
    if args.password is not None:
        if args.kind != "sip_account":
            raise UsageError(f"--password is for sip_account objects, not {args.kind}")
        settings["password"] = args.password
    if args.kind == "sip_account" and not settings.get("password"):
        raise UsageError("a sip_account needs a password: add --password SECRET")
    scope = await _scope(accounts, args)
    obj = await scope.create_object(
        args.kind,
        args.login,
        name=args.name,
        extension=args.extension or None,
        settings=settings,
    )
    extension = f" (extension {obj.extension})" if obj.extension else ""
    return Result(f"created {args.kind} {args.login}{extension} in account {args.account}")


async def objects_list(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``objects list --account SLUG [--kind KIND]``."""
    scope = await _scope(accounts, args)
    numbers = await scope.list_numbers()
    return Result(
        rows=[object_view(obj, numbers) for obj in await scope.list_objects(args.kind)],
        columns=(
            ("login", "LOGIN"),
            ("kind", "KIND"),
            ("extension", "EXT"),
            ("name", "NAME"),
            ("numbers", "NUMBERS"),
        ),
        empty=f"no objects in account {args.account}; create one: callvault objects create "
        f"--account {args.account} --kind KIND --login LOGIN",
    )


async def objects_show(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``objects show --account SLUG --login LOGIN``."""
    scope = await _scope(accounts, args)
    obj = await scope.get_object(args.login)
    return Result(item=object_view(obj, await scope.list_numbers()))


async def objects_update(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``objects update --account SLUG --login LOGIN``: name, extension, password, settings."""
    if all(
        value is None or value == []
        for value in (args.name, args.extension, args.password, args.set, args.unset)
    ):
        raise UsageError(
            "nothing to change: give --name, --extension, --password, --set or --unset"
        )
    scope = await _scope(accounts, args)
    obj = await scope.get_object(args.login)
    kind = obj.kind.value
    settings = parse_settings(args.set, OBJECT_SETTINGS[kind], kind)
    if args.password is not None:
        if kind != "sip_account":
            raise UsageError(f"--password is for sip_account objects; {args.login} is a {kind}")
        settings["password"] = args.password
    if kind == "sip_account" and (
        "password" in args.unset or ("password" in settings and not settings["password"])
    ):
        raise UsageError("a sip_account needs a password; give a new one with --password")
    await scope.update_object(
        args.login,
        name=args.name,
        extension=args.extension,
        settings=settings or None,
        unset=args.unset,
    )
    return Result(f"updated {kind} {args.login} in account {args.account}")


async def objects_delete(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``objects delete``: refused while numbers lead to the object, unless ``--force``."""
    scope = await _scope(accounts, args)
    obj = await scope.get_object(args.login)
    pointing = [n for n in await scope.list_numbers() if n.object_id == obj.id]
    shown = ", ".join(display(n.e164) for n in pointing)
    if pointing and not args.force:
        raise UsageError(
            f"{obj.kind.value} {args.login} is the target of number(s) {shown}; point them "
            f"elsewhere (callvault numbers update NUMBER --account {args.account} --to LOGIN) "
            "or add --force to delete it and leave them unassigned"
        )
    for number in pointing:
        await scope.assign_number(number.e164, target_login="")
    await scope.delete_object(args.login)
    unassigned = f"; unassigned {shown}" if pointing else ""
    return Result(f"deleted {obj.kind.value} {args.login} from account {args.account}{unassigned}")


# -- trunks -------------------------------------------------------------------


async def trunks_create(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``trunks create --account SLUG --name NAME --set KEY=VALUE ...``."""
    settings = parse_settings(args.set, TrunkSettings, "trunk")
    scope = await _scope(accounts, args)
    await scope.create_trunk(args.name, settings)
    return Result(f"created trunk {args.name} in account {args.account}")


async def trunks_list(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``trunks list --account SLUG``."""
    scope = await _scope(accounts, args)
    return Result(
        rows=[trunk_view(trunk) for trunk in await scope.list_trunks()],
        columns=(
            ("name", "NAME"),
            ("settings.gateway", "GATEWAY"),
            ("settings.username", "USERNAME"),
            ("settings.inbound_addresses", "INBOUND"),
        ),
        empty=f"no trunks in account {args.account}; create one: callvault trunks create "
        f"--account {args.account} --name NAME --set gateway=sip:HOST",
    )


async def trunks_show(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``trunks show --account SLUG --name NAME``."""
    scope = await _scope(accounts, args)
    return Result(item=trunk_view(await scope.get_trunk(args.name)))


async def trunks_update(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``trunks update --account SLUG --name NAME``: merge ``--set``, drop ``--unset``."""
    if not args.set and not args.unset:
        raise UsageError("nothing to change: give --set KEY=VALUE or --unset KEY")
    settings = parse_settings(args.set, TrunkSettings, "trunk")
    scope = await _scope(accounts, args)
    await scope.update_trunk(args.name, settings=settings, unset=args.unset)
    return Result(f"updated trunk {args.name} in account {args.account}")


async def trunks_delete(accounts: Accounts, args: argparse.Namespace) -> Result:
    """``trunks delete --account SLUG --name NAME``."""
    scope = await _scope(accounts, args)
    await scope.delete_trunk(args.name)
    return Result(f"deleted trunk {args.name} from account {args.account}")


HANDLERS: dict[tuple[str, str], Handler] = {
    ("accounts", "create"): accounts_create,
    ("accounts", "list"): accounts_list,
    ("accounts", "show"): accounts_show,
    ("accounts", "update"): accounts_update,
    ("accounts", "delete"): accounts_delete,
    ("numbers", "create"): numbers_create,
    ("numbers", "list"): numbers_list,
    ("numbers", "show"): numbers_show,
    ("numbers", "update"): numbers_update,
    ("numbers", "delete"): numbers_delete,
    ("objects", "create"): objects_create,
    ("objects", "list"): objects_list,
    ("objects", "show"): objects_show,
    ("objects", "update"): objects_update,
    ("objects", "delete"): objects_delete,
    ("trunks", "create"): trunks_create,
    ("trunks", "list"): trunks_list,
    ("trunks", "show"): trunks_show,
    ("trunks", "update"): trunks_update,
    ("trunks", "delete"): trunks_delete,
}
"""(command, action) → handler."""
