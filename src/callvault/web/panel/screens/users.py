"""``/admin/users``: the account's users and its login network allow-list (``users.manage``).

The list is the API's own (:func:`callvault.web.api_users.list_users`: no
secrets), shown with the role's label, the data scope in words, 2FA, a
lock-out and the last sign-in (the newest ``login`` entry of the audit log:
users have no column for it).  Creating (``POST /api/v1/users``), changing
(``PATCH``), deleting users and replacing the allow-list (``PUT
/api/v1/account/login-networks``) go through the REST API from the page's
forms; ``static/admin-users.js`` turns the data scope fields into the API's
nested ``data_scope``.  Only roles the admin could hold are offered, as the
API refuses the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.web.api_users import get_networks, list_roles, list_users
from callvault.web.context import Session
from callvault.web.panel.admin import admin_page, render_admin
from callvault.web.panel.i18n import DASH, Translator
from callvault.web.security import DATA_SCOPE_KINDS, SCOPES, Principal

router = APIRouter(include_in_schema=False)


async def grantable_roles(
    session: AsyncSession, principal: Principal, t: Translator
) -> list[dict[str, str]]:
    """The roles the admin may hand out (no scope they lack), as ``{name, label}``."""
    known = frozenset(SCOPES)
    return [
        {"name": role["name"], "label": t.label("role", role["name"])}
        for role in await list_roles(principal, session)
        if frozenset(role["scopes"]) & known <= principal.scopes
    ]


def scope_text(t: Translator, scope: dict[str, Any], sip_login: str | None) -> str:
    """Whose calls the user sees, in words (an unknown kind sees nothing, as in the API)."""
    kind = scope.get("kind")
    if kind == "own":
        return t("users.scope_own_of", login=sip_login or DASH)
    if kind == "team":
        return t("users.scope_team_of", objects=", ".join(scope.get("objects") or []) or DASH)
    if kind == "numbers":
        return t("users.scope_numbers_of", numbers=", ".join(scope.get("numbers") or []) or DASH)
    if kind == "account":
        return t("users.scope_account")
    return t("users.scope_none")


def _locked(locked_until: str | None, now: datetime) -> bool:
    """Whether a user's sign-in lock (after failed attempts) still holds."""
    if not locked_until:
        return False
    until = datetime.fromisoformat(locked_until)
    return (until if until.tzinfo else until.replace(tzinfo=UTC)) > now


def user_row(
    t: Translator,
    user: dict[str, Any],
    grantable: set[str],
    me: int,
    now: datetime,
) -> dict[str, Any]:
    """One user as the table and its edit form show them."""
    scope = dict(user["data_scope"] or {})
    kind = scope.get("kind")
    return {
        "id": user["id"],
        "name": user["name"] or DASH,
        "raw_name": user["name"],
        "email": user["email"],
        "role": user["role"],
        "role_label": t.label("role", user["role"]),
        "scope": scope_text(t, scope, user["sip_login"]),
        "kind": kind if kind in DATA_SCOPE_KINDS else "",
        "objects": ", ".join(scope.get("objects") or []),
        "numbers": ", ".join(scope.get("numbers") or []),
        "sip_login": user["sip_login"] or "",
        "totp": bool(user["totp_enabled"]),
        "active": bool(user.get("active", True)),
        "locked": _locked(user["locked_until"], now),
        "locked_until": t.when(user["locked_until"]),
        "last_sign_in": t.when(user["last_login_at"]),
        "language": user["language"],
        "editable": user["role"] in grantable,
        "deletable": user["role"] in grantable and user["id"] != me,
        "me": user["id"] == me,
    }


@router.get("/admin/users")
async def users_page(request: Request, session: Session) -> Response:
    """The users, the form for a new one, and the login allow-list."""
    page = await admin_page(request, session, "users")
    principal = page.principal
    assert principal is not None
    t = page.t
    roles = await grantable_roles(session, principal, t)
    names = {role["name"] for role in roles}
    now = datetime.now(UTC)
    rows = [
        user_row(t, user, names, principal.user.id, now)
        for user in await list_users(principal, session)
    ]
    networks = await get_networks(request, principal, session)
    return render_admin(
        page,
        "users",
        "admin/users.html",
        rows=rows,
        roles=roles,
        kinds=DATA_SCOPE_KINDS,
        networks="\n".join(networks["networks"]),
        your_address=networks["your_address"],
    )
