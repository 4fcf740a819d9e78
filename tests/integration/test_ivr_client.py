"""The IVR API HTTP channel against a real application server on 127.0.0.1.

A uvicorn + Starlette app plays the customer's IVR application, over HTTP and
over HTTPS with certificates made here; each test checks one row of the
spec's error table (shared/spec/ivr-api.md, "Errors" 1-5), the v2 headers and
signature ("Request"), and the retry rule (connection failures before any byte
was sent only).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from callvault.ivr.client import IvrClientSettings, IvrHttpClient, IvrResult
from callvault.ivr.models import ErrorNo, IvrRequest, PlayAction, RequestError
from callvault.ivr.signing import verify
from callvault.ivr.ssrf import check_url
from tests.asgi_server import serve_asgi
from tests.certs import Certs, make_certs

SECRETS = ["whsec_new", "whsec_old"]
REQUEST = IvrRequest.model_validate(
    {
        "request": {
            "FromNumber": "48123456789",
            "ToNumber": "48221234567",
            "UniqueCallId": "c-test-1",
            "ChannelStatus": "Ringing",
            "Event": {"EventName": "Connected", "EventData": ""},
            "Session": None,
        }
    }
)
PLAY = {"Action": {"Type": "Play", "Prompt": "1"}, "Session": {"step": 2}}
Reply = Callable[[bytes], Awaitable[Response]]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class IvrApp:
    """The customer's application: records every request, answers with ``reply``."""

    received: list[Received] = field(default_factory=list)
    reply: Reply | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def asgi(self) -> Starlette:
        async def ivr(request: Request) -> Response:
            body = await request.body()
            self.received.append(Received(dict(request.headers), body))
            if self.reply is not None:
                return await self.reply(body)
            return JSONResponse(PLAY)

        return Starlette(routes=[Route("/ivr", ivr, methods=["POST"])])


@asynccontextmanager
async def serve(
    app: IvrApp, port: int = 0, tls: tuple[Path, Path] | None = None
) -> AsyncIterator[int]:
    """Run ``app`` with uvicorn on 127.0.0.1 (HTTPS when ``tls`` is (cert, key)); yield the port."""
    async with serve_asgi(app.asgi(), port=port, tls=tls, grace_s=2) as bound:
        try:
            yield bound
        finally:
            app.release.set()  # let held responses finish so the server can stop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- certificates ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture
async def app() -> AsyncIterator[IvrApp]:
    yield IvrApp()


@pytest.fixture
async def http_port(app: IvrApp) -> AsyncIterator[int]:
    async with serve(app) as port:
        yield port


def reply_with(status: int, body: str | bytes) -> Reply:
    async def reply(_: bytes) -> Response:
        return Response(body, status_code=status, media_type="application/json")

    return reply


async def send_once(url: str, **settings: object) -> IvrResult:
    client = IvrHttpClient(IvrClientSettings.model_validate({"url": url, **settings}))
    async with client:
        return await client.send(client.new_call(), REQUEST)


# --- success, headers, signature -----------------------------------------------------------


async def test_success_signed_and_traced(app: IvrApp, http_port: int) -> None:
    async def checked(body: bytes) -> Response:
        header = app.received[-1].headers.get("x-signature", "")
        if not verify(header, body, ["whsec_old"], int(time.time())):
            return PlainTextResponse("bad signature", status_code=401)
        return JSONResponse(PLAY)

    app.reply = checked
    url = f"http://127.0.0.1:{http_port}/ivr"
    async with IvrHttpClient(IvrClientSettings(url=url, signing_secrets=SECRETS)) as client:
        call = client.new_call()
        first = await client.send(call, REQUEST)
        second = await client.send(call, REQUEST)
        other = await client.send(client.new_call(), REQUEST)

    assert first.ok, first.error
    assert first.response is not None
    assert first.response.actions == (PlayAction(Prompt="1"),)
    assert first.response.session == {"step": 2}
    assert (first.status_code, first.attempts, first.url) == (200, 1, url)
    assert json.loads(first.response_text or "") == PLAY and not first.response_truncated
    assert first.request_body == REQUEST.to_json().decode()
    assert 0 < first.elapsed_ms < 5000 and abs(first.started_at - time.time()) < 60

    headers = app.received[0].headers
    assert app.received[0].body == REQUEST.to_json()
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == first.request_id
    assert (headers["x-attempt"], headers["x-sequence"]) == ("1", "1")
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}", headers["x-signature"])
    assert re.fullmatch(rf"00-{call.trace_id}-[0-9a-f]{{16}}-01", headers["traceparent"])
    assert first.request_headers["traceparent"] == headers["traceparent"]

    again = app.received[1].headers
    assert again["x-sequence"] == "2" and second.sequence == 2
    assert again["traceparent"].split("-")[1] == call.trace_id == second.trace_id
    assert again["x-request-id"] == second.request_id != first.request_id
    fresh = app.received[2].headers
    assert fresh["x-sequence"] == "1" and other.trace_id != call.trace_id


