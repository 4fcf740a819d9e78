"""Recording of live calls: decide, announce, capture, finish, store -- and recover after a crash.

:class:`RecordingManager` hooks into the engine:

1. When the caller's leg is answered, the account's rules decide
   (:func:`callvault.recording.rules.decide`); the decision and its
   explanation go into the call's data (stored with the call record either
   way).  If the rule says record: its announcement plays first (the consent
   stamp notes whether the caller cut it short with a key), then a
   :class:`~callvault.recording.capture.CallCapture` taps the caller's leg.
2. DTMF codes, the IVR API's recording actions and the API pause, resume,
   stop and start it (pause writes silence).
3. When the call ends the spool is closed on the spot; finishing (encode,
   peaks, hash), encryption and upload run in the background, off the call's
   path.  Storage outages leave the file in the outbox until it comes back.
4. At start, spools left unclosed by a crash are finished as ``partial``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from callvault.config import Settings
from callvault.engine.call import Call
from callvault.engine.engine import Engine
from callvault.engine.leg import Leg
from callvault.engine.trace import new_call_id
from callvault.recording.capture import CallCapture, DtmfCodes
from callvault.recording.crypto import DataKey, KeyRing, RecipientKey, encrypt_file
from callvault.recording.finish import EmptyRecordingError, finish
from callvault.recording.lifecycle import retention_loop
from callvault.recording.outbox import Outbox
from callvault.recording.recover import recover_spools
from callvault.recording.rule_store import load_rules
from callvault.recording.rules import CallFacts, RecordingDecision, RuleDecision, decide
from callvault.recording.spool import SpoolWriter
from callvault.recording.storage import LocalStorage, RecordingStorage, S3Storage
from callvault.routing.prompts import AccountPrompts
from callvault.store.db import Database
from callvault.store.models import Account, AccountKey, CallRecord, Recording
from callvault.store.numbers import normalize_or_raw
from callvault.webhooks import WebhookSender

log = logging.getLogger("callvault.recording")

SPOOL_SUFFIX = ".spool"


@dataclass
class ActiveRecording:
    """A recording in progress on one call."""

    id: str
    account_id: int
    decision: RuleDecision
    capture: CallCapture | None
    spool: Path
    started_at: datetime
    stopped: bool = False
    commands: list[dict[str, Any]] = field(default_factory=list)
    consent: dict[str, Any] = field(default_factory=dict)
    call_id: str = ""
    flushing: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a worker thread writes the spool, so closing waits for it."""


def load_master_key(settings: Settings) -> bytes:
    """The operator's master key: from settings, else ``data_dir/master.key`` (made once)."""
    if settings.master_key:
        key = base64.b64decode(settings.master_key)
        if len(key) != 32:
            raise ValueError("CALLVAULT_MASTER_KEY must be base64 of exactly 32 bytes")
        return key
    path = settings.data_dir / "master.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        log.warning("generated a master key in %s: back it up, recordings need it", path)
    return base64.b64decode(path.read_text().strip())


def build_storage(settings: Settings) -> tuple[str, RecordingStorage]:
    """The configured storage backend."""
    if settings.recording_storage == "s3":
        if not settings.s3_endpoint:
            raise ValueError("recording_storage is s3 but s3_endpoint is not set")
        return "s3", S3Storage(
            settings.s3_endpoint, settings.s3_bucket, settings.s3_access_key,
            settings.s3_secret_key, settings.s3_region,
        )  # fmt: skip
    return "local", LocalStorage(settings.recordings_dir or settings.data_dir / "recordings")


