"""The demo account's panel side: an administrator to sign in with, and a rule that records.

Made once, when :func:`callvault.store.seed.seed_demo` has just created the
demo account, so that a newcomer can call the demo DID from a softphone
and find the recording in the panel a moment later.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from callvault.recording.rule_store import add_rule, validate_rule
from callvault.store.db import Database
from callvault.store.repository import Accounts
from callvault.store.seed import DEMO_SLUG
from callvault.web.identity import create_user

DEMO_ADMIN = "admin@demo.example"


@dataclass(frozen=True)
class DemoAdmin:
    """What to print: the panel sign-in of the demo account."""

    account: str
    email: str
    password: str


async def seed_demo_panel(db: Database) -> DemoAdmin:
    """Add the demo administrator and a "record the demo DID" rule to the demo account."""
    password = secrets.token_urlsafe(12)
    async with db.session() as session:
        accounts = Accounts(session)
        account = await accounts.get(DEMO_SLUG)
        await create_user(
            session, account, DEMO_ADMIN, password, "administrator", name="Demo admin",
            language="en",
        )  # fmt: skip
        rule = validate_rule(
            {
                "name": "demo-did",
                "priority": 10,
                "conditions": {"numbers": ["+48220000201"]},
                "decision": {"record": True, "mode": "stereo", "format": "wav",
                             "retention_days": 30},
            }
        )  # fmt: skip
        await add_rule(accounts.scope(account), rule)
        await session.commit()
    return DemoAdmin(DEMO_SLUG, DEMO_ADMIN, password)
