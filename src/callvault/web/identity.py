"""Managing users, custom roles and API tokens of an account (used by the CLI and the API).

Every function works inside the caller's transaction and raises the store's
errors (:class:`~callvault.store.errors.InvalidInputError`,
:class:`~callvault.store.errors.ConflictError`,
:class:`~callvault.store.errors.NotFoundError`), which the CLI prints and the
API answers in its error shape.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

import pyotp
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.errors import ConflictError, InvalidInputError, NotFoundError
from callvault.store.identity import ApiToken, Role, User
from callvault.store.models import Account
from callvault.web.security import (
    BUILTIN_ROLES,
    DEFAULT_DATA_SCOPE,
    SCOPES,
    data_scope_json,
    digest,
    hash_password,
    new_token,
    role_scopes,
)

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MIN_PASSWORD = 10
LANGUAGES = ("pl", "en")


def check_scopes(scopes: Collection[str]) -> list[str]:
    """``scopes`` if every one is known (sorted, no duplicates)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInputError(f"unknown scopes {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    return sorted(set(scopes))


async def _flush(session: AsyncSession, what: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise ConflictError(f"{what} already exists") from None


async def create_user(
    session: AsyncSession,
    account: Account,
    email: str,
    password: str,
    role: str,
    *,
    name: str = "",
    sip_login: str | None = None,
    data_scope: dict[str, Any] | None = None,
    language: str = "pl",
) -> User:
    """A new user; without ``data_scope`` the role's default (own, team, else account)."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInputError(f"invalid e-mail address {email!r}")
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"the password must have at least {MIN_PASSWORD} characters")
    if await role_scopes(session, account.id, role) is None:
        raise InvalidInputError(
            f"no role {role!r}; built-in: {', '.join(BUILTIN_ROLES)} (or the account's own)"
        )
    if language not in LANGUAGES:
        raise InvalidInputError(f"language {language!r}: use pl or en")
    if len(name) > 200:
        raise InvalidInputError("the name is longer than 200 characters")
    if data_scope is None:
        data_scope = {"kind": DEFAULT_DATA_SCOPE.get(role, "account")}
    try:
        scope = data_scope_json(
            str(data_scope.get("kind")), data_scope.get("objects"), data_scope.get("numbers")
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if scope["kind"] == "own" and not sip_login:
        raise InvalidInputError("data scope 'own' needs the user's SIP account login (sip_login)")
    user = User(
        account_id=account.id,
        email=email,
        name=name,
        password_hash=await hash_password(password),
        role=role,
        data_scope=scope,
        sip_login=sip_login or None,
        language=language,
        failed_logins=0,
    )
    session.add(user)
    await _flush(session, f"a user {email} in account {account.slug}")
    return user


async def get_user(session: AsyncSession, account: Account, email: str) -> User:
    """The account's user with ``email``."""
    user = await session.scalar(
        select(User).where(User.account_id == account.id, User.email == email.strip().lower())
    )
    if user is None:
        raise NotFoundError(f"no user {email} in account {account.slug}")
    return user


async def list_users(session: AsyncSession, account: Account) -> list[User]:
    """The account's users, by e-mail."""
    return list(
        await session.scalars(
            select(User).where(User.account_id == account.id).order_by(User.email)
        )
    )


async def delete_user(session: AsyncSession, account: Account, email: str) -> None:
    """Remove a user with their tokens and sessions."""
    await session.delete(await get_user(session, account, email))
    await session.flush()


def enable_totp(user: User) -> str:
    """Turn on the TOTP second factor; the provisioning URI for an authenticator app."""
    user.totp_secret = pyotp.random_base32()
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name="callvault")


async def create_role(
    session: AsyncSession, account: Account, name: str, scopes: Collection[str]
) -> Role:
    """An account's own role (its name may not be a built-in one)."""
    if not _NAME.match(name) or name in BUILTIN_ROLES:
        raise InvalidInputError(
            f"invalid role name {name!r}: 2-64 of a-z 0-9 _, not a built-in role's name"
        )
    role = Role(account_id=account.id, name=name, scopes=check_scopes(scopes))
    session.add(role)
    await _flush(session, f"a role {name} in account {account.slug}")
    return role


async def create_token(
    session: AsyncSession,
    user: User,
    name: str,
    scopes: Collection[str],
    *,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for ``user`` and its secret (shown once, never stored).

    Its scopes must be among the user's role's scopes.
    """
    name = name.strip()
    if not 0 < len(name) <= 100:
        raise InvalidInputError("a token name has 1 to 100 characters")
    wanted = check_scopes(scopes)
    if not wanted:
        raise InvalidInputError("give the token at least one scope")
    granted = await role_scopes(session, user.account_id, user.role) or frozenset()
    beyond = sorted(set(wanted) - granted)
    if beyond:
        raise InvalidInputError(
            f"the role {user.role} does not have {', '.join(beyond)}; a token gets only "
            "scopes its user has"
        )
    secret = new_token()
    token = ApiToken(
        account_id=user.account_id,
        user_id=user.id,
        name=name,
        token_hash=digest(secret),
        prefix=secret[:10],
        scopes=wanted,
        expires_at=expires_at,
    )
    session.add(token)
    await _flush(session, "this token")
    return token, secret


async def list_tokens(session: AsyncSession, user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(
        await session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.account_id == user.account_id)
            .order_by(ApiToken.id.desc())
        )
    )


async def delete_token(session: AsyncSession, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens (another user's is not found)."""
    token = await session.scalar(
        select(ApiToken).where(
            ApiToken.id == token_id,
            ApiToken.user_id == user.id,
            ApiToken.account_id == user.account_id,
        )
    )
    if token is None:
        raise NotFoundError(f"no token {token_id}")
    await session.delete(token)
    await session.flush()
    return token
