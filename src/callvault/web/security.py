"""Who is calling the API and what they may do: scopes, roles, principals, ``require(scope)``.

A request is authenticated either by an API token (``Authorization: Bearer
cv_...``; its scopes are the token's scopes intersected with the user's role
*now*, so narrowing a role narrows its tokens) or by a panel session cookie
(:data:`SESSION_COOKIE`, HttpOnly, Secure, SameSite=Lax; unsafe methods must
carry the session's CSRF token in :data:`CSRF_HEADER`).  What a user may *do*
is their role's scopes; *whose data* they see is their data scope
(:mod:`callvault.web.datascope`).  Everything is denied unless granted:
no credentials is 401, a missing scope 403, another account's or another
team's object 404.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.identity import ApiToken, Role, User, WebSession
from callvault.store.numbers import InvalidNumberError, normalize
from callvault.web.context import Session, api_context, as_utc
from callvault.web.errors import ApiError

SCOPES = (
    "calls.read",
    "recordings.list",
    "recordings.listen",
    "recordings.download",
    "recordings.share",
    "recordings.delete",
    "recordings.notes",
    "rules.manage",
    "objects.manage",
    "users.manage",
    "audit.read",
)
"""Every permission a role can grant."""

_CONSULTANT = ("calls.read", "recordings.list", "recordings.listen")
BUILTIN_ROLES: dict[str, tuple[str, ...]] = {
    "consultant": _CONSULTANT,
    "team_leader": (
        *_CONSULTANT,
        "recordings.download",
        "recordings.notes",
        "recordings.share",
    ),
    "administrator": SCOPES,
    "auditor": ("calls.read", "recordings.list", "audit.read"),
}
"""The roles every account has; an account may add its own (the ``roles`` table)."""
DEFAULT_DATA_SCOPE = {"consultant": "own", "team_leader": "team"}
"""A new user's data scope by role when none is given; other roles see the account."""
DATA_SCOPE_KINDS = ("own", "team", "numbers", "account")

SESSION_COOKIE = "cv_session"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_PREFIX = "cv_"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = timedelta(seconds=60)
"""How often a token's ``last_used_at`` / a session's ``last_seen_at`` is written."""

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def digest(secret: str) -> str:
    """SHA-256 hex of a token: what the database keeps instead of the token."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> str:
    """A fresh API token: ``cv_`` + 43 characters of URL-safe base64 (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (computed off the event loop)."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash, a dummy check takes the same time."""

    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check) and password_hash is not None


@dataclass(frozen=True)
class DataScope:
    """Whose calls a user sees: their own, a team's objects, some numbers, or the account's."""

    kind: str
    sip_login: str | None = None
    objects: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    """E.164 digits."""

    @classmethod
    def of(cls, user: User) -> DataScope:
        """The scope stored on ``user`` (an unknown kind sees nothing: deny by default)."""
        raw = user.data_scope or {}
        kind = raw.get("kind")
        return cls(
            kind=kind if kind in DATA_SCOPE_KINDS else "none",
            sip_login=user.sip_login,
            objects=tuple(str(login) for login in raw.get("objects", [])),
            numbers=tuple(str(number) for number in raw.get("numbers", [])),
        )


def data_scope_json(
    kind: str, objects: list[str] | None = None, numbers: list[str] | None = None
) -> dict[str, Any]:
    """A checked ``users.data_scope`` value; :class:`ValueError` says what is wrong."""
    if kind not in DATA_SCOPE_KINDS:
        raise ValueError(f"data scope {kind!r}: use one of {', '.join(DATA_SCOPE_KINDS)}")
    digits = []
    for number in numbers or []:
        try:
            digits.append(normalize(number))
        except InvalidNumberError as exc:
            raise ValueError(str(exc)) from None
    logins = [login.strip() for login in objects or [] if login.strip()]
    return {"kind": kind, "objects": logins, "numbers": digits}


@dataclass
class Principal:
    """An authenticated caller: the user, what they may do, whose data they see."""

    account_id: int
    user: User
    scopes: frozenset[str]
    data_scope: DataScope
    via: str
    """``session`` (panel cookie) or ``token`` (API token)."""
    token_id: int | None = None
    token_name: str | None = None
    session_id: str | None = None
    csrf_token: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.via == "token":
            return f"{self.user.email} (token {self.token_name})"
        return self.user.email

    def has(self, scope: str) -> bool:
        """Whether the caller holds ``scope``."""
        return scope in self.scopes


