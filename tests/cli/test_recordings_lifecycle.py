"""Retention, erasure and legal holds of recordings, on SQLite and PostgreSQL, real files.

Recordings are rows plus files in a real :class:`LocalStorage` under tmp.
``expire`` deletes exactly the expired, unheld, finished ones (file, row, log
entry), survives a crash half-way without losing or repeating anything;
``erase_number`` finds a number in any input form, only in its own account,
and keeps (and reports) held recordings; the ``callvault recordings``
commands print what they did and refuse another account's recordings.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from callvault.cli import recordings as recordings_cli
from callvault.cli.main import main
from callvault.config import Settings
from callvault.recording.lifecycle import erase_number, expire
from callvault.recording.manager import RecordingManager
from callvault.recording.storage import LocalStorage
from callvault.store.db import Database
from callvault.store.errors import NotFoundError
from callvault.store.models import CallRecord, NumberHold, Recording, RecordingDeletion
from callvault.store.repository import Accounts

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PAST, LATER = NOW - timedelta(days=1), NOW + timedelta(days=30)
CALLER = "48600123456"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _no_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "RECORDINGS_DIR", "RECORDING_STORAGE", "DATA_DIR"):
        monkeypatch.delenv(f"CALLVAULT_{name}", raising=False)


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    """The storage ``--data-dir tmp_path/data`` gives the CLI."""
    return LocalStorage(tmp_path / "data" / "recordings")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await asyncio.to_thread(database.migrate)
    yield database
    await database.close()


async def account(db: Database, slug: str) -> int:
    async with db.session() as session:
        accounts = Accounts(session)
        try:
            row = await accounts.get(slug)
        except NotFoundError:
            row = await accounts.create(slug, slug, sip_domain=f"{slug}.example")
        await session.commit()
        return row.id


async def record(
    db: Database, storage: LocalStorage, account_id: int, rid: str, caller: str = CALLER, *,
    expires: datetime | None = PAST, hold: bool = False, state: str = "ready",
    to: str | None = None, stored: bool = True,
) -> Path:  # fmt: skip
    """A finished recording row (and its file unless not ``stored``); the file's path."""
    key = f"{account_id}/2026/01/05/{rid}.wav.enc"
    async with db.session() as session:
        session.add(Recording(
            id=rid, account_id=account_id, call_id=f"c-{rid}", state=state, rule_name="all",
            storage_key=key, size_bytes=640, duration_ms=83_000, caller_number=caller,
            started_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC), expires_at=expires,
            legal_hold=hold,
        ))  # fmt: skip
        if to is not None:
            session.add(CallRecord(id=f"c-{rid}", account_id=account_id, to_number=to))
        await session.commit()
    path = storage.root / key
    if stored:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x01" * 640)
    return path


async def hold_number(db: Database, account_id: int, number: str) -> None:
    async with db.session() as session:
        session.add(NumberHold(account_id=account_id, number=number, reason="case 1"))
        await session.commit()


async def ids(db: Database) -> set[str]:
    async with db.session() as session:
        return set(await session.scalars(select(Recording.id)))


async def log(db: Database) -> list[RecordingDeletion]:
    async with db.session() as session:
        return list(await session.scalars(select(RecordingDeletion).order_by("id")))


async def test_expire_deletes_only_expired_unheld_finished(
    db: Database, storage: LocalStorage
) -> None:
    acme, globex = await account(db, "acme"), await account(db, "globex")
    old = await record(db, storage, acme, "r-old")
    await record(db, storage, acme, "r-gone", stored=False)
    other = await record(db, storage, acme, "r-x", "48600999888")  # held in globex only
    kept = [
        await record(db, storage, acme, "r-held", hold=True),
        await record(db, storage, acme, "r-num", "48500111222"),
        await record(db, storage, acme, "r-to", "48500333444", to="+48 22 123 45 67"),
        await record(db, storage, acme, "r-fresh", expires=LATER),
        await record(db, storage, acme, "r-proc", state="processing"),
        await record(db, storage, acme, "r-never", expires=None),
    ]
    await hold_number(db, acme, "48500111222")
    await hold_number(db, acme, "48221234567")
    await hold_number(db, globex, "48600999888")

    report = await expire(db, storage, now=NOW)

    assert (report.deleted, report.missing, report.held, report.pending, report.errors) == (
        *(3, 1, 3, 1, 0),
    )
    assert report.summary().startswith("retention run at 2026-06-01T00:00:00+00:00: deleted 3")
    assert await ids(db) == {"r-held", "r-num", "r-to", "r-fresh", "r-proc", "r-never"}
    assert not old.exists() and not other.exists() and all(path.exists() for path in kept)
    entries = {entry.recording_id: entry for entry in await log(db)}
    assert set(entries) == {"r-old", "r-gone", "r-x"}
    assert entries["r-old"].reason == "retention"
    assert entries["r-old"].detail == {
        "storage_key": f"{acme}/2026/01/05/r-old.wav.enc", "size_bytes": 640, "rule": "all",
        "expires_at": PAST.isoformat(), "object": "deleted",
    }  # fmt: skip
    assert entries["r-gone"].detail["object"] == "missing"
    assert (entries["r-x"].account_id, entries["r-x"].caller_number) == (acme, "48600999888")

    again = await expire(db, storage, now=NOW)
    assert (again.deleted, again.held, again.errors) == (0, 3, 0)
    assert len(await log(db)) == 3


