"""The CLI tests run on SQLite and PostgreSQL, like the store tests."""

from tests.store.conftest import database_url

__all__ = ["database_url"]
