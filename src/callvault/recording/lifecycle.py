"""The end of a recording's life: retention, erasure on request, legal holds.

:func:`expire` deletes the recordings whose ``expires_at`` has passed (every
node runs it periodically: :func:`retention_loop`); :func:`erase_number`
deletes an account's recordings of one caller number (a RODO/GDPR request)
and reports on each.  A legal hold -- on the recording (:func:`hold_recording`)
or on a number of its call (:func:`hold_number`) -- wins over both.

Each recording goes in its own transaction: lock the row (skipped if another
node has it), check the holds again, delete the object from the storage, then
delete the row and write a :class:`RecordingDeletion` in one commit.  A crash
before the commit leaves the row: the next run finds the object gone (fine,
noted) and writes the log entry once.  Recordings still being stored
(``recording``, ``processing``) are left alone, or the outbox would upload
their file after the row is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.recording.storage import RecordingStorage
from callvault.store.db import Database
from callvault.store.errors import InvalidInputError, NotFoundError
from callvault.store.models import (
    CallRecord,
    NumberHold,
    Recording,
    RecordingDeletion,
    RecordingState,
)
from callvault.store.numbers import InvalidNumberError, display, normalize
from callvault.store.repository import AccountScope

log = logging.getLogger("callvault.recording.lifecycle")

BATCH = 500
"""Recording ids read per query by :func:`expire`."""
UNFINISHED = (RecordingState.RECORDING.value, RecordingState.PROCESSING.value)
KEPT_HOLD = "kept: legal hold"
NOT_STORED = "not erased: still being stored; run the erasure again later"
GONE = "gone: deleted meanwhile or busy on another node; run again to confirm"
OUTCOMES = {"deleted": "deleted", "held": KEPT_HOLD, "pending": NOT_STORED, "gone": GONE}
"""An erasure item's outcome for each :class:`Outcome` kind (else ``error: ...``)."""


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive one (as SQLite returns them) is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def e164(text: str) -> str:
    """``text`` normalised to E.164 digits, or :class:`InvalidInputError`."""
    try:
        return normalize(text)
    except InvalidNumberError as exc:
        raise InvalidInputError(str(exc)) from None


def _digits(text: str) -> str:
    try:
        return normalize(text)
    except InvalidNumberError:
        return text


@dataclass
class Outcome:
    """What happened to one recording: ``deleted``, ``held``, ``pending``, ``gone``, ``error``."""

    kind: str
    note: str = ""


