"""The HTTP side of a node: health and live calls (the panel and REST API grow here).

An ASGI app (FastAPI) served by uvicorn inside the node's event loop, so it
reads the engine's state directly without locks.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from callvault import __version__
from callvault.engine.engine import Engine
from callvault.metrics import node_registry
from callvault.recording.manager import RecordingManager
from callvault.store.db import Database
from callvault.store.models import CallRecord
from callvault.web.admin_context import AdminContext
from callvault.web.api_admin import install_admin_api
from callvault.web.api_calls import install_api
from callvault.web.context import ApiContext
from callvault.web.errors import install_error_handlers
from callvault.web.panel import install_panel


class RecordingCommand(BaseModel):
    """Start, stop, pause or resume a live call's recording."""

    command: Literal["start", "stop", "pause", "resume"]


def operator_guard(token: str | None) -> Callable[[Request], None]:
    """Node-operator endpoints (live calls, bans, traces, recording control): the
    operator's bearer token when one is configured, otherwise loopback clients only."""

    def check(request: Request) -> None:
        if token:
            given = request.headers.get("authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return
            raise HTTPException(401, "operator token required")
        host = request.client.host if request.client else ""
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
        raise HTTPException(403, "operator endpoints answer loopback clients only; "
                            "set CALLVAULT_OPERATOR_TOKEN to use them remotely")  # fmt: skip

    return check


def create_app(
    engine: Engine, db: Database | None = None, recordings: RecordingManager | None = None
) -> FastAPI:
    """Build the ASGI app over a running engine (and the node's database and recorder)."""
    app = FastAPI(
        title="callvault",
        version=__version__,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
    )

    operator = operator_guard(engine.settings.operator_token)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "live_calls": len(engine.calls),
            "sip": f"{engine.stack.listen[0]}:{engine.stack.listen[1]}",
        }

    metrics = node_registry(engine, recordings)  # this node's own, not the global registry

    @app.get("/metrics", dependencies=[Depends(operator)], include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus text format, read from the live state (callvault.metrics)."""
        return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/calls/live", dependencies=[Depends(operator)])
    async def live_calls() -> list[dict[str, Any]]:
        return [call.summary() for call in engine.calls.values()]

    @app.get("/api/v1/security/bans", dependencies=[Depends(operator)])
    async def bans() -> list[dict[str, Any]]:
        guard = engine.guard
        if guard is None:
            return []
        now = time.monotonic()
        return [
            {"address": ban.address, "reason": ban.reason, "expires_in_s": round(ban.until - now)}
            for ban in guard.bans()
        ]

    @app.get("/api/v1/calls/{call_id}/trace", dependencies=[Depends(operator)])
    async def call_trace(call_id: str) -> list[dict[str, Any]]:
        call = engine.calls.get(call_id)
        if call is not None:
            return call.trace.events
        path = engine.settings.traces_dir / f"{call_id}.jsonl"
        if not call_id.startswith("c-") or "/" in call_id or not path.exists():
            raise HTTPException(404, f"no trace for call {call_id}")
        import json

        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @app.post("/api/v1/calls/{call_id}/recording", dependencies=[Depends(operator)])
    async def control_recording(call_id: str, body: RecordingCommand) -> dict[str, Any]:
        """Pause (silence is written), resume, stop or start a live call's recording."""
        call = engine.calls.get(call_id)
        if call is None:
            raise HTTPException(404, f"no live call {call_id}")
        if recordings is None or call_id not in recordings.active:
            raise HTTPException(409, f"call {call_id} is not being recorded")
        await recordings.control(call, body.command)
        return {"call_id": call_id, "command": body.command, "ok": True}

    @app.get("/api/v1/calls/{call_id}/ivr-trace", dependencies=[Depends(operator)])
    async def ivr_trace(call_id: str) -> dict[str, Any]:
        """The IVR API exchange of a finished call: requests, responses, timings, errors."""
        if db is None:
            raise HTTPException(503, "no database configured")
        async with db.session() as session:
            record = await session.get(CallRecord, call_id)
        if record is None:
            raise HTTPException(404, f"no call {call_id}")
        return {"call_id": record.id, "tags": record.tags, "ivr_trace": record.ivr_trace}

    install_error_handlers(app)
    if db is not None and recordings is not None:
        # After the routes above, so /api/v1/calls/live is not taken for a call id.
        install_api(
            app,
            ApiContext(
                db, recordings.outbox.storage, recordings.keyring, data_dir=engine.settings.data_dir
            ),
        )
        # Admin resources, live events, reports (callvault.web.api_admin).
        install_admin_api(app, AdminContext(engine.settings, recordings.webhooks))
        install_panel(app, engine.calls.values)  # the panel: /login, /calls, /recordings, /live
    return app
