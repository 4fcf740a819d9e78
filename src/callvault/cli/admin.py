"""``callvault accounts|numbers|objects|trunks``: imperative management of a node's data.

The imperative counterpart of ``callvault apply``: one command changes one
thing.  This module holds the argparse wiring, the runner and the output
(aligned tables, ``field: value`` lines, ``--json``); the commands themselves
are in :mod:`callvault.cli.admin_handlers`.  Every command runs in one
transaction: it commits only when it succeeded, so a refused command writes
nothing.  Errors are one ``error: ...`` line on stderr saying what to do
next, with exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callvault.store.errors import StoreError

RESOURCES = ("accounts", "numbers", "objects", "trunks")
"""The top-level commands this module adds."""
KINDS = ("sip_account", "queue", "ivr_menu", "ivr_api")
"""Object kinds (the values of ``callvault.store.models.ObjectKind``; kept here so
building the parser imports no database code)."""
EXIT_ERROR = 2

_DB_HELP = "database URL (default: CALLVAULT_DATABASE_URL, else ./data/callvault.db)"
_SET_HELP = (
    "a setting as KEY=VALUE, repeatable; VALUE is read as JSON when it parses "
    '(20, true, null, \'["jan","ewa"]\'), else as text'
)


class UsageError(Exception):
    """A command that cannot run as given; the message says what to do instead."""


@dataclass
class Result:
    """What a command hands back, printed only after its transaction committed."""

    message: str = ""
    rows: list[dict[str, Any]] | None = None
    columns: tuple[tuple[str, str], ...] = ()
    """(key, header) of the table columns; a key may be dotted (``settings.gateway``)."""
    item: dict[str, Any] | None = None
    empty: str = ""
    """Printed instead of an empty table."""


# -- parsers ------------------------------------------------------------------


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _action(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    *parents: argparse.ArgumentParser,
    examples: tuple[str, ...] = (),
) -> argparse.ArgumentParser:
    return actions.add_parser(
        name,
        help=text,
        description=text[0].upper() + text[1:] + ".",
        epilog=_examples(*examples) if examples else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=list(parents),
    )


def add_admin_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``accounts``, ``numbers``, ``objects`` and ``trunks`` with their actions."""
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", metavar="URL", help=_DB_HELP)
    account = argparse.ArgumentParser(add_help=False)
    account.add_argument("--account", required=True, metavar="SLUG", help="the account's slug")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    _accounts(sub, db, as_json)
    _numbers(sub, db, account, as_json)
    _objects(sub, db, account, as_json)
    _trunks(sub, db, account, as_json)


