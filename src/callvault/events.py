"""Integration events: an in-process bus for the live stream, and the calls' milestones.

Every event an account's integrations can receive -- ``call.started``,
``call.ringing`` (with the login of the SIP account being rung),
``call.answered`` (a person took the call: that login), ``call.ended``,
``recording.ready`` and ``recording.failed`` -- is emitted through the node's
:class:`~callvault.webhooks.WebhookSender`, which delivers it as a signed,
retried webhook *and* publishes it on the :class:`EventBus`, where the REST
API's ``GET /api/v1/events`` (Server-Sent Events) picks it up.

The bus is in-process publish/subscribe: :meth:`EventBus.publish` never
blocks and never fails because of a subscriber; each :class:`Subscription`
has a bounded queue which, when the subscriber falls behind, drops its
*oldest* events (and counts them), so a slow browser tab cannot hold the
node's memory or stall a call.  Each event carries the facts of its call
(numbers, direction, objects passed, the login rung or answering) as its
``subject``, so subscribers can be shown only the calls they may see; a
recording event borrows the subject of its call from the bus's memory of
recent calls (none when the call is unknown: only account-wide subscribers
then see it).

:class:`CallEvents` turns the call logic's callbacks
(:attr:`callvault.routing.logic.CallLogic.observers`) and the engine's
call-ended hooks into these events; ``call.ended`` follows only a call
whose ``call.started`` was emitted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callvault.engine.call import Call
from callvault.routing.history import disposition

log = logging.getLogger("callvault.events")

CALL_EVENTS = ("call.started", "call.ringing", "call.answered", "call.ended")
RECORDING_EVENTS = ("recording.ready", "recording.failed")
EVENTS = (*CALL_EVENTS, *RECORDING_EVENTS)
"""Every event name integrations can subscribe to."""

QUEUE_SIZE = 256
"""Events a subscriber may fall behind by before its oldest ones are dropped."""
REMEMBERED_CALLS = 10_000
"""Calls whose facts the bus keeps, for the visibility of their recording events."""

Emit = Callable[[int, str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Event:
    """One published event: its sequence number, name, account, time, data, call facts."""

    id: int
    name: str
    account_id: int
    at: datetime
    data: dict[str, Any]
    subject: dict[str, Any] | None
    """``from_number``, ``to_number``, ``direction``, ``objects``, ``login`` of its call."""


SUBJECT_KEYS = ("from_number", "to_number", "direction", "objects", "login")


@dataclass(eq=False)
class Subscription:
    """One subscriber: events of one account that ``accept`` lets through, oldest dropped first."""

    account_id: int
    accept: Callable[[Event], bool] | None = None
    size: int = QUEUE_SIZE
    queue: deque[Event] = field(default_factory=deque)
    dropped: int = 0
    """Events lost because the subscriber fell behind (reset by :meth:`take_dropped`)."""
    closed: bool = False
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, event: Event) -> None:
        """Queue ``event`` if it is this subscriber's (dropping the oldest when full)."""
        if self.closed or event.account_id != self.account_id:
            return
        if self.accept is not None:
            try:
                if not self.accept(event):
                    return
            except Exception:
                log.exception("event filter failed; event %s not delivered", event.name)
                return
        if len(self.queue) >= self.size:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(event)
        self._ready.set()

    async def get(self, timeout_s: float | None = None) -> Event | None:
        """The next event; None after ``timeout_s`` without one, or once closed."""
        while not self.queue:
            if self.closed:
                return None
            self._ready.clear()
            try:
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()
            except TimeoutError:
                return None
        return self.queue.popleft()

    def take_dropped(self) -> int:
        """How many events were dropped since the last call."""
        dropped, self.dropped = self.dropped, 0
        return dropped

    def close(self) -> None:
        """Stop receiving; a waiting :meth:`get` returns None."""
        self.closed = True
        self._ready.set()