async def test_unsigned_when_no_secrets(app: IvrApp, http_port: int) -> None:
    result = await send_once(f"http://127.0.0.1:{http_port}/ivr")
    assert result.ok and "x-signature" not in app.received[0].headers


# --- errors 1-5 ------------------------------------------------------------------------------


async def test_timeout_is_error_1(app: IvrApp, http_port: int) -> None:
    async def slow(_: bytes) -> Response:
        await app.release.wait()
        return JSONResponse(PLAY)

    app.reply = slow
    result = await send_once(f"http://127.0.0.1:{http_port}/ivr", timeout_ms=500)
    assert result.error is not None
    assert (result.error.error_no, result.error.message) == (
        ErrorNo.TIMEOUT,
        "application timeout after 500 ms",
    )
    assert result.attempts == 1 and result.status_code is None and result.response is None
    assert 450 <= result.elapsed_ms < 3000
    assert result.error.as_request_error() == RequestError(
        ErrorNo=1, ErrorMsg="application timeout after 500 ms"
    )


async def test_connection_refused_is_error_2_after_retries() -> None:
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    url = f"http://127.0.0.1:{free_port()}/ivr"
    async with IvrHttpClient(IvrClientSettings(url=url), sleep=sleep) as client:
        result = await client.send(client.new_call(), REQUEST)
    assert result.error is not None
    assert (result.error.error_no, result.error.message) == (
        ErrorNo.CONNECTION,
        "connection error: connection refused",
    )
    assert result.attempts == 3 and sleeps == [0.05, 0.2]
    assert result.request_headers["X-Attempt"] == "3"


async def test_refused_then_up_is_retried_with_the_same_request_id(app: IvrApp) -> None:
    port = free_port()
    async with AsyncExitStack() as stack:

        async def start_server_instead_of_sleeping(delay: float) -> None:
            await stack.enter_async_context(serve(app, port=port))

        settings = IvrClientSettings(url=f"http://127.0.0.1:{port}/ivr")
        client = IvrHttpClient(settings, sleep=start_server_instead_of_sleeping)
        async with client:
            result = await client.send(client.new_call(), REQUEST)
    assert result.ok, result.error
    assert result.attempts == 2 and len(app.received) == 1
    headers = app.received[0].headers
    assert (headers["x-attempt"], headers["x-request-id"]) == ("2", result.request_id)


