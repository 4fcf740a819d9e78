"""source_bans: the source guard's bans, kept across restarts and shared by nodes

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 12:00:00

One row per banned source address (too many failed authentications),
written through by the guard and loaded back by a starting node -- and
refreshed by every node on the same database (:mod:`callvault.store.bans`).
Expired rows are deleted by the node's periodic purge, which
``ix_source_bans_expires_at`` serves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_bans",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("banned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_source_bans_expires_at", "source_bans", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_source_bans_expires_at", table_name="source_bans")
    op.drop_table("source_bans")
