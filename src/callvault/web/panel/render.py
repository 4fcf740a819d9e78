"""What every panel page shares: the Jinja2 templates, the signed-in user, language, errors.

:func:`signed_in_page` authenticates a page exactly like the API does (its
:func:`callvault.web.security.require` dependency: the session, the account's
login allow-list...; panel session cookie only) and turns "not signed in"
into a redirect to ``/login``, a refusal into a 403 page; :meth:`Page.require`
checks a scope like :func:`~callvault.web.security.require` and answers a
readable 403 page instead of JSON.  :class:`PanelError` renders
``error.html`` (404 for what the user may not see, as in the API).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from callvault import __version__
from callvault.engine.call import Call
from callvault.store.models import Account
from callvault.web.context import api_context
from callvault.web.errors import ApiError
from callvault.web.panel.i18n import LANG_COOKIE, LANGUAGES, Translator, choose_language
from callvault.web.security import Principal, require

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
DEFAULT_TZ = "Europe/Warsaw"
NAV = (
    ("calls", "/calls", "calls.read", "nav.calls"),
    ("recordings", "/recordings", "recordings.list", "nav.recordings"),
    ("live", "/live", "calls.read", "nav.live"),
    ("reports", "/reports", "calls.read", "nav.reports"),
    ("jobs", "/jobs", None, "nav.jobs"),
    ("audit", "/audit", "audit.read", "nav.audit"),
    ("admin", "/admin", None, "nav.admin"),
)
"""The panel's sections: id, path, the scope that shows it (``None``: anyone), the label's key."""

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class PanelState:
    """The panel's node-wide state: the engine's live calls and sign-ins waiting for a code."""

    live_calls: Callable[[], Iterable[Call]]
    pending: dict[str, Any] = field(default_factory=dict)
    """Pending-login id to :class:`~callvault.web.panel.auth_pages.PendingLogin`."""


def panel_state(request: Request) -> PanelState:
    """The app's :class:`PanelState`."""
    state = request.app.state.callvault_panel
    assert isinstance(state, PanelState)
    return state


def zone(name: str | None) -> ZoneInfo:
    """The account's time zone (Warsaw when unknown)."""
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


class SignInRequired(Exception):
    """The page needs a signed-in panel session: redirect to ``/login``."""

    def __init__(self, request: Request, expired: bool) -> None:
        super().__init__("sign in")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params = {"next": target, **({"expired": "1"} if expired else {})}
        self.location = "/login?" + urlencode(params, quote_via=quote)


class PanelError(Exception):
    """A page that cannot be shown: rendered as ``error.html`` with ``status``."""

    def __init__(self, page: Page, status: int, message_key: str) -> None:
        super().__init__(message_key)
        self.page, self.status, self.message_key = page, status, message_key


@dataclass
class Page:
    """One panel request: who asks (if anyone), in which language and time zone."""

    request: Request
    t: Translator
    principal: Principal | None = None
    account: Account | None = None
    lang_switched: bool = False

    def can(self, scope: str) -> bool:
        """Whether the signed-in user holds ``scope`` (buttons they lack are not shown)."""
        return self.principal is not None and self.principal.has(scope)

    def require(self, scope: str) -> Principal:
        """The principal if they hold ``scope``; else a 403 page."""
        if self.principal is None or not self.principal.has(scope):
            raise PanelError(self, 403, "error.forbidden")
        return self.principal

    def lang_url(self, lang: str) -> str:
        """This page in another language (the ``?lang=`` switch, other parameters kept)."""
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        return self.request.url.path + "?" + urlencode([*params, ("lang", lang)])

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """The page's HTML (and the language cookie, after a ``?lang=`` switch)."""
        principal = self.principal
        nav = [
            {"id": ident, "path": path, "label": self.t(key)}
            for ident, path, scope, key in NAV
            if principal is not None and (scope is None or principal.has(scope))
        ]
        html = templates.get_template(template).render(
            _=self.t,
            t=self.t,
            page=self,
            lang=self.t.lang,
            languages=LANGUAGES,
            user=principal.user if principal else None,
            csrf_token=principal.csrf_token if principal else "",
            nav=nav,
            version=__version__,
            **values,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if self.lang_switched:
            set_cookie(self.request, response, LANG_COOKIE, self.t.lang, 365 * 86400)
        return response


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """A panel cookie with the API's policy (Secure unless configured off, SameSite=Lax)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=api_context(request).secure_cookies,
        httponly=True,
        samesite="lax",
    )


def public_page(request: Request) -> Page:
    """A page for anyone (sign-in): language from ``?lang=``, the cookie, or Polish."""
    lang, switched = choose_language(request)
    return Page(request, Translator(lang, zone(None)), lang_switched=switched)


async def signed_in_page(request: Request, session: AsyncSession) -> Page:
    """A page for the signed-in user, authenticated by the API's own code; else to ``/login``."""
    try:
        principal = await _authenticated(request, session)
    except ApiError as exc:
        if exc.status != 401:
            lang, switched = choose_language(request)
            page = Page(request, Translator(lang, zone(None)), lang_switched=switched)
            raise PanelError(page, 403, f"error.{exc.error}") from None
        raise SignInRequired(request, expired=exc.error == "session_expired") from None
    if principal.via != "session":
        raise SignInRequired(request, expired=False)
    account = await session.get(Account, principal.account_id)
    lang, switched = choose_language(request, principal.user.language)
    tz = zone(account.timezone if account else None)
    return Page(request, Translator(lang, tz), principal, account, lang_switched=switched)


_authenticated = require()
"""The API's check of who is asking (no scope needed: pages check their own)."""


def new_secret() -> str:
    """A random token for forms and pending sign-ins."""
    return secrets.token_urlsafe(24)


async def _sign_in_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(exc.location, status_code=303)


async def _panel_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PanelError)
    page = exc.page
    key = exc.message_key if exc.message_key in page.t.messages else "error.forbidden"
    return page.render("error.html", status=exc.status, status_code=exc.status, message=page.t(key))


def install_handlers(app: FastAPI) -> None:
    """Turn the panel's exceptions into a redirect to sign in, or an error page."""
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(PanelError, _panel_error)
