"""listing indexes: number fragments, JSON data scopes, recording state and caller number

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:00:00

What ``benchmarks/bench_listing.py`` found slow over a million calls
(BENCHMARKS.md, "Call and recording lists at scale"):

* PostgreSQL: ``ix_calls_from_number``, ``ix_calls_to_number`` and
  ``ix_recordings_caller_number`` become trigram GIN indexes (pg_trgm), which
  answer ``LIKE '%600123%'`` (any part of a number) and ``=``/``IN`` (the
  ``numbers`` data scope).  pg_trgm ships with PostgreSQL (contrib) and is a
  trusted extension: when it is missing it is created in schema ``public``
  (or the current one if there is no ``public``), never in a schema that may
  be dropped with its tables.  Where it cannot be created these are B-trees
  and fragment searches scan, as before.  ``ix_calls_objects`` is a GIN
  ``jsonb_path_ops`` index over ``objects::jsonb`` for the data scopes'
  "the call passed object X" (``@>``, :mod:`callvault.web.datascope`).
* SQLite: the same names are B-trees (the ``numbers`` scope, own calls by
  login); SQLite cannot index inside the JSON list.
* Both: ``(account_id, state, started_at, call_id)`` for the state filter
  and ``(account_id, caller_number, call_id)`` for a number's recordings
  (erasure, holds, the ``numbers`` scope).  ``call_id`` is the column of the
  list's outer join to ``calls``: with it PostgreSQL counts a list from the
  index alone (it keeps needing the join column after removing the join).

The builds lock writes to ``calls``/``recordings`` while they run (9 s for
a million calls and 284 000 recordings on the benchmark machine): migrate a
large database off-peak.  The downgrade drops the indexes and leaves pg_trgm
installed (other schemas of the database may use it).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
TRIGRAM_COLUMNS = (
    ("calls", "from_number"),
    ("calls", "to_number"),
    ("recordings", "caller_number"),
)


def _extension_schema(bind: Connection) -> str | None:
    found = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_trgm'"
        )
    ).scalar()
    return str(found) if found is not None else None


def _trigram_opclass(bind: Connection) -> str | None:
    """``"schema".gin_trgm_ops``, creating pg_trgm if it is available; None without it."""
    schema = _extension_schema(bind)
    if schema is None:
        available = bind.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        ).scalar()
        if available is None:
            log.warning("pg_trgm is not installed on this server: number fragments will scan")
            return None
        target = bind.execute(
            sa.text("SELECT coalesce(to_regnamespace('public')::text, current_schema())")
        ).scalar()
        quoted = bind.dialect.identifier_preparer.quote(str(target))
        try:
            with bind.begin_nested():
                bind.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA {quoted}"))
        except sa.exc.DBAPIError as exc:
            log.warning("cannot create extension pg_trgm (%s): number fragments will scan", exc)
        schema = _extension_schema(bind)
        if schema is None:
            return None
    return f"{bind.dialect.identifier_preparer.quote(schema)}.gin_trgm_ops"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        opclass = _trigram_opclass(bind)
        for table, column in TRIGRAM_COLUMNS:
            name = f"ix_{table}_{column}"
            if table == "recordings" and opclass is None:
                continue  # stays the B-tree it was
            if table == "recordings":
                op.drop_index(name, table_name=table)
            if opclass is None:
                op.create_index(name, table, [column])
            else:
                op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} {opclass})")
        op.execute(
            "CREATE INDEX ix_calls_objects ON calls USING gin ((objects::jsonb) jsonb_path_ops)"
        )
    else:
        op.create_index("ix_calls_from_number", "calls", ["from_number"])
        op.create_index("ix_calls_to_number", "calls", ["to_number"])
    op.create_index(
        "ix_recordings_account_state_started",
        "recordings",
        ["account_id", "state", "started_at", "call_id"],
    )
    op.create_index(
        "ix_recordings_account_caller", "recordings", ["account_id", "caller_number", "call_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_recordings_account_caller", table_name="recordings")
    op.drop_index("ix_recordings_account_state_started", table_name="recordings")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_calls_objects", table_name="calls")
        op.drop_index("ix_recordings_caller_number", table_name="recordings")
        op.create_index("ix_recordings_caller_number", "recordings", ["caller_number"])
    op.drop_index("ix_calls_to_number", table_name="calls")
    op.drop_index("ix_calls_from_number", table_name="calls")
