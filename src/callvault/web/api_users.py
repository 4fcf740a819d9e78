"""``/api/v1/users``, ``/api/v1/roles`` and the account's login allow-list (``users.manage``).

Users are listed without secrets (no password hash, no TOTP secret); created
with a password (argon2) and a role; changed in role, data scope, name, SIP
login or language; deleted (with their tokens and sessions).  Roles are the
built-in ones plus the account's own, each a set of scopes.

Nobody can hand out more than they hold: a custom role may only have scopes
its creator has, and a user may only be given a role whose scopes the caller
has -- otherwise a ``users.manage`` holder could raise themselves.  You
cannot delete yourself.  The login allow-list
(:mod:`callvault.web.allowlist`) refuses a list that would shut out the very
address setting it.  Every change is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from callvault.store.access import AccountAccess
from callvault.store.errors import ConflictError, InvalidInputError, NotFoundError
from callvault.store.identity import Role, User
from callvault.store.models import Account, utcnow
from callvault.web.allowlist import inside, login_networks, parse_networks
from callvault.web.api_admin import RowId, audit_change
from callvault.web.context import Session, client_ip, iso
from callvault.web.errors import ApiError
from callvault.web.identity import LANGUAGES, check_scopes, create_role, create_user
from callvault.web.security import (
    BUILTIN_ROLES,
    Principal,
    data_scope_json,
    require,
    role_scopes,
)

router = APIRouter(prefix="/api/v1", tags=["users and roles"])
Manager = Annotated[Principal, Depends(require("users.manage"))]
DataScopeKind = Literal["own", "team", "numbers", "account"]


class DataScopeIn(BaseModel):
    """Whose calls the user sees: own (needs sip_login), team (objects), numbers, account."""

    kind: DataScopeKind
    objects: list[str] = Field(default_factory=list, max_length=200)
    numbers: list[str] = Field(default_factory=list, max_length=200)


class UserIn(BaseModel):
    """A new user."""

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=10, max_length=1024)
    role: str = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=200)
    sip_login: str | None = Field(None, max_length=64)
    data_scope: DataScopeIn | None = Field(None, description="default: by role")
    language: Literal["pl", "en"] = "pl"


class UserPatch(BaseModel):
    """Changes to a user; what is not given stays."""

    role: str | None = Field(None, min_length=1, max_length=64)
    data_scope: DataScopeIn | None = None
    name: str | None = Field(None, max_length=200)
    sip_login: str | None = Field(None, max_length=64, description='"" clears it')
    language: Literal["pl", "en"] | None = None
    unlock: bool = Field(False, description="lift a lock after failed sign-ins")
    reset_totp: bool = Field(
        False, description="turn two-step verification off (the user sets it up again)"
    )
    active: bool | None = Field(
        None, description="false disables the user (no sign-in, sessions or tokens); true enables"
    )


class RoleIn(BaseModel):
    """A custom role: a name and a subset of the scopes."""

    name: str = Field(min_length=2, max_length=64, examples=["quality_reviewer"])
    scopes: list[str] = Field(max_length=50)


class NetworksIn(BaseModel):
    """The login allow-list; an empty list lets everyone in from anywhere."""

    networks: list[str] = Field(max_length=100, examples=[["203.0.113.0/24", "2001:db8::/32"]])


def user_json(user: User) -> dict[str, Any]:
    """A user without secrets."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "data_scope": user.data_scope,
        "sip_login": user.sip_login,
        "language": user.language,
        "totp_enabled": bool(user.totp_secret),
        "locked_until": iso(user.locked_until),
        "last_login_at": iso(user.last_login_at),
        "active": user.disabled_at is None,
        "disabled_at": iso(user.disabled_at),
        "created_at": iso(user.created_at),
    }


async def _grantable(session: Session, principal: Principal, role: str) -> None:
    """Refuse a role that does not exist or has scopes the caller lacks."""
    scopes = await role_scopes(session, principal.account_id, role)
    if scopes is None:
        raise InvalidInputError(f"no role {role!r} (GET /api/v1/roles lists them)")
    beyond = sorted(scopes - principal.scopes)
    if beyond:
        raise ApiError(
            403,
            f"role {role} has scopes you do not have ({', '.join(beyond)}); "
            "you cannot give more than you hold",
            details={"missing_scopes": beyond},
        )


async def _user(session: Session, principal: Principal, user_id: int) -> User:
    """A user of the caller's account (another account's is not found)."""
    user = await session.get(User, user_id)
    if user is None or user.account_id != principal.account_id:
        raise NotFoundError(f"no user {user_id}")
    return user


@router.get("/users")
async def list_users(principal: Manager, session: Session) -> list[dict[str, Any]]:
    """The account's users, by e-mail."""
    rows = await session.scalars(
        select(User).where(User.account_id == principal.account_id).order_by(User.email)
    )
    return [user_json(user) for user in rows]


