"""calls: the app's tags and the IVR API trace

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("ivr_trace", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("ivr_trace")
        batch.drop_column("tags")