async def test_dns_failure_is_error_2(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def no_such_host(host: object, *args: Any, **kwargs: Any) -> Any:
        if host == "callvault-test.invalid":  # answer at once, whatever the machine's DNS
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    result = await send_once("http://callvault-test.invalid/ivr")
    assert result.error is not None and result.error.error_no is ErrorNo.CONNECTION
    assert result.error.message == (
        "connection error: DNS lookup of callvault-test.invalid failed: Name or service not known"
    )
    assert result.attempts == 3  # nothing was sent: a connect failure is retried


async def test_disconnect_after_the_request_is_error_2_without_retry() -> None:
    connections = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        result = await send_once(f"http://127.0.0.1:{port}/ivr")
    assert result.error is not None and result.error.error_no is ErrorNo.CONNECTION
    assert (
        result.error.message == "connection error: server disconnected without sending a response"
    )
    assert result.attempts == 1 and connections == 1


async def test_url_guard_refusal_is_error_2_without_any_attempt(
    app: IvrApp, http_port: int
) -> None:
    settings = IvrClientSettings(url=f"http://127.0.0.1:{http_port}/ivr")
    guard = functools.partial(check_url, allow=[])
    async with IvrHttpClient(settings, url_guard=guard) as client:
        result = await client.send(client.new_call(), REQUEST)
    assert result.error is not None and result.error.error_no is ErrorNo.CONNECTION
    assert result.error.message == (
        "connection error: URL not allowed: 127.0.0.1 resolves to 127.0.0.1 (loopback address)"
    )
    assert result.attempts == 0 and app.received == []


async def test_self_signed_certificate_is_error_3(app: IvrApp, certs: Certs) -> None:
    async with serve(app, tls=certs.self_signed) as port:
        result = await send_once(f"https://127.0.0.1:{port}/ivr")
    assert result.error is not None
    assert (result.error.error_no, result.error.message) == (
        ErrorNo.TLS,
        "TLS error: certificate verify failed: self-signed certificate",
    )
    assert result.attempts == 1 and app.received == []


async def test_ignore_ssl_errors_accepts_a_self_signed_certificate(
    app: IvrApp, certs: Certs
) -> None:
    async with serve(app, tls=certs.self_signed) as port:
        result = await send_once(f"https://127.0.0.1:{port}/ivr", ignore_ssl_errors=True)
    assert result.ok, result.error
    assert len(app.received) == 1


async def test_ca_bundle_trusts_the_custom_ca(app: IvrApp, certs: Certs) -> None:
    async with serve(app, tls=certs.ca_signed) as port:
        url = f"https://127.0.0.1:{port}/ivr"
        trusted = await send_once(url, ca_bundle=certs.ca_pem)
        untrusted = await send_once(url)
        self_signed_ca = await send_once(url, ca_bundle=certs.self_signed[0].read_text())
    assert trusted.ok, trusted.error
    for result in (untrusted, self_signed_ca):
        assert result.error is not None and result.error.error_no is ErrorNo.TLS
        assert result.error.message == (
            "TLS error: certificate verify failed: unable to get local issuer certificate"
        )


async def test_https_to_a_plain_http_server_is_error_3(http_port: int) -> None:
    result = await send_once(f"https://127.0.0.1:{http_port}/ivr")
    assert result.error is not None and result.error.error_no is ErrorNo.TLS
    assert result.error.message.startswith("TLS error: ")
    assert result.attempts == 1


async def test_http_500_is_error_4_and_not_retried(app: IvrApp, http_port: int) -> None:
    app.reply = reply_with(500, "database down")
    result = await send_once(f"http://127.0.0.1:{http_port}/ivr")
    assert result.error is not None
    assert (result.error.error_no, result.error.message) == (
        ErrorNo.HTTP_STATUS,
        "HTTP status 500 Internal Server Error",
    )
    assert (result.attempts, result.status_code, result.response_text) == (1, 500, "database down")
    assert len(app.received) == 1


async def test_redirect_is_not_followed(app: IvrApp, http_port: int) -> None:
    async def redirect(_: bytes) -> Response:
        return RedirectResponse("http://169.254.169.254/", status_code=302)

    app.reply = redirect
    result = await send_once(f"http://127.0.0.1:{http_port}/ivr")
    assert result.error is not None and result.error.message == "HTTP status 302 Found"


@pytest.mark.parametrize(
    ("body", "pointer", "message"),
    [
        (
            "<html>sorry</html>",
            "",
            "invalid response: not JSON: Expecting value (line 1, column 1)",
        ),
        (
            '{"Action": {"Type": "Dance"}}',
            "/Action/Type",
            "invalid response: /Action/Type: unknown action type 'Dance'",
        ),
        (
            '{"Action": {"Type": "GetDTMF", "Timeout": "soon"}}',
            "/Action/Timeout",
            "invalid response: /Action/Timeout: expected an integer, got 'soon'",
        ),
        (
            '{"Actions": [{"Type": "Answer"}, {"Type": "Play"}]}',
            "/Actions/1/Prompt",
            "invalid response: /Actions/1/Prompt: required",
        ),
    ],
)
async def test_invalid_response_is_error_5_with_pointer(
    app: IvrApp, http_port: int, body: str, pointer: str, message: str
) -> None:
    app.reply = reply_with(200, body)
    result = await send_once(f"http://127.0.0.1:{http_port}/ivr")
    assert result.error is not None
    assert result.error.error_no is ErrorNo.INVALID_RESPONSE
    assert (result.error.pointer, result.error.message) == (pointer, message)
    assert (result.status_code, result.response_text, result.attempts) == (200, body, 1)


async def test_oversized_session_is_error_5_and_trace_text_is_truncated(
    app: IvrApp, http_port: int
) -> None:
    body = json.dumps({"Action": {"Type": "Hangup"}, "Session": "x" * 40_000})
    app.reply = reply_with(200, body)
    result = await send_once(f"http://127.0.0.1:{http_port}/ivr")
    assert result.error is not None and result.error.pointer == "/Session"
    assert result.response_text == body[:16384] and result.response_truncated


# --- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {"url": "http://a.example/", "timeout_ms": 499},
        {"url": "http://a.example/", "timeout_ms": 30_001},
        {"url": "ftp://a.example/"},
        {"url": "http://a.example/", "ca_bundle": "not a certificate"},
        {"url": "http://a.example/", "signing_secrets": ["a", "b", "c"]},
        {"url": "http://a.example/", "signing_secrets": [""]},
    ],
)
def test_settings_are_validated(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        IvrClientSettings.model_validate(settings)


def test_settings_defaults() -> None:
    settings = IvrClientSettings(url="https://a.example/ivr")
    assert (settings.timeout_ms, settings.ignore_ssl_errors, settings.ca_bundle) == (
        5000,
        False,
        None,
    )
    assert settings.signing_secrets == []