@dataclass
class RetentionReport:
    """Counts of one :func:`expire` run, and what went wrong."""

    now: datetime
    deleted: int = 0
    held: int = 0
    """Expired but kept: on legal hold (the recording or its number)."""
    pending: int = 0
    """Expired but still being stored: left for a later run."""
    missing: int = 0
    """Deleted whose object was already gone from the storage."""
    errors: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log and the CLI."""
        text = f"retention run at {self.now.isoformat(timespec='seconds')}: deleted {self.deleted}"
        if self.missing:
            text += f" ({self.missing} whose file was already gone)"
        text += f", kept on legal hold {self.held}, errors {self.errors}"
        return text + (f", still being stored {self.pending}" if self.pending else "")


@dataclass
class ErasureItem:
    """One recording an erasure request found, and what happened to it."""

    recording_id: str
    call_id: str
    started_at: datetime
    duration_ms: int
    outcome: str
    """``deleted``, ``kept: legal hold``, ``not erased: ...`` or ``error: ...``."""
    note: str = ""


@dataclass
class ErasureReport:
    """The result of :func:`erase_number`: every recording of the number, one by one."""

    account_id: int
    number: str
    requested_by: str
    items: list[ErasureItem] = field(default_factory=list)

    def count(self, prefix: str) -> int:
        """How many items have an outcome starting with ``prefix``."""
        return sum(item.outcome.startswith(prefix) for item in self.items)


async def _hold_reason(session: AsyncSession, row: Recording) -> str | None:
    """Why ``row`` must be kept (a legal hold on it or on one of its numbers), or None."""
    if row.legal_hold:
        return "legal hold on the recording"
    numbers = {_digits(row.caller_number)} - {""}
    call = (CallRecord.id == row.call_id, CallRecord.account_id == row.account_id)
    if to_number := await session.scalar(select(CallRecord.to_number).where(*call)):
        numbers.add(_digits(to_number))
    held = await session.scalar(
        select(NumberHold.number)
        .where(NumberHold.account_id == row.account_id, NumberHold.number.in_(numbers))
        .limit(1)
    )
    return f"legal hold on number {display(held)}" if held else None


async def _remove(
    db: Database,
    storage: RecordingStorage,
    recording_id: str,
    *conditions: ColumnElement[bool],
    reason: str,
    detail: dict[str, Any],
) -> Outcome:
    """Delete one recording (storage, row, log entry) in one transaction unless it is held."""
    try:
        async with db.session() as session:
            row = await session.scalar(
                select(Recording)
                .where(Recording.id == recording_id, *conditions)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                return Outcome("gone", "already deleted, or being deleted by another node")
            held = await _hold_reason(session, row)
            if held:
                return Outcome("held", held)
            if row.state in UNFINISHED:
                return Outcome("pending", f"state {row.state}")
            stored = "none"
            if row.storage_key:
                stored = "deleted" if await storage.exists(row.storage_key) else "missing"
                if stored == "deleted":
                    await storage.delete(row.storage_key)
                else:
                    log.info("recording %s: its object %s was already gone from the storage",
                             row.id, row.storage_key)  # fmt: skip
            expires = utc(row.expires_at).isoformat() if row.expires_at else None
            session.add(RecordingDeletion(
                account_id=row.account_id, recording_id=row.id, call_id=row.call_id,
                caller_number=row.caller_number, reason=reason,
                detail={"storage_key": row.storage_key, "size_bytes": row.size_bytes,
                        "rule": row.rule_name, "expires_at": expires, "object": stored,
                        **detail},
            ))  # fmt: skip
            await session.delete(row)
            await session.commit()
            return Outcome("deleted", "its file was already gone" if stored == "missing" else "")
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("deleting recording %s (%s) failed", recording_id, reason)
        return Outcome("error", f"{type(exc).__name__}: {exc}")


async def expire(db: Database, storage: RecordingStorage, *, now: datetime) -> RetentionReport:
    """Delete every recording whose retention ended by ``now``, except those on legal hold."""
    report = RetentionReport(now=utc(now))
    due = Recording.expires_at <= report.now
    after = ""
    while True:
        async with db.session() as session:
            ids = list(
                await session.scalars(
                    select(Recording.id)
                    .where(Recording.expires_at.is_not(None), due, Recording.id > after)
                    .order_by(Recording.id)
                    .limit(BATCH)
                )
            )
        if not ids:
            return report
        after = ids[-1]
        for recording_id in ids:
            outcome = await _remove(db, storage, recording_id, due, reason="retention", detail={})
            if outcome.kind == "deleted":
                report.deleted += 1
                report.missing += bool(outcome.note)
            elif outcome.kind in ("held", "pending"):
                report.held += outcome.kind == "held"
                report.pending += outcome.kind == "pending"
            elif outcome.kind == "error":
                report.errors += 1
                report.problems.append(f"{recording_id}: {outcome.note}")


async def retention_loop(db: Database, storage: RecordingStorage, interval_s: float = 3600) -> None:
    """Run :func:`expire` now and every ``interval_s`` seconds, until cancelled."""
    while True:
        try:
            report = await expire(db, storage, now=datetime.now(UTC))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the retention run failed; trying again in %.0f s", interval_s)
        else:
            if report.deleted or report.errors:
                log.info("%s", report.summary())
            for problem in report.problems:
                log.warning("retention: %s", problem)
        await asyncio.sleep(interval_s)


async def erasure_plan(db: Database, account_id: int, number: str) -> list[ErasureItem]:
    """The account's recordings of caller ``number`` (any form), each with what would happen."""
    digits = e164(number)
    items = []
    async with db.session() as session:
        rows = await session.scalars(
            select(Recording)
            .where(Recording.account_id == account_id, Recording.caller_number == digits)
            .order_by(Recording.started_at, Recording.id)
        )
        for row in rows:
            held = await _hold_reason(session, row)
            outcome = KEPT_HOLD if held else NOT_STORED if row.state in UNFINISHED else "deleted"
            items.append(ErasureItem(row.id, row.call_id, row.started_at, row.duration_ms,
                                     outcome, held or ""))  # fmt: skip
    return items


