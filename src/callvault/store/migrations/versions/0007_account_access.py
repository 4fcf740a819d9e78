"""account_access: an account's optional login IP allow-list

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the allow-list table."""
    op.create_table(
        "account_access",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("login_networks", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("account_access")
