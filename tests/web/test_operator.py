"""Node-operator endpoints: loopback clients only, or the operator's bearer token."""

from __future__ import annotations

from pathlib import Path

import httpx

from callvault.config import Settings
from callvault.engine.engine import Engine
from callvault.web.app import create_app


def _app(tmp_path: Path, token: str | None) -> Engine:
    return Engine(Settings(data_dir=tmp_path, operator_token=token))


async def _get(engine: Engine, client: tuple[str, int], **headers: str) -> int:
    transport = httpx.ASGITransport(app=create_app(engine), client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
        return (await http.get("/api/v1/calls/live", headers=headers)).status_code


async def test_loopback_only_without_a_token(tmp_path: Path) -> None:
    engine = _app(tmp_path, None)
    assert await _get(engine, ("127.0.0.1", 5000)) == 200
    assert await _get(engine, ("::1", 5000)) == 200
    assert await _get(engine, ("203.0.113.7", 5000)) == 403


async def test_the_token_when_configured(tmp_path: Path) -> None:
    engine = _app(tmp_path, "op-secret")
    assert await _get(engine, ("203.0.113.7", 5000)) == 401
    assert await _get(engine, ("127.0.0.1", 5000)) == 401
    ok = await _get(engine, ("203.0.113.7", 5000), authorization="Bearer op-secret")
    assert ok == 200
    assert await _get(engine, ("203.0.113.7", 5000), authorization="Bearer wrong") == 401
