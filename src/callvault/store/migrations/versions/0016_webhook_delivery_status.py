"""webhooks: the outcome of the last delivery and the failures in a row

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("last_delivery_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_event", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("last_outcome", sa.String(length=300), nullable=True))
        batch.add_column(
            sa.Column("failures_in_row", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        for column in ("failures_in_row", "last_outcome", "last_event", "last_delivery_at"):
            batch.drop_column(column)
