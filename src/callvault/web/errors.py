"""The one error shape of the HTTP API, and the handlers that give every error that shape.

Every error answer is ``{"status": 403, "error": "forbidden", "message":
"...", "details": {...}}``: ``error`` is a stable code for programs,
``message`` a sentence for people.  :func:`install_error_handlers` maps our
:class:`ApiError`, the store's :class:`~callvault.store.errors.StoreError`,
FastAPI's validation errors, Starlette's HTTP errors (unknown routes, wrong
methods) and anything unexpected (500, no internals leaked) to it.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from callvault.store.errors import StoreError

log = logging.getLogger("callvault.web")

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    416: "range_not_satisfiable",
    422: "invalid",
    423: "locked",
    429: "too_many_requests",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answer: HTTP ``status``, stable ``error`` code, message, details, headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error or CODES.get(status, "error")
        self.message = message
        self.details = details or {}
        self.headers = headers


def not_found(what: str, ident: object) -> ApiError:
    """404 for an object that does not exist *or* that the caller may not see (never 403)."""
    return ApiError(404, f"no {what} {ident}", details={"type": what, "id": str(ident)})


def error_response(
    status: int,
    error: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer of one error."""
    body = {"status": status, "error": error, "message": message, "details": details or {}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.message, exc.details, exc.headers)


async def _store_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StoreError)
    return error_response(exc.http_status, exc.code, str(exc))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "where": ".".join(str(part) for part in error.get("loc", ())),
            "problem": str(error.get("msg", "")),
        }
        for error in exc.errors()
    ]
    return error_response(422, "invalid", "the request is not valid", {"problems": problems})


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return error_response(
        exc.status_code, CODES.get(exc.status_code, "error"), message, headers=headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal error; the node's log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer in the one error shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
