"""``GET /api/v1/events``: live Server-Sent Events, only what each caller may see.

The app runs under a real uvicorn on 127.0.0.1 (an SSE stream never ends, so
it cannot go through httpx's in-process transport, which waits for the whole
body).  Each caller opens a stream with an API token; events are published
on the node's bus; every stream must receive exactly the events its scopes
and data scope allow, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete

from callvault.events import EventBus
from callvault.store.identity import ApiToken
from callvault.web import api_events
from tests.web.conftest import World
from tests.web.servers import serve, token_for


def bus_of(world: World) -> EventBus:
    webhooks = world.node.recordings.webhooks
    assert webhooks is not None
    return webhooks.bus


def hops(*pairs: str) -> list[dict[str, str]]:
    """``"queue:sales"`` ... as call objects."""
    return [{"kind": p.split(":")[0], "login": p.split(":")[1]} for p in pairs]


def call(call_id: str, *objects: str, login: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "call_id": call_id,
        "from_number": "48600100001",
        "to_number": "48221234567",
        "direction": "inbound",
        "objects": hops(*objects),
    }
    if login is not None:
        data["login"] = login
    return data


class Stream:
    """One open event stream: the (event, data) pairs received so far."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.received: list[tuple[str, dict[str, Any]]] = []

    async def connected(self) -> None:
        """Wait for the greeting: the subscription exists from then on."""
        async with asyncio.timeout(5):
            async for line in self.lines:
                if line.startswith(": connected"):
                    return

    async def until(self, call_id: str) -> list[tuple[str, str]]:
        """Read events up to the first of call ``call_id``; ``(event, call id)`` pairs."""
        name = ""
        async with asyncio.timeout(5):
            async for line in self.lines:
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    envelope = json.loads(line.removeprefix("data: "))
                    assert envelope["event"] == name
                    self.received.append((name, envelope["data"]))
                    if envelope["data"].get("call_id") == call_id:
                        break
        return [(name, str(data.get("call_id"))) for name, data in self.received]


@contextlib.asynccontextmanager
async def stream(client: httpx.AsyncClient, token: str, query: str = "") -> AsyncIterator[Stream]:
    headers = {"Authorization": f"Bearer {token}"}
    async with client.stream("GET", f"/api/v1/events{query}", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        opened = Stream(response)
        await opened.connected()
        yield opened


async def test_each_stream_gets_only_what_it_may_see(world: World) -> None:
    tokens = {
        who: await token_for(world, who)
        for who in ("administrator", "auditor", "team_leader", "consultant", "beta_admin")
    }
    calls_only = await token_for(world, "administrator", ["calls.read"])
    acme, beta = world.accounts["acme"].id, world.accounts["beta"].id
    async with serve(world.app) as port, contextlib.AsyncExitStack() as stack:
        base = f"http://127.0.0.1:{port}"
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=base, timeout=10))
        streams = {
            who: await stack.enter_async_context(stream(client, token))
            for who, token in tokens.items()
        }
        streams["calls_only"] = await stack.enter_async_context(stream(client, calls_only))
        streams["ended_only"] = await stack.enter_async_context(
            stream(client, tokens["consultant"], "?events=call.ended")
        )
        bus = bus_of(world)
        bus.publish(acme, "call.started", call("c-a", "queue:sales"))
        bus.publish(acme, "call.ringing", call("c-a", "queue:sales", login="jan"))
        bus.publish(acme, "call.started", call("c-b", "queue:support"))
        bus.publish(beta, "call.started", call("c-c", "queue:sales", "sip_account:jan"))
        bus.publish(acme, "call.ended", call("c-a", "queue:sales", "sip_account:jan"))
        bus.publish(acme, "recording.ready", {"recording_id": "r-a", "call_id": "c-a"})
        bus.publish(acme, "recording.ready", {"recording_id": "r-?", "call_id": "c-?"})
        end = call("c-end", "queue:sales", "sip_account:jan")
        webhooks = world.node.recordings.webhooks
        assert webhooks is not None
        await webhooks.emit(acme, "call.ended", end)
        await webhooks.emit(beta, "call.ended", end)
        got = {who: await s.until("c-end") for who, s in streams.items()}
    everything = [
        ("call.started", "c-a"),
        ("call.ringing", "c-a"),
        ("call.started", "c-b"),
        ("call.ended", "c-a"),
        ("recording.ready", "c-a"),
        ("recording.ready", "c-?"),
        ("call.ended", "c-end"),
    ]
    assert got["administrator"] == everything
    assert got["auditor"] == everything
    assert got["calls_only"] == [e for e in everything if e[0].startswith("call.")]
    assert got["team_leader"] == [
        ("call.started", "c-a"),
        ("call.ringing", "c-a"),
        ("call.ended", "c-a"),
        ("recording.ready", "c-a"),
        ("call.ended", "c-end"),
    ]
    assert got["consultant"] == [
        ("call.ringing", "c-a"),
        ("call.ended", "c-a"),
        ("recording.ready", "c-a"),
        ("call.ended", "c-end"),
    ]
    assert got["ended_only"] == [("call.ended", "c-a"), ("call.ended", "c-end")]
    assert got["beta_admin"] == [("call.started", "c-c"), ("call.ended", "c-end")]
    assert bus_of(world).subscriptions == set(), "closed streams unsubscribe"


async def test_stream_refusals(world: World) -> None:
    audit_only = await token_for(world, "auditor", ["audit.read"])
    admin = await token_for(world, "administrator")
    async with (
        serve(world.app) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        headers = {"Authorization": f"Bearer {audit_only}"}
        refused = await client.get("/api/v1/events", headers=headers)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        headers = {"Authorization": f"Bearer {admin}"}
        unknown = await client.get("/api/v1/events?events=call.exploded", headers=headers)
        assert unknown.status_code == 422 and "call.exploded" in unknown.json()["message"]
        assert (await client.get("/api/v1/events")).status_code == 401


async def test_a_revoked_token_ends_its_open_stream(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_events, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(api_events, "RECHECK_S", 0.1)
    token = await token_for(world, "administrator")
    async with (
        serve(world.app) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
        stream(client, token) as opened,
    ):
        async with world.db.session() as session:
            await session.execute(delete(ApiToken))
            await session.commit()
        lines = []
        async with asyncio.timeout(5):
            async for line in opened.lines:
                lines.append(line)
    assert "event: error" in lines, lines
    error = json.loads(lines[lines.index("event: error") + 1].removeprefix("data: "))
    assert error["status"] == 401 and error["error"] == "invalid_token"
    assert bus_of(world).subscriptions == set()
