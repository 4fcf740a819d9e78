"""``/api/v1/auth`` (sign in, sign out, who am I) and ``/api/v1/tokens`` (a user's API tokens).

Signing in sets the session cookie (HttpOnly, Secure, SameSite=Lax) and
returns the session's CSRF token, which the panel sends back as
``X-CSRF-Token`` on every POST, PATCH and DELETE.  API tokens are managed
from a signed-in panel session only: a token cannot mint more tokens.  The
token's secret is in the answer to its creation and nowhere else, ever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from callvault.store.identity import ApiToken
from callvault.web import audit
from callvault.web.context import Context, Session, client_ip, iso
from callvault.web.errors import ApiError
from callvault.web.identity import create_token, delete_token, list_tokens
from callvault.web.login import login, logout
from callvault.web.security import SESSION_COOKIE, Principal, require

router = APIRouter(prefix="/api/v1", tags=["auth"])
Authenticated = Annotated[Principal, Depends(require())]


class LoginIn(BaseModel):
    """Credentials of a panel sign-in."""

    account: str = Field(min_length=1, max_length=64, description="the company's account slug")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(default=None, max_length=10)


def _me(principal: Principal) -> dict[str, Any]:
    user = principal.user
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "language": user.language,
        "scopes": sorted(principal.scopes),
        "data_scope": user.data_scope,
        "sip_login": user.sip_login,
        "totp_enabled": bool(user.totp_secret),
    }


@router.post("/auth/login")
async def sign_in(
    body: LoginIn, request: Request, response: Response, session: Session, ctx: Context
) -> dict[str, Any]:
    """Check the credentials (and TOTP code); set the session cookie, return the CSRF token."""
    signed = await login(
        session,
        ctx,
        account_slug=body.account,
        email=body.email,
        password=body.password,
        totp_code=body.totp_code,
        ip=client_ip(request),
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(ctx.session_hours * 3600),
        path="/",
        secure=ctx.secure_cookies,
        httponly=True,
        samesite="lax",
    )
    user = signed.user
    return {
        "csrf_token": signed.row.csrf_token,
        "expires_at": iso(signed.row.expires_at),
        "user": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "language": user.language,
        },
    }


@router.post("/auth/logout", status_code=204)
async def sign_out(
    request: Request, principal: Authenticated, session: Session, ctx: Context
) -> Response:
    """End the panel session and clear its cookie."""
    if principal.session_id is not None:
        await logout(session, principal.session_id)
        await audit.record(
            session, principal, "logout", "user", str(principal.user.id), client_ip(request)
        )
        await session.commit()
    response = Response(status_code=204)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=ctx.secure_cookies, httponly=True, samesite="lax"
    )
    return response


@router.get("/auth/me")
async def me(principal: Authenticated) -> dict[str, Any]:
    """The signed-in user, their scopes and (for panel sessions) the CSRF token."""
    return {**_me(principal), "via": principal.via, "csrf_token": principal.csrf_token}


class TokenIn(BaseModel):
    """A new API token: its name, scopes and lifetime."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=20)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


def _token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "expires_at": iso(token.expires_at),
        "last_used_at": iso(token.last_used_at),
        "created_at": iso(token.created_at),
    }


def _panel_only(principal: Principal) -> None:
    if principal.via != "session":
        raise ApiError(
            403,
            "API tokens are managed from a signed-in panel session",
            details={"via": principal.via},
        )


@router.post("/tokens", status_code=201)
async def new_token(
    body: TokenIn, request: Request, principal: Authenticated, session: Session
) -> dict[str, Any]:
    """Create one of your API tokens; ``token`` is shown in this answer only."""
    _panel_only(principal)
    expires = None
    if body.expires_in_days is not None:
        expires = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    token, secret = await create_token(
        session, principal.user, body.name, body.scopes, expires_at=expires
    )
    await audit.record(
        session,
        principal,
        "token.create",
        "token",
        str(token.id),
        client_ip(request),
        {"name": token.name, "scopes": token.scopes},
    )
    await session.commit()
    return {**_token_json(token), "token": secret}


@router.get("/tokens")
async def tokens(principal: Authenticated, session: Session) -> list[dict[str, Any]]:
    """Your API tokens (never their secrets)."""
    return [_token_json(token) for token in await list_tokens(session, principal.user)]


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(
    token_id: int, request: Request, principal: Authenticated, session: Session
) -> Response:
    """Revoke one of your API tokens."""
    _panel_only(principal)
    token = await delete_token(session, principal.user, token_id)
    await audit.record(
        session,
        principal,
        "token.delete",
        "token",
        str(token_id),
        client_ip(request),
        {"name": token.name},
    )
    await session.commit()
    return Response(status_code=204)
