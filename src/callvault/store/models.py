"""The data model: accounts own numbers, objects, trunks and prompts; calls are recorded.

SQLAlchemy 2 typed mappings.  Every row except an :class:`Account` itself
carries ``account_id`` -- the tenant key every query of
:mod:`callvault.store.repository` filters on.  Schema changes go through
Alembic (``src/callvault/store/migrations``); the tests check that the
migrations produce exactly these tables.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    cast,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class ObjectKind(enum.StrEnum):
    """What a number can lead to."""

    SIP_ACCOUNT = "sip_account"
    QUEUE = "queue"
    IVR_MENU = "ivr_menu"
    IVR_API = "ivr_api"


class Account(Base):
    """A company: the tenant everything else belongs to."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Warsaw")
    sip_domain: Mapped[str] = mapped_column(String(253), unique=True)
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallObject(Base):
    """A SIP account, queue, IVR menu or IVR API object, unique by login in its account."""

    __tablename__ = "objects"
    __table_args__ = (
        UniqueConstraint("account_id", "login", name="uq_objects_account_login"),
        UniqueConstraint("account_id", "extension", name="uq_objects_account_extension"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[ObjectKind] = mapped_column(Enum(ObjectKind, native_enum=False, length=16))
    login: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    extension: Mapped[str | None] = mapped_column(String(16), nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Number(Base):
    """A DID in E.164 (digits only, with country code) pointing at one object."""

    __tablename__ = "numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(20), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    object_id: Mapped[int | None] = mapped_column(
        ForeignKey("objects.id", ondelete="SET NULL"), nullable=True
    )
    target: Mapped[CallObject | None] = relationship(lazy="joined")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Trunk(Base):
    """A provider connection: inbound sources, outbound gateway, number formats."""

    __tablename__ = "trunks"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_trunks_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Prompt(Base):
    """An uploaded announcement, stored as 8 kHz 16-bit mono PCM WAV."""

    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_prompts_account_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    wav: Mapped[bytes] = mapped_column(LargeBinary)
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CallRecord(Base):
    """One call as it happened; ``id`` is the call id (the IVR API's UniqueCallId)."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_account_started", "account_id", "started_at"),
        # Listing indexes (migration 0008; measured by benchmarks/bench_listing.py): on
        # PostgreSQL trigram GIN (pg_trgm) for "any part of a number" searches and the
        # numbers data scope, elsewhere B-trees.  ix_calls_objects is below the class.
        Index("ix_calls_from_number", "from_number", postgresql_using="gin",
              postgresql_ops={"from_number": "gin_trgm_ops"}),
        Index("ix_calls_to_number", "to_number", postgresql_using="gin",
              postgresql_ops={"to_number": "gin_trgm_ops"}),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    from_number: Mapped[str] = mapped_column(String(64), default="")
    to_number: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    objects: Mapped[list[Any]] = mapped_column(default=list)
    disposition: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hangup_side: Mapped[str | None] = mapped_column(String(16), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    legs: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """Data the IVR app attached with ``Tag`` (e.g. its ticket id)."""
    ivr_trace: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    """Every IVR API exchange of the call: request, response, timing, error, fallback."""
    recording: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    """Whether the call was recorded, by which rule, and the rule checks that decided it."""


# PostgreSQL only (migration 0008): the data scopes' "the call passed object X" as
# ``objects::jsonb @> '[{"login": X}]'`` (callvault.web.datascope) uses this index.
Index(
    "ix_calls_objects",
    cast(CallRecord.objects, JSONB).label("objects_jsonb"),
    postgresql_using="gin",
    postgresql_ops={"objects_jsonb": "jsonb_path_ops"},
).ddl_if(dialect="postgresql")


class CallHop(Base):
    """One element of a call's ``objects`` (or the phone that placed it), as a narrow row.

    Written by database triggers on ``calls`` (migration 0011), never by the app:
    ``position`` is the element's index in ``CallRecord.objects`` and ``kind`` /
    ``login`` its ``"kind"`` / ``"login"`` (NULL when not strings); an outbound or
    internal call also has a row at position -1 of kind ``caller`` whose login is
    its ``from_number``.  The data scopes (callvault.web.datascope) read these
    instead of the wide ``calls`` rows.
    """

    __tablename__ = "call_hops"
    __table_args__ = (
        Index("ix_call_hops_account_login", "account_id", "login", "kind", "call_id"),
    )

    call_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    login: Mapped[str | None] = mapped_column(String(64), nullable=True)


class RecordingRuleRow(Base):
    """A stored recording rule (:class:`callvault.recording.rules.RecordingRule` as JSON)."""

    __tablename__ = "recording_rules"
    __table_args__ = (
        UniqueConstraint("account_id", "name", name="uq_recording_rules_account_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    decision: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RecordingState(enum.StrEnum):
    """Where a recording is in its life (the values of ``Recording.state``)."""

    RECORDING = "recording"
    PROCESSING = "processing"
    READY = "ready"
    PARTIAL = "partial"
    FAILED = "failed"
    EXPECTED_BUT_MISSING = "expected-but-missing"


class Recording(Base):
    """One call's recording: the rule that made it, where its file is, when it expires.

    ``id`` is ``r-`` + a ULID; ``call_id`` is the call's id (no foreign key: the
    call record is written when the call ends, the recording row when it starts).
    """

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_account_started", "account_id", "started_at"),
        # Listing indexes (migration 0008): the state filter, numbers by equality, and on
        # PostgreSQL a trigram GIN index for fragments of the caller number.  call_id
        # (the list's join column) lets PostgreSQL count the list from these alone.
        Index("ix_recordings_account_state_started", "account_id", "state", "started_at",
              "call_id"),
        Index("ix_recordings_account_caller", "account_id", "caller_number", "call_id"),
        Index("ix_recordings_caller_number", "caller_number", postgresql_using="gin",
              postgresql_ops={"caller_number": "gin_trgm_ops"}),
    )  # fmt: skip

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(24), default=RecordingState.RECORDING.value)
    rule_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    explanation: Mapped[list[Any]] = mapped_column(default=list)
    """The rule checks that led to the recording (``RuleCheck`` dicts)."""
    mode: Mapped[str] = mapped_column(String(8), default="mixed")
    format: Mapped[str] = mapped_column(String(8), default="wav")
    storage_backend: Mapped[str] = mapped_column(String(16), default="local")
    storage_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    peaks: Mapped[list[Any]] = mapped_column(default=list)
    """Waveform overview for the player: one peak per slice of the audio."""
    consent: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RecordingDeletion(Base):
    """What was deleted, when and why (``retention``, ``erasure`` or ``user``): the audit trail."""

    __tablename__ = "recording_deletions"
    __table_args__ = (Index("ix_recording_deletions_account_deleted", "account_id", "deleted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    recording_id: Mapped[str] = mapped_column(String(40))
    call_id: Mapped[str] = mapped_column(String(40))
    caller_number: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(64))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class NumberHold(Base):
    """A legal hold on a caller number: its recordings are kept past their retention."""

    __tablename__ = "number_holds"
    __table_args__ = (
        UniqueConstraint("account_id", "number", name="uq_number_holds_account_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))
    """E.164 digits without ``+``, like ``Number.e164``."""
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AccountKey(Base):
    """An account's recording data key, wrapped by the operator's master key (AES-KW).

    With ``public_key_pem`` set, recordings are sealed to the customer's RSA
    key instead, so only the customer can decrypt them.
    """

    __tablename__ = "account_keys"
    __table_args__ = (UniqueConstraint("account_id", name="uq_account_keys_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Webhook(Base):
    """An account's subscription: signed POSTs of the named events to ``url``."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[list[Any]] = mapped_column(default=list)
    """Event names (``recording.ready``, ``call.ended``...); empty: every event."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_delivery_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    """When the last delivery ended (delivered, or given up after its retries)."""
    last_event: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_outcome: Mapped[str | None] = mapped_column(String(300), nullable=True)
    """``delivered (HTTP 200)`` or why it failed (``HTTP 500``, a connection error...)."""
    failures_in_row: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# The access-control tables (and the background jobs' table, store.jobs) live in
# their own modules; importing them here puts them into ``Base.metadata`` for
# Alembic and the migration tests.
from callvault.store import access, bans, identity, jobs, registrations  # noqa: E402, F401
