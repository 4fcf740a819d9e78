"""Long jobs in the background: the runner, ZIP export of recordings, erasure by number.

A job is a row of :class:`~callvault.store.jobs.Job` plus an asyncio task of
the node that accepted it; at most :data:`CONCURRENCY` run at a time per node,
the others wait as ``queued``.  While it waits or runs, the task writes its
progress (0..100) and message at most every :data:`PROGRESS_EVERY` seconds,
and touches ``updated_at`` every :data:`HEARTBEAT` seconds; the result comes
with the end (``done``, progress 100, or ``failed`` with the reason).

Jobs do not outlive their node.  When a node's :class:`JobRunner` starts, it
marks the ``queued``/``running`` jobs of that node (``jobs.node``: host and
data directory) failed -- "interrupted: the node restarted ..." -- and, on
any node, a job whose heartbeat is older than :data:`STALE` fails the same way
(its node is gone).  The user starts it again.

Kinds (:data:`KINDS`):

``export``
    A ZIP of the listed recordings, each decrypted into it as it is read from
    the storage (ZIP_STORED: audio does not compress), with ``manifest.json``
    (which file is which recording, and what was skipped and why).  *Where
    the clear ZIP lives*: it is built in a private (0600) file in
    ``<data_dir>/jobs`` -- the data directory already holds clear audio, in
    the recorders' spools -- and deleted as soon as it is sealed: encrypted in
    the recordings' own format (:func:`~callvault.recording.crypto.encrypt_file`)
    under a fresh key that only the job row keeps, wrapped by the master key.
    The sealed file goes to the recording storage
    (``exports/<account>/<job>.zip.enc``), so whichever node answers the
    download decrypts it on the fly (:func:`open_result`), like playback.  It
    and its key are deleted after :data:`RESULT_TTL`.  So the export rests as
    protected as the recordings and is clear only on the node's own disk while
    it is built.  (It cannot be sealed while it streams: the format's header
    holds the clear length, which a ZIP being written does not know yet.)

``erase``
    :func:`callvault.recording.lifecycle.erase_number`: every recording of a
    caller number in the account, legal holds respected, each deletion
    logged; the job's result is the report, item by item.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.engine.trace import new_call_id
from callvault.recording.crypto import (
    DataKey,
    DecryptError,
    EncryptedRecording,
    KeyRing,
    encrypt_file,
)
from callvault.recording.lifecycle import erase_number
from callvault.recording.storage import RecordingStorage, StorageError
from callvault.store.db import Database
from callvault.store.jobs import Job, JobState
from callvault.store.models import AccountKey, Recording, RecordingState

log = logging.getLogger("callvault.jobs")

CONCURRENCY = 2
"""Jobs running at once on one node."""
PROGRESS_EVERY = 0.5
"""Seconds between progress writes (at most)."""
HEARTBEAT = 30.0
"""Seconds between ``updated_at`` touches of a job that has nothing new to say."""
STALE = timedelta(minutes=10)
"""A queued or running job silent this long lost its node."""
RESULT_TTL = timedelta(hours=24)
"""How long an export's ZIP can be downloaded."""
MAX_EXPORT = 10_000
"""Recordings in one export at most."""
UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)
EXPORTABLE = (RecordingState.READY.value, RecordingState.PARTIAL.value)
WRITE_BATCH = 1 << 20
"""Clear bytes gathered before one write into the ZIP (in a worker thread)."""


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive one (as SQLite returns them) is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_job_id() -> str:
    """``j-`` + a ULID (sortable by creation time)."""
    return "j-" + new_call_id().removeprefix("c-")


def node_name(work_dir: Path) -> str:
    """This node's name in ``jobs.node``: its host and data directory, stable across restarts."""
    where = hashlib.sha256(str(work_dir.resolve()).encode()).hexdigest()[:12]
    return f"{socket.gethostname()[:48]}:{where}"


def is_lost(job: Job, now: datetime | None = None) -> bool:
    """Whether ``job`` is unfinished but its node stopped giving signs of life."""
    now = now or utcnow()
    return job.state in UNFINISHED and as_utc(job.updated_at) < now - STALE


class JobError(Exception):
    """A job cannot go on; the message is what its user reads."""