class EventBus:
    """In-process publish/subscribe of integration events (use from the event loop only)."""

    def __init__(
        self, *, queue_size: int = QUEUE_SIZE, remembered_calls: int = REMEMBERED_CALLS
    ) -> None:
        self.queue_size = queue_size
        self.remembered_calls = remembered_calls
        self.subscriptions: set[Subscription] = set()
        self._ids = itertools.count(1)
        self._calls: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.published = 0

    def subscribe(
        self,
        account_id: int,
        accept: Callable[[Event], bool] | None = None,
        *,
        queue_size: int | None = None,
    ) -> Subscription:
        """A new subscription to one account's events (close it with :meth:`unsubscribe`)."""
        subscription = Subscription(account_id, accept, queue_size or self.queue_size)
        self.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """End a subscription."""
        subscription.close()
        self.subscriptions.discard(subscription)

    def publish(self, account_id: int, name: str, data: dict[str, Any]) -> Event:
        """Hand an event to every subscriber of the account; returns at once."""
        event = Event(
            id=next(self._ids),
            name=name,
            account_id=account_id,
            at=datetime.now(UTC),
            data=data,
            subject=self._subject(data),
        )
        self.published += 1
        for subscription in list(self.subscriptions):
            subscription.offer(event)
        return event

    def _subject(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """The call facts of an event: its own (call events), else its call's remembered ones."""
        call_id = data.get("call_id")
        if "from_number" in data or "objects" in data:
            subject = {key: data.get(key) for key in SUBJECT_KEYS}
            if isinstance(call_id, str):
                self._calls[call_id] = {**subject, "login": None}
                self._calls.move_to_end(call_id)
                while len(self._calls) > self.remembered_calls:
                    self._calls.popitem(last=False)
            return subject
        if isinstance(call_id, str):
            return self._calls.get(call_id)
        return None


def call_facts(call: Call) -> dict[str, Any]:
    """What every call event says about its call."""
    return {
        "call_id": call.id,
        "from_number": call.from_user,
        "to_number": call.to_user,
        "direction": call.data.get("direction", "inbound"),
        "objects": [dict(hop) for hop in call.data.get("objects", [])],
        "number_label": call.data.get("number_label"),
        "started_at": datetime.fromtimestamp(call.started_at, UTC).isoformat(),
    }


def _iso(stamp: float | None) -> str | None:
    """A ``time.time()`` stamp as ISO 8601 UTC, or None."""
    return datetime.fromtimestamp(stamp, UTC).isoformat() if stamp is not None else None


class CallEvents:
    """Publishes the calls' milestones through ``emit`` (the node's ``WebhookSender.emit``).

    Emitting runs in the background, so a slow database or webhook never
    delays a call.
    """

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._started: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_logic(self, name: str, call: Call, data: dict[str, Any]) -> None:
        """A :class:`~callvault.routing.logic.CallLogic` observer: started, ringing, answered."""
        account_id = call.data.get("account_id")
        if account_id is None or name not in CALL_EVENTS:
            return
        if name == "call.started":
            if call.id in self._started:
                return
            self._started.add(call.id)
        elif call.id not in self._started:
            return
        self._send(int(account_id), name, {**call_facts(call), **data})

    async def on_ended(self, call: Call) -> None:
        """An engine call-ended hook: ``call.ended`` with the outcome."""
        if call.id not in self._started:
            return
        self._started.discard(call.id)
        account_id = call.data.get("account_id")
        if account_id is None:
            return
        caller = call.caller if call.legs else None
        ended = call.ended_at or time.time()
        self._send(
            int(account_id),
            "call.ended",
            {
                **call_facts(call),
                "disposition": disposition(call) if caller is not None else "failed",
                "answered_at": _iso(caller.answered_at if caller is not None else None),
                "ended_at": _iso(ended),
                "duration_s": round(ended - call.started_at, 3),
                "answered_by": call.data.get("answered_by"),
                "recorded": bool(call.data.get("recording", {}).get("recorded")),
            },
        )

    def _send(self, account_id: int, name: str, data: dict[str, Any]) -> None:
        """Emit in a background task (failures are logged)."""

        # Tasks take their first step in the order they were made, and ``emit``
        # publishes on the bus before its first await: the stream keeps the order.
        async def run() -> None:
            try:
                await self._emit(account_id, name, data)
            except Exception:
                log.exception("event %s of account %d not emitted", name, account_id)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the events in flight (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
