"""registrations: the registrar's bindings, so phones stay reachable across restarts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 15:00:00

One row per binding of a login's contact (RFC 3261 §10.3), written through by
the registrar and loaded back by a starting node
(:mod:`callvault.store.registrations`).  Expired rows are deleted by the
node's periodic purge, which ``ix_registrations_expires_at`` serves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registrations",
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("source_host", sa.String(length=64), nullable=False),
        sa.Column("source_port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("cseq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "login", "contact"),
    )
    op.create_index("ix_registrations_expires_at", "registrations", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_registrations_expires_at", table_name="registrations")
    op.drop_table("registrations")
