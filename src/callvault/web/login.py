"""Signing in to the panel: password (argon2), lockout, TOTP second factor, server-side sessions.

After :data:`MAX_FAILURES` wrong passwords or codes in a row an account is
locked for :data:`LOCK_MINUTES`; while locked even the right password is
refused.  A user with TOTP enabled must send a valid code with the password:
without one the answer is ``totp_required`` (not a failure: the password was
right), with a wrong one it counts as a failure.  Unknown accounts and e-mails
get the same answer, after the same argon2 work, as a wrong password.
A sign-in from outside the account's login allow-list is refused first
(:mod:`callvault.web.allowlist`).  A successful sign-in creates a
:class:`~callvault.store.identity.WebSession` whose token goes into the
cookie and whose CSRF token goes to the client.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.store.identity import User, WebSession
from callvault.store.models import Account
from callvault.web import audit
from callvault.web.allowlist import enforce
from callvault.web.context import ApiContext, as_utc
from callvault.web.errors import ApiError
from callvault.web.security import digest, verify_password

MAX_FAILURES = 5
LOCK_MINUTES = 15


@dataclass
class SignedIn:
    """A new panel session: the cookie's token (secret) and the CSRF token."""

    user: User
    token: str
    row: WebSession


def _invalid() -> ApiError:
    return ApiError(
        401, "wrong e-mail, password or account", error="invalid_credentials", details={}
    )


async def _fail(session: AsyncSession, user: User, now: datetime, ip: str, why: str) -> ApiError:
    """Count a failure (locking at the limit), audit it, commit; the error to raise."""
    user.failed_logins += 1
    detail: dict[str, object] = {"reason": why, "failures": user.failed_logins}
    locked = user.failed_logins >= MAX_FAILURES
    if locked:
        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        user.failed_logins = 0
        detail["locked_until"] = user.locked_until.isoformat()
    await audit.record(
        session,
        None,
        "login.failed",
        "user",
        str(user.id),
        ip,
        detail,
        account_id=user.account_id,
        actor=user.email,
    )
    await session.commit()
    if locked:
        return _locked(user.locked_until, now)
    if why == "totp":
        return ApiError(401, "wrong verification code", error="invalid_totp")
    return _invalid()


def totp_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to (now, or one step either side for clock drift).

    RFC 6238 section 5.2: a verifier should accept one step of drift and must
    not accept a code a second time, so the caller remembers the step it
    accepted and refuses that step and earlier ones.
    """
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        moment = now + timedelta(seconds=offset * totp.interval)
        if secrets.compare_digest(totp.at(moment), code):
            return int(totp.timecode(moment))
    return None


def _locked(until: datetime | None, now: datetime) -> ApiError:
    seconds = max(1, int((as_utc(until or now) - now).total_seconds()))
    return ApiError(
        423,
        f"too many failed sign-ins: locked for {LOCK_MINUTES} minutes",
        details={"retry_after_s": seconds},
        headers={"Retry-After": str(seconds)},
    )


async def login(
    session: AsyncSession,
    ctx: ApiContext,
    *,
    account_slug: str,
    email: str,
    password: str,
    totp_code: str | None,
    ip: str,
) -> SignedIn:
    """Check the credentials and open a session, or raise the :class:`ApiError` to answer."""
    now = datetime.now(UTC)
    account = await session.scalar(select(Account).where(Account.slug == account_slug))
    user = None
    if account is not None:
        user = await session.scalar(
            select(User).where(User.account_id == account.id, User.email == email.strip().lower())
        )
        await enforce(
            session,
            account.id,
            ip,
            actor=email.strip().lower()[:254],
            user_id=user.id if user else None,
            via="sign-in",
        )
    if user is not None and user.locked_until is not None and as_utc(user.locked_until) > now:
        raise _locked(user.locked_until, now)
    if not await verify_password(user.password_hash if user else None, password):
        if user is None:
            raise _invalid()
        raise await _fail(session, user, now, ip, "password")
    assert user is not None
    if user.disabled_at is not None:
        raise ApiError(
            403, "this user is disabled; ask an administrator of the account", error="user_disabled"
        )
    if user.totp_secret:
        if not totp_code:
            raise ApiError(
                401,
                "enter the verification code from your authenticator app",
                error="totp_required",
            )
        step = totp_step(user.totp_secret, totp_code.strip(), now)
        if step is None:
            raise await _fail(session, user, now, ip, "totp")
        if user.totp_last_step is not None and step <= user.totp_last_step:
            raise ApiError(
                401,
                "this verification code was already used: wait for the next one",
                error="totp_reused",
            )
        user.totp_last_step = step
    user.failed_logins, user.locked_until = 0, None
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=digest(token),
        account_id=user.account_id,
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=ctx.session_hours),
    )
    session.add(row)
    await audit.record(
        session,
        None,
        "login",
        "user",
        str(user.id),
        ip,
        {"second_factor": bool(user.totp_secret)},
        account_id=user.account_id,
        actor=user.email,
    )
    await session.commit()
    return SignedIn(user, token, row)


async def logout(session: AsyncSession, session_id: str) -> None:
    """End a panel session (the caller commits)."""
    row = await session.get(WebSession, session_id)
    if row is not None:
        await session.delete(row)
        await session.flush()
