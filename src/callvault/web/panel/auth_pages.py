"""Signing in and out of the panel: ``/login`` (password, then the verification code), ``/logout``.

The form posts to the panel, which calls the API's own sign-in
(:func:`callvault.web.api_auth.sign_in`: lockout, TOTP, audit, the session
cookie) and sign-out.  A user with 2FA gets a second step asking for the
code; the first step's credentials wait for it in memory for
:data:`PENDING_SECONDS` under a random id (never in the page).  The sign-in
form carries a double-submit token (:data:`LOGIN_CSRF_COOKIE`); the sign-out
form carries the session's CSRF token, checked by the API's code.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from callvault.web.api_auth import LoginIn, sign_in, sign_out
from callvault.web.context import Context, Session
from callvault.web.errors import ApiError
from callvault.web.panel.render import (
    NAV,
    Page,
    PanelError,
    SignInRequired,
    new_secret,
    panel_state,
    public_page,
    set_cookie,
    signed_in_page,
)
from callvault.web.security import CSRF_HEADER, require

router = APIRouter(include_in_schema=False)

PENDING_SECONDS = 300
MAX_PENDING = 10_000
MAX_FORM_BYTES = 16_384
LOGIN_CSRF_COOKIE = "cv_login_csrf"


@dataclass
class PendingLogin:
    """A sign-in whose password was right, waiting for the verification code."""

    account: str
    email: str
    password: str
    expires: float


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (first value of each field)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return "/"  # browsers drop tabs and newlines and read \ as /: "/\t/evil" is "//evil"
    if value.startswith(("/login", "/logout")):
        return "/"
    return value


def _same(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given), str(expected))


def _login_page(
    page: Page,
    *,
    step: str = "password",
    error: str = "",
    account: str = "",
    email: str = "",
    pending: str = "",
    next_path: str = "/",
    status: int = 200,
) -> Response:
    token = new_secret()
    response = page.render(
        "login.html",
        status=status,
        step=step,
        error=error,
        account=account,
        email=email,
        pending=pending,
        next_path=next_path,
        login_csrf=token,
        notice=_notice(page),
    )
    set_cookie(page.request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


def _notice(page: Page) -> str:
    params = page.request.query_params
    if params.get("expired"):
        return page.t("login.notice.expired")
    if params.get("signed_out"):
        return page.t("login.notice.signed_out")
    return ""


@router.get("/")
async def home(request: Request, session: Session) -> Response:
    """The first section the user may open, or the sign-in page."""
    try:
        page = await signed_in_page(request, session)
    except SignInRequired:
        return RedirectResponse("/login", status_code=303)
    for _ident, path, scope, _key in NAV:
        if scope is None or page.can(scope):
            return RedirectResponse(path, status_code=303)
    raise PanelError(page, 403, "error.forbidden")


@router.get("/login")
async def login_form(request: Request, session: Session) -> Response:
    """The sign-in form (a signed-in user goes straight on)."""
    next_path = safe_next(request.query_params.get("next"))
    try:
        await signed_in_page(request, session)
    except (SignInRequired, PanelError):
        return _login_page(public_page(request), next_path=next_path)
    return RedirectResponse(next_path, status_code=303)


@router.post("/login")
async def login_submit(request: Request, session: Session, ctx: Context) -> Response:
    """Check the password (first step) or the verification code (second step)."""
    page = public_page(request)
    form = await read_form(request)
    next_path = safe_next(form.get("next"))
    if not _same(form.get("csrf"), request.cookies.get(LOGIN_CSRF_COOKIE)):
        error = page.t("login.error.form_expired")
        return _login_page(page, error=error, next_path=next_path, status=400)
    pending_store = panel_state(request).pending
    now = time.monotonic()
    for key in [key for key, item in pending_store.items() if item.expires <= now]:
        del pending_store[key]
    pending_id = form.get("pending", "")
    if pending_id:
        pending = pending_store.get(pending_id)
        if not isinstance(pending, PendingLogin):
            error = page.t("login.error.code_expired")
            return _login_page(page, error=error, next_path=next_path, status=400)
        account, email, password = pending.account, pending.email, pending.password
        code: str | None = form.get("code", "").replace(" ", "")
        if not code:
            error = page.t("login.error.totp_empty")
            return _login_page(
                page, step="totp", pending=pending_id, error=error, next_path=next_path
            )
    else:
        account, email = form.get("account", "").strip(), form.get("email", "").strip()
        password, code = form.get("password", ""), None
    response = RedirectResponse(next_path, status_code=303)
    status, error = 0, ""
    try:
        credentials = LoginIn(account=account, email=email, password=password, totp_code=code)
        await sign_in(credentials, request, response, session, ctx)
    except ValidationError:
        status, error = 401, page.t("login.error.invalid")
    except ApiError as exc:
        if exc.error in ("totp_required", "invalid_totp", "totp_reused"):
            if not pending_id:
                if len(pending_store) >= MAX_PENDING:
                    pending_store.clear()
                pending_id = new_secret()
                expires = now + PENDING_SECONDS
                pending_store[pending_id] = PendingLogin(account, email, password, expires)
            error = {
                "invalid_totp": page.t("login.error.totp"),
                "totp_reused": page.t("login.error.totp_reused"),
            }.get(exc.error, "")
            return _login_page(
                page, step="totp", pending=pending_id, error=error, next_path=next_path
            )
        pending_store.pop(pending_id, None)
        if exc.error == "ip_not_allowed":
            status, error = 403, page.t("error.ip_not_allowed")
        elif exc.error == "user_disabled":
            status, error = 403, page.t("login.error.disabled")
        elif exc.status == 423:
            minutes = max(1, round(int(exc.details.get("retry_after_s", 60)) / 60))
            status, error = 423, page.t("login.error.locked", minutes=minutes)
        else:
            status, error = 401, page.t("login.error.invalid")
    if status:
        return _login_page(
            page, error=error, account=account, email=email, next_path=next_path, status=status
        )
    pending_store.pop(pending_id, None)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.get("/logout")
async def logout_form(request: Request, session: Session) -> Response:
    """Asks to confirm signing out (signing out is a POST carrying the CSRF token)."""
    page = await signed_in_page(request, session)
    return page.render("logout.html")


@router.post("/logout")
async def logout_submit(request: Request, session: Session, ctx: Context) -> Response:
    """End the session through the API's sign-out; back to the sign-in page."""
    form = await read_form(request)
    token = form.get("csrf_token", "").encode()
    headers = [*request.scope["headers"], (CSRF_HEADER.lower().encode(), token)]
    checked = Request({**request.scope, "headers": headers}, request.receive)
    try:
        principal = await require()(checked, session)
    except ApiError as exc:
        if exc.status == 401:
            return RedirectResponse("/login", status_code=303)
        reading = Request({**request.scope, "method": "GET"}, request.receive)
        page = await signed_in_page(reading, session)  # the error page, for a signed-in user
        raise PanelError(page, 403, f"error.{exc.error}") from None
    answer = await sign_out(checked, principal, session, ctx)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    for value in answer.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", value)
    return response
