"""``/admin/roles``: built-in, shared and the account's own roles and their scopes (users.manage).

The roles are the API's list (:func:`callvault.web.api_users.list_roles`),
drawn as a table of role by scope with ticks and how many of the account's
users hold each.  A new custom role (``POST /api/v1/roles``) may only have
scopes the admin holds, so only those are offered; deleting one (``DELETE
/api/v1/roles/{name}``) is the API's to refuse while users hold it -- its
message is shown in the row.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.identity import User
from callvault.web.api_users import list_roles
from callvault.web.context import Session
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.security import SCOPES

router = APIRouter(include_in_schema=False)


async def holders(session: AsyncSession, account_id: int) -> dict[str, int]:
    """Role name to how many of the account's users hold it."""
    rows = await session.execute(
        select(User.role, func.count()).where(User.account_id == account_id).group_by(User.role)
    )
    return {str(role): int(count) for role, count in rows.all()}


@router.get("/admin/roles")
async def roles_page(request: Request, session: Session) -> Response:
    """The role by scope table and the form for a custom role."""
    page = await admin_page(request, session, "roles")
    principal = page.principal
    assert principal is not None
    t = page.t
    held = await holders(session, principal.account_id)
    rows = []
    for role in await list_roles(principal, session):
        kind = "builtin" if role["builtin"] else "shared" if role.get("shared") else "custom"
        rows.append(
            {
                "name": role["name"],
                "label": t.label("role", role["name"]),
                "kind": kind,
                "scopes": set(role["scopes"]),
                "users": held.get(role["name"], 0),
            }
        )
    return render_admin(
        page,
        "roles",
        "admin/roles.html",
        rows=rows,
        all_scopes=SCOPES,
        scopes=[scope for scope in SCOPES if page.can(scope)],
    )
