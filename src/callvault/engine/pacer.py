"""One shared 20 ms clock that paces every outgoing media stream of the node.

A timer per call costs a wake-up per call every 20 ms; one clock costs one
wake-up in total and sends every stream's next packet in a tight loop.  Ticks
are scheduled against absolute deadlines (``start + n * 20 ms``) so lateness
of one tick never accumulates into drift; a tick that is more than a few
frames late skips ahead instead of bursting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger("callvault.engine.pacer")

FRAME_S = 0.020
_MAX_LAG_FRAMES = 5


class Paced(Protocol):
    """Something that sends one media frame per tick."""

    def on_tick(self, now: float) -> None:
        """Send this tick's frame (or nothing)."""


class Pacer:
    """The shared media clock: call :meth:`add` to be ticked every 20 ms."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._members: dict[int, Paced] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._next: float = 0.0
        self.ticks = 0
        self.late_ticks = 0

    def __len__(self) -> int:
        return len(self._members)

    def add(self, member: Paced) -> None:
        """Start ticking ``member``; starts the clock if it was idle."""
        self._members[id(member)] = member
        if self._handle is None:
            loop = self._loop or asyncio.get_running_loop()
            self._loop = loop
            self._next = loop.time() + FRAME_S
            self._handle = loop.call_at(self._next, self._tick)

    def discard(self, member: Paced) -> None:
        """Stop ticking ``member``; the clock idles when nobody is left."""
        self._members.pop(id(member), None)
        if not self._members and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def stop(self) -> None:
        """Stop the clock and forget every member."""
        self._members.clear()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.ticks += 1
        for member in list(self._members.values()):
            try:
                member.on_tick(now)
            except Exception:
                log.exception("media tick failed; member removed")
                self._members.pop(id(member), None)
        self._next += FRAME_S
        if now - self._next > _MAX_LAG_FRAMES * FRAME_S:
            self.late_ticks += 1
            self._next = now + FRAME_S
        if self._members:
            self._handle = self._loop.call_at(self._next, self._tick)
        else:
            self._handle = None
