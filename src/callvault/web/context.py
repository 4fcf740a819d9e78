"""What the REST API needs from the node: the database, the recordings' storage and keys.

:func:`callvault.web.api_calls.install_api` puts one :class:`ApiContext` on
``app.state``; endpoints reach it (and a database session per request)
through the dependencies below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from callvault.recording.crypto import KeyRing
from callvault.recording.storage import RecordingStorage
from callvault.store.db import Database


@dataclass
class ApiContext:
    """The node's parts the API uses, and the panel session's cookie policy."""

    db: Database
    storage: RecordingStorage
    keyring: KeyRing
    secure_cookies: bool = True
    """Mark session cookies ``Secure`` (off only for plain-HTTP development setups)."""
    session_hours: float = 12.0
    """A panel session ends this long after sign-in."""
    idle_minutes: float = 120.0
    """...or this long after its last request."""
    data_dir: Path | None = None
    """The node's data directory: background jobs stage their files in ``data_dir/jobs``."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: the data-scope filters are written per dialect."""
        return self.db.engine.dialect.name


def api_context(request: Request) -> ApiContext:
    """The app's :class:`ApiContext`."""
    ctx = request.app.state.callvault_api
    assert isinstance(ctx, ApiContext)
    return ctx


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One database session per request (endpoints commit what they change)."""
    async with api_context(request).db.session() as session:
        yield session


Context = Annotated[ApiContext, Depends(api_context)]
Session = Annotated[AsyncSession, Depends(db_session)]


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive one (as SQLite returns them) is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return as_utc(value).isoformat() if value is not None else None


def client_ip(request: Request) -> str:
    """The peer's address (what the audit log records)."""
    return request.client.host if request.client else ""
