"""Crash recovery: find the spools a crashed or killed process left unclosed.

Run at startup, before new recordings begin: every spool in the directory
without a close marker belonged to a process that died mid-call.  Each one
found is reported with its ids and how much audio it holds, so the caller
can finish it as ``partial`` (see :func:`callvault.recording.finish.finish`)
or discard it when it holds nothing.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from callvault.recording.spool import SPOOL_SUFFIX, SpoolError, scan_spool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecoveredSpool:
    """An unclosed spool: whose it is and how much audio it holds."""

    path: Path
    call_id: str
    recording_id: str
    started_at: float
    sample_rate: int
    samples: int  # length of the captured audio, in samples
    truncated_bytes: int  # a torn last record that was dropped

    @property
    def seconds(self) -> float:
        """Seconds of audio captured before the crash."""
        return self.samples / self.sample_rate


def recover_spools(
    spool_dir: str | os.PathLike[str],
    *,
    suffix: str = SPOOL_SUFFIX,
    min_idle_s: float = 0.0,
) -> list[RecoveredSpool]:
    """List the unclosed spools in ``spool_dir``, oldest recording first.

    ``min_idle_s`` skips spools modified more recently than that (a writer
    that is still alive fsyncs at least once a second).  Files whose header
    cannot be read are logged and skipped.
    """
    now = time.time()
    found: list[RecoveredSpool] = []
    for path in sorted(Path(spool_dir).glob(f"*{suffix}")):
        try:
            if min_idle_s > 0 and now - path.stat().st_mtime < min_idle_s:
                continue
            index = scan_spool(path)
        except (OSError, SpoolError) as exc:
            log.warning("skipping unreadable spool %s: %s", path, exc)
            continue
        if index.complete:
            continue
        header = index.header
        found.append(
            RecoveredSpool(
                path=path,
                call_id=header.call_id,
                recording_id=header.recording_id,
                started_at=header.started_at,
                sample_rate=header.sample_rate,
                samples=index.end_offset,
                truncated_bytes=index.truncated_bytes,
            )
        )
    found.sort(key=lambda spool: (spool.started_at, str(spool.path)))
    return found