@dataclass
class JobContext:
    """What a running job gets: its request, the node's parts, and a progress reporter."""

    job_id: str
    account_id: int
    actor: str
    params: dict[str, Any]
    db: Database
    storage: RecordingStorage
    keyring: KeyRing
    work_dir: Path
    percent: int = 0
    message: str = ""
    changed: bool = False

    def progress(self, percent: float, message: str | None = None) -> None:
        """Report progress (0..100; kept at 99 at most until the job ends) and a message."""
        value = max(0, min(99, int(percent)))
        if value != self.percent or (message is not None and message != self.message):
            self.percent = value
            if message is not None:
                self.message = message[:500]
            self.changed = True


@dataclass
class JobOutcome:
    """What a finished job leaves: its message, result JSON and an export's sealed file."""

    message: str
    result: dict[str, Any] = field(default_factory=dict)
    result_path: str | None = None
    result_key: bytes | None = None
    result_size: int = 0


JobWork = Callable[[JobContext], Awaitable[JobOutcome]]


class JobRunner:
    """Runs jobs as asyncio tasks of this node and keeps their rows up to date (one per app)."""

    def __init__(
        self,
        db: Database,
        storage: RecordingStorage,
        keyring: KeyRing,
        work_dir: Path,
        *,
        concurrency: int = CONCURRENCY,
        kinds: Mapping[str, JobWork] | None = None,
    ) -> None:
        self.db, self.storage, self.keyring = db, storage, keyring
        self.work_dir = work_dir
        self.kinds: dict[str, JobWork] = dict(KINDS if kinds is None else kinds)
        self.node = node_name(work_dir)
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._started = False
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Once: clear old staging files, fail interrupted and lost jobs, expire old results."""
        async with self._start_lock:
            if self._started:
                return
            await asyncio.to_thread(self._prepare_work_dir)
            failed = await self.recover()
            if failed:
                log.warning("marked %d interrupted job(s) as failed", failed)
            await self.sweep()
            self._started = True

    def _prepare_work_dir(self) -> None:
        self.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for leftover in self.work_dir.glob("j-*.zip*"):
            leftover.unlink(missing_ok=True)  # a clear ZIP a crash left behind

    async def recover(self, *, restarted: bool = True) -> int:
        """Fail lost jobs (silent for :data:`STALE`), and with ``restarted`` this node's unfinished.

        :meth:`start` recovers after a restart; later calls pass ``restarted=False``:
        a job of this node committed a moment ago and not launched yet must not
        be taken for one a restart interrupted.  How many were failed.
        """
        now = utcnow()
        which = Job.updated_at < now - STALE
        if restarted:
            which = or_(Job.node == self.node, which)
        async with self.db.session() as session:
            rows = await session.scalars(select(Job).where(Job.state.in_(UNFINISHED), which))
            failed = [row for row in rows if row.id not in self.tasks]
            for row in failed:
                fail(row, interrupted_reason(row, self.node), now)
            await session.commit()
        return len(failed)

    async def sweep(self) -> int:
        """Delete expired export results (file and key); how many."""
        now = utcnow()
        async with self.db.session() as session:
            rows = list(
                await session.scalars(
                    select(Job).where(Job.result_path.is_not(None), Job.expires_at <= now)
                )
            )
            for row in rows:
                assert row.result_path is not None
                try:
                    await self.storage.delete(row.result_path)
                except StorageError as exc:
                    log.warning("job %s: cannot delete its expired result yet: %s", row.id, exc)
                    continue
                row.result_path, row.result_key = None, None
                row.message = (row.message + " (the file expired and was deleted)")[:500]
            await session.commit()
        return len(rows)

    def prepare(
        self,
        account_id: int,
        kind: str,
        params: dict[str, Any],
        *,
        created_by: int | None,
        actor: str,
    ) -> Job:
        """A new ``queued`` job row for the caller to add and commit, then :meth:`launch`."""
        if kind not in self.kinds:
            raise ValueError(f"unknown job kind {kind!r}")
        now = utcnow()
        return Job(
            id=new_job_id(),
            account_id=account_id,
            kind=kind,
            state=JobState.QUEUED.value,
            progress=0,
            message="waiting for a free slot",
            params=params,
            result={},
            result_size=0,
            created_by=created_by,
            actor=actor[:300],
            node=self.node,
            created_at=now,
            updated_at=now,
        )

    def launch(self, job: Job) -> None:
        """Start the committed job ``job`` as a task of this node."""
        ctx = JobContext(
            job.id, job.account_id, job.actor, dict(job.params), self.db, self.storage,
            self.keyring, self.work_dir, message=job.message,
        )  # fmt: skip
        task = asyncio.get_running_loop().create_task(self._run(job.kind, ctx), name=job.id)
        self.tasks[job.id] = task
        task.add_done_callback(lambda _t: self.tasks.pop(job.id, None))

    async def close(self) -> None:
        """Cancel this node's jobs (the next start marks them interrupted)."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, kind: str, ctx: JobContext) -> None:
        pulse = asyncio.create_task(self._pulse(ctx))
        outcome: JobOutcome | None = None
        failed: str | None = None
        try:
            async with self._slots:
                ctx.message = "running"
                await self._write(ctx.job_id, state=JobState.RUNNING.value, started_at=utcnow(),
                                  message=ctx.message)  # fmt: skip
                outcome = await self.kinds[kind](ctx)
        except JobError as exc:
            failed = str(exc)
        except Exception as exc:
            log.exception("job %s (%s) failed", ctx.job_id, kind)
            failed = f"failed: {type(exc).__name__}: {exc}"
        finally:
            pulse.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pulse
        try:
            await self._end(ctx.job_id, outcome=outcome, failed=failed)
        except Exception:
            log.exception("job %s: its end could not be written (it will show as lost)",
                          ctx.job_id)  # fmt: skip

    async def _pulse(self, ctx: JobContext) -> None:
        """Write the reported progress now and then, and a heartbeat when there is none."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            if not ctx.changed and time.monotonic() - last < HEARTBEAT:
                continue
            ctx.changed = False
            try:
                await self._write(ctx.job_id, progress=ctx.percent, message=ctx.message)
                last = time.monotonic()
            except Exception as exc:  # the next pulse tries again
                log.warning("job %s: progress not written: %s", ctx.job_id, exc)

    async def _write(self, job_id: str, **values: Any) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.state.in_(UNFINISHED))
                .values(updated_at=utcnow(), **values)
            )
            await session.commit()

    async def _end(
        self, job_id: str, *, outcome: JobOutcome | None = None, failed: str | None = None
    ) -> None:
        now = utcnow()
        if outcome is not None:
            expires = now + RESULT_TTL if outcome.result_path else None
            await self._write(
                job_id, state=JobState.DONE.value, progress=100, message=outcome.message[:500],
                result=outcome.result, result_path=outcome.result_path,
                result_key=outcome.result_key, result_size=outcome.result_size,
                finished_at=now, expires_at=expires,
            )  # fmt: skip
        else:
            await self._write(job_id, state=JobState.FAILED.value, message=(failed or "")[:500],
                              finished_at=now)  # fmt: skip


def interrupted_reason(job: Job, node: str) -> str:
    """Why an unfinished job is failed on recovery: its node restarted, or went silent."""
    if job.node == node:
        return f"interrupted: the node restarted while the job was {job.state}; start it again"
    minutes = int(STALE.total_seconds() // 60)
    return (
        f"interrupted: its node ({job.node}) stopped answering (no sign of life for {minutes}"
        " min); start it again"
    )


def fail(job: Job, reason: str, now: datetime | None = None) -> None:
    """Mark ``job`` failed with ``reason`` (the caller commits)."""
    now = now or utcnow()
    job.state, job.message = JobState.FAILED.value, reason[:500]
    job.finished_at = job.updated_at = now


# -- export ---------------------------------------------------------------------------------


async def account_data_key(
    session: AsyncSession, keyring: KeyRing, account_id: int
) -> DataKey | None:
    """The account's recording data key, unwrapped; None if it has none."""
    row = await session.scalar(select(AccountKey).where(AccountKey.account_id == account_id))
    if row is None or not row.wrapped_key:
        return None
    return DataKey(row.key_id, keyring.unwrap(row.wrapped_key))


