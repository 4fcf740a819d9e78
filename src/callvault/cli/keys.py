"""``callvault recording-key``: seal an account's recordings to the customer's own RSA key.

By default recordings are encrypted with the account's data key, wrapped by
the operator's master key (so the platform can play them in the panel).  A
customer who wants recordings only they can open gives an RSA public key
(2048 bits or more, PEM): from then on each recording's content key is
wrapped to that key alone (RSA-OAEP-SHA256) and the platform cannot decrypt
it.  ``clear`` returns to the platform-readable mode for new recordings.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

from sqlalchemy import select

from callvault.cli.manage import database_for
from callvault.recording.crypto import RecipientKey
from callvault.store.errors import NotFoundError
from callvault.store.models import AccountKey
from callvault.store.repository import Accounts


def add_keys_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``recording-key set|show|clear``."""
    parser = sub.add_parser(
        "recording-key",
        help="seal an account's recordings to its own RSA public key (customer-only decryption)",
        description=__doc__.splitlines()[2] if __doc__ else None,
        epilog="example:\n  callvault recording-key set --account acme --public-key acme.pub.pem",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="key_action", metavar="ACTION", required=True)
    for name, text in (
        ("set", "seal new recordings to this RSA public key"),
        ("show", "which key new recordings are sealed with"),
        ("clear", "go back to the platform-readable account key"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--account", required=True, metavar="SLUG")
        action.add_argument("--db", metavar="URL", help="database URL (default as for serve)")
        if name == "set":
            action.add_argument("--public-key", type=Path, required=True, help="PEM file")


def run_keys(args: argparse.Namespace) -> int:
    """Run one ``recording-key`` command; the exit code."""
    try:
        print(asyncio.run(_run(args)))
    except (NotFoundError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


async def _run(args: argparse.Namespace) -> str:
    pem = args.public_key.read_bytes() if args.key_action == "set" else b""
    recipient = RecipientKey.from_pem(pem) if pem else None  # validates before any write
    db = database_for(args.db)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            account = await Accounts(session).get(args.account)
            row = await session.scalar(
                select(AccountKey).where(AccountKey.account_id == account.id)
            )
            if args.key_action == "show":
                if row is None or not row.public_key_pem:
                    return f"{args.account}: account key (the platform can play recordings)"
                key_id = RecipientKey.from_pem(row.public_key_pem.encode()).key_id
                return f"{args.account}: sealed to the customer's key {key_id}"
            if row is None:
                row = AccountKey(account_id=account.id, key_id="k-" + secrets.token_hex(8),
                                 wrapped_key=b"")  # fmt: skip
                session.add(row)
            row.public_key_pem = pem.decode() if recipient is not None else None
            await session.commit()
    finally:
        await db.close()
    if recipient is not None:
        return f"{args.account}: new recordings are sealed to {recipient.key_id}"
    return f"{args.account}: new recordings use the account key again"
