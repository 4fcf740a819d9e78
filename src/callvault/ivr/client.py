"""The HTTP channel of the IVR API: one POST to the application, one traced result.

Implements shared/spec/ivr-api.md sections "Request" (body, v2 headers
``X-Request-Id``, ``X-Attempt``, ``X-Sequence``, ``traceparent``,
``X-Signature``), "Object settings" (``url``, ``timeout_ms``,
``ignore_ssl_errors``, ``ca_bundle``, ``signing_secrets``) and "Errors" 1-5:
every failure becomes an :class:`IvrError` with the spec's number and a precise
message, and every call becomes an :class:`IvrResult` holding what the per-call
IVR trace stores.

``timeout_ms`` bounds the whole exchange, retries included. Retries (at most two,
short backoff) happen only when connecting failed before any byte was sent —
never after TLS started, a request was written or a response arrived. One
:class:`IvrHttpClient` per object owns one keep-alive connection pool (aiohttp,
HTTP/1.1, no redirects, no proxies from the environment, certifi's public CAs).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import certifi
from pydantic import BaseModel, Field, field_validator

from callvault.ivr.models import ErrorNo, IvrRequest, RequestError
from callvault.ivr.signing import sign
from callvault.ivr.ssrf import UrlNotAllowed
from callvault.ivr.validate import InvalidResponse, ParsedResponse, parse_response

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
GUARD_TTL_S = 60.0
"""How long a URL that passed the SSRF guard is trusted before it is resolved and checked again."""
DEFAULT_BACKOFF_S = (0.05, 0.2)
TRACE_TEXT_BYTES = 16 * 1024
MAX_RESPONSE_BYTES = 256 * 1024
USER_AGENT = "callvault-ivr/1"

UrlGuard = Callable[[str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


class IvrClientSettings(BaseModel):
    """The object's HTTP settings (spec "Object settings"), validated."""

    url: str
    timeout_ms: int = Field(5000, ge=500, le=30_000)
    ignore_ssl_errors: bool = False
    ca_bundle: str | None = Field(None, description="PEM; trusted instead of the public CAs")
    signing_secrets: list[str] = Field(default_factory=list, max_length=2)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if urlsplit(value).scheme.lower() not in ("http", "https"):
            raise ValueError("url must be http:// or https://")
        return value

    @field_validator("ca_bundle")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ssl.create_default_context(cadata=value)
            except (ssl.SSLError, ValueError) as exc:
                raise ValueError(f"ca_bundle is not a PEM certificate: {exc}") from None
        return value

    @field_validator("signing_secrets")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not s for s in value):
            raise ValueError("signing secrets must not be empty")
        return value

    def ssl_verify(self) -> ssl.SSLContext:
        """What servers are verified with: nothing, the custom CA, or the public CAs."""
        if self.ignore_ssl_errors:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_bundle is not None:
            context = ssl.create_default_context(cadata=self.ca_bundle)
        else:
            context = ssl.create_default_context(cafile=certifi.where())
        context.set_alpn_protocols(["http/1.1"])
        return context


@dataclass
class CallContext:
    """Per-call channel state: the W3C trace id shared by the call's requests, ``X-Sequence``."""

    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    sequence: int = 0


@dataclass(frozen=True)
class IvrError:
    """A failure of the exchange: the spec's ``ErrorNo``, ``ErrorMsg`` and, for 5, the pointer."""

    error_no: ErrorNo
    message: str
    pointer: str | None = None

    def as_request_error(self) -> RequestError:
        """The ``Error`` object of the next request."""
        return RequestError(ErrorNo=self.error_no, ErrorMsg=self.message)


