"""``/api/v1/webhooks``: CRUD with a secret shown once, and a real signed delivery.

The receiver is a real HTTP server on 127.0.0.1 (allowed by the operator's
allow-list); call events go through the node's own wiring (the call logic's
observers, :class:`~callvault.events.CallEvents`, the ``WebhookSender``), and
each delivery's ``X-Signature`` is checked with :func:`callvault.ivr.signing.verify`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from callvault.engine.leg import Leg
from callvault.engine.outbound import DialFailed
from callvault.engine.registrar import Binding
from callvault.ivr.signing import verify
from callvault.sip.uri import SipUri
from callvault.store.models import Webhook
from tests.web.conftest import World
from tests.web.events_helpers import logic_of, new_call, settle
from tests.web.servers import serve


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


def receiver(got: list[Delivery]) -> Starlette:
    async def hook(request: Request) -> PlainTextResponse:
        got.append(Delivery(dict(request.headers), await request.body()))
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


async def test_webhook_crud(world: World) -> None:
    admin = await world.signed_in("administrator")
    loopback = await admin.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
    assert loopback.status_code == 422 and "loopback" in loopback.json()["message"]
    world.node.recordings.webhooks.allow_networks.append("127.0.0.1")  # type: ignore[union-attr]
    unknown = await admin.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["call.exploded"]}
    )
    assert unknown.status_code == 422
    created = await admin.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["call.ended", "recording.ready"]},
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 40
    listed = await admin.get("/api/v1/webhooks")
    assert listed.json() == [{k: v for k, v in hook.items() if k != "secret"}]
    assert hook["secret"] not in listed.text, "the secret is shown once"

    consultant = await world.signed_in("consultant")
    assert (await consultant.get("/api/v1/webhooks")).status_code == 403
    assert (await consultant.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 403
    beta = await world.signed_in("beta_admin")
    assert (await beta.get("/api/v1/webhooks")).json() == []
    assert (await beta.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 404
    assert (await admin.delete(f"/api/v1/webhooks/{hook['id']}")).status_code == 204
    assert (await admin.get("/api/v1/webhooks")).json() == []


async def test_call_events_are_delivered_signed(world: World) -> None:
    world.node.recordings.webhooks.allow_networks.append("127.0.0.1")  # type: ignore[union-attr]
    got: list[Delivery] = []
    admin = await world.signed_in("administrator")
    async with serve(receiver(got)) as port:
        created = await admin.post(
            "/api/v1/webhooks",
            json={
                "url": f"http://127.0.0.1:{port}/hook",
                "events": ["call.started", "call.ringing", "recording.ready"],
            },
        )
        secret = created.json()["secret"]
        call = new_call(world, "acme", [])
        logic = logic_of(world)
        await logic.notify("call.ringing", call, login="jan")  # not started yet: nothing
        call.data["objects"].append({"kind": "queue", "login": "sales"})
        await logic.notify("call.started", call)
        await logic.notify("call.ringing", call, login="jan")
        await logic.notify("call.answered", call, login="jan")  # not subscribed
        await settle(world)
        webhooks = world.node.recordings.webhooks
        assert webhooks is not None
        await webhooks.emit(
            world.accounts["acme"].id,
            "recording.ready",
            {"recording_id": "r-x", "call_id": call.id},
        )
        await webhooks.emit(world.accounts["beta"].id, "recording.ready", {"recording_id": "r-y"})
        await settle(world)
    # each delivery runs in its own task, so they may arrive in any order
    got.sort(key=lambda d: ["call.started", "call.ringing", "recording.ready"].index(
        d.headers["x-event"]))  # fmt: skip
    assert [d.headers["x-event"] for d in got] == [
        "call.started",
        "call.ringing",
        "recording.ready",
    ]
    now = int(time.time())
    for delivery in got:
        assert verify(delivery.headers["x-signature"], delivery.body, [secret], now)
        assert not verify(delivery.headers["x-signature"], delivery.body, ["other"], now)
        assert delivery.json["account"] == world.accounts["acme"].id
    started, ringing, ready = (d.json for d in got)
    assert started["data"]["call_id"] == call.id
    assert started["data"]["objects"] == [{"kind": "queue", "login": "sales"}]
    assert started["data"]["from_number"] == "48600100009"
    assert ringing["data"]["login"] == "jan"
    assert ready["data"] == {"recording_id": "r-x", "call_id": call.id}
    async with world.db.session() as session:
        assert (await session.scalar(select(Webhook.secret))) == secret


async def test_ringing_comes_from_where_phones_are_rung(world: World) -> None:
    """``CallLogic.fork`` announces each login it rings, once per attempt."""
    logic = logic_of(world)
    bus = world.node.recordings.webhooks.bus  # type: ignore[union-attr]
    seen = bus.subscribe(world.accounts["acme"].id)

    async def busy(*_args: Any, **_kwargs: Any) -> Leg:
        raise DialFailed(486, "Busy Here")

    logic.engine.dial = busy
    call = new_call(world, "acme", [("queue", "sales")])
    await logic.notify("call.started", call)
    binding = Binding(SipUri.parse("sip:jan@127.0.0.1:5070"), time.time() + 60,
                      ("127.0.0.1", 5070), "udp", "reg-1", 1)  # fmt: skip
    targets = [("jan", binding), ("jan", binding), ("ewa", binding)]
    result = await logic.fork(call, targets, timeout_s=1.0)
    assert result.leg is None and result.busy
    await settle(world)
    names = []
    while (event := await seen.get(0.01)) is not None:
        names.append((event.name, event.data.get("login")))
    assert names == [("call.started", None), ("call.ringing", "jan"), ("call.ringing", "ewa")]


async def test_outcomes_are_kept_a_paused_hook_gets_nothing_and_a_test_ping_goes_out(
    world: World,
) -> None:
    webhooks = world.node.recordings.webhooks
    assert webhooks is not None
    webhooks.allow_networks.append("127.0.0.1")
    webhooks.retry_delays_s = (0.05,)
    got: list[Delivery] = []
    status = {"code": 200}

    async def hook(request: Request) -> PlainTextResponse:
        got.append(Delivery(dict(request.headers), await request.body()))
        return PlainTextResponse("x", status_code=status["code"])

    admin = await world.signed_in("administrator")
    acme = world.accounts["acme"].id
    async with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as port:
        made = await admin.post("/api/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"})
        hook_id = made.json()["id"]
        assert made.json()["last_outcome"] is None and made.json()["failures_in_row"] == 0
        await webhooks.emit(acme, "call.ended", {"call_id": "c-1"})
        await webhooks.drain()
        (listed,) = (await admin.get("/api/v1/webhooks")).json()
        assert (
            listed["last_outcome"] == "delivered (HTTP 200)"
            and listed["last_event"] == "call.ended"
        )
        assert listed["last_delivery_at"] and listed["failures_in_row"] == 0

        status["code"] = 500
        await webhooks.emit(acme, "call.ended", {"call_id": "c-2"})
        await webhooks.drain()
        (listed,) = (await admin.get("/api/v1/webhooks")).json()
        assert listed["last_outcome"] == "failed after 2 attempts: HTTP 500"
        assert listed["failures_in_row"] == 1 and len(got) == 3  # one, then two attempts

        paused = await admin.patch(f"/api/v1/webhooks/{hook_id}", json={"enabled": False})
        assert paused.status_code == 200 and paused.json()["enabled"] is False
        await webhooks.emit(acme, "call.ended", {"call_id": "c-3"})
        await webhooks.drain()
        assert len(got) == 3, "a paused webhook gets nothing"

        status["code"] = 204
        ping = await admin.post(f"/api/v1/webhooks/{hook_id}/test")
        assert ping.status_code == 202
        await webhooks.drain()
        assert got[-1].headers["x-event"] == "webhook.test" and len(got) == 4
        assert got[-1].json["data"]["webhook_id"] == hook_id
        (listed,) = (await admin.get("/api/v1/webhooks")).json()
        assert listed["last_outcome"] == "delivered (HTTP 204)" and listed["failures_in_row"] == 0
    beta = await world.signed_in("beta_admin")
    assert (await beta.post(f"/api/v1/webhooks/{hook_id}/test")).status_code == 404
    assert (
        await beta.patch(f"/api/v1/webhooks/{hook_id}", json={"enabled": True})
    ).status_code == 404
