"""The demo account a fresh node starts with, so a softphone can register and call at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from callvault.store.db import Database
from callvault.store.errors import NotFoundError
from callvault.store.repository import Accounts

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoCredentials:
    """What to print for a newcomer: SIP domain, logins, passwords."""

    domain: str
    phones: list[tuple[str, str, str]]  # login, extension, password


async def seed_demo(db: Database) -> DemoCredentials | None:
    """Create the demo account once; returns credentials only when it was just created."""
    async with db.session() as session:
        accounts = Accounts(session)
        try:
            await accounts.get(DEMO_SLUG)
            return None
        except NotFoundError:
            pass
        account = await accounts.create(
            DEMO_SLUG, "Demo company", plan={"addons": ["ivr_api", "recording"]}
        )
        scope = accounts.scope(account)
        phones = []
        for login, extension in (("alice", "201"), ("bob", "202")):
            password = secrets.token_urlsafe(9)
            await scope.create_object(
                "sip_account", login, name=login.title(), extension=extension,
                settings={"password": password},
            )  # fmt: skip
            phones.append((login, extension, password))
        await scope.add_number("+48 22 000 02 01", target_login="alice", label="demo DID")
        await session.commit()
        return DemoCredentials(account.sip_domain, phones)
