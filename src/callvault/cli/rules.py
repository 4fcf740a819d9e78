"""``callvault rules list|add|delete|test``: an account's recording rules from the shell.

``add`` builds a rule from options (``--when KEY=VALUE`` per condition) or
reads a whole one from a TOML file; ``test`` is a dry run of
:func:`~callvault.recording.rules.decide` for a call described on the command
line, printing the decision and every rule's reasons.  Like the other
management commands, each runs in one transaction (a refused command writes
nothing) and errors are one ``error: ...`` line with exit code 2; output and
error wording come from :mod:`callvault.cli.admin`.  Building the parser
imports no database code.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from callvault.cli.admin import Result, UsageError, _explain, _fail, _first_line, _print

if TYPE_CHECKING:
    from callvault.recording.rules import RuleConditions
    from callvault.store.repository import AccountScope

_DB_HELP = "database URL (default: CALLVAULT_DATABASE_URL, else ./data/callvault.db)"
_WHEN_HELP = (
    "a condition as KEY=VALUE, repeatable (all must hold): directions=inbound,outbound; "
    "numbers=DID,...; objects=LOGIN,...; object_kinds=queue,...; caller_patterns=48600*,...; "
    "callee_patterns=...; caller_list=N,...; schedule='mon-fri 08:00-17:00' (';' or repeat "
    "for more windows, account time zone); sample_percent=0-100"
)
_RULE_OPTIONS: tuple[str, ...] = ("name", "priority", "when", "record", "mode", "format")
_RULE_OPTIONS += ("retention_days", "announcement", "disabled")
"""``add`` options that ``--file`` replaces."""


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def add_rules_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rules`` with its actions ``list``, ``add``, ``delete`` and ``test``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--account", required=True, metavar="SLUG", help="the account's slug")
    common.add_argument("--db", metavar="URL", help=_DB_HELP)
    rules = sub.add_parser(
        "rules",
        help="an account's recording rules: which calls are recorded, and how",
        description="Recording rules are tried in priority order (lower first); the first "
        "whose every condition holds decides: record (how) or never record. No rule "
        "matched: not recorded. Run 'callvault rules ACTION --help' for the options.",
        epilog=_examples(
            "callvault rules add --account acme --name office --priority 10 "
            "--when directions=inbound --when schedule='mon-fri 08:00-17:00' --mode stereo",
            "callvault rules add --account acme --name hr --priority 1 --when objects=hr --never",
            "callvault rules test --account acme --from 600123456 --to 221234567 "
            "--at '2026-11-25 14:30'",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = rules.add_subparsers(dest="rules_action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="list the rules in the order they are tried", parents=[common]
    )
    listing.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    add = actions.add_parser(
        "add", help="add a rule (options, or --file rule.toml)", parents=[common]
    )
    add.add_argument(
        "--file",
        type=Path,
        help="a whole rule as TOML (name, priority, enabled, "
        "[conditions], [decision]); no other rule options then",
    )
    add.add_argument("--name", help="the rule's name, unique in the account")
    add.add_argument("--priority", type=int, help="lower is tried first (default 100)")
    add.add_argument("--when", action="append", default=[], metavar="KEY=VALUE", help=_WHEN_HELP)
    verdict = add.add_mutually_exclusive_group()
    verdict.add_argument(
        "--record",
        dest="record",
        action="store_true",
        default=None,
        help="record the matching calls (default)",
    )
    verdict.add_argument(
        "--never", dest="record", action="store_false", help="never record the matching calls"
    )
    add.add_argument("--mode", choices=("mixed", "stereo"), help="one channel, or one per side")
    add.add_argument("--format", choices=("wav", "mp3", "opus"), help="file format (default wav)")
    add.add_argument("--retention-days", type=int, metavar="N", help="keep N days (default 90)")
    add.add_argument("--announcement", metavar="PROMPT", help="prompt played before recording")
    add.add_argument("--disabled", action="store_true", default=None, help="add it switched off")
    delete = actions.add_parser("delete", help="delete a rule", parents=[common])
    delete.add_argument("--name", required=True, help="the rule's name")
    test = actions.add_parser(
        "test",
        parents=[common],
        help="dry run: would a call be recorded, by which rule, and why",
        description="Describe a call and see what the account's rules decide, with the "
        "reasons for every rule tried. Nothing is recorded or written.",
    )
    test.add_argument("--from", dest="from_number", required=True, metavar="N", help="caller")
    test.add_argument("--to", dest="to_number", required=True, metavar="N", help="called number")
    test.add_argument(
        "--direction",
        choices=("inbound", "outbound", "internal"),
        default="inbound",
        help="default inbound",
    )
    test.add_argument(
        "--number",
        metavar="DID",
        help="the account number the call came in on "
        "(default for inbound calls: --to when the account owns it)",
    )
    test.add_argument(
        "--object",
        action="append",
        default=[],
        metavar="LOGIN",
        help="an object the call passed through, repeatable",
    )
    test.add_argument(
        "--at",
        metavar="'YYYY-MM-DD HH:MM'",
        help="when the call starts, in the account's time zone (default now)",
    )
    test.add_argument("--call-id", help="the call id sampling hashes (default: a new one)")
    test.add_argument("--json", action="store_true", help="print the decision as JSON")


# -- handlers -----------------------------------------------------------------


def _conditions(pairs: list[str]) -> dict[str, Any]:
    """``--when KEY=VALUE`` options as conditions; list values split on ``,`` (``;``
    for schedule windows) and a repeated key adds to its list."""
    from callvault.recording.rules import RuleConditions

    conditions: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = (part.strip() for part in pair.partition("="))
        if not sep or not key or not text:
            raise UsageError(
                f"--when wants KEY=VALUE, not {pair!r} (e.g. --when directions=inbound)"
            )
        if key not in RuleConditions.model_fields:
            keys = ", ".join(RuleConditions.model_fields)
            raise UsageError(f"--when: no condition {key!r}; the conditions are: {keys}")
        if key == "sample_percent":
            if key in conditions:
                raise UsageError("--when sample_percent is given twice")
            conditions[key] = text
        else:
            items = [item.strip() for item in text.split(";" if key == "schedule" else ",")]
            conditions.setdefault(key, []).extend(item for item in items if item)
    return conditions


def _rule_data(args: argparse.Namespace) -> dict[str, Any]:
    """The rule ``add`` was given: the TOML file, or the options."""
    if args.file is not None:
        given = [
            f"--{o.replace('_', '-')}" for o in _RULE_OPTIONS if getattr(args, o) not in (None, [])
        ]
        if given:
            raise UsageError(f"--file holds the whole rule; drop {', '.join(given)}")
        try:
            return tomllib.loads(args.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read {args.file}: {exc}") from None
    if not args.name:
        raise UsageError("a rule needs --name (or --file rule.toml)")
    decision = {
        key: value
        for key, value in (
            ("record", args.record),
            ("mode", args.mode),
            ("format", args.format),
            ("retention_days", args.retention_days),
            ("announcement", args.announcement),
        )
        if value is not None
    }
    if decision.get("record") is False and len(decision) > 1:
        raise UsageError("--never records nothing; drop the other decision options")
    data: dict[str, Any] = {"name": args.name, "conditions": _conditions(args.when)}
    data["decision"] = decision
    if args.priority is not None:
        data["priority"] = args.priority
    if args.disabled:
        data["enabled"] = False
    return data


def _when_text(conditions: RuleConditions) -> str:
    parts = []
    for key in type(conditions).model_fields:
        value = getattr(conditions, key)
        if key == "schedule" and value is not None:
            value = "; ".join(window.describe() for window in value)
        elif isinstance(value, list):
            value = ",".join(value)
        if value is not None:
            parts.append(f"{key}={value}")
    return " ".join(parts) or "any call"


async def _list(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.rule_store import list_rules, to_rule

    rows = []
    for row in await list_rules(scope):
        rule = to_rule(row)
        rows.append(
            {
                **rule.model_dump(mode="json", exclude_none=True),
                "when": _when_text(rule.conditions),
                "then": rule.decision.summary(),
            }
        )
    return Result(
        rows=rows,
        columns=(
            ("priority", "PRIORITY"),
            ("name", "NAME"),
            ("enabled", "ENABLED"),
            ("then", "DECISION"),
            ("when", "CONDITIONS"),
        ),
        empty=f"no recording rules: no call is recorded; add one: callvault rules add "
        f"--account {scope.account.slug} --name NAME",
    )


async def _add(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.rule_store import add_rule, validate_rule

    rule = validate_rule(_rule_data(args))
    await add_rule(scope, rule)
    return Result(
        f"added rule {rule.name!r} (priority {rule.priority}) to {scope.account.slug}: "
        f"{rule.decision.summary()} when {_when_text(rule.conditions)}"
    )


async def _delete(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.rule_store import delete_rule

    await delete_rule(scope, args.name)
    return Result(f"deleted rule {args.name!r} from {scope.account.slug}")


def _started(at: str | None, zone: str) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(at.strip())
    except ValueError:
        raise UsageError(f"--at wants 'YYYY-MM-DD HH:MM' in {zone}, not {at!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(zone))


async def _test(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.engine.trace import new_call_id
    from callvault.recording.rule_store import load_rules
    from callvault.recording.rules import CallFacts, decide, digits_of, explain_text
    from callvault.store.errors import InvalidInputError, NotFoundError

    zone = scope.account.timezone
    number = None
    if args.number:
        number = (await scope.get_number(args.number)).e164
    elif args.direction == "inbound":
        with contextlib.suppress(NotFoundError, InvalidInputError):
            number = (await scope.get_number(args.to_number)).e164
    objects = [await scope.get_object(login) for login in args.object]
    facts = CallFacts(
        call_id=args.call_id or new_call_id(),
        direction=args.direction,
        from_number=args.from_number,
        to_number=args.to_number,
        number=number,
        objects=[(obj.kind.value, obj.login) for obj in objects],
        started_at=_started(args.at, zone),
    )
    try:
        decision = decide(facts, await load_rules(scope.session, scope.account_id), timezone=zone)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        return Result(item=decision.model_dump(mode="json"))
    local = facts.started_at.astimezone(ZoneInfo(zone))
    header = [
        f"dry run for call {facts.call_id} (nothing is recorded)",
        f"  {facts.direction} from {digits_of(facts.from_number)} "
        f"to {digits_of(facts.to_number)}, number {number or 'none'}",
        f"  objects {', '.join(f'{kind}:{login}' for kind, login in facts.objects) or 'none'}",
        f"  at {local:%a %Y-%m-%d %H:%M} {zone}",
    ]
    return Result("\n".join([*header, explain_text(decision)]))


HANDLERS = {"list": _list, "add": _add, "delete": _delete, "test": _test}


# -- running ------------------------------------------------------------------


def run_rules(args: argparse.Namespace) -> int:
    """Run one parsed ``rules`` command; the exit code."""
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from callvault.cli.manage import database_for
    from callvault.store.errors import NotFoundError, StoreError
    from callvault.store.repository import Accounts

    db = database_for(args.db)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            try:
                accounts = Accounts(session)
                scope = accounts.scope(await accounts.get(args.account))
                result = await HANDLERS[args.rules_action](scope, args)
            except UsageError as exc:
                await session.rollback()
                return _fail(exc)
            except StoreError as exc:
                await session.rollback()
                text = _explain(exc, args)
                if isinstance(exc, NotFoundError) and text.startswith("no recording rule"):
                    text += f"; see: callvault rules list --account {args.account}"
                return _fail(text)
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