def _unexportable(row: Recording | None) -> str | None:
    """Why the recording cannot go into an export, or None if it can."""
    if row is None:
        return "deleted meanwhile"
    if row.state not in EXPORTABLE or not row.storage_key:
        return f"not stored ({row.state})"
    if row.encrypted and row.key_id and row.key_id.startswith("rsa:"):
        return "sealed to the account's own public key: only its private key opens it"
    return None


def entry_name(row: Recording) -> str:
    """The recording's file name in the ZIP."""
    return f"{row.id}.{row.format}"


async def _clear_pieces(
    row: Recording, storage: RecordingStorage, key: DataKey | None
) -> tuple[int, AsyncIterator[bytes]]:
    """The recording's clear length and its clear bytes, read (and decrypted) piece by piece."""
    assert row.storage_key is not None
    name = row.storage_key
    if not row.encrypted:
        size = await storage.size(name)
        return size, storage.iter_range(name, 0, size)
    if key is None:
        raise JobError("the account has no recording key")

    async def reader(start: int, end: int) -> bytes:
        return await storage.read_range(name, start, end)

    opened = await EncryptedRecording.open(reader, key)
    return opened.header.plain_length, opened.iter_range(0, opened.header.plain_length)


class _Export:
    """One ZIP being built: the entries written so far and the recordings left out."""

    def __init__(self, ctx: JobContext, archive: zipfile.ZipFile) -> None:
        self.ctx, self.archive = ctx, archive
        self.included: list[dict[str, Any]] = []
        self.skipped: list[dict[str, Any]] = []
        self._key: DataKey | None = None

    async def _load(self, recording_id: str) -> tuple[Recording | None, str | None]:
        """The account's recording and why it cannot be exported (None: it can)."""
        async with self.ctx.db.session() as session:
            row = await session.scalar(
                select(Recording).where(
                    Recording.id == recording_id, Recording.account_id == self.ctx.account_id
                )
            )
            reason = _unexportable(row)
            if reason is None and row is not None and row.encrypted and self._key is None:
                try:
                    self._key = await account_data_key(
                        session, self.ctx.keyring, self.ctx.account_id
                    )
                except DecryptError:
                    raise JobError(
                        "the account's recording key does not open with this node's master key"
                    ) from None
        return row, reason

    async def add(self, recording_id: str) -> None:
        """Decrypt one recording into the ZIP, or note why it is not there."""
        row, reason = await self._load(recording_id)
        if row is None or reason is not None:
            self.skipped.append({"id": recording_id, "reason": reason})
            return
        try:
            size, pieces = await _clear_pieces(row, self.ctx.storage, self._key)
        except (StorageError, DecryptError, JobError) as exc:
            self.skipped.append({"id": recording_id, "reason": f"cannot be read: {exc}"})
            return
        try:
            await self._write(row, size, pieces)
        except (StorageError, DecryptError) as exc:
            log.warning("job %s: recording %s: %s", self.ctx.job_id, recording_id, exc)
            self.skipped.append({"id": recording_id, "file": entry_name(row),
                                 "reason": f"incomplete in the ZIP: {exc}"})  # fmt: skip
            return
        self.included.append(_recording_json(row, size))

    async def _write(self, row: Recording, size: int, pieces: AsyncIterator[bytes]) -> None:
        """A new ZIP entry with ``pieces``, written in worker threads ``WRITE_BATCH`` at a time."""
        info = zipfile.ZipInfo(entry_name(row), as_utc(row.started_at).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        entry: IO[bytes] = self.archive.open(info, "w", force_zip64=size > 0x7FFF0000)
        written, batch = 0, bytearray()
        try:
            async for piece in pieces:
                batch += piece
                if len(batch) >= WRITE_BATCH:
                    await asyncio.to_thread(entry.write, bytes(batch))
                    written += len(batch)
                    batch.clear()
            if batch:
                await asyncio.to_thread(entry.write, bytes(batch))
                written += len(batch)
        finally:
            await asyncio.to_thread(entry.close)
        if written != size:
            raise DecryptError(f"only {written} of {size} bytes could be read")

    def manifest(self) -> bytes:
        """``manifest.json``: which file is which recording, and what was left out and why."""
        body = {
            "job": self.ctx.job_id,
            "requested_by": self.ctx.actor,
            "created_at": utcnow().isoformat(),
            "recordings": self.included,
            "skipped": self.skipped,
        }
        return json.dumps(body, ensure_ascii=False, indent=1).encode()


def _recording_json(row: Recording, size: int) -> dict[str, Any]:
    return {
        "file": entry_name(row),
        "id": row.id,
        "call_id": row.call_id,
        "started_at": as_utc(row.started_at).isoformat(),
        "duration_s": row.duration_ms / 1000,
        "caller_number": row.caller_number,
        "state": row.state,
        "size_bytes": size,
    }


async def export_recordings(ctx: JobContext) -> JobOutcome:
    """Build, seal and store the ZIP of ``params["recording_ids"]`` (the account's only)."""
    ids = [str(value) for value in ctx.params.get("recording_ids", [])]
    staging = ctx.work_dir / f"{ctx.job_id}.zip"
    sealed = ctx.work_dir / f"{ctx.job_id}.zip.enc"
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", allowZip64=True) as archive:
            export = _Export(ctx, archive)
            for done, recording_id in enumerate(ids, 1):
                await export.add(recording_id)
                ctx.progress(done * 95 / max(len(ids), 1), f"{done} of {len(ids)} recordings")
            await asyncio.to_thread(archive.writestr, "manifest.json", export.manifest())
        size = staging.stat().st_size
        ctx.progress(96, "sealing the ZIP")
        plain, wrapped = ctx.keyring.new_data_key()
        await asyncio.to_thread(encrypt_file, staging, sealed, result_key(ctx.job_id, plain))
        staging.unlink()
        path = f"exports/{ctx.account_id}/{ctx.job_id}.zip.enc"
        ctx.progress(98, "storing the ZIP")
        await ctx.storage.put_file(path, sealed)
    finally:
        staging.unlink(missing_ok=True)
        sealed.unlink(missing_ok=True)
    message = f"{len(export.included)} recording(s) in the ZIP"
    if export.skipped:
        message += f", {len(export.skipped)} left out (see the result)"
    result = {"recordings": len(export.included), "skipped": export.skipped, "size_bytes": size}
    return JobOutcome(message, result, path, wrapped, size)


def result_key(job_id: str, secret: bytes) -> DataKey:
    """The data key sealing job ``job_id``'s ZIP."""
    return DataKey(f"job:{job_id}", secret)


async def open_result(job: Job, storage: RecordingStorage, keyring: KeyRing) -> EncryptedRecording:
    """The sealed ZIP of a finished export, opened for decrypting reads."""
    if job.result_path is None or job.result_key is None:
        raise JobError("the job has no file (it is not a finished export, or it expired)")
    path = job.result_path

    async def reader(start: int, end: int) -> bytes:
        return await storage.read_range(path, start, end)

    return await EncryptedRecording.open(reader, result_key(job.id, keyring.unwrap(job.result_key)))


# -- erasure --------------------------------------------------------------------------------


async def erase_recordings(ctx: JobContext) -> JobOutcome:
    """:func:`erase_number` for ``params["number"]``, its report as the result."""
    number = str(ctx.params["number"])

    def progress(done: int, total: int) -> None:
        ctx.progress(done * 100 / max(total, 1), f"{done} of {total} recordings")

    report = await erase_number(ctx.db, ctx.storage, ctx.account_id, number,
                                requested_by=ctx.actor, progress=progress)  # fmt: skip
    counts = {
        "found": len(report.items),
        "deleted": report.count("deleted"),
        "held": report.count("kept"),
        "pending": report.count("not erased"),
        "gone": report.count("gone"),
        "errors": report.count("error"),
    }
    items = [
        {
            "recording_id": item.recording_id,
            "call_id": item.call_id,
            "started_at": as_utc(item.started_at).isoformat(),
            "duration_ms": item.duration_ms,
            "outcome": item.outcome,
            "note": item.note,
        }
        for item in report.items
    ]
    message = f"deleted {counts['deleted']} of {counts['found']} recording(s) of +{report.number}"
    if counts["held"]:
        message += f", {counts['held']} kept on legal hold"
    if counts["pending"] or counts["errors"] or counts["gone"]:
        message += (
            f", {counts['pending'] + counts['errors'] + counts['gone']} not erased:"
            " run it again later"
        )
    return JobOutcome(message, {"number": report.number, **counts, "items": items})


KINDS: dict[str, JobWork] = {"export": export_recordings, "erase": erase_recordings}
"""The job kinds by name."""