@dataclass(frozen=True)
class IvrResult:
    """Everything the per-call IVR trace stores about one request (spec "Errors", last note)."""

    request_id: str
    url: str
    sequence: int
    trace_id: str
    request_body: str
    request_headers: dict[str, str]
    started_at: float
    elapsed_ms: float
    attempts: int
    status_code: int | None
    response_text: str | None
    response_truncated: bool
    response: ParsedResponse | None
    error: IvrError | None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Failure(Exception):
    def __init__(self, error: IvrError, *, retryable: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable


@dataclass(frozen=True)
class _Exchange:
    """One request of one call, the same for all its attempts."""

    request_id: str
    sequence: int
    trace_id: str
    body: bytes


@dataclass
class _Progress:
    """What is known so far; survives a failure or the deadline."""

    attempts: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    status_code: int | None = None
    reason: str = ""
    raw: bytes | None = None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, its causes and contexts, and the members of exception groups among them."""
    seen: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return seen


def _trace_text(raw: bytes | None) -> str | None:
    return None if raw is None else raw[:TRACE_TEXT_BYTES].decode("utf-8", "replace")


def tls_message(error: ssl.SSLError) -> str:
    """``ErrorMsg`` of a TLS failure, e.g. ``TLS error: certificate verify failed: …``."""
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"TLS error: certificate verify failed: {error.verify_message}"
    reason = getattr(error, "reason", None)
    if reason:
        return f"TLS error: {str(reason).lower().replace('_', ' ')}"
    return f"TLS error: {error}"


def _tls_failure(exc: aiohttp.ClientError, https: bool) -> str | None:
    """``ErrorMsg`` if ``exc`` is a TLS failure: an ssl error among its causes (aiohttp's own
    subclass ssl's), or on HTTPS a reset from the connector, i.e. after TCP connected."""
    for error in _causes(exc):
        if isinstance(error, ssl.SSLError) and not isinstance(error, aiohttp.ClientError):
            return tls_message(error)
    cut = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else None
    if not https or not isinstance(cut, ConnectionResetError | ConnectionAbortedError):
        return None
    return f"TLS error: handshake failed: {(cut.strerror or 'connection closed').lower()}"


def _connection_reason(chain: Sequence[BaseException], host: str) -> str:
    for error in chain:
        if isinstance(error, aiohttp.ServerDisconnectedError):
            return "server disconnected without sending a response"
        if isinstance(error, aiohttp.InvalidURL):
            return f"invalid URL {error.url}"
        if isinstance(error, aiohttp.ClientPayloadError):
            return "peer closed connection without sending complete message body"
        if isinstance(error, aiohttp.ClientResponseError):
            return f"invalid HTTP response: {' '.join(str(error.message).split())}".rstrip(" ^:")
        if isinstance(error, socket.gaierror):
            return f"DNS lookup of {host} failed: {error.strerror or error}"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, ConnectionResetError):
            return "connection reset by peer"
    for error in chain:
        if isinstance(error, OSError) and error.strerror:
            return error.strerror.lower()
    text = str(chain[0]) or type(chain[0]).__name__
    return (text[0].lower() + text[1:]).rstrip(".")


class IvrHttpClient:
    """POSTs IVR API requests to one object's application; use as ``async with``."""

    def __init__(
        self,
        settings: IvrClientSettings,
        *,
        url_guard: UrlGuard | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Sleep = asyncio.sleep,
        backoff_s: Sequence[float] = DEFAULT_BACKOFF_S,
    ) -> None:
        """``url_guard`` (e.g. :func:`callvault.ivr.ssrf.check_url` with the allow-list) runs
        before each request; ``clock`` gives the signature's unix time; ``sleep`` and
        ``backoff_s`` pace the retries."""
        self.settings = settings
        self._url_guard = url_guard
        self._guard_passed_until = 0.0
        self._clock = clock
        self._sleep = sleep
        self._backoff = tuple(backoff_s) or (0.0,)
        self._ssl = settings.ssl_verify()
        url = urlsplit(settings.url)
        self._host, self._https = url.hostname or "", url.scheme.lower() == "https"
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        """The connection pool, made on first use (aiohttp needs the running loop)."""
        if self._http is None:
            connector = aiohttp.TCPConnector(
                ssl=self._ssl, keepalive_timeout=5.0, resolver=aiohttp.ThreadedResolver()
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout_ms / 1000 + 1.0),
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
                cookie_jar=aiohttp.CookieJar(unsafe=True),
            )
        return self._http

    async def __aenter__(self) -> IvrHttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._http is not None:
            await self._http.close()
            self._http = None

    def new_call(self) -> CallContext:
        """Channel state for a new call (fresh trace id, sequence from 1)."""
        return CallContext()

    async def send(self, call: CallContext, request: IvrRequest | bytes) -> IvrResult:
        """POST one request of ``call`` and return the traced outcome; never raises for I/O."""
        call.sequence += 1
        body = request.to_json() if isinstance(request, IvrRequest) else request
        exchange = _Exchange(str(uuid.uuid4()), call.sequence, call.trace_id, body)
        progress = _Progress()
        started_at = self._clock()
        t0 = time.monotonic()
        parsed: ParsedResponse | None = None
        error: IvrError | None = None
        try:
            async with asyncio.timeout(self.settings.timeout_ms / 1000):
                if self._url_guard is not None:
                    await self._guard()
                await self._post(exchange, progress)
            parsed = self._judge(progress)
        except TimeoutError:
            error = IvrError(ErrorNo.TIMEOUT, self._timeout_message())
        except _Failure as failure:
            error = failure.error
        raw = progress.raw
        result = IvrResult(
            request_id=exchange.request_id,
            url=self.settings.url,
            sequence=exchange.sequence,
            trace_id=exchange.trace_id,
            request_body=body.decode("utf-8", "replace"),
            request_headers=progress.headers,
            started_at=started_at,
            elapsed_ms=round((time.monotonic() - t0) * 1000, 1),
            attempts=progress.attempts,
            status_code=progress.status_code,
            response_text=_trace_text(raw),
            response_truncated=raw is not None and len(raw) > TRACE_TEXT_BYTES,
            response=parsed,
            error=error,
        )
        log.debug(
            "ivr %s seq=%d attempts=%d status=%s error=%s %.1f ms",
            exchange.request_id,
            result.sequence,
            result.attempts,
            result.status_code,
            error,
            result.elapsed_ms,
        )
        return result

    def _timeout_message(self) -> str:
        return f"application timeout after {self.settings.timeout_ms} ms"

    async def _guard(self) -> None:
        """Run the URL guard; a pass is remembered for ``GUARD_TTL_S`` (the URL is fixed)."""
        assert self._url_guard is not None
        if time.monotonic() < self._guard_passed_until:
            return
        try:
            await self._url_guard(self.settings.url)
            self._guard_passed_until = time.monotonic() + GUARD_TTL_S
        except UrlNotAllowed as exc:
            message = f"connection error: URL not allowed: {exc.reason}"
            raise _Failure(IvrError(ErrorNo.CONNECTION, message)) from exc

    async def _post(self, exchange: _Exchange, progress: _Progress) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            progress.attempts = attempt
            try:
                await self._attempt(exchange, attempt, progress)
                return
            except _Failure as failure:
                if not failure.retryable or attempt == MAX_ATTEMPTS:
                    raise
                log.info("ivr %s attempt %d: %s; retrying", exchange.request_id, attempt, failure)
            await self._sleep(self._backoff[min(attempt, len(self._backoff)) - 1])

    def _headers(self, exchange: _Exchange, attempt: int) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Request-Id": exchange.request_id,
            "X-Attempt": str(attempt),
            "X-Sequence": str(exchange.sequence),
            "traceparent": f"00-{exchange.trace_id}-{secrets.token_hex(8)}-01",
        }
        if self.settings.signing_secrets:
            now = int(self._clock())
            headers["X-Signature"] = sign(exchange.body, self.settings.signing_secrets, now)
        return headers

    async def _attempt(self, exchange: _Exchange, attempt: int, progress: _Progress) -> None:
        headers = self._headers(exchange, attempt)
        progress.headers = headers
        try:
            async with self._session().post(
                self.settings.url, data=exchange.body, headers=headers, allow_redirects=False
            ) as response:
                progress.status_code = response.status
                progress.reason = response.reason or ""
                progress.raw = b""
                chunks = bytearray()
                async for chunk in response.content.iter_any():
                    chunks += chunk
                    progress.raw = bytes(chunks[: TRACE_TEXT_BYTES + 1])
                    if len(chunks) > MAX_RESPONSE_BYTES:
                        message = f"invalid response: body larger than {MAX_RESPONSE_BYTES} bytes"
                        response.close()
                        raise _Failure(IvrError(ErrorNo.INVALID_RESPONSE, message, ""))
                progress.raw = bytes(chunks)
        except TimeoutError as exc:  # aiohttp's own backstop; the deadline is send()'s
            raise _Failure(IvrError(ErrorNo.TIMEOUT, self._timeout_message())) from exc
        except aiohttp.ClientError as exc:
            tls = _tls_failure(exc, self._https)
            if tls is not None:
                raise _Failure(IvrError(ErrorNo.TLS, tls)) from exc
            reason = _connection_reason(_causes(exc), self._host)
            error = IvrError(ErrorNo.CONNECTION, f"connection error: {reason}")
            # DNS or TCP connect failed (TLS failures are handled above): nothing was sent yet
            raise _Failure(error, retryable=isinstance(exc, aiohttp.ClientConnectorError)) from exc

    def _judge(self, progress: _Progress) -> ParsedResponse:
        status = progress.status_code
        assert status is not None
        if not 200 <= status < 300:
            message = f"HTTP status {status} {progress.reason}".rstrip()
            raise _Failure(IvrError(ErrorNo.HTTP_STATUS, message))
        try:
            return parse_response(progress.raw or b"")
        except InvalidResponse as exc:
            message = f"invalid response: {exc}"
            raise _Failure(IvrError(ErrorNo.INVALID_RESPONSE, message, exc.pointer)) from None
