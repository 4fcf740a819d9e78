"""A real HTTP application for IVR API tests: Starlette under uvicorn, on loopback.

Each test gives it a ``respond`` function (request body → response JSON, or
an :class:`Misbehave` to fail in a chosen way); the app keeps every request
it received with its headers, so tests check the wire exactly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Misbehave:
    """How the app fails instead of answering: a status, a body, or a delay first."""

    status: int = 200
    body: str | None = None
    delay_s: float = 0.0
    then: dict[str, Any] | None = None


Respond = Callable[[dict[str, Any]], "dict[str, Any] | Misbehave"]


@dataclass
class Received:
    """One request as the app saw it."""

    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]

    @property
    def event(self) -> tuple[str, str]:
        event = self.body["request"]["Event"]
        return event["EventName"], event["EventData"]


@dataclass
class IvrApp:
    """The running app: its URL and what it received."""

    url: str
    received: list[Received] = field(default_factory=list)

    def events(self) -> list[tuple[str, str]]:
        return [r.event for r in self.received]

    def wait_for(self, name: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(r.event[0] == name for r in self.received):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {name} event; got {self.events()}")


def _free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_ivr_app(respond: Respond, *, tls: tuple[Path, Path] | None = None) -> Iterator[IvrApp]:
    """Run the app in a thread for the ``with`` block; ``tls`` = (certificate, key) for HTTPS."""
    port = _free_tcp_port()
    scheme = "https" if tls else "http"
    app_state = IvrApp(f"{scheme}://127.0.0.1:{port}/ivr")

    async def handle(request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw)
        app_state.received.append(Received(body, raw, dict(request.headers)))
        answer = respond(body)
        if isinstance(answer, Misbehave):
            if answer.delay_s:
                await asyncio.sleep(answer.delay_s)
            if answer.then is not None:
                return JSONResponse(answer.then)
            return PlainTextResponse(answer.body or "", status_code=answer.status)
        return JSONResponse(answer)

    app = Starlette(routes=[Route("/ivr", handle, methods=["POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning",
        ssl_certfile=str(tls[0]) if tls else None, ssl_keyfile=str(tls[1]) if tls else None,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield app_state
    finally:
        server.should_exit = True
        thread.join(timeout=10)
