"""The ``jobs`` table: long operations (bulk export, erasure) run in the background by a node.

One row per job: what was asked (``params``), by whom, which node runs it,
where it is (``state``, ``progress`` 0..100, ``message``) and what came out
(``result`` JSON; for an export also the sealed ZIP's storage key and its
key, wrapped by the operator's master key).  The runner is
:mod:`callvault.jobs`; this module only declares the table, and is imported
at the end of :mod:`callvault.store.models` so ``Base.metadata`` (Alembic,
the migration tests) knows it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from callvault.store.models import Base, utcnow


class JobState(enum.StrEnum):
    """Where a job is: waiting for a slot, running, finished, or failed (with the reason)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """One background job of an account, visible to the user who started it."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_account_created", "account_id", "created_at"),
        Index("ix_jobs_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """``j-`` + a ULID."""
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    """``export`` (a ZIP of recordings) or ``erase`` (every recording of a number)."""
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    """0..100; 100 once the job is done."""
    message: Mapped[str] = mapped_column(String(500), default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    """Storage key of an export's sealed ZIP (None once it expired)."""
    result_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    """The ZIP's data key, wrapped by the master key; wiped with the result."""
    result_size: Mapped[int] = mapped_column(BigInteger, default=0)
    """Clear size of the ZIP in bytes."""
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(300), default="")
    """Who started it, as the audit log names them."""
    node: Mapped[str] = mapped_column(String(64), default="")
    """The node running it (a restarted node fails its own unfinished jobs)."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    """Last progress or heartbeat: a running job silent for long lost its node."""
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When an export's result is deleted."""
