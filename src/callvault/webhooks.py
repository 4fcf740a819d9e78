"""Signed webhooks: call and recording events POSTed to the accounts' URLs.

Each delivery is ``{"id", "event", "created_at", "account", "data"}`` as
JSON with the IVR API's signature scheme (``X-Signature: t=…,v1=…``, HMAC-
SHA256 over ``"<t>." + body``, :mod:`callvault.ivr.signing`) plus
``X-Event`` and ``X-Delivery-Id`` (the same across retries, so receivers can
de-duplicate).  Deliveries run in the background; a failure (connection
error or a non-2xx answer) is retried with backoff (1 s, 5 s, 30 s) and then
given up and logged -- never blocking a call.  Each delivery's outcome is
kept on the webhook (``last_delivery_at``, ``last_outcome``,
``failures_in_row``) for the panel.  The SSRF guard of the IVR API
applies (operator allow-list).  Every emitted event is also published on the
sender's :class:`~callvault.events.EventBus` (the API's live event stream).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import select

from callvault.events import EventBus
from callvault.ivr.signing import sign
from callvault.ivr.ssrf import UrlNotAllowed, check_url
from callvault.store.db import Database
from callvault.store.models import Webhook

log = logging.getLogger("callvault.webhooks")

RETRY_DELAYS_S: tuple[float, ...] = (1.0, 5.0, 30.0)
TIMEOUT_S = 10.0


class WebhookSender:
    """Delivers events to every enabled webhook of the account that subscribed to them."""

    def __init__(
        self,
        db: Database,
        *,
        allow_networks: Sequence[str] = (),
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S,
        bus: EventBus | None = None,
    ) -> None:
        self.db = db
        self.bus = bus if bus is not None else EventBus()
        """The live event stream: every emitted event is published here too."""
        self.allow_networks = list(allow_networks)
        self.retry_delays_s = tuple(retry_delays_s)
        self._tasks: set[asyncio.Task[None]] = set()
        self.delivered = 0
        self.failed = 0

    async def emit(self, account_id: int, event: str, data: dict[str, Any]) -> None:
        """Queue ``event`` for the account's subscribers (returns at once)."""
        self.bus.publish(account_id, event, data)  # first, before any await: keeps the order
        async with self.db.session() as session:
            hooks = list(
                await session.scalars(
                    select(Webhook).where(Webhook.account_id == account_id, Webhook.enabled)
                )
            )
        for hook in hooks:
            if hook.events and event not in hook.events:
                continue
            self.send(hook, event, self.body(account_id, event, data))

    def send(self, hook: Webhook, event: str, body: bytes) -> asyncio.Task[None]:
        """Deliver ``body`` to ``hook`` in the background (with retries); the task."""
        task = asyncio.get_running_loop().create_task(
            self._deliver(hook.id, hook.url, hook.secret, event, body)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def body(account_id: int, event: str, data: dict[str, Any]) -> bytes:
        """A delivery's JSON: a fresh id, the event, the account, the time, the data."""
        return json.dumps(
            {"id": str(uuid.uuid4()), "event": event, "account": account_id,
             "created_at": datetime.now(UTC).isoformat(), "data": data},
            separators=(",", ":"), default=str,
        ).encode()  # fmt: skip

    async def _deliver(self, hook_id: int, url: str, secret: str, event: str, body: bytes) -> None:
        outcome = await self._attempts(url, secret, event, body)
        delivered = outcome.startswith("delivered")
        if delivered:
            self.delivered += 1
        else:
            self.failed += 1
        try:
            async with self.db.session() as session:
                hook = await session.get(Webhook, hook_id)
                if hook is not None:
                    hook.last_delivery_at = datetime.now(UTC)
                    hook.last_event = event[:64]
                    hook.last_outcome = outcome[:300]
                    hook.failures_in_row = 0 if delivered else (hook.failures_in_row or 0) + 1
                    await session.commit()
        except Exception as exc:  # the outcome is a note for people; the delivery is done
            log.warning("webhook %d: cannot note the outcome: %s", hook_id, exc)

    async def _attempts(self, url: str, secret: str, event: str, body: bytes) -> str:
        """POST with retries; ``delivered (HTTP n)`` or the last reason it failed."""
        delivery_id = json.loads(body)["id"]
        try:
            await check_url(url, self.allow_networks)
        except UrlNotAllowed as exc:
            log.warning("webhook %s to %s refused: %s", event, url, exc.reason)
            return f"refused: {exc.reason}"
        problem = ""
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
            for attempt, delay in enumerate((0.0, *self.retry_delays_s), start=1):
                if delay:
                    await asyncio.sleep(delay)
                headers = {
                    "Content-Type": "application/json",
                    "X-Event": event,
                    "X-Delivery-Id": delivery_id,
                    "X-Attempt": str(attempt),
                    "X-Signature": sign(body, [secret], int(time.time())),
                }
                try:
                    async with session.post(url, data=body, headers=headers,
                                            allow_redirects=False) as response:  # fmt: skip
                        if 200 <= response.status < 300:
                            return f"delivered (HTTP {response.status})"
                        problem = f"HTTP {response.status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    problem = str(exc) or type(exc).__name__
                log.info("webhook %s to %s attempt %d: %s", event, url, attempt, problem)
        attempts = len(self.retry_delays_s) + 1
        log.warning("webhook %s to %s given up after %d attempts", event, url, attempts)
        return f"failed after {attempts} attempts: {problem}"

    async def drain(self) -> None:
        """Wait for deliveries in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