@router.post("/users", status_code=201)
async def add_user(
    body: UserIn, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Create a user (the role must be one you could hold)."""
    await _grantable(session, principal, body.role)
    account = await session.get(Account, principal.account_id)
    assert account is not None
    user = await create_user(
        session,
        account,
        body.email,
        body.password,
        body.role,
        name=body.name,
        sip_login=body.sip_login,
        data_scope=body.data_scope.model_dump() if body.data_scope else None,
        language=body.language,
    )
    out = user_json(user)
    await audit_change(request, session, principal, "user.create", "user", str(user.id), out)
    return out


@router.patch("/users/{user_id}")
async def change_user(
    user_id: RowId, body: UserPatch, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Change a user's role, data scope, name, SIP login or language; unlock; reset 2FA."""
    user = await _user(session, principal, user_id)
    await _grantable(session, principal, user.role)
    if body.role is not None:
        await _grantable(session, principal, body.role)
        user.role = body.role
    if "sip_login" in body.model_fields_set:
        user.sip_login = body.sip_login or None
    if body.name is not None:
        user.name = body.name
    if body.language is not None and body.language in LANGUAGES:
        user.language = body.language
    if body.unlock:
        user.failed_logins, user.locked_until = 0, None
    if body.reset_totp:
        user.totp_secret = None
    if body.active is not None:
        if not body.active and user.id == principal.user.id:
            raise InvalidInputError("you cannot disable yourself")
        user.disabled_at = None if body.active else (user.disabled_at or datetime.now(UTC))
    scope = body.data_scope.model_dump() if body.data_scope else dict(user.data_scope)
    try:
        checked = data_scope_json(
            str(scope.get("kind")), scope.get("objects"), scope.get("numbers")
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if checked["kind"] == "own" and not user.sip_login:
        raise InvalidInputError("data scope 'own' needs the user's SIP account login (sip_login)")
    user.data_scope = checked
    await session.flush()
    out = user_json(user)
    changes = body.model_dump(exclude_unset=True)
    await audit_change(request, session, principal, "user.update", "user", str(user.id), changes)
    return out


@router.delete("/users/{user_id}", status_code=204)
async def remove_user(
    user_id: RowId, request: Request, principal: Manager, session: Session
) -> Response:
    """Delete a user with their tokens and sessions (not yourself)."""
    user = await _user(session, principal, user_id)
    if user.id == principal.user.id:
        raise ConflictError("you cannot delete yourself; another administrator can")
    await _grantable(session, principal, user.role)
    email = user.email
    await session.delete(user)
    await session.flush()
    detail = {"email": email}
    await audit_change(request, session, principal, "user.delete", "user", str(user_id), detail)
    return Response(status_code=204)


@router.get("/roles")
async def list_roles(principal: Manager, session: Session) -> list[dict[str, Any]]:
    """The built-in roles and the account's own, with their scopes."""
    own = await session.scalars(
        select(Role)
        .where((Role.account_id == principal.account_id) | Role.account_id.is_(None))
        .order_by(Role.name)
    )
    out: dict[str, dict[str, Any]] = {
        name: {"name": name, "scopes": sorted(scopes), "builtin": True}
        for name, scopes in BUILTIN_ROLES.items()
    }
    for role in sorted(own, key=lambda row: row.account_id is not None):
        out[role.name] = {
            "name": role.name,
            "scopes": sorted(str(scope) for scope in role.scopes),
            "builtin": False,
            "shared": role.account_id is None,
        }
    return list(out.values())


@router.post("/roles", status_code=201)
async def add_role(
    body: RoleIn, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Create a custom role from scopes you hold yourself."""
    scopes = check_scopes(body.scopes)
    beyond = sorted(set(scopes) - principal.scopes)
    if beyond:
        raise ApiError(
            403,
            f"you cannot create a role with scopes you do not have ({', '.join(beyond)})",
            details={"missing_scopes": beyond},
        )
    account = await session.get(Account, principal.account_id)
    assert account is not None
    role = await create_role(session, account, body.name, scopes)
    out = {"name": role.name, "scopes": sorted(role.scopes), "builtin": False, "shared": False}
    await audit_change(request, session, principal, "role.create", "role", role.name, out)
    return out


@router.delete("/roles/{name}", status_code=204)
async def remove_role(
    name: str, request: Request, principal: Manager, session: Session
) -> Response:
    """Delete one of the account's own roles that no user holds."""
    role = await session.scalar(
        select(Role).where(Role.account_id == principal.account_id, Role.name == name)
    )
    if role is None:
        raise NotFoundError(f"no custom role {name!r} in this account")
    holders = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.account_id == principal.account_id, User.role == name)
    )
    if holders:
        raise ConflictError(f"{holders} user(s) have role {name}; give them another role first")
    await session.delete(role)
    await session.flush()
    await audit_change(request, session, principal, "role.delete", "role", name)
    return Response(status_code=204)


@router.get("/account/login-networks")
async def get_networks(request: Request, principal: Manager, session: Session) -> dict[str, Any]:
    """The login allow-list (empty: any address) and the address you are calling from."""
    networks = await login_networks(session, principal.account_id)
    return {"networks": networks, "your_address": client_ip(request)}


@router.put("/account/login-networks")
async def set_networks(
    body: NetworksIn, request: Request, principal: Manager, session: Session
) -> dict[str, Any]:
    """Replace the login allow-list; a list without your own address is refused."""
    networks = parse_networks(body.networks)
    ip = client_ip(request)
    if networks and not inside(ip, networks):
        raise InvalidInputError(
            f"your address {ip} is not in the list: saving it would lock you out; "
            "add your network too"
        )
    row = await session.get(AccountAccess, principal.account_id)
    if row is None:
        row = AccountAccess(account_id=principal.account_id)
        session.add(row)
    row.login_networks = networks
    row.updated_at = utcnow()
    await session.flush()
    detail = {"networks": networks}
    await audit_change(request, session, principal, "account.login_networks", "account", "", detail)
    return {"networks": networks, "your_address": ip}