async def erase_number(
    db: Database,
    storage: RecordingStorage,
    account_id: int,
    number: str,
    *,
    requested_by: str,
    progress: Callable[[int, int], None] | None = None,
) -> ErasureReport:
    """Erase the account's recordings of caller ``number``; held ones are kept and reported.

    ``progress(done, total)`` is called after each recording.
    """
    digits = e164(number)
    report = ErasureReport(account_id, digits, requested_by)
    plan = await erasure_plan(db, account_id, digits)
    mine = (Recording.account_id == account_id, Recording.caller_number == digits)
    detail = {"requested_by": requested_by, "number": digits}
    for done, item in enumerate(plan, 1):
        outcome = await _remove(db, storage, item.recording_id, *mine, reason="erasure",
                                detail=detail)  # fmt: skip
        item.note = outcome.note
        item.outcome = OUTCOMES.get(outcome.kind, f"error: {outcome.note}")
        report.items.append(item)
        if progress is not None:
            progress(done, len(plan))
    return report


# -- legal holds (one account each) ---------------------------------------------------------


async def get_recording(scope: AccountScope, recording_id: str) -> Recording:
    """The account's recording ``recording_id``; another account's is not found."""
    row = await scope.session.scalar(
        select(Recording).where(
            Recording.account_id == scope.account_id, Recording.id == recording_id
        )
    )
    if row is None:
        raise NotFoundError(f"no recording {recording_id} in account {scope.account.slug}")
    return row


async def _set_hold(scope: AccountScope, recording_id: str, held: bool) -> bool:
    row = await get_recording(scope, recording_id)
    changed, row.legal_hold = row.legal_hold != held, held
    await scope.session.flush()
    return changed


async def hold_recording(scope: AccountScope, recording_id: str) -> bool:
    """Put a recording on legal hold; False when it already was."""
    return await _set_hold(scope, recording_id, True)


async def release_recording(scope: AccountScope, recording_id: str) -> bool:
    """Lift a recording's legal hold; False when it had none."""
    return await _set_hold(scope, recording_id, False)


async def _number_hold(scope: AccountScope, digits: str) -> NumberHold | None:
    return await scope.session.scalar(
        select(NumberHold).where(
            NumberHold.account_id == scope.account_id, NumberHold.number == digits
        )
    )


async def hold_number(scope: AccountScope, number: str, *, reason: str = "") -> bool:
    """Put every recording of ``number`` (caller or called) on legal hold; False if it was."""
    digits = e164(number)
    if len(reason) > 200:
        raise InvalidInputError(f"reason is {len(reason)} characters long; at most 200")
    if await _number_hold(scope, digits) is not None:
        return False
    scope.session.add(NumberHold(account_id=scope.account_id, number=digits, reason=reason))
    await scope.session.flush()
    return True


async def release_number(scope: AccountScope, number: str) -> bool:
    """Lift the legal hold on ``number``; False when it had none."""
    hold = await _number_hold(scope, e164(number))
    if hold is None:
        return False
    await scope.session.delete(hold)
    await scope.session.flush()
    return True


async def list_recordings(
    scope: AccountScope, *, number: str | None = None, state: str | None = None, limit: int = 200
) -> list[tuple[Recording, str | None]]:
    """The account's newest ``limit`` recordings, each with its hold reason (or None)."""
    statement = select(Recording).where(Recording.account_id == scope.account_id)
    if number is not None:
        statement = statement.where(Recording.caller_number == e164(number))
    if state is not None:
        statement = statement.where(Recording.state == state)
    order = (Recording.started_at.desc(), Recording.id.desc())
    rows = await scope.session.scalars(statement.order_by(*order).limit(limit))
    return [(row, await _hold_reason(scope.session, row)) for row in rows]


async def list_deletions(scope: AccountScope) -> list[RecordingDeletion]:
    """The account's deletion log, newest first."""
    statement = select(RecordingDeletion).where(RecordingDeletion.account_id == scope.account_id)
    order = (RecordingDeletion.deleted_at.desc(), RecordingDeletion.id.desc())
    return list(await scope.session.scalars(statement.order_by(*order)))
