"""The Alembic migrations build exactly the tables the models describe, and step back and forth."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from callvault.store.db import Database, sync_url
from callvault.store.models import Base


def _differences(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": False}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_migrations_match_the_models_and_downgrade_cleanly(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    assert _differences(database_url) == []
    command.downgrade(db.alembic_config(), "0001")
    command.upgrade(db.alembic_config(), "head")
    assert _differences(database_url) == []
