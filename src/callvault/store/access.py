"""Where an account's users may sign in from: its optional login IP allow-list.

One row per account that restricts access (no row, or an empty list: any
address).  :mod:`callvault.web.allowlist` checks every panel sign-in and every
use of a token or session against it.  Imported at the end of
:mod:`callvault.store.models`, so ``Base.metadata`` (Alembic, the migration
tests) knows the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from callvault.store.models import Base, utcnow


class AccountAccess(Base):
    """An account's login allow-list: networks its users may sign in and use the API from."""

    __tablename__ = "account_access"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    login_networks: Mapped[list[Any]] = mapped_column(default=list)
    """Networks as text (``203.0.113.0/24``, ``2001:db8::/32``, single addresses); empty: any."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
