"""A callvault engine with benchmark routes, run as its own process by engine_load.py.

Routes (Request-URI user part):

- ``play``: answer and play the greeting in a loop until the caller hangs up.
- ``bridge``: dial ``--bridge-uri`` and bridge the two legs.
- ``short``: answer and wait for the caller's BYE.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from callvault.config import Settings
from callvault.demo import sounds
from callvault.engine.bridge import Bridge
from callvault.engine.call import Call
from callvault.engine.engine import CallApp, Engine
from callvault.engine.sources import PromptSource
from callvault.media.g711 import codec_by_name
from callvault.sip.message import Request
from callvault.sip.uri import SipUri


def build_engine(args: argparse.Namespace) -> Engine:
    settings = Settings(
        sip_host="127.0.0.1",
        sip_port=args.sip_port,
        data_dir=Path(args.data_dir),
        rtp_port_min=args.rtp_low,
        rtp_port_max=args.rtp_high,
        rtp_timeout_s=120,
    )
    engine = Engine(settings, prompt_resolver=lambda name: sounds.path(name))
    engine.settings.traces_dir.mkdir(parents=True, exist_ok=True)

    async def play(call: Call) -> None:
        leg = call.caller
        await leg.answer()
        assert leg.negotiated is not None
        prompt = engine.prompt("greeting", codec_by_name(leg.negotiated.codec))
        while True:
            await leg.play(PromptSource([prompt] * 10))

    async def bridge(call: Call) -> None:
        leg = call.caller
        other = await engine.dial(call, SipUri.parse(args.bridge_uri), from_user="bench")
        await leg.answer()
        await Bridge(leg, other).run()

    async def short(call: Call) -> None:
        await call.caller.answer()
        await call.caller.ended.wait()

    routes: dict[str, CallApp] = {"play": play, "bridge": bridge, "short": short}

    def route(call: Call, request: Request) -> CallApp | None:
        return routes.get(request.uri.user or "")

    engine.router = route
    return engine


async def main(args: argparse.Namespace) -> None:
    engine = build_engine(args)
    await engine.start()
    print("bench node ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await engine.shutdown(grace_s=1.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--rtp-low", type=int, default=20000)
    parser.add_argument("--rtp-high", type=int, default=29999)
    parser.add_argument("--data-dir", default="/tmp/callvault-bench")
    parser.add_argument("--bridge-uri", default="sip:callee@127.0.0.1:5099")
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio event loop")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    logging.basicConfig(level=logging.WARNING)
    if arguments.no_uvloop:
        asyncio.run(main(arguments))
    else:
        import uvloop

        uvloop.run(main(arguments))
    sys.exit(0)
