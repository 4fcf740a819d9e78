"""call_hops: the objects a call passed (and who placed it), one narrow row each

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 12:00:00

The data scopes (:mod:`callvault.web.datascope`) ask "which calls passed object
X" and "which calls did SIP account X take part in".  Answered from
``calls.objects`` (a JSON list), even through the GIN index of migration 0008,
PostgreSQL had to visit every matching ``calls`` row -- wide rows, 110 000 of
them for a team leader of the benchmark's big account, 1.1 s for a count
(BENCHMARKS.md, "Call and recording lists at scale").  ``call_hops`` holds the
same facts in rows of a few dozen bytes:

* one row per element of ``calls.objects``: ``position`` is its index,
  ``kind``/``login`` the element's ``"kind"``/``"login"`` when they are strings
  (else NULL, so an element matches exactly when the per-element JSON test
  matched it);
* for an outbound or internal call with a ``from_number``, one more row at
  ``position`` -1, kind ``caller``, login ``from_number`` (the phone that
  placed it), so the ``own`` scope needs nothing from ``calls``.  ``caller``
  is therefore reserved: no element of ``calls.objects`` has that kind
  (they are object kinds and ``trunk``).

``ix_call_hops_account_login`` (``account_id, login, kind, call_id``) answers a
scope from the index alone (an index-only scan): equality on the account and
the logins, the kind tested in the index (for ``own`` an index condition too),
the call id read from it; PostgreSQL hashes those ids and semi-joins
``calls`` or ``recordings`` to them.  ``(account_id, login, call_id, kind)``
measured the same (the ids are hashed either way).  How the scope's kind tests
are written matters more: see :func:`callvault.web.datascope.scope_calls`.

The rows are kept by the database itself, whatever writes ``calls``: AFTER
INSERT, and AFTER UPDATE OF ``objects``, ``direction``, ``from_number`` or
``account_id`` (the call's rows are deleted and written again); deleting a call
deletes its rows (foreign key, ON DELETE CASCADE; SQLite enforces it because
:mod:`callvault.store.db` turns ``PRAGMA foreign_keys`` on).  PostgreSQL: the
trigger function ``call_hops_refresh()`` (plpgsql, ``json_array_elements ...
WITH ORDINALITY``; it resolves ``call_hops`` through the search path like
every query of the app).  SQLite: triggers ``call_hops_insert`` and
``call_hops_update`` with ``json_each``.  Over-long values are cut to the
column lengths on PostgreSQL (an explicit ``varchar(n)`` cast) rather than
failing the call's insert; logins are object logins (64 characters at most)
and numbers, so nothing is cut in practice.

SQLite drops a table's triggers with the table: a later migration that
rebuilds ``calls`` in batch mode (copy and rename) must create them again
(:func:`create_sqlite_triggers`).

The upgrade creates the triggers first, then copies the existing calls in:
creating a trigger locks ``calls`` against writes until the migration commits,
so no call slips between the copy and the triggers (about 25 s per million
calls on the benchmark machine: migrate a large database off-peak).  The
downgrade drops the triggers, the function and the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _pg_rows(call: str, source: str = "") -> str:
    """``SELECT`` of the element rows of ``call`` (``NEW``, or a row of ``source``), PostgreSQL."""
    return f"""
        SELECT {call}.id, {call}.account_id, (e.ordinality - 1)::integer,
               CASE WHEN json_typeof(e.value -> 'kind') = 'string'
                    THEN (e.value ->> 'kind')::varchar(32) END,
               CASE WHEN json_typeof(e.value -> 'login') = 'string'
                    THEN (e.value ->> 'login')::varchar(64) END
        FROM {source}json_array_elements(
            CASE WHEN json_typeof({call}.objects) = 'array' THEN {call}.objects
                 ELSE '[]'::json END
        ) WITH ORDINALITY AS e(value, ordinality)"""


def _sqlite_rows(call: str, source: str = "") -> str:
    """The same on SQLite: ``json_each`` (its ``key`` is the index).

    The nested ``CASE`` parses objects only (``json_extract`` of a bare string
    element is an error).
    """
    return f"""
        SELECT {call}.id, {call}.account_id, e.key,
               CASE WHEN e.type = 'object' THEN
                   CASE WHEN json_type(e.value, '$.kind') = 'text'
                        THEN json_extract(e.value, '$.kind') END END,
               CASE WHEN e.type = 'object' THEN
                   CASE WHEN json_type(e.value, '$.login') = 'text'
                        THEN json_extract(e.value, '$.login') END END
        FROM {source}json_each({call}.objects) AS e
        WHERE json_type({call}.objects) = 'array'"""


def _caller(call: str, source: str = "", cast: str = "") -> str:
    """``SELECT`` of the ``caller`` row of ``call`` when it has one (both databases)."""
    return f"""
        SELECT {call}.id, {call}.account_id, -1, 'caller', {call}.from_number{cast}
        {source}WHERE {call}.direction IN ('outbound', 'internal') AND {call}.from_number <> ''"""


INSERT = "INSERT INTO call_hops (call_id, account_id, position, kind, login)"
WATCHED = "objects, direction, from_number, account_id"
"""The columns of ``calls`` whose update rewrites the call's hops."""


def create_sqlite_triggers() -> None:
    """The SQLite triggers keeping ``call_hops`` (also for a migration rebuilding ``calls``)."""
    rows = f"{INSERT} {_sqlite_rows('NEW')};\n{INSERT} {_caller('NEW')};"
    op.execute(f"CREATE TRIGGER call_hops_insert AFTER INSERT ON calls BEGIN\n{rows}\nEND")
    op.execute(
        f"CREATE TRIGGER call_hops_update AFTER UPDATE OF {WATCHED} ON calls BEGIN\n"
        f"DELETE FROM call_hops WHERE call_id = OLD.id;\n{rows}\nEND"
    )


def _create_postgresql_trigger() -> None:
    op.execute(f"""
        CREATE FUNCTION call_hops_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                DELETE FROM call_hops WHERE call_id = OLD.id;
            END IF;
            {INSERT} {_pg_rows("NEW")}
            UNION ALL {_caller("NEW", cast="::varchar(64)")};
            RETURN NULL;
        END
        $$""")
    for name, event in (
        ("call_hops_insert", "INSERT"),
        ("call_hops_update", f"UPDATE OF {WATCHED}"),
    ):
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON calls"
            " FOR EACH ROW EXECUTE FUNCTION call_hops_refresh()"
        )


def upgrade() -> None:
    op.create_table(
        "call_hops",
        sa.Column("call_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("login", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_id", "position"),
    )
    source = "calls AS src, "
    if op.get_bind().dialect.name == "postgresql":
        _create_postgresql_trigger()
        op.execute(f"{INSERT} {_pg_rows('src', source)}")
        op.execute(f"{INSERT} {_caller('src', 'FROM calls AS src ', '::varchar(64)')}")
    else:
        create_sqlite_triggers()
        op.execute(f"{INSERT} {_sqlite_rows('src', source)}")
        op.execute(f"{INSERT} {_caller('src', 'FROM calls AS src ')}")
    # After the copy: one sort instead of a million index insertions.
    op.create_index(
        "ix_call_hops_account_login", "call_hops", ["account_id", "login", "kind", "call_id"]
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in ("call_hops_update", "call_hops_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON calls" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS call_hops_refresh()")
    op.drop_index("ix_call_hops_account_login", table_name="call_hops")
    op.drop_table("call_hops")