def _resource(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str, example: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = sub.add_parser(
        name,
        help=text,
        description=f"{text[0].upper()}{text[1:]}. One transaction per command: "
        "a refused command writes nothing. Run 'callvault "
        f"{name} ACTION --help' for the options of an action.",
        epilog=_examples(example),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.add_subparsers(dest="admin_action", metavar="ACTION", required=True)


def _plan_options(parser: argparse.ArgumentParser, *, update: bool) -> None:
    parser.add_argument(
        "--addon",
        action="append",
        default=[],
        metavar="ADDON",
        help="add an add-on to the plan (ivr_api, recording), repeatable",
    )
    if update:
        parser.add_argument(
            "--remove-addon",
            action="append",
            default=[],
            metavar="ADDON",
            help="remove an add-on from the plan, repeatable",
        )
    parser.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="NAME=N",
        help="set a quota (numbers, sip_accounts, concurrent_calls, recording_storage_mb); "
        "N=unlimited removes it; repeatable",
    )


def _accounts(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    db: argparse.ArgumentParser,
    as_json: argparse.ArgumentParser,
) -> None:
    actions = _resource(
        sub,
        "accounts",
        "companies: their name, SIP domain and plan (add-ons, quotas)",
        'callvault accounts create acme --name "ACME sp. z o.o." --quota numbers=10',
    )
    create = _action(
        actions,
        "create",
        "create an account",
        db,
        examples=(
            "callvault accounts create acme --name 'ACME sp. z o.o.' --sip-domain acme.example",
            "callvault accounts create shop --addon ivr_api --quota sip_accounts=5",
        ),
    )
    create.add_argument("slug", help="stable handle: 2-63 of a-z 0-9 -")
    create.add_argument("--name", help="company name (default: the slug)")
    create.add_argument("--sip-domain", help="phones register as login@DOMAIN (default: slug)")
    create.add_argument("--timezone", default="Europe/Warsaw", help="default Europe/Warsaw")
    _plan_options(create, update=False)
    _action(actions, "list", "list accounts", db, as_json, examples=("callvault accounts list",))
    show = _action(
        actions,
        "show",
        "show an account, its plan and what it uses",
        db,
        as_json,
        examples=("callvault accounts show acme --json",),
    )
    show.add_argument("slug", help="account slug")
    update = _action(
        actions,
        "update",
        "change an account's name or plan (other add-ons and quotas are kept)",
        db,
        examples=(
            "callvault accounts update acme --addon ivr_api --quota numbers=20",
            "callvault accounts update acme --remove-addon recording --quota numbers=unlimited",
        ),
    )
    update.add_argument("slug", help="account slug")
    update.add_argument("--name", help="new company name")
    _plan_options(update, update=True)
    delete = _action(
        actions,
        "delete",
        "delete an account",
        db,
        examples=("callvault accounts delete acme --force",),
    )
    delete.add_argument("slug", help="account slug")
    delete.add_argument(
        "--force", action="store_true", help="also when it still has objects, numbers, trunks"
    )


def _numbers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    db: argparse.ArgumentParser,
    account: argparse.ArgumentParser,
    as_json: argparse.ArgumentParser,
) -> None:
    actions = _resource(
        sub,
        "numbers",
        "an account's phone numbers (DIDs) and the objects they lead to",
        'callvault numbers create "+48 22 123 45 67" --account acme --to jan --label "Google Ads"',
    )
    number_help = "the number in any usual form: +48 22 123 45 67, 0048..., 221234567"
    create = _action(
        actions,
        "create",
        "add a number to an account",
        db,
        account,
        examples=("callvault numbers create 221234567 --account acme --to sales",),
    )
    create.add_argument("number", help=number_help)
    create.add_argument("--to", metavar="LOGIN", help="login of the object it leads to")
    create.add_argument("--label", default="", help="free text, e.g. the campaign it is for")
    _action(
        actions,
        "list",
        "list an account's numbers",
        db,
        account,
        as_json,
        examples=("callvault numbers list --account acme",),
    )
    show = _action(
        actions,
        "show",
        "show one number",
        db,
        account,
        as_json,
        examples=("callvault numbers show '(22) 123-45-67' --account acme",),
    )
    show.add_argument("number", help=number_help)
    update = _action(
        actions,
        "update",
        "point a number at another object, or change its label",
        db,
        account,
        examples=(
            "callvault numbers update +48221234567 --account acme --to reception",
            "callvault numbers update +48221234567 --account acme --unassign --label spare",
        ),
    )
    update.add_argument("number", help=number_help)
    target = update.add_mutually_exclusive_group()
    target.add_argument("--to", metavar="LOGIN", help="login of the object it leads to")
    target.add_argument("--unassign", action="store_true", help="make it lead nowhere")
    update.add_argument("--label", help="new label")
    delete = _action(
        actions,
        "delete",
        "remove a number from an account",
        db,
        account,
        examples=("callvault numbers delete 221234567 --account acme",),
    )
    delete.add_argument("number", help=number_help)


