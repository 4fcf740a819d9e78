"""``callvault users|tokens``: panel users and their API tokens, from the operator's shell.

``users create`` takes the password on stdin (``--password-stdin``) or
makes a strong one and prints it once; ``users totp`` turns on the TOTP
second factor and prints the ``otpauth://`` URI for an authenticator app.
``tokens create`` prints the new token once: only its SHA-256 is stored.
Each command runs in one transaction, is written to the account's audit log
(actor ``cli``), and fails like the other management commands (one
``error: ...`` line, exit code 2).  Building the parser imports no database
code.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from typing import TYPE_CHECKING, Any

from callvault.cli.admin import Result, UsageError, _fail, _first_line, _print

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from callvault.store.models import Account

COMMANDS = ("users", "tokens")
ROLES_HELP = "consultant, team_leader, administrator, auditor, or one of the account's own roles"
SCOPES_HELP = (
    "comma-separated: calls.read, recordings.list, recordings.listen, recordings.download, "
    "recordings.share, recordings.delete, recordings.notes, rules.manage, objects.manage, "
    "users.manage, audit.read (only those the user's role has)"
)
_DB_HELP = "database URL (default: CALLVAULT_DATABASE_URL, else ./data/callvault.db)"


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def add_users_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``users`` and ``tokens`` with their actions."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help=_DB_HELP)
    common.add_argument("--account", required=True, metavar="SLUG", help="the account's slug")
    email = argparse.ArgumentParser(add_help=False)
    email.add_argument("--email", required=True, help="the user's e-mail (their sign-in name)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON (for scripts)")

    users = sub.add_parser(
        "users",
        help="panel users: create, list, delete, turn on TOTP",
        description="People who sign in to the panel and the REST API of one account. "
        "A role says what they may do, a data scope whose calls they see.",
        epilog="examples:\n"
        "  callvault users create --account acme --email jan@acme.pl --role consultant "
        "--sip-login jan\n"
        "  printf '%s\\n' \"$PASSWORD\" | callvault users create --account acme "
        "--email ewa@acme.pl --role team_leader --objects sales,support --password-stdin\n"
        "  callvault users totp --account acme --email ewa@acme.pl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = users.add_subparsers(dest="users_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a user", parents=[common, email])
    create.add_argument("--role", required=True, help=ROLES_HELP)
    create.add_argument("--name", default="", help="the person's name")
    create.add_argument("--sip-login", help="their own SIP account's login (for 'own calls')")
    create.add_argument(
        "--scope",
        choices=("own", "team", "numbers", "account"),
        help="whose calls they see (default: own for consultants, team for team leaders, "
        "else account)",
    )
    create.add_argument("--objects", help="team scope: comma-separated object logins")
    create.add_argument("--numbers", help="numbers scope: comma-separated numbers")
    create.add_argument("--language", choices=("pl", "en"), default="pl", help="panel language")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    actions.add_parser("list", help="list the account's users", parents=[common, as_json])
    actions.add_parser("delete", help="delete a user and their tokens", parents=[common, email])
    totp = actions.add_parser(
        "totp", help="turn on the TOTP second factor (or --off)", parents=[common, email]
    )
    totp.add_argument("--off", action="store_true", help="turn it off instead")

    tokens = sub.add_parser(
        "tokens",
        help="a user's API tokens (Authorization: Bearer cv_...)",
        description="API tokens act for their user with at most the user's role's scopes.",
        epilog="example:\n  callvault tokens create --account acme --email ewa@acme.pl "
        "--name crm --scopes calls.read,recordings.list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    token_actions = tokens.add_subparsers(dest="tokens_action", metavar="ACTION", required=True)
    new = token_actions.add_parser(
        "create", help="create a token (printed once)", parents=[common, email]
    )
    new.add_argument("--name", required=True, help="what it is for, e.g. crm")
    new.add_argument("--scopes", required=True, help=SCOPES_HELP)
    new.add_argument("--expires-days", type=int, metavar="N", help="valid for N days")
    token_actions.add_parser("list", help="list a user's tokens", parents=[common, email, as_json])
    revoke = token_actions.add_parser("delete", help="revoke a token", parents=[common, email])
    revoke.add_argument("--id", type=int, required=True, help="the token's id (see list)")


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password and whether it was generated here (then it is printed once)."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: stdin gave no password")
        return password, False
    return secrets.token_urlsafe(15), True


async def _users(session: AsyncSession, account: Account, args: argparse.Namespace) -> Result:
    from callvault.web import audit
    from callvault.web.identity import create_user, delete_user, enable_totp, get_user, list_users

    if args.users_action == "list":
        rows = [
            {
                "email": user.email,
                "name": user.name,
                "role": user.role,
                "scope": user.data_scope.get("kind"),
                "sip_login": user.sip_login,
                "totp": bool(user.totp_secret),
                "language": user.language,
            }
            for user in await list_users(session, account)
        ]
        columns = (
            ("email", "EMAIL"),
            ("name", "NAME"),
            ("role", "ROLE"),
            ("scope", "SCOPE"),
            ("sip_login", "SIP LOGIN"),
            ("totp", "TOTP"),
        )
        return Result(rows=rows, columns=columns, empty="no users")
    if args.users_action == "create":
        password, generated = _password(args)
        scope = None
        if args.scope or args.objects or args.numbers:
            scope = {
                "kind": args.scope or ("team" if args.objects else "numbers"),
                "objects": _csv(args.objects),
                "numbers": _csv(args.numbers),
            }
        user = await create_user(
            session,
            account,
            args.email,
            password,
            args.role,
            name=args.name,
            sip_login=args.sip_login,
            data_scope=scope,
            language=args.language,
        )
        await audit.record(
            session,
            None,
            "user.create",
            "user",
            str(user.id),
            "",
            {"email": user.email, "role": user.role, "scope": user.data_scope},
            account_id=account.id,
            actor="cli",
        )
        message = f"created user {user.email} ({user.role}, sees {user.data_scope['kind']})"
        if generated:
            message += f"\npassword (shown once): {password}"
        return Result(message=message)
    user = await get_user(session, account, args.email)
    if args.users_action == "delete":
        await delete_user(session, account, args.email)
        await audit.record(
            session,
            None,
            "user.delete",
            "user",
            str(user.id),
            "",
            {"email": user.email},
            account_id=account.id,
            actor="cli",
        )
        return Result(message=f"deleted user {user.email}")
    if args.off:
        user.totp_secret = None
        message = f"TOTP turned off for {user.email}"
    else:
        uri = enable_totp(user)
        message = f"TOTP on for {user.email}; add it to an authenticator app:\n{uri}"
    await audit.record(
        session,
        None,
        "user.totp",
        "user",
        str(user.id),
        "",
        {"enabled": not args.off},
        account_id=account.id,
        actor="cli",
    )
    return Result(message=message)


async def _tokens(session: AsyncSession, account: Account, args: argparse.Namespace) -> Result:
    from datetime import UTC, datetime, timedelta

    from callvault.web import audit
    from callvault.web.identity import create_token, delete_token, get_user, list_tokens

    user = await get_user(session, account, args.email)
    if args.tokens_action == "list":
        rows: list[dict[str, Any]] = [
            {
                "id": token.id,
                "name": token.name,
                "prefix": token.prefix,
                "scopes": token.scopes,
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
            }
            for token in await list_tokens(session, user)
        ]
        columns = (
            ("id", "ID"),
            ("name", "NAME"),
            ("prefix", "PREFIX"),
            ("scopes", "SCOPES"),
            ("expires_at", "EXPIRES"),
            ("last_used_at", "LAST USED"),
        )
        return Result(rows=rows, columns=columns, empty=f"{user.email} has no tokens")
    if args.tokens_action == "delete":
        token = await delete_token(session, user, args.id)
        await audit.record(
            session,
            None,
            "token.delete",
            "token",
            str(token.id),
            "",
            {"name": token.name},
            account_id=account.id,
            actor="cli",
        )
        return Result(message=f"revoked token {token.id} ({token.name})")
    if args.expires_days is not None and args.expires_days < 1:
        raise UsageError("--expires-days must be 1 or more")
    expires = None
    if args.expires_days:
        expires = datetime.now(UTC) + timedelta(days=args.expires_days)
    token, secret = await create_token(
        session, user, args.name, _csv(args.scopes), expires_at=expires
    )
    await audit.record(
        session,
        None,
        "token.create",
        "token",
        str(token.id),
        "",
        {"name": token.name, "scopes": token.scopes, "user": user.email},
        account_id=account.id,
        actor="cli",
    )
    return Result(message=secret)


def run_users(args: argparse.Namespace) -> int:
    """Run one parsed ``users`` or ``tokens`` command; the exit code."""
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    from callvault.cli.manage import database_for
    from callvault.store.errors import StoreError
    from callvault.store.repository import Accounts

    handler = _users if args.command == "users" else _tokens
    db = database_for(args.db)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            try:
                account = await Accounts(session).get(args.account)
                result = await handler(session, account, args)
            except (StoreError, UsageError) as exc:
                await session.rollback()
                return _fail(exc)
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
