"""The audit log (dziennik audytu): append-only, hash-chained per account.

Every entry's ``hash`` is SHA-256 of the previous entry's hash (64 zeros for
an account's first) followed by the canonical JSON of the entry itself
(account, time, actor, action, target, address, detail: sorted keys, no
spaces, UTF-8).  Changing, removing or reordering a stored entry breaks the
chain from that entry on, which :func:`verify_chain` reports.  Appends of one
account are serialised by a row lock on the account (a no-op update), so two
writers never fork the chain; the entry commits with the caller's
transaction, together with what it records.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.identity import AuditEntry
from callvault.store.models import Account
from callvault.web.context import as_utc
from callvault.web.security import Principal

GENESIS = "0" * 64
BATCH = 1000


def canonical(entry: AuditEntry) -> bytes:
    """The bytes of ``entry`` that its hash covers (not its id, not its hashes)."""
    body = {
        "account_id": entry.account_id,
        "at": as_utc(entry.at).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "ip": entry.ip,
        "detail": entry.detail,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    """``sha256(prev_hash + canonical JSON of entry)`` as hex."""
    return hashlib.sha256(prev_hash.encode() + canonical(entry)).hexdigest()


async def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    target_type: str = "",
    target_id: str = "",
    ip: str = "",
    detail: dict[str, Any] | None = None,
    *,
    account_id: int | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Append an entry to the account's chain (committed with the caller's transaction).

    Without a principal (failed sign-ins, share links, the CLI) give
    ``account_id`` and ``actor``.
    """
    if principal is not None:
        account_id = principal.account_id if account_id is None else account_id
        actor = principal.actor if actor is None else actor
    if account_id is None or actor is None:
        raise ValueError("an audit entry needs an account and an actor")
    # Lock the account's row: appends of one account run one at a time.
    await session.execute(update(Account).where(Account.id == account_id).values(slug=Account.slug))
    last = await session.scalar(
        select(AuditEntry.hash)
        .where(AuditEntry.account_id == account_id)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    prev = last or GENESIS
    entry = AuditEntry(
        account_id=account_id,
        at=datetime.now(UTC),
        actor=actor[:300],
        action=action,
        target_type=target_type,
        target_id=target_id[:64],
        ip=ip[:45],
        detail=json.loads(json.dumps(detail or {}, default=str)),
        prev_hash=prev,
    )
    entry.hash = entry_hash(prev, entry)
    session.add(entry)
    await session.flush()
    return entry


async def verify_chain(session: AsyncSession, account_id: int) -> tuple[bool, int | None]:
    """``(True, None)`` when the account's chain is intact, else ``(False, first bad id)``."""
    prev, after = GENESIS, 0
    while True:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.account_id == account_id, AuditEntry.id > after)
                .order_by(AuditEntry.id)
                .limit(BATCH)
            )
        )
        if not rows:
            return True, None
        for row in rows:
            if row.prev_hash != prev or row.hash != entry_hash(prev, row):
                return False, row.id
            prev, after = row.hash, row.id
