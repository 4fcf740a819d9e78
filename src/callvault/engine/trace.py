"""Structured per-call trace of SIP and media events, and call-id aware logging.

Every event of a call (SIP in/out, media latching, DTMF, prompts, state
changes) is one JSON object on one line of ``<traces>/<call-id>.jsonl``, so an
operator can replay what happened to one call without grepping node logs.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_call_id() -> str:
    """A sortable unique call id: ``c-`` + 26-char ULID (time + randomness)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "c-" + "".join(reversed(chars))


class CallLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that prefixes every line with the call id."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        call_id = self.extra["call_id"] if self.extra else "-"
        return f"[{call_id}] {msg}", kwargs


class CallTrace:
    """Appends one call's events to its JSONL file and keeps them in memory."""

    def __init__(self, call_id: str, directory: Path | None, keep: int = 2000) -> None:
        self.call_id = call_id
        self.events: list[dict[str, Any]] = []
        self._keep = keep
        self._file: IO[str] | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._file = (directory / f"{call_id}.jsonl").open("a", encoding="utf-8")

    def add(self, kind: str, event: str, **data: Any) -> None:
        """Record one event; ``kind`` is ``sip``, ``media`` or ``call``."""
        entry = {"t": round(time.time(), 6), "call_id": self.call_id, "kind": kind, "event": event}
        entry.update(data)
        if len(self.events) < self._keep:
            self.events.append(entry)
        if self._file is not None:
            self._file.write(json.dumps(entry, default=str) + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None
