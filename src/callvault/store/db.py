"""Database connection and migrations (SQLite embedded, PostgreSQL in production).

One URL configures both: ``sqlite:///data/callvault.db`` or
``postgresql://user@host/db``.  The engine uses async drivers (aiosqlite,
psycopg 3); Alembic migrations run with the matching sync driver.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine as SyncEngine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def async_url(url: str) -> str:
    """The async-driver form of a database URL."""
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    for prefix in ("postgresql+psycopg:", "postgresql:", "postgres:"):
        if url.startswith(prefix):
            return "postgresql+psycopg:" + url[len(prefix) :]
    return url


def sync_url(url: str) -> str:
    """The sync-driver form of a database URL (for Alembic)."""
    if url.startswith("sqlite+aiosqlite:"):
        return "sqlite:" + url[len("sqlite+aiosqlite:") :]
    for prefix in ("postgresql:", "postgres:"):
        if url.startswith(prefix):
            return "postgresql+psycopg:" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class Database:
    """An async engine, a session factory, and the migration runner for one URL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(async_url(url), echo=echo)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @staticmethod
    def default_url(data_dir: Path) -> str:
        """The embedded default: SQLite in the data directory."""
        return f"sqlite:///{(data_dir / 'callvault.db').resolve()}"

    def alembic_config(self) -> Config:
        """Alembic configuration pointing at our migrations and this URL."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", sync_url(self.url).replace("%", "%%"))
        return config

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (idempotent)."""
        if self.url.startswith("sqlite:///"):
            Path(self.url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        command.upgrade(self.alembic_config(), revision)

    def session(self) -> AsyncSession:
        """A new session (use as ``async with db.session() as s``)."""
        return self.sessions()

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self.engine.dispose()


__all__ = ["Database", "SyncEngine", "async_url", "sync_url"]
