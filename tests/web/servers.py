"""Real HTTP(S) servers on 127.0.0.1 for the web tests: uvicorn serving any ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from callvault.store.identity import User
from callvault.web.identity import create_token
from callvault.web.security import role_scopes
from tests.asgi_server import serve_asgi
from tests.web.conftest import USERS, World


@asynccontextmanager
async def serve(app: Any, tls: tuple[Path, Path] | None = None) -> AsyncIterator[int]:
    """Run ``app`` with uvicorn on 127.0.0.1 (HTTPS when ``tls`` is (cert, key)); the port."""
    async with serve_asgi(app, tls=tls) as port:
        yield port


async def token_for(world: World, who: str, scopes: list[str] | None = None) -> str:
    """A fresh API token of seeded user ``who`` (all of the role's scopes by default)."""
    account, email, *_ = USERS[who]
    async with world.db.session() as session:
        user = await session.scalar(
            select(User).where(User.account_id == world.accounts[account].id, User.email == email)
        )
        assert user is not None
        granted = await role_scopes(session, user.account_id, user.role) or frozenset()
        _, secret = await create_token(session, user, "test", scopes or sorted(granted))
        await session.commit()
    return secret
