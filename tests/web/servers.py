"""Real HTTP(S) servers on 127.0.0.1 for the web tests: uvicorn serving any ASGI app."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import select

from callvault.store.identity import User
from callvault.web.identity import create_token
from callvault.web.security import role_scopes
from tests.web.conftest import USERS, World


@asynccontextmanager
async def serve(app: Any, tls: tuple[Path, Path] | None = None) -> AsyncIterator[int]:
    """Run ``app`` with uvicorn on 127.0.0.1 (HTTPS when ``tls`` is (cert, key)); the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), "server did not start"
        await asyncio.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await task
        sock.close()


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
