"""``/admin`` (ustawienia): the admin screens' registry, their shared layout and the index page.

Every admin screen is a server-rendered page over the REST API's own query
functions; what it changes goes through the REST API from the page's forms
(``static/admin.js``: a form with ``data-api="METHOD /api/v1/..."`` is sent as
JSON, or as multipart when it carries a file, with the session's CSRF token),
so the API's checks, validation and audit are the only ones.  A screen is
listed in :data:`SCREENS` with the scope that shows it; :func:`admin_page`
authenticates a request for a screen and :func:`render_admin` draws it inside
``admin/_layout.html`` with the side menu of the screens the user may use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from callvault.web.context import Session
from callvault.web.panel.render import Page, PanelError, signed_in_page

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Screen:
    """One admin screen: its id, path, the scope that shows it (``None``: anyone), label key."""

    id: str
    path: str
    scope: str | None
    label: str


SCREENS = (
    Screen("numbers", "/admin/numbers", "objects.manage", "admin.nav.numbers"),
    Screen("objects", "/admin/objects", "objects.manage", "admin.nav.objects"),
    Screen("prompts", "/admin/prompts", "objects.manage", "admin.nav.prompts"),
    Screen("rules", "/admin/rules", "rules.manage", "admin.nav.rules"),
    Screen("retention", "/admin/retention", "recordings.delete", "admin.nav.retention"),
    Screen("users", "/admin/users", "users.manage", "admin.nav.users"),
    Screen("roles", "/admin/roles", "users.manage", "admin.nav.roles"),
    Screen("webhooks", "/admin/webhooks", "objects.manage", "admin.nav.webhooks"),
    Screen("tokens", "/admin/tokens", None, "admin.nav.tokens"),
)
"""The admin screens in menu order."""
BY_ID = {screen.id: screen for screen in SCREENS}


def allowed(page: Page) -> list[Screen]:
    """The screens the signed-in user may open."""
    if page.principal is None:
        return []
    return [s for s in SCREENS if s.scope is None or page.can(s.scope)]


async def admin_page(request: Request, session: Session, screen_id: str) -> Page:
    """The signed-in page for ``screen_id``, or a 403 page when the user lacks its scope."""
    page = await signed_in_page(request, session)
    scope = BY_ID[screen_id].scope
    if scope is not None:
        page.require(scope)
    return page


def render_admin(page: Page, screen_id: str, template: str, **values: Any) -> HTMLResponse:
    """``template`` (extending ``admin/_layout.html``) with the admin menu and script data."""
    menu = [{"id": s.id, "path": s.path, "label": page.t(s.label)} for s in allowed(page)]
    return page.render(
        template,
        section="admin",
        screen=screen_id,
        admin_menu=menu,
        admin_script={"messages": page.t.script_messages()},
        **values,
    )


@router.get("/admin")
async def admin_index(request: Request, session: Session) -> Response:
    """The first admin screen the user may open (every user may at least manage their tokens)."""
    page = await signed_in_page(request, session)
    screens = allowed(page)
    if not screens:
        raise PanelError(page, 403, "error.forbidden")
    return RedirectResponse(screens[0].path, status_code=303)