class RecordingManager:
    """Records calls per the accounts' rules; one per node."""

    def __init__(
        self,
        engine: Engine,
        db: Database,
        prompts: AccountPrompts,
        webhooks: WebhookSender | None = None,
    ) -> None:
        settings = engine.settings
        self.engine = engine
        self.db = db
        self.prompts = prompts
        self.webhooks = webhooks
        self.spool_dir = settings.data_dir / "spool"
        self.work_dir = settings.data_dir / "finishing"
        self.backend, storage = build_storage(settings)
        self.storage = storage
        self.outbox = Outbox(settings.data_dir / "outbox", storage, on_uploaded=self._uploaded)
        self.keyring = KeyRing(load_master_key(settings))
        self.active: dict[str, ActiveRecording] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
        self._pending_state: dict[str, str] = {}
        """Final state of recordings whose upload waits in the outbox, by storage key."""
        engine.answer_hooks.append(self.on_answered)
        engine.call_ended_hooks.insert(0, self.on_call_ended)

    # -- lifecycle ------------------------------------------------------------
    async def start(self) -> None:
        """Recover crashed spools, then run the flusher and the outbox uploader."""
        for directory in (self.spool_dir, self.work_dir):
            directory.mkdir(parents=True, exist_ok=True)
        await self.recover()
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._tick()),
            loop.create_task(self.outbox.run()),
            loop.create_task(retention_loop(self.db, self.storage)),
        ]

    async def stop(self) -> None:
        """Stop the background loops; finishing jobs already started are awaited."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run a finishing job in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _tick(self) -> None:
        """Once a second, write each spool's buffer and fsync it -- in a worker thread, so
        the disk never stalls the event loop that carries the calls' audio."""
        while True:
            await asyncio.sleep(1.0)
            for active in list(self.active.values()):
                if active.capture is None:
                    continue
                async with active.flushing:
                    writer = active.capture.writer
                    data = writer.take_buffer()
                    try:
                        await asyncio.to_thread(writer.write_out, data)
                    except (ValueError, OSError) as exc:
                        log.error("spool %s: %s", active.spool, exc)

    # -- deciding and starting --------------------------------------------------
    async def on_answered(self, leg: Leg) -> None:
        """The caller was answered: decide, announce, start capturing."""
        call = leg.call
        if leg is not call.caller or "recording" in call.data:
            return
        account_id = call.data.get("account_id")
        if account_id is None:
            return
        decision = await self._decide(call, account_id)
        call.data["recording"] = {
            "recorded": decision.record,
            "rule": decision.rule,
            "explanation": [check.model_dump() for check in decision.explanation],
        }
        call.trace.add("recording", "decided", record=decision.record, rule=decision.rule)
        if not decision.record or decision.decision is None:
            return
        await self._begin(call, account_id, decision, decision.decision)

    async def _decide(self, call: Call, account_id: int) -> RecordingDecision:
        async with self.db.session() as session:
            account = await session.get(Account, account_id)
            rules = await load_rules(session, account_id)
            used = await session.scalar(
                select(func.coalesce(func.sum(Recording.size_bytes), 0)).where(
                    Recording.account_id == account_id
                )
            )
        timezone = account.timezone if account else "Europe/Warsaw"
        inbound = call.data.get("direction") == "inbound"
        facts = CallFacts(
            call_id=call.id,
            direction=str(call.data.get("direction", "inbound")),
            from_number=normalize_or_raw(call.from_user),
            to_number=normalize_or_raw(call.to_user),
            number=call.data.get("number") or (inbound and normalize_or_raw(call.to_user)) or None,
            objects=[(o["kind"], o["login"]) for o in call.data.get("objects", [])],
            started_at=datetime.fromtimestamp(call.started_at, UTC),
        )
        result = decide(facts, rules, timezone=timezone)
        plan = (account.plan or {}) if account else {}
        quota_mb = plan.get("quotas", {}).get("recording_storage_mb")
        refusal = None
        if "recording" not in plan.get("addons", []):
            refusal = "the account's plan has no recording add-on: not recorded"
        elif quota_mb is not None and int(used or 0) >= quota_mb * 1024 * 1024:
            refusal = f"recording storage quota of {quota_mb} MB is used up: not recorded"
        if result.record and refusal is not None:
            if result.explanation:
                result.explanation[-1].reasons.append(refusal)
            return RecordingDecision(record=False, rule=result.rule, decision=result.decision,
                                     explanation=result.explanation)  # fmt: skip
        return result

    async def _begin(
        self, call: Call, account_id: int, result: RecordingDecision, rule: RuleDecision
    ) -> None:
        caller = call.caller
        consent: dict[str, Any] = {"announced": False}
        if rule.announcement:
            started = datetime.now(UTC)
            with contextlib.suppress(KeyError):
                completed = await self.prompts.play(
                    caller, account_id, [rule.announcement], barge_in=True
                )
                consent = {"announced": True, "prompt": rule.announcement,
                           "at": started.isoformat(), "interrupted": not completed}  # fmt: skip
            if consent.get("interrupted") and not rule.record_if_announcement_interrupted:
                call.data["recording"]["recorded"] = False
                call.data["recording"]["note"] = "announcement interrupted; the rule says don't"
                return
        recording_id = "r-" + new_call_id().removeprefix("c-")
        spool = self.spool_dir / f"{recording_id}{SPOOL_SUFFIX}"
        now = datetime.now(UTC)
        # the ticker flushes every second off the loop; 5 s is the inline safety net
        writer = SpoolWriter(spool, call_id=call.id, recording_id=recording_id,
                             started_at=now.timestamp(), max_buffer_age_s=5.0)  # fmt: skip
        capture = CallCapture(writer)
        active = ActiveRecording(recording_id, account_id, rule, capture, spool, now,
                                 consent=consent, call_id=call.id)  # fmt: skip
        self.active[call.id] = active
        async with self.db.session() as session:
            session.add(Recording(
                id=recording_id, account_id=account_id, call_id=call.id, state="recording",
                rule_name=result.rule, mode=rule.mode, format=rule.format,
                explanation=[c.model_dump() for c in result.explanation], consent=consent,
                caller_number=normalize_or_raw(call.from_user), started_at=now,
                storage_backend=self.backend,
            ))  # fmt: skip
            await session.commit()
        call.data["recording"]["recording_id"] = recording_id
        call.data["recording_control"] = lambda command: self.control(call, command)
        assert caller.media is not None
        caller.media.tap = capture
        if rule.allow_dtmf_pause:
            codes = DtmfCodes(rule.pause_code, rule.resume_code,
                              lambda command: self._command(call, command, "dtmf"))  # fmt: skip
            caller.digit_listeners.append(codes)
        call.trace.add("recording", "started", recording_id=recording_id, mode=rule.mode)
        call.log.info("recording %s (%s %s, rule %s)", recording_id, rule.mode, rule.format,
                      result.rule)  # fmt: skip

    async def announce_to_party(self, call: Call, leg: Leg) -> None:
        """Before a new party joins a recorded call, it hears the announcement too."""
        active = self.active.get(call.id)
        if active is None or not active.decision.announcement:
            return
        prompt = active.decision.announcement
        with contextlib.suppress(KeyError):
            completed = await self.prompts.play(leg, active.account_id, [prompt], barge_in=True)
            active.consent.setdefault("parties", []).append(
                {"party": leg.remote_party, "at": datetime.now(UTC).isoformat(),
                 "interrupted": not completed}
            )  # fmt: skip

    # -- control ----------------------------------------------------------------
    async def control(self, call: Call, command: str) -> None:
        """``start``, ``stop``, ``pause`` or ``resume`` a call's recording (IVR API, REST API)."""
        self._command(call, command, "api")

    def _command(self, call: Call, command: str, via: str) -> None:
        active = self.active.get(call.id)
        if active is None or active.capture is None:
            return
        capture = active.capture
        if command == "pause" or (command == "stop" and not active.stopped):
            capture.pause()
            active.stopped = command == "stop"
        elif command in ("resume", "start"):
            capture.resume()
            active.stopped = False
        active.commands.append({"command": command, "via": via, "at_s": round(capture.seconds, 3)})
        call.trace.add("recording", command, via=via)

    # -- finishing --------------------------------------------------------------
    async def on_call_ended(self, call: Call) -> None:
        """Close the spool now; finish, encrypt and store in the background."""
        active = self.active.pop(call.id, None)
        if active is None or active.capture is None:
            return
        caller = call.caller
        if caller.media is not None and caller.media.tap is active.capture:
            caller.media.tap = None
        async with active.flushing:
            with contextlib.suppress(ValueError, OSError):
                active.capture.close()
        tags = dict(call.data.get("tags", {}))
        self._spawn(self._finish(active, partial=False, tags=tags))

    async def _finish(
        self, active: ActiveRecording, *, partial: bool, tags: dict[str, Any]
    ) -> None:
        rule = active.decision
        out = self.work_dir / f"{active.id}.{rule.format}"
        state = "partial" if partial else "ready"
        values: dict[str, Any] = {"ended_at": datetime.now(UTC), "tags": tags}
        if active.consent:
            values["consent"] = active.consent
        try:
            audio = await asyncio.to_thread(finish, active.spool, out, mode=rule.mode,
                                            fmt=rule.format)  # fmt: skip
        except EmptyRecordingError:
            await self._update(active.id, state="expected-but-missing", error="no audio arrived",
                               **values)  # fmt: skip
            active.spool.unlink(missing_ok=True)
            return
        except Exception as exc:
            log.exception("finishing recording %s failed", active.id)
            await self._update(active.id, state="failed", error=str(exc)[:500], **values)
            return
        key = await self._data_key(active.account_id)
        sealed = out.with_suffix(out.suffix + ".enc")
        await asyncio.to_thread(encrypt_file, out, sealed, key)
        out.unlink(missing_ok=True)
        storage_key = (
            f"{active.account_id}/{active.started_at:%Y/%m/%d}/{active.id}.{rule.format}.enc"
        )
        values.update(
            duration_ms=audio.duration_ms, size_bytes=audio.size_bytes, sha256=audio.sha256,
            peaks=audio.peaks, encrypted=True, key_id=key.key_id, storage_key=storage_key,
            expires_at=active.started_at + timedelta(days=rule.retention_days),
        )  # fmt: skip
        await self._update(active.id, state="processing", **values)
        self._pending_state[storage_key] = state  # the outbox's callback marks it
        stored = await self.outbox.submit(storage_key, sealed)
        if not stored:
            await self._update(
                active.id, only_if_state="processing", error="waiting for the storage to come back"
            )
        active.spool.unlink(missing_ok=True)
        where = "stored" if stored else "queued for upload"
        log.info("recording %s %s (%d ms, %d bytes)", active.id, where, audio.duration_ms,
                 audio.size_bytes)  # fmt: skip

    async def _uploaded(self, storage_key: str) -> None:
        """The outbox delivered a file later: its recording is now ready (or partial)."""
        async with self.db.session() as session:
            row = await session.scalar(
                select(Recording).where(Recording.storage_key == storage_key)
            )
            if row is not None and row.state == "processing":
                row.state = self._pending_state.pop(storage_key, "ready")
                row.error = None
                await session.commit()
                await self._announce(row)

    async def _update(
        self, recording_id: str, *, only_if_state: str | None = None, **values: Any
    ) -> None:
        """Change a recording's row; with ``only_if_state``, only while it is in that state
        (the outbox may have delivered the file and marked it ready in the meantime)."""
        async with self.db.session() as session:
            row = await session.get(Recording, recording_id)
            if row is None or (only_if_state is not None and row.state != only_if_state):
                return
            for name, value in values.items():
                setattr(row, name, value)
            await session.commit()
            if "state" in values:
                await self._announce(row)

    async def _announce(self, row: Recording) -> None:
        """``recording.ready`` / ``recording.failed`` webhooks for final states."""
        event = {"ready": "recording.ready", "partial": "recording.ready",
                 "failed": "recording.failed",
                 "expected-but-missing": "recording.failed"}.get(row.state)  # fmt: skip
        if event is None or self.webhooks is None:
            return
        await self.webhooks.emit(row.account_id, event, {
            "recording_id": row.id, "call_id": row.call_id, "state": row.state,
            "format": row.format, "mode": row.mode, "duration_ms": row.duration_ms,
            "size_bytes": row.size_bytes, "sha256": row.sha256, "tags": row.tags,
            "rule": row.rule_name, "error": row.error,
        })  # fmt: skip

    async def _data_key(self, account_id: int) -> DataKey | RecipientKey:
        """The account's key: its public key if it gave one, else its wrapped data key."""
        async with self.db.session() as session:
            row = await session.scalar(
                select(AccountKey).where(AccountKey.account_id == account_id)
            )
            if row is None:
                plain, wrapped = self.keyring.new_data_key()
                row = AccountKey(account_id=account_id, key_id="k-" + secrets.token_hex(8),
                                 wrapped_key=wrapped)  # fmt: skip
                session.add(row)
                await session.commit()
                return DataKey(row.key_id, plain)
            if row.public_key_pem:
                return RecipientKey.from_pem(row.public_key_pem.encode())
            if not row.wrapped_key:  # the customer's key was cleared before any data key
                plain, row.wrapped_key = self.keyring.new_data_key()
                await session.commit()
                return DataKey(row.key_id, plain)
            return DataKey(row.key_id, self.keyring.unwrap(row.wrapped_key))

    # -- crash recovery -----------------------------------------------------------
    async def recover(self) -> None:
        """Finish spools a crash left open as ``partial``; close their calls' records."""
        for found in await asyncio.to_thread(recover_spools, self.spool_dir):
            async with self.db.session() as session:
                row = await session.get(Recording, found.recording_id)
                if row is None:
                    continue
                rule = RuleDecision.model_validate({"mode": row.mode, "format": row.format})
                account_id, started = row.account_id, row.started_at
                if await session.get(CallRecord, found.call_id) is None:
                    session.add(CallRecord(
                        id=found.call_id, account_id=account_id, from_number=row.caller_number,
                        direction="inbound", disposition="failed", hangup_side="system",
                        started_at=started, answered_at=started,
                        ended_at=started + timedelta(seconds=found.seconds),
                        recording={"recorded": True, "recording_id": row.id,
                                   "note": "node stopped during the call"},
                    ))  # fmt: skip
                await session.commit()
            log.warning("recovering recording %s of call %s: %.1f s captured before the stop",
                        found.recording_id, found.call_id, found.seconds)  # fmt: skip
            active = ActiveRecording(found.recording_id, account_id, rule, None, found.path,
                                     started.replace(tzinfo=started.tzinfo or UTC),
                                     call_id=found.call_id)  # fmt: skip
            await self._finish(active, partial=True, tags={})
