"""``callvault serve``: run a node (SIP, RTP, HTTP) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from callvault.config import Settings
from callvault.node import build_node
from callvault.store.seed import seed_demo
from callvault.web.app import create_app
from callvault.web.demo import seed_demo_panel

log = logging.getLogger("callvault.serve")


async def run_node(settings: Settings) -> int:
    """Start the engine and the HTTP server; stop both cleanly on a signal."""
    import uvicorn

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    node = build_node(settings)
    try:
        await asyncio.to_thread(node.db.migrate)
        demo = await seed_demo(node.db)
        panel = await seed_demo_panel(node.db) if demo is not None else None
    except Exception as exc:
        print(
            f"callvault: cannot prepare the database {node.db.url}: {exc}\n"
            "Check CALLVAULT_DATABASE_URL (e.g. postgresql://user@host/db) and that it answers.",
            file=sys.stderr,
        )
        return 2
    if demo is not None:
        for login, extension, password in demo.phones:
            print(
                f"demo phone: user {login} (ext {extension}), domain {demo.domain}, "
                f"password {password}",
                file=sys.stderr,
            )
    if panel is not None:
        print(
            f"demo panel: http://{settings.http_host}:{settings.http_port}/ "
            f"account {panel.account}, e-mail {panel.email}, password {panel.password} "
            "(calls to the demo DID are recorded)",
            file=sys.stderr,
        )
    engine = node.engine
    await node.recordings.start()
    await node.registrar.start()  # phones registered before a restart stay reachable
    await node.guard.start()  # bans from before a restart and from other nodes hold
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
        create_app(engine, node.db, node.recordings),
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
    await node.recordings.stop()
    await node.registrar.stop()
    await node.guard.stop()
    await node.db.close()
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await http_task
    return 0
