"""``/admin/tokens``: the signed-in user's own API tokens -- create (shown once), list, revoke.

Anyone signed in may hold API tokens: a token's scopes are the ones chosen
here intersected with the user's role at every use, so only the role's
scopes are offered.  Creating and revoking go through ``/api/v1/tokens``
(panel sessions only there, audited).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from callvault.web.context import Session
from callvault.web.identity import list_tokens
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.security import SCOPES

router = APIRouter(include_in_schema=False)
LIFETIMES = (30, 90, 365)
"""Token lifetimes offered (days); empty means no expiry."""


@router.get("/admin/tokens")
async def tokens_page(request: Request, session: Session) -> Response:
    """The user's tokens and the form for a new one."""
    page = await admin_page(request, session, "tokens")
    assert page.principal is not None
    t = page.t
    rows = [
        {
            "id": token.id,
            "name": token.name,
            "prefix": token.prefix,
            "scopes": ", ".join(token.scopes),
            "created": t.when(token.created_at),
            "expires": t.when(token.expires_at) if token.expires_at else t("tokens.never"),
            "used": t.when(token.last_used_at) if token.last_used_at else t("tokens.unused"),
        }
        for token in await list_tokens(session, page.principal.user)
    ]
    return render_admin(
        page,
        "tokens",
        "admin/tokens.html",
        rows=rows,
        scopes=[scope for scope in SCOPES if page.can(scope)],
        lifetimes=LIFETIMES,
    )
