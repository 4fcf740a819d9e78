"""The upload outbox: finished recordings wait on local disk until the storage has them.

The outbox directory is the queue.  Each waiting file is ``<id>.data`` with
a sidecar ``<id>.json`` (``{"key": ..., "submitted_at": ...}``); ids sort in
submission order.  :meth:`Outbox.submit` writes the sidecar, moves the file
in (both fsynced), then tries one upload; if the storage is down the file
simply stays, and :meth:`Outbox.run` (exponential backoff up to 60 s) or
:meth:`Outbox.drain_once` uploads it later -- also after a restart, since
nothing but the directory holds state.  A file leaves the outbox only after
the storage confirmed it.  A sidecar without its data file is a submission
that crashed before its move (the source file is still where it was); it is
removed when the next :class:`Outbox` opens the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from callvault.recording.storage import RecordingStorage, validate_key

log = logging.getLogger("callvault.recording.outbox")

MAX_BACKOFF_S = 60.0
RESCAN_S = 60.0


@dataclass(frozen=True)
class PendingUpload:
    """One file waiting in the outbox."""

    id: str
    key: str
    path: Path
    size: int
    submitted_at: float


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


class Outbox:
    """A durable queue of files to put into a :class:`RecordingStorage` (one per directory)."""

    def __init__(
        self,
        spool_dir: Path | str,
        storage: RecordingStorage,
        on_uploaded: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """``on_uploaded(key)`` runs after each file reached the storage (e.g. mark it ready)."""
        self.dir = Path(spool_dir)
        self.storage = storage
        self.on_uploaded = on_uploaded
        self.last_error: Exception | None = None
        self._wake = asyncio.Event()
        self._busy: set[str] = set()
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        for sidecar in self.dir.glob("*.json"):
            if not sidecar.with_suffix(".data").exists():
                sidecar.unlink(missing_ok=True)

    def _move_in(self, key: str, source: Path) -> str:
        entry = f"{time.time_ns():020d}-{secrets.token_hex(4)}"
        data = self.dir / f"{entry}.data"
        sidecar = {"key": key, "submitted_at": time.time()}
        meta_path = self.dir / f"{entry}.json"
        _write_durably(meta_path, json.dumps(sidecar).encode())
        try:
            try:
                os.replace(source, data)
            except OSError as exc:  # another file system: copy, fsync, then drop the source
                if exc.errno != errno.EXDEV:
                    raise
                part = self.dir / f"{entry}.data.tmp"
                shutil.copyfile(source, part)
                with part.open("rb+") as f:
                    os.fsync(f.fileno())
                part.replace(data)
                _fsync_dir(self.dir)
                source.unlink()
        except BaseException:
            if not data.exists():
                meta_path.unlink(missing_ok=True)
            raise
        _fsync_dir(self.dir)
        return entry

    async def submit(self, key: str, path: Path | str) -> bool:
        """Take ownership of the finished file ``path`` and upload it under ``key``.

        Returns whether it is already in the storage; if not, it waits in
        the outbox and :meth:`run` retries.  Raises only for a bad key or a
        file that cannot be moved in (then the file stays where it was).
        """
        validate_key(key)
        entry = await asyncio.to_thread(self._move_in, key, Path(path))
        if await self._upload(entry):
            return True
        self._wake.set()
        return False

    def _read_entry(self, entry: str) -> PendingUpload | None:
        data = self.dir / f"{entry}.data"
        try:
            meta = json.loads((self.dir / f"{entry}.json").read_text())
            size = data.stat().st_size
        except (OSError, ValueError):
            return None
        return PendingUpload(entry, meta["key"], data, size, float(meta["submitted_at"]))

    def pending(self) -> list[PendingUpload]:
        """The files waiting for upload, oldest first."""
        entries = sorted(p.stem for p in self.dir.glob("*.data"))
        return [item for entry in entries if (item := self._read_entry(entry)) is not None]

    async def _upload(self, entry: str) -> bool:
        if entry in self._busy:
            return False
        item = self._read_entry(entry)
        if item is None:
            return False
        self._busy.add(entry)
        try:
            await self.storage.put_file(item.key, item.path)
        except Exception as exc:  # the file stays; any failure is retried later
            self.last_error = exc
            log.warning("upload of %s deferred: %s", item.key, exc)
            return False
        finally:
            self._busy.discard(entry)
        (self.dir / f"{entry}.json").unlink(missing_ok=True)
        item.path.unlink(missing_ok=True)
        await asyncio.to_thread(_fsync_dir, self.dir)
        log.info("uploaded %s (%d bytes)", item.key, item.size)
        if self.on_uploaded is not None:
            try:
                await self.on_uploaded(item.key)
            except Exception:
                log.exception("after uploading %s", item.key)
        return True

    async def drain_once(self) -> int:
        """Try every waiting file once, oldest first; how many were uploaded.

        Stops early when an upload fails and the storage reports itself
        unhealthy (no point trying the rest); a failure of one file while
        the storage is healthy does not block the files behind it.
        """
        uploaded = 0
        for item in self.pending():
            if await self._upload(item.id):
                uploaded += 1
            elif item.id not in self._busy and not await self.storage.healthy():
                break
        return uploaded

    async def run(self) -> None:
        """Upload waiting files until cancelled, backing off 1, 2, 4... up to 60 s."""
        backoff = 1.0
        while True:
            await self.drain_once()
            self._wake.clear()
            if self.pending():
                delay = backoff
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            else:
                delay, backoff = RESCAN_S, 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