class CrashingStorage(LocalStorage):
    """Deletes the file, then fails (as a node dying before its commit would)."""

    async def delete(self, key: str) -> None:
        await super().delete(key)
        raise RuntimeError("node died")


async def test_expire_crash_half_way_loses_and_repeats_nothing(
    db: Database, storage: LocalStorage
) -> None:
    acme = await account(db, "acme")
    path = await record(db, storage, acme, "r-1")
    crashed = await expire(db, CrashingStorage(storage.root), now=NOW)
    assert (crashed.deleted, crashed.errors) == (0, 1)
    assert crashed.problems == ["r-1: RuntimeError: node died"]
    assert not path.exists() and await ids(db) == {"r-1"} and await log(db) == []

    report = await expire(db, storage, now=NOW)
    assert (report.deleted, report.missing, report.errors) == (1, 1, 0)
    assert await ids(db) == set()
    assert [entry.detail["object"] for entry in await log(db)] == ["missing"]


async def test_recording_manager_runs_the_retention_loop(
    db: Database, storage: LocalStorage, tmp_path: Path
) -> None:
    """``RecordingManager.start`` spawns the loop on its storage; ``stop`` ends it."""
    expired = datetime.now(UTC) - timedelta(minutes=1)
    path = await record(db, storage, await account(db, "acme"), "r-1", expires=expired)
    settings = Settings(data_dir=tmp_path / "data")
    engine = SimpleNamespace(settings=settings, answer_hooks=[], call_ended_hooks=[])
    manager = RecordingManager(engine, db, prompts=None)  # type: ignore[arg-type]
    assert isinstance(manager.storage, LocalStorage) and manager.storage.root == storage.root
    await manager.start()
    for _ in range(200):
        if not path.exists():
            break
        await asyncio.sleep(0.02)
    await asyncio.wait_for(manager.stop(), 5)
    assert not path.exists() and await ids(db) == set()
    assert [entry.reason for entry in await log(db)] == ["retention"]


async def test_erasure_by_number_in_another_form(db: Database, storage: LocalStorage) -> None:
    acme, globex = await account(db, "acme"), await account(db, "globex")
    mine = await record(db, storage, acme, "r-a1")
    held = await record(db, storage, acme, "r-a2", hold=True, expires=LATER)
    others = [
        await record(db, storage, acme, "r-a3", "48600999000"),
        await record(db, storage, globex, "r-b1"),
    ]
    done: list[tuple[int, int]] = []
    report = await erase_number(
        db, storage, acme, "+48 600 123 456", requested_by="DPO-7",
        progress=lambda n, total: done.append((n, total)),
    )  # fmt: skip

    assert (report.number, report.account_id, done) == (CALLER, acme, [(1, 2), (2, 2)])
    assert [(i.recording_id, i.call_id, i.duration_ms, i.outcome) for i in report.items] == [
        ("r-a1", "c-r-a1", 83_000, "deleted"),
        ("r-a2", "c-r-a2", 83_000, "kept: legal hold"),
    ]
    assert report.items[1].note == "legal hold on the recording"
    assert not mine.exists() and held.exists() and all(path.exists() for path in others)
    assert await ids(db) == {"r-a2", "r-a3", "r-b1"}
    [entry] = await log(db)
    assert (entry.recording_id, entry.reason, entry.caller_number) == ("r-a1", "erasure", CALLER)
    assert entry.detail["requested_by"] == "DPO-7" and entry.detail["number"] == CALLER

    await hold_number(db, acme, CALLER)
    await record(db, storage, acme, "r-a4")
    again = await erase_number(db, storage, acme, "600123456", requested_by="DPO-7")
    assert [(i.recording_id, i.outcome, i.note) for i in again.items] == [
        ("r-a2", "kept: legal hold", "legal hold on the recording"),
        ("r-a4", "kept: legal hold", "legal hold on number +48 60 012 34 56"),
    ]


