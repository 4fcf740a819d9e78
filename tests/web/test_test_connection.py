"""``POST /api/v1/objects/{login}/test-connection`` against real local IVR applications.

A self-signed HTTPS server must give the IVR API's error 3 with the exact
TLS message; a good HTTP application receives a signed ``Connected`` test
request and answers: ok.  Without the operator's allow-list the SSRF guard
refuses loopback, as it does on calls.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callvault.ivr.signing import verify
from callvault.store.repository import Accounts
from tests.certs import Certs, make_certs
from tests.web.conftest import World
from tests.web.servers import serve

SECRET = "whsec_test_connection"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def ivr_app(received: list[dict[str, Any]]) -> Starlette:
    """An IVR application that checks the signature and answers Hangup."""

    async def ivr(request: Request) -> JSONResponse:
        body = await request.body()
        signed = verify(request.headers.get("x-signature", ""), body, [SECRET], int(time.time()))
        received.append({"signed": signed, **json.loads(body)["request"]})
        return JSONResponse({"Action": {"Type": "Hangup"}})

    return Starlette(routes=[Route("/ivr", ivr, methods=["POST"])])


async def _ivr_object(world: World, url: str) -> None:
    async with world.db.session() as session:
        await Accounts(session).update("acme", plan={"addons": ["recording", "ivr_api"]})
        await session.commit()
    admin = await world.signed_in("administrator")
    settings = {"url": url, "signing_secrets": [SECRET], "hash": "h-123", "timeout_ms": 3000}
    made = await admin.post(
        "/api/v1/objects", json={"kind": "ivr_api", "login": "app", "settings": settings}
    )
    assert made.status_code == 201, made.text
    assert made.json()["secrets_set"] == ["hash", "signing_secrets"]


async def test_self_signed_https_is_error_3(world: World, certs: Certs, tmp_path: Path) -> None:
    world.node.settings.ivr_allow_networks.append("127.0.0.1")
    received: list[dict[str, Any]] = []
    async with serve(ivr_app(received), tls=certs.self_signed) as port:
        await _ivr_object(world, f"https://127.0.0.1:{port}/ivr")
        admin = await world.signed_in("administrator")
        answer = await admin.post("/api/v1/objects/app/test-connection")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["ok"] is False and result["status"] is None
    assert result["error_no"] == 3
    assert result["error"] == "TLS error: certificate verify failed: self-signed certificate"
    assert result["elapsed_ms"] >= 0
    assert received == [], "nothing reached the application"


async def test_good_http_app_is_ok_and_signed(world: World) -> None:
    world.node.settings.ivr_allow_networks.append("127.0.0.1")
    received: list[dict[str, Any]] = []
    async with serve(ivr_app(received)) as port:
        await _ivr_object(world, f"http://127.0.0.1:{port}/ivr")
        admin = await world.signed_in("administrator")
        answer = await admin.post("/api/v1/objects/app/test-connection")
    result = answer.json()
    assert result | {"elapsed_ms": 0, "url": ""} == {
        "ok": True,
        "url": "",
        "status": 200,
        "elapsed_ms": 0,
        "error_no": None,
        "error": None,
        "attempts": 1,
        "signed": True,
    }
    [request] = received
    assert request["signed"] is True
    assert request["Event"] == {
        "EventName": "Connected",
        "EventData": "",
        "Details": {"Test": True},
    }
    assert request["UniqueCallId"].startswith("test-") and request["Hash"] == "h-123"


async def test_guard_scope_and_kind(world: World) -> None:
    await _ivr_object(world, "http://127.0.0.1:9/ivr")
    admin = await world.signed_in("administrator")
    refused = (await admin.post("/api/v1/objects/app/test-connection")).json()
    assert refused["ok"] is False and refused["error_no"] == 2
    assert refused["error"].startswith("connection error: URL not allowed: 127.0.0.1")
    await admin.post("/api/v1/objects", json={"kind": "queue", "login": "sales"})
    queue = await admin.post("/api/v1/objects/sales/test-connection")
    assert queue.status_code == 422 and "only ivr_api" in queue.json()["message"]
    consultant = await world.signed_in("consultant")
    assert (await consultant.post("/api/v1/objects/app/test-connection")).status_code == 403
    beta = await world.signed_in("beta_admin")
    assert (await beta.post("/api/v1/objects/app/test-connection")).status_code == 404
