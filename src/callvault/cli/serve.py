"""``callvault serve``: run a node (SIP, RTP, HTTP) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from callvault.config import Settings
from callvault.demo import sounds
from callvault.demo.apps import demo_router
from callvault.engine.auth import InboundAuth
from callvault.engine.engine import Engine
from callvault.web.app import create_app

log = logging.getLogger("callvault.serve")


async def run_node(settings: Settings) -> int:
    """Start the engine and the HTTP server; stop both cleanly on a signal."""
    import uvicorn

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    auth = None
    if settings.demo_auth:
        user, _, password = settings.demo_auth.partition(":")
        auth = InboundAuth(
            settings.sip_realm,
            lambda name: password if name == user else None,
            algorithms=settings.sip_auth_algorithms,
        )
    engine = Engine(
        settings,
        prompt_resolver=lambda name: sounds.path(name, settings.language),
        auth=auth,
    )
    engine.router = demo_router(engine)
    try:
        sip = await engine.start()
    except OSError as exc:
        print(
            f"callvault: cannot bind SIP on {settings.sip_host}:{settings.sip_port}: {exc}.\n"
            "Pick another port with --sip-port, or stop what holds this one.",
            file=sys.stderr,
        )
        return 2
    config = uvicorn.Config(
        create_app(engine),
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
    http_task = asyncio.create_task(server.serve())
    while not server.started:
        if http_task.done():
            await engine.shutdown()
            print(
                f"callvault: cannot start HTTP on {settings.http_host}:{settings.http_port}; "
                "pick another port with --http-port.",
                file=sys.stderr,
            )
            return 2
        await asyncio.sleep(0.02)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"callvault ready: SIP udp+tcp {sip[0]}:{sip[1]}, "
        f"HTTP http://{settings.http_host}:{settings.http_port}, "
        f"RTP {settings.rtp_port_min}-{settings.rtp_port_max}, data {settings.data_dir}. "
        "Demo numbers: 100 greeting, 101 digits, 102 echo, 103 bridge.",
        file=sys.stderr,
        flush=True,
    )
    await stop.wait()
    log.info("shutting down: ending %d live calls", len(engine.calls))
    await engine.shutdown()
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await http_task
    return 0
