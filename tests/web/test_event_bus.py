"""The in-process event bus and the call-event publisher (no database, no HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any, get_args

from callvault.engine.call import Call
from callvault.events import EVENTS, CallEvents, Event, EventBus
from callvault.web.api_events import subject_visible
from callvault.web.api_webhooks import EventName
from callvault.web.security import DataScope


async def test_bounded_queue_drops_the_oldest() -> None:
    bus = EventBus(queue_size=3)
    slow = bus.subscribe(1)
    other = bus.subscribe(2)
    for n in range(5):
        bus.publish(1, "call.started", {"call_id": f"c-{n}"})
    assert slow.take_dropped() == 2 and slow.take_dropped() == 0
    got = [await slow.get(0.1) for _ in range(3)]
    assert [e.data["call_id"] for e in got if e is not None] == ["c-2", "c-3", "c-4"]
    assert await slow.get(0.01) is None, "nothing left: times out"
    assert await other.get(0.01) is None, "another account's events never arrive"
    bus.unsubscribe(slow)
    assert await slow.get(1.0) is None and slow not in bus.subscriptions


async def test_filters_and_waking_up() -> None:
    bus = EventBus()

    def broken(event: Event) -> bool:
        raise RuntimeError("bug in a filter")

    odd = bus.subscribe(1, lambda event: event.data["n"] % 2 == 1)
    bad = bus.subscribe(1, broken)
    waiting = asyncio.ensure_future(odd.get(5.0))
    await asyncio.sleep(0)
    for n in range(4):
        bus.publish(1, "call.ringing", {"n": n})
    first = await waiting
    assert first is not None and first.data["n"] == 1 and first.id == 2
    assert (await odd.get(0.1)) is not None and await odd.get(0.01) is None
    assert await bad.get(0.01) is None, "a failing filter loses its events, nobody else's"
    assert bus.published == 4


def test_recording_events_borrow_their_calls_facts() -> None:
    bus = EventBus(remembered_calls=2)
    facts = {"from_number": "48600100001", "objects": [{"kind": "queue", "login": "sales"}]}
    bus.publish(1, "call.ended", {"call_id": "c-1", **facts, "login": "jan"})
    ready = bus.publish(1, "recording.ready", {"call_id": "c-1"})
    assert ready.subject is not None and ready.subject["objects"] == facts["objects"]
    assert ready.subject["login"] is None
    for n in (2, 3):
        bus.publish(1, "call.started", {"call_id": f"c-{n}", **facts})
    assert bus.publish(1, "recording.ready", {"call_id": "c-1"}).subject is None, "forgotten"


def test_subject_visibility_mirrors_the_data_scopes() -> None:
    queue_call = {
        "from_number": "48600100001",
        "to_number": "48221234567",
        "direction": "inbound",
        "objects": [{"kind": "queue", "login": "sales"}],
        "login": None,
    }
    jan = DataScope("own", sip_login="jan")
    lena = DataScope("team", sip_login="lena", objects=("sales",))
    numbers = DataScope("numbers", numbers=("48600100001",))
    assert subject_visible(DataScope("account"), None)
    assert not subject_visible(jan, None)
    assert not subject_visible(jan, queue_call)
    assert subject_visible(jan, {**queue_call, "login": "jan"}), "his phone rings"
    placed = {**queue_call, "direction": "outbound", "from_number": "jan", "objects": []}
    assert subject_visible(jan, placed)
    assert subject_visible(lena, queue_call)
    assert not subject_visible(lena, {**queue_call, "objects": []})
    assert subject_visible(numbers, queue_call)
    assert not subject_visible(numbers, {**queue_call, "from_number": "48600100002"})
    assert not subject_visible(DataScope("none"), queue_call)
    assert not subject_visible(DataScope("own"), {**queue_call, "login": None})


async def test_call_events_follow_a_call() -> None:
    sent: list[tuple[int, str, dict[str, Any]]] = []

    async def emit(account_id: int, name: str, data: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        sent.append((account_id, name, data))

    events = CallEvents(emit)
    call = Call(from_user="48600100001", to_user="48221234567", traces_dir=None)
    stray = Call(from_user="x", to_user="y", traces_dir=None)  # never routed to an account
    await events.on_logic("call.started", stray, {})
    await events.on_logic("call.ringing", call, {"login": "jan"})  # before started: dropped
    call.data.update(account_id=7, direction="inbound", objects=[{"kind": "queue", "login": "q"}])
    await events.on_logic("call.started", call, {})
    await events.on_logic("call.started", call, {})  # once
    await events.on_logic("call.ringing", call, {"login": "jan"})
    await events.on_logic("call.answered", call, {"login": "jan"})
    call.data["answered_by"] = "jan"
    await events.on_ended(call)
    await events.on_ended(call)  # once
    await events.drain()
    assert [(account, name) for account, name, _ in sent] == [
        (7, "call.started"),
        (7, "call.ringing"),
        (7, "call.answered"),
        (7, "call.ended"),
    ]
    ended = sent[-1][2]
    assert ended["call_id"] == call.id and ended["answered_by"] == "jan"
    assert ended["disposition"] == "failed" and ended["duration_s"] >= 0
    assert sent[1][2]["login"] == "jan" and sent[1][2]["objects"] == [
        {"kind": "queue", "login": "q"}
    ]


def test_webhook_event_names_are_the_bus_events() -> None:
    assert set(get_args(EventName)) == set(EVENTS)
