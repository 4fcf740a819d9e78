"""The demo numbers a fresh node answers, so anyone can try it with a softphone.

- ``100``: greeting, then hang up.
- ``101``: prompt, up to 4 digits ended by ``#`` (5 s between digits), read back.
- ``102``: echo: what you say comes back.
- ``103``: bridge to the URI in setting ``demo_bridge_uri``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from callvault.engine.bridge import Bridge
from callvault.engine.call import Call
from callvault.engine.engine import CallApp, Engine
from callvault.engine.outbound import DialFailed
from callvault.sip.message import Request
from callvault.sip.uri import SipUri

DIGIT_PROMPTS = {d: f"digit-{d}" for d in "0123456789"} | {"*": "star", "#": "hash"}


async def greeting(call: Call) -> None:
    """Play the greeting and hang up."""
    leg = call.caller
    await leg.answer()
    await leg.play_prompts(["greeting"])
    await leg.hangup()


async def collect_and_read_back(call: Call) -> None:
    """Collect up to four digits ended by ``#`` and read them back."""
    leg = call.caller
    await leg.answer()
    await asyncio.sleep(0.2)
    await leg.play_prompts(["enter-digits"], barge_in=True)
    digits, reason = await leg.collect_digits(max_digits=4, finish_on="#", timeout_s=5.0)
    leg.trace("call", "digits-collected", digits=digits, reason=reason)
    if digits:
        await leg.play_prompts(["you-entered", *(DIGIT_PROMPTS[d] for d in digits)])
    else:
        await leg.play_prompts(["no-digits"])
    await leg.play_prompts(["goodbye"])
    await leg.hangup()


async def echo(call: Call) -> None:
    """Send back what the caller sends, until they hang up."""
    leg = call.caller
    await leg.answer()
    await leg.play_prompts(["echo"])
    assert leg.media is not None
    leg.media.stop_idle_silence()
    leg.media.echo = True
    await leg.ended.wait()


def make_bridge_app(engine: Engine) -> Callable[[Call], Awaitable[None]]:
    """Demo 103: early media while dialing ``demo_bridge_uri``, then bridge both legs.

    The caller gets ``183 Session Progress`` with SDP and hears "connecting"
    before anyone answers (RFC 3960); the 200 OK follows the far end's.
    """

    async def bridge(call: Call) -> None:
        leg = call.caller
        target = engine.settings.demo_bridge_uri
        if not target:
            leg.reject(480, "demo_bridge_uri not set")
            return
        await leg.early_media()
        announcement = asyncio.ensure_future(leg.play_prompts(["connecting"]))
        announcement.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:
            other = await engine.dial(
                call, SipUri.parse(target), from_user=call.from_user or "callvault"
            )
        except DialFailed as exc:
            status = exc.status if exc.status in (480, 486, 600, 603) else 480
            leg.reject(status)
            return
        finally:
            announcement.cancel()
        await leg.answer()
        await Bridge(leg, other).run()

    return bridge


def demo_router(engine: Engine) -> Callable[[Call, Request], CallApp | None]:
    """Route by the Request-URI's user part to the demo apps."""
    apps: dict[str, CallApp] = {
        "100": greeting,
        "101": collect_and_read_back,
        "102": echo,
        "103": make_bridge_app(engine),
    }

    def route(call: Call, request: Request) -> CallApp | None:
        return apps.get(request.uri.user or "")

    return route
