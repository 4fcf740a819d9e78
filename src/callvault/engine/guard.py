"""Defences of the SIP port: rate limits for strangers, bans for password guessers.

Port 5060 on the internet sees scanners (``svmap``), extension enumerators
(``svwar``) and password crackers (``svcrack``) all day.  :class:`SourceGuard`
sits in front of the parser: a banned address is dropped without a reply,
an unknown address gets a token bucket, and repeated failed authentications
ban the address for a while.  Phones with a live registration and trunk
addresses are trusted and never throttled.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("callvault.guard")


@dataclass
class Ban:
    """One banned address."""

    address: str
    until: float
    reason: str
    started: float


class SourceGuard:
    """Admission control per source address (monotonic clock injected for tests)."""

    def __init__(
        self,
        *,
        rate_per_s: float = 20.0,
        burst: int = 40,
        max_auth_failures: int = 5,
        failure_window_s: float = 60.0,
        ban_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        trusted: Callable[[], set[str]] | None = None,
    ) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.max_failures = max_auth_failures
        self.window = failure_window_s
        self.ban_s = ban_s
        self.clock = clock
        self.trusted = trusted or set
        self.static_trusted: set[str] = set()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._failures: dict[str, deque[float]] = {}
        self._bans: dict[str, Ban] = {}
        self.dropped = 0

    def admit(self, address: str) -> bool:
        """Whether a message from ``address`` may be processed now."""
        now = self.clock()
        ban = self._bans.get(address)
        if ban is not None:
            if ban.until > now:
                self.dropped += 1
                return False
            del self._bans[address]
            log.info("ban of %s expired", address)
        if address in self.static_trusted or address in self.trusted():
            return True
        tokens, last = self._buckets.get(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            self.dropped += 1
            return False
        self._buckets[address] = (tokens - 1.0, now)
        if len(self._buckets) > 10000:
            self._buckets.clear()
        return True

    def auth_failed(self, address: str) -> None:
        """Count a failed authentication; ban the address past the limit."""
        if address in self.static_trusted:
            return
        now = self.clock()
        failures = self._failures.setdefault(address, deque())
        failures.append(now)
        while failures and failures[0] < now - self.window:
            failures.popleft()
        if len(failures) >= self.max_failures:
            reason = f"{len(failures)} failed authentications in {self.window:.0f} s"
            self._bans[address] = Ban(address, now + self.ban_s, reason, now)
            failures.clear()
            log.warning("banned %s for %.0f s: %s", address, self.ban_s, reason)

    def bans(self) -> list[Ban]:
        """Current bans."""
        now = self.clock()
        return [ban for ban in self._bans.values() if ban.until > now]

    def unban(self, address: str) -> bool:
        """Lift a ban; True if there was one."""
        return self._bans.pop(address, None) is not None