def _objects(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    db: argparse.ArgumentParser,
    account: argparse.ArgumentParser,
    as_json: argparse.ArgumentParser,
) -> None:
    actions = _resource(
        sub,
        "objects",
        "an account's SIP accounts (phones), queues, IVR menus and IVR API objects",
        "callvault objects create --account acme --kind sip_account --login jan "
        "--extension 101 --password s3cret-pass",
    )
    login_help = "the object's login, unique in the account"
    create = _action(
        actions,
        "create",
        "create an object",
        db,
        account,
        examples=(
            "callvault objects create --account acme --kind sip_account --login jan "
            "--name 'Jan Kowalski' --extension 101 --password s3cret-pass",
            "callvault objects create --account acme --kind queue --login sales "
            '--set members=\'["jan","ewa"]\' --set strategy=round-robin',
        ),
    )
    create.add_argument("--kind", required=True, choices=KINDS, help="what the object is")
    create.add_argument("--login", required=True, help=login_help)
    create.add_argument("--name", default="", help="display name")
    create.add_argument("--extension", help="short number inside the account, e.g. 101")
    create.add_argument("--password", help="digest password (sip_account, required there)")
    create.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP)
    listing = _action(
        actions,
        "list",
        "list an account's objects",
        db,
        account,
        as_json,
        examples=("callvault objects list --account acme --kind queue",),
    )
    listing.add_argument("--kind", choices=KINDS, help="only objects of this kind")
    show = _action(
        actions,
        "show",
        "show one object, its settings (secrets masked) and its numbers",
        db,
        account,
        as_json,
        examples=("callvault objects show --account acme --login jan",),
    )
    show.add_argument("--login", required=True, help=login_help)
    update = _action(
        actions,
        "update",
        "change an object's name, extension, password or settings (others are kept)",
        db,
        account,
        examples=(
            "callvault objects update --account acme --login sales --set ring_timeout_s=20",
            "callvault objects update --account acme --login jan --extension '' --unset caller_id",
        ),
    )
    update.add_argument("--login", required=True, help=login_help)
    update.add_argument("--name", help="new display name")
    update.add_argument("--extension", help="new short number ('' removes it)")
    update.add_argument("--password", help="new digest password (sip_account)")
    update.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP)
    update.add_argument(
        "--unset", action="append", default=[], metavar="KEY", help="reset a setting to default"
    )
    delete = _action(
        actions,
        "delete",
        "delete an object (refused while numbers lead to it, unless --force)",
        db,
        account,
        examples=("callvault objects delete --account acme --login jan",),
    )
    delete.add_argument("--login", required=True, help=login_help)
    delete.add_argument(
        "--force", action="store_true", help="also when numbers lead to it (they are unassigned)"
    )


def _trunks(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    db: argparse.ArgumentParser,
    account: argparse.ArgumentParser,
    as_json: argparse.ArgumentParser,
) -> None:
    actions = _resource(
        sub,
        "trunks",
        "an account's provider trunks (inbound sources, outbound gateway, number format)",
        "callvault trunks create --account acme --name provider "
        "--set gateway=sip:sip.provider.example --set inbound_addresses='[\"198.51.100.10\"]'",
    )
    name_help = "the trunk's name, unique in the account"
    create = _action(
        actions,
        "create",
        "create a trunk",
        db,
        account,
        examples=(
            "callvault trunks create --account acme --name provider "
            "--set gateway=sip:sip.provider.example --set username=acme "
            "--set password=trunk-pass",
        ),
    )
    create.add_argument("--name", required=True, help=name_help)
    create.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP)
    _action(
        actions,
        "list",
        "list an account's trunks",
        db,
        account,
        as_json,
        examples=("callvault trunks list --account acme",),
    )
    show = _action(
        actions,
        "show",
        "show one trunk (secrets masked)",
        db,
        account,
        as_json,
        examples=("callvault trunks show --account acme --name provider",),
    )
    show.add_argument("--name", required=True, help=name_help)
    update = _action(
        actions,
        "update",
        "change a trunk's settings (others are kept)",
        db,
        account,
        examples=(
            "callvault trunks update --account acme --name provider --set number_format=national",
        ),
    )
    update.add_argument("--name", required=True, help=name_help)
    update.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP)
    update.add_argument(
        "--unset", action="append", default=[], metavar="KEY", help="reset a setting to default"
    )
    delete = _action(
        actions,
        "delete",
        "delete a trunk",
        db,
        account,
        examples=("callvault trunks delete --account acme --name provider",),
    )
    delete.add_argument("--name", required=True, help=name_help)