async def role_scopes(session: AsyncSession, account_id: int, role: str) -> frozenset[str] | None:
    """The scopes of role ``role`` for an account (its own role, then shared, then built-in)."""
    rows = await session.scalars(
        select(Role).where(
            Role.name == role, (Role.account_id == account_id) | Role.account_id.is_(None)
        )
    )
    found = sorted(rows, key=lambda row: row.account_id is None)
    if found:
        return frozenset(str(scope) for scope in found[0].scopes) & frozenset(SCOPES)
    builtin = BUILTIN_ROLES.get(role)
    return frozenset(builtin) if builtin is not None else None


def _unauthorized(message: str, error: str = "unauthorized") -> ApiError:
    return ApiError(401, message, error=error, headers={"WWW-Authenticate": "Bearer"})


async def _from_token(session: AsyncSession, value: str, now: datetime) -> Principal:
    if not value.startswith(TOKEN_PREFIX):
        raise _unauthorized("not a callvault API token (they start with cv_)", "invalid_token")
    token = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(value)))
    if token is None:
        raise _unauthorized("unknown or revoked API token", "invalid_token")
    if token.expires_at is not None and as_utc(token.expires_at) <= now:
        raise _unauthorized("the API token has expired; create a new one", "invalid_token")
    user = await session.get(User, token.user_id)
    if user is None or user.account_id != token.account_id:
        raise _unauthorized("the API token's user no longer exists", "invalid_token")
    if user.disabled_at is not None:
        raise _unauthorized("the API token's user is disabled", "user_disabled")
    granted = await role_scopes(session, user.account_id, user.role) or frozenset()
    if token.last_used_at is None or now - as_utc(token.last_used_at) >= TOUCH_EVERY:
        token.last_used_at = now
        await session.commit()
    return Principal(
        account_id=user.account_id,
        user=user,
        scopes=frozenset(str(scope) for scope in token.scopes) & granted,
        data_scope=DataScope.of(user),
        via="token",
        token_id=token.id,
        token_name=token.name,
    )


async def _from_cookie(
    session: AsyncSession, request: Request, value: str, now: datetime
) -> Principal:
    ctx = api_context(request)
    row = await session.get(WebSession, digest(value))
    idle = timedelta(minutes=ctx.idle_minutes)
    if row is None or as_utc(row.expires_at) <= now or now - as_utc(row.last_seen_at) > idle:
        if row is not None:
            await session.delete(row)
            await session.commit()
        raise _unauthorized("the session has ended; sign in again", "session_expired")
    user = await session.get(User, row.user_id)
    if user is None or user.account_id != row.account_id:
        raise _unauthorized("the session's user no longer exists", "session_expired")
    if user.disabled_at is not None:
        await session.delete(row)
        await session.commit()
        raise _unauthorized("the user is disabled; ask an administrator", "user_disabled")
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), row.csrf_token.encode()):
            raise ApiError(
                403,
                f"missing or wrong {CSRF_HEADER} header (the csrf_token given at sign-in)",
                error="csrf",
            )
    if now - as_utc(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
        await session.commit()
    return Principal(
        account_id=user.account_id,
        user=user,
        scopes=await role_scopes(session, user.account_id, user.role) or frozenset(),
        data_scope=DataScope.of(user),
        via="session",
        session_id=row.id,
        csrf_token=row.csrf_token,
    )


async def authenticate(request: Request, session: AsyncSession) -> Principal:
    """The caller of ``request`` (API token first, else the panel session), or 401/403."""
    now = datetime.now(UTC)
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("use Authorization: Bearer cv_...", "invalid_token")
        return await _from_token(session, value.strip(), now)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await _from_cookie(session, request, cookie, now)
    raise _unauthorized("sign in (POST /api/v1/auth/login) or send Authorization: Bearer cv_...")


async def check_networks(request: Request, session: AsyncSession, principal: Principal) -> None:
    """Refuse a token or session used from outside its account's login allow-list (403)."""
    from callvault.web.allowlist import enforce  # the allow-list audits: imports this module

    host = request.client.host if request.client else ""
    await enforce(
        session,
        principal.account_id,
        host,
        actor=principal.actor,
        user_id=principal.user.id,
        via=principal.via,
    )


def require(*scopes: str) -> Callable[[Request, AsyncSession], Awaitable[Principal]]:
    """A FastAPI dependency: the authenticated :class:`Principal` holding every one of ``scopes``.

    ``require()`` with no scope only authenticates.
    """
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")

    async def dependency(request: Request, session: Session) -> Principal:
        principal = await authenticate(request, session)
        await check_networks(request, session, principal)
        missing = [scope for scope in scopes if not principal.has(scope)]
        if missing:
            raise ApiError(
                403,
                f"your role does not allow this (needs {', '.join(missing)})",
                details={"missing_scopes": missing},
            )
        return principal

    return dependency