# -- the commands --------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``cli("recordings", "list", ...)`` on the test database and tmp data dir."""

    def run(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        extra = ["--data-dir", str(tmp_path / "data")] if argv[0] == "recordings" else []
        with pytest.MonkeyPatch.context() as patch:
            if stdin is not None:
                patch.setattr("sys.stdin", io.StringIO(stdin))
            code = main([*argv, "--db", database_url, *extra])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def ok(cli: Run, *argv: str, stdin: str | None = None) -> str:
    code, out, err = cli(*argv, stdin=stdin)
    assert (code, err) == (0, ""), f"{argv}: {err}"
    return out


def refused(cli: Run, *argv: str) -> str:
    code, out, err = cli(*argv)
    assert (code, out) == (2, ""), f"{argv}: {out}"
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def seed(database_url: str, storage: LocalStorage, made: dict[str, dict[str, Any]]) -> None:
    """Accounts acme and globex; ``rid={"slug": ..., other record() options}`` recordings."""

    async def go() -> None:
        db = Database(database_url)
        await asyncio.to_thread(db.migrate)
        slugs = {slug: await account(db, slug) for slug in ("acme", "globex")}
        for rid, options in made.items():
            await record(db, storage, slugs[options.pop("slug", "acme")], rid, **options)
        await db.close()

    asyncio.run(go())


def test_cli_list_holds_expire_deletions(
    cli: Run, database_url: str, storage: LocalStorage
) -> None:
    seed(database_url, storage, {"r-1": {}, "r-2": {"caller": "48500111222"}, "r-3": {}})
    rec = ("recordings",)
    acme = (*rec, "list", "--account", "acme")
    table = ok(cli, *acme).splitlines()
    assert table[0].split() == [
        *("ID", "CALL", "STARTED", "LENGTH", "CALLER", "STATE", "EXPIRES", "HOLD")
    ]
    assert "2026-01-05 10:30  1:23    +48 60 012 34 56  ready  2026-05-31 02:00  -" in table[1]
    rows = json.loads(ok(cli, *acme, "--number", "+48 600 123 456", "--json"))
    assert {row["id"] for row in rows} == {"r-1", "r-3"} and rows[0]["legal_hold"] is False
    assert ok(cli, *acme, "--state", "failed") == "no recordings in acme match\n"

    assert "r-1 of acme is on legal hold" in ok(cli, *rec, "hold", "--account", "acme", "r-1")
    assert "already on legal hold" in ok(cli, *rec, "hold", "--account", "acme", "r-1")
    out = ok(cli, *rec, "hold-number", "--account", "acme", "500 111 222", "--reason", "case 9")
    assert out.startswith("number +48 50 011 12 22 is on legal hold in acme")
    assert "contains 'a'" in refused(cli, *rec, "hold-number", "--account", "acme", "12ab")
    [r2] = json.loads(ok(cli, *acme, "--number", "0048500111222", "--json"))
    assert r2["hold"] == "legal hold on number +48 50 011 12 22"

    code, out, err = cli(*rec, "expire", "--now", "2026-06-01T00:00:00Z")
    assert (code, err) == (0, "")
    assert out == (
        "retention run at 2026-06-01T00:00:00+00:00: deleted 1, kept on legal hold 2, errors 0\n"
    )
    assert not (storage.root / "1/2026/01/05/r-3.wav.enc").exists()
    assert "--now wants an ISO time" in refused(cli, *rec, "expire", "--now", "yesterday")

    log = ok(cli, *rec, "deletions", "--account", "acme").splitlines()
    assert log[0].split() == ["DELETED", "RECORDING", "CALL", "CALLER", "REASON", "DETAIL"]
    assert "r-3" in log[1] and "retention  expired 2026-05-31 02:00" in log[1]
    [entry] = json.loads(ok(cli, *rec, "deletions", "--account", "acme", "--json"))
    assert entry["detail"]["object"] == "deleted" and entry["reason"] == "retention"
    assert ok(cli, *rec, "deletions", "--account", "globex") == "no deletions in globex\n"

    out = ok(cli, *rec, "release", "--account", "acme", "r-1")
    assert out == "released the legal hold on recording r-1; its retention ends 2026-05-31 02:00\n"
    assert "was not on legal hold" in ok(cli, *rec, "release", "--account", "acme", "r-1")
    assert "released" in ok(cli, *rec, "release-number", "--account", "acme", "500111222")
    again = ok(cli, *rec, "release-number", "--account", "acme", "500111222")
    assert again == "number +48 50 011 12 22 was not on legal hold in acme\n"
    out = ok(cli, *rec, "expire", "--now", "2026-06-01T00:00")  # naive: UTC
    assert out.startswith("retention run at 2026-06-01T00:00:00+00:00: deleted 2,")


def test_cli_erase_asks_reports_and_shows_progress(
    cli: Run, database_url: str, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(database_url, storage, {"r-1": {}, "r-2": {"hold": True}, "r-9": {"slug": "globex"}})
    erase = ("recordings", "erase", "--account", "acme", "--number", "+48 600 123 456")
    code, out, err = cli(*erase, stdin="n\n")
    assert (code, err) == (1, "")
    lines = out.splitlines()
    assert lines[0] == "recordings of +48 60 012 34 56 in acme (1 of 2 to delete):"
    assert lines[1].split() == ["RECORDING", "CALL", "STARTED", "LENGTH", "PLANNED", "WHY"]
    assert lines[2].split() == ["r-1", "c-r-1", "2026-01-05", "10:30", "1:23", "deleted", "-"]
    assert "kept: legal hold  legal hold on the recording" in lines[3]
    assert lines[4] == "delete 1 recording(s) for good? [y/N] nothing was deleted"
    assert (storage.root / "1/2026/01/05/r-1.wav.enc").exists()

    monkeypatch.setattr(recordings_cli, "PROGRESS_FROM", 2)
    code, out, err = cli(*erase, "--requested-by", "DPO-7", stdin="y\n")
    assert (code, err) == (0, "\rerasing 1/2\rerasing 2/2\n")
    assert "erased 1 of 2 recordings of +48 60 012 34 56 in acme (requested by DPO-7)" in out
    assert "1 kept: legal hold wins over erasure" in out
    assert not (storage.root / "1/2026/01/05/r-1.wav.enc").exists()
    assert (storage.root / "2/2026/01/05/r-9.wav.enc").exists()
    [entry] = json.loads(ok(cli, "recordings", "deletions", "--account", "acme", "--json"))
    assert entry["reason"] == "erasure" and entry["detail"]["requested_by"] == "DPO-7"

    out = ok(cli, *erase, "--yes")  # only the held one is left: nothing to ask
    assert "erased 0 of 1 recordings" in out and "[y/N]" not in out
    assert "contains 'x'" in refused(cli, *erase[:4], "--number", "6x0")


def test_cli_other_account_cannot_touch_recordings(
    cli: Run, database_url: str, storage: LocalStorage
) -> None:
    seed(database_url, storage, {"r-1": {}})
    rec = ("recordings",)
    for action in ("hold", "release"):
        err = refused(cli, *rec, action, "--account", "globex", "r-1")
        assert err == (
            "error: no recording r-1 in account globex; "
            "see: callvault recordings list --account globex\n"
        )
    assert ok(cli, *rec, "list", "--account", "globex") == "no recordings in globex match\n"
    out = ok(cli, *rec, "erase", "--account", "globex", "--number", CALLER, "--yes")
    assert out == "no recordings of +48 60 012 34 56 in globex: nothing to erase\n"
    nobody = (*rec, "erase", "--account", "nobody", "--number", CALLER)
    assert "no account 'nobody'" in refused(cli, *nobody)
    ok(cli, *rec, "hold-number", "--account", "globex", CALLER)
    assert json.loads(ok(cli, *rec, "list", "--account", "acme", "--json"))[0]["hold"] is None
    assert "deleted 1" in ok(cli, *rec, "expire", "--now", NOW.isoformat())
    assert not (storage.root / "1/2026/01/05/r-1.wav.enc").exists()
