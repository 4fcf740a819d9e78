"""Driving the node's integration events in tests: calls through the real wiring."""

from __future__ import annotations

from callvault.engine.call import Call
from callvault.events import CallEvents
from callvault.routing.logic import CallLogic
from callvault.routing.router import DataRouter
from tests.web.conftest import World


def logic_of(world: World) -> CallLogic:
    """The node's call logic (whose observers publish the call events)."""
    router = world.node.engine.router
    assert isinstance(router, DataRouter)
    return router.logic


def events_of(world: World) -> CallEvents:
    """The node's call-event publisher."""
    assert world.node.events is not None
    return world.node.events


def new_call(
    world: World,
    account: str,
    objects: list[tuple[str, str]],
    *,
    caller: str = "48600100009",
    to: str = "48221234567",
    direction: str = "inbound",
) -> Call:
    """A call routed into ``account`` that passed ``objects`` (no SIP legs)."""
    call = Call(from_user=caller, to_user=to, traces_dir=None)
    call.data.update(
        account_id=world.accounts[account].id,
        direction=direction,
        objects=[{"kind": kind, "login": login} for kind, login in objects],
    )
    return call


async def settle(world: World) -> None:
    """Wait until the events emitted so far are published and their webhooks delivered."""
    await events_of(world).drain()
    webhooks = world.node.recordings.webhooks
    assert webhooks is not None
    await webhooks.drain()