# -- running ------------------------------------------------------------------


def run_admin(args: argparse.Namespace) -> int:
    """Run one parsed ``accounts|numbers|objects|trunks`` command; the exit code."""
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from callvault.cli.admin_handlers import HANDLERS
    from callvault.cli.manage import database_for
    from callvault.store.errors import StoreError
    from callvault.store.repository import Accounts

    handler = HANDLERS[args.command, args.admin_action]
    db = database_for(args.db)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            try:
                result = await handler(Accounts(session), args)
            except (StoreError, UsageError) as exc:
                await session.rollback()
                return _fail(exc if isinstance(exc, UsageError) else _explain(exc, args))
            await session.commit()
    except OperationalError as exc:
        return _fail(
            f"cannot use the database: {_first_line(exc)}; check --db or CALLVAULT_DATABASE_URL"
        )
    except SQLAlchemyError as exc:
        return _fail(f"the database refused the change: {_first_line(exc)}; nothing was written")
    finally:
        await db.close()
    _print(result, as_json=getattr(args, "json", False))
    return 0


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _explain(exc: StoreError, args: argparse.Namespace) -> str:
    """The store's message plus the command that helps next."""
    from callvault.store.errors import ConflictError, NotFoundError, PlanLimitError

    text = str(exc)
    slug = getattr(args, "account", None) or getattr(args, "slug", None) or "SLUG"
    step = ""
    if isinstance(exc, PlanLimitError):
        quota = re.search(r"quota (\w+) reached", text)
        addon = re.search(r"the (\w+) add-on", text)
        if quota:
            step = f"raise it: callvault accounts update {slug} --quota {quota[1]}=N"
        elif addon:
            step = f"add it: callvault accounts update {slug} --addon {addon[1]}"
        if step:  # replaces the store's advice, which speaks of the account file
            text = text.split(";")[0]
    elif isinstance(exc, NotFoundError):
        for resource in ("objects", "numbers", "trunks"):
            if text.startswith(f"no {resource[:-1]} "):
                step = f"see: callvault {resource} list --account {slug}"
    elif isinstance(exc, ConflictError):
        if args.command == "numbers":
            step = "a number belongs to one account only; see: callvault numbers list --account"
            step += f" {slug}"
        elif args.command == "accounts":
            step = "pick another slug or --sip-domain; see: callvault accounts list"
        else:
            step = f"pick another one; see: callvault {args.command} list --account {slug}"
    return f"{text}; {step}" if step else text


# -- output -------------------------------------------------------------------


def _print(result: Result, *, as_json: bool) -> None:
    if result.rows is not None:
        if as_json:
            print(json.dumps(result.rows, indent=2, ensure_ascii=False))
        elif result.rows:
            print(render_table(result.rows, result.columns))
        else:
            print(result.empty)
    elif result.item is not None:
        if as_json:
            print(json.dumps(result.item, indent=2, ensure_ascii=False))
        else:
            print(render_item(result.item))
    else:
        print(result.message)


def _lookup(row: dict[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str:
    if value is None or value in ("", [], {}):
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={_text(item)}" for key, item in value.items())
    return json.dumps(value, ensure_ascii=False)


def render_table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]) -> str:
    """Rows as left-aligned columns under upper-case headers."""
    lines = [[header for _, header in columns]]
    lines += [[_text(_lookup(row, key)) for key, _ in columns] for row in rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _flatten(item: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in item.items():
        if isinstance(value, dict) and value:
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((prefix + key, _text(value)))
    return out


def render_item(item: dict[str, Any]) -> str:
    """One item as ``field: value`` lines, nested fields dotted (``settings.password``)."""
    pairs = _flatten(item)
    width = max(len(key) for key, _ in pairs) + 1
    return "\n".join(f"{key + ':':<{width}} {value}" for key, value in pairs)
