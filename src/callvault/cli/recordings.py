"""``callvault recordings ...``: list recordings, legal holds, retention and erasure runs.

``list``, ``hold``/``release``, ``hold-number``/``release-number`` and
``deletions`` work on one account in one transaction, like the other
management commands (:mod:`callvault.cli.admin`: tables, ``--json``, errors as
one ``error: ...`` line with exit code 2).  ``expire`` runs the retention job
of :mod:`callvault.recording.lifecycle` once over all accounts; ``erase``
deletes an account's recordings of one caller number after showing them and
asking.  Both delete files, so they use the node's storage, built from the
same settings as ``callvault serve`` (``--config``, ``--data-dir``, the
environment).  Building the parser imports no database code.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from callvault.cli.admin import Result, UsageError, _explain, _fail, _first_line, _print
from callvault.cli.admin import render_table as table
from callvault.store.numbers import display

if TYPE_CHECKING:
    from callvault.config import Settings
    from callvault.recording.lifecycle import ErasureItem
    from callvault.store.db import Database
    from callvault.store.repository import AccountScope

STATES = ("recording", "processing", "ready", "partial", "failed", "expected-but-missing")
"""The values of ``callvault.store.models.RecordingState`` (no database import here)."""
PROGRESS_FROM = 20
"""``erase`` shows a progress line on stderr from this many recordings on."""
_DB_HELP = "database URL (default: settings, CALLVAULT_DATABASE_URL, else DATA_DIR/callvault.db)"
Columns = tuple[tuple[str, str], ...]
_NUMBER_HELP = "a phone number in any usual form: +48 600 123 456, 0048..., 600123456"


def add_recordings_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``recordings`` with its actions."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help=_DB_HELP)
    common.add_argument("--config", type=Path, help="TOML settings file, as for callvault serve")
    common.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    account = argparse.ArgumentParser(add_help=False)
    account.add_argument("--account", required=True, metavar="SLUG", help="the account's slug")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    parser = sub.add_parser(
        "recordings",
        help="call recordings: list, legal holds, retention, erasure (RODO/GDPR)",
        description="Recordings are deleted when their retention ends (every node runs the "
        "retention job hourly) or on an erasure request. A legal hold on a recording, or "
        "on a number of its call, keeps it through both. Every deletion is logged.",
        epilog="examples:\n"
        "  callvault recordings list --account acme --number '+48 600 123 456'\n"
        "  callvault recordings hold-number --account acme 600123456 --reason 'case 12/2026'\n"
        "  callvault recordings erase --account acme --number 600123456 --requested-by DPO-77\n"
        "  callvault recordings expire --now 2026-12-31T00:00:00Z",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="recordings_action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="an account's recordings, newest first", parents=[common, account, as_json]
    )
    listing.add_argument("--number", help="only this caller number; " + _NUMBER_HELP)
    listing.add_argument("--state", choices=STATES, help="only recordings in this state")
    listing.add_argument("--limit", type=int, default=200, help="at most N (default 200)")
    for name, text in (
        ("hold", "put a recording on legal hold"),
        ("release", "lift a recording's legal hold"),
        ("hold-number", "put every recording of a number (caller or called) on legal hold"),
        ("release-number", "lift a number's legal hold"),
    ):
        action = actions.add_parser(name, help=text, parents=[common, account])
        if name.endswith("-number"):
            action.add_argument("number", help=_NUMBER_HELP)
        else:
            action.add_argument("recording_id", metavar="RECORDING_ID", help="e.g. r-01JD...")
    actions.choices["hold-number"].add_argument("--reason", default="", help="e.g. a case number")
    expire = actions.add_parser(
        "expire",
        help="run the retention job once (all accounts) and print its report",
        description="Delete every recording whose retention has ended, except those on legal "
        "hold. Exit code 1 when some could not be deleted (they are retried next run).",
        parents=[common],
    )
    expire.add_argument("--now", metavar="ISO", help="as if it were then (default now; UTC)")
    erase = actions.add_parser(
        "erase",
        help="erasure request: delete an account's recordings of a caller number",
        description="Show the account's recordings of the caller number, ask, delete them "
        "from the storage and the database (logged with --requested-by), print the report. "
        "Recordings on legal hold are kept and reported: a legal hold wins over erasure. "
        "Exit code 1 when something could not be erased or the answer was no.",
        parents=[common, account],
    )
    erase.add_argument("--number", required=True, help=_NUMBER_HELP)
    erase.add_argument("--yes", action="store_true", help="do not ask")
    erase.add_argument("--requested-by", help="who asked (person, ticket); default cli:USER")
    actions.add_parser(
        "deletions", help="the deletion log: what, when, why", parents=[common, account, as_json]
    )


# -- formatting ------------------------------------------------------------------------


def _when(value: datetime | None, zone: str) -> str:
    if value is None:
        return "never"
    return f"{value.replace(tzinfo=value.tzinfo or UTC).astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=value.tzinfo or UTC).isoformat()


def _shown(number: str) -> str:
    return display(number) if number.isdigit() else number


def _strip(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """``rows`` without the keys only the table shows (for ``--json``)."""
    return [{key: value for key, value in row.items() if key not in keys} for row in rows]


def _duration(ms: int) -> str:
    return f"{ms // 60000}:{ms // 1000 % 60:02d}"


def _items(items: list[ErasureItem], zone: str) -> str:
    rows = [
        {"id": i.recording_id, "call": i.call_id, "started": _when(i.started_at, zone),
         "duration": _duration(i.duration_ms), "outcome": i.outcome, "note": i.note}
        for i in items
    ]  # fmt: skip
    columns = (("id", "RECORDING"), ("call", "CALL"), ("started", "STARTED"))
    return table(rows, (*columns, ("duration", "LENGTH"), ("outcome", "OUTCOME"), ("note", "WHY")))


# -- account-scoped commands ---------------------------------------------------------------


async def _list(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.lifecycle import list_recordings

    zone, rows = scope.account.timezone, []
    found = await list_recordings(scope, number=args.number, state=args.state, limit=args.limit)
    for row, hold in found:
        rows.append(
            {"id": row.id, "call_id": row.call_id, "started_at": _iso(row.started_at),
             "started": _when(row.started_at, zone), "duration_ms": row.duration_ms,
             "length": _duration(row.duration_ms), "caller_number": row.caller_number,
             "caller": _shown(row.caller_number),
             "state": row.state, "rule": row.rule_name, "storage_key": row.storage_key,
             "size_bytes": row.size_bytes, "expires_at": _iso(row.expires_at),
             "expires": _when(row.expires_at, zone), "legal_hold": row.legal_hold, "hold": hold}
        )  # fmt: skip
    if args.json:
        rows = _strip(rows, "started", "length", "caller", "expires")
    columns: Columns = (("id", "ID"), ("call_id", "CALL"), ("started", "STARTED"))
    columns += (("length", "LENGTH"), ("caller", "CALLER"), ("state", "STATE"))
    columns += (("expires", "EXPIRES"), ("hold", "HOLD"))
    return Result(rows=rows, columns=columns, empty=f"no recordings in {scope.account.slug} match")


async def _hold(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.lifecycle import hold_recording

    if await hold_recording(scope, args.recording_id):
        return Result(f"recording {args.recording_id} of {scope.account.slug} is on legal hold: "
                      "kept past its retention and through erasure requests")  # fmt: skip
    return Result(f"recording {args.recording_id} was already on legal hold")


async def _release(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.lifecycle import get_recording, release_recording

    if not await release_recording(scope, args.recording_id):
        return Result(f"recording {args.recording_id} was not on legal hold")
    expires = (await get_recording(scope, args.recording_id)).expires_at
    return Result(f"released the legal hold on recording {args.recording_id}; its retention "
                  f"ends {_when(expires, scope.account.timezone)}")  # fmt: skip


async def _hold_number(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.lifecycle import e164, hold_number

    number = display(e164(args.number))
    if await hold_number(scope, args.number, reason=args.reason):
        return Result(f"number {number} is on legal hold in {scope.account.slug}: recordings of "
                      "its calls are kept past retention and through erasure requests")  # fmt: skip
    return Result(f"number {number} was already on legal hold in {scope.account.slug}")


async def _release_number(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.lifecycle import e164, release_number

    number, slug = display(e164(args.number)), scope.account.slug
    if await release_number(scope, args.number):
        return Result(f"released the legal hold on number {number} in {slug}")
    return Result(f"number {number} was not on legal hold in {slug}")


async def _deletions(scope: AccountScope, args: argparse.Namespace) -> Result:
    from callvault.recording.lifecycle import list_deletions

    rows = []
    for row in await list_deletions(scope):
        detail = row.detail or {}
        why = f"requested by {detail.get('requested_by')}" if row.reason == "erasure" else ""
        if row.reason == "retention":
            why = f"expired {_when(_parse(detail.get('expires_at')), scope.account.timezone)}"
        if detail.get("object") == "missing":
            why += "; its file was already gone"
        rows.append(
            {"deleted_at": _iso(row.deleted_at), "recording_id": row.recording_id,
             "call_id": row.call_id, "caller_number": row.caller_number, "reason": row.reason,
             "detail": detail, "when": _when(row.deleted_at, scope.account.timezone), "why": why,
             "caller": _shown(row.caller_number)}
        )  # fmt: skip
    if args.json:
        rows = _strip(rows, "when", "why", "caller")
    columns: Columns = (("when", "DELETED"), ("recording_id", "RECORDING"), ("call_id", "CALL"))
    columns += (("caller", "CALLER"), ("reason", "REASON"), ("why", "DETAIL"))
    return Result(rows=rows, columns=columns, empty=f"no deletions in {scope.account.slug}")


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


HANDLERS = {"list": _list, "hold": _hold, "release": _release, "hold-number": _hold_number,
            "release-number": _release_number, "deletions": _deletions}  # fmt: skip


# -- commands that delete files ----------------------------------------------------------------


async def _expire(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    from callvault.recording.lifecycle import expire
    from callvault.recording.manager import build_storage

    now = datetime.now(UTC)
    if args.now:
        try:
            now = datetime.fromisoformat(args.now.strip())
        except ValueError:
            raise UsageError(
                f"--now wants an ISO time like 2026-12-31T00:00Z, not {args.now!r}"
            ) from None
    report = await expire(db, build_storage(settings)[1], now=now)
    print(report.summary())
    for problem in report.problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if report.errors else 0


async def _erase(db: Database, settings: Settings, args: argparse.Namespace) -> int:
    from callvault.recording.lifecycle import KEPT_HOLD, e164, erase_number, erasure_plan
    from callvault.recording.manager import build_storage
    from callvault.store.repository import Accounts

    async with db.session() as session:
        account = await Accounts(session).get(args.account)
    number, slug, zone = e164(args.number), account.slug, account.timezone
    plan = await erasure_plan(db, account.id, number)
    if not plan:
        print(f"no recordings of {display(number)} in {slug}: nothing to erase")
        return 0
    doomed = sum(item.outcome == "deleted" for item in plan)
    print(f"recordings of {display(number)} in {slug} ({doomed} of {len(plan)} to delete):")
    print(_items(plan, zone).replace("OUTCOME", "PLANNED"))
    if doomed and not args.yes and not _confirm(f"delete {doomed} recording(s) for good? [y/N] "):
        print("nothing was deleted")
        return 1

    def progress(done: int, total: int) -> None:
        if total >= PROGRESS_FROM:
            end = "\n" if done == total else ""
            print(f"\rerasing {done}/{total}", end=end, file=sys.stderr, flush=True)

    requested_by = args.requested_by or f"cli:{_user()}"
    report = await erase_number(db, build_storage(settings)[1], account.id, number,
                                requested_by=requested_by, progress=progress)  # fmt: skip
    print(_items(report.items, zone))
    kept, deleted = report.count(KEPT_HOLD), report.count("deleted")
    print(f"erased {deleted} of {len(report.items)} recordings of {display(number)} in {slug} "
          f"(requested by {requested_by})")  # fmt: skip
    if kept:
        hint = f"callvault recordings release|release-number --account {slug}"
        print(f"{kept} kept: legal hold wins over erasure; lift the hold first ({hint}) "
              "if the erasure must go ahead")  # fmt: skip
    return 0 if deleted + kept == len(report.items) else 1


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        print()
        return False


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# -- running ------------------------------------------------------------------------------


def run_recordings(args: argparse.Namespace) -> int:
    """Run one parsed ``recordings`` command; the exit code."""
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from callvault.config import load_settings
    from callvault.store.db import Database
    from callvault.store.errors import NotFoundError, StoreError
    from callvault.store.repository import Accounts

    try:
        settings = load_settings(args.config, data_dir=args.data_dir)
    except (ValidationError, ValueError, OSError) as exc:
        return _fail(f"invalid settings: {_first_line(exc)}")
    db = Database(args.db or settings.database_url or Database.default_url(settings.data_dir))
    action = args.recordings_action
    try:
        await asyncio.to_thread(db.migrate)
        if action in ("expire", "erase"):
            return await (_expire if action == "expire" else _erase)(db, settings, args)
        async with db.session() as session:
            try:
                accounts = Accounts(session)
                scope = accounts.scope(await accounts.get(args.account))
                result = await HANDLERS[action](scope, args)
            except StoreError:
                await session.rollback()
                raise
            await session.commit()
    except (UsageError, ValueError) as exc:
        return _fail(exc)
    except StoreError as exc:
        text = _explain(exc, args)
        if isinstance(exc, NotFoundError) and text.startswith("no recording"):
            text += f"; see: callvault recordings list --account {args.account}"
        return _fail(text)
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
