"""Latency of the REST API's call and recording lists over a million calls, before/after indexes.

Fills a database with a realistic call history -- 10 accounts (one holds
60 % of the calls), 50 objects each (8 queues, 4 IVR menus, 38 SIP
accounts), 5 DIDs each, repeat and one-off callers, inbound/outbound/internal
calls over the last 90 days weighted to office hours, log-normal talk
times, about 30 % of the calls recorded -- then asks the endpoints of
:mod:`callvault.web.api_calls` and :mod:`callvault.web.api_recordings` the
usual questions through httpx's ASGI transport with API tokens (so the
numbers include authentication and JSON, as a client sees them), one
request at a time, at the head revision.  "Before" counts every matching
row for a list's ``total`` (as the API did until it capped the count);
"after" is today's API, which counts up to
:data:`callvault.web.listing.TOTAL_CAP`.  Each database is VACUUM ANALYZEd
(PostgreSQL) or ANALYZEd (SQLite) after loading.  Every SQL statement a case
runs against ``calls``/``recordings``/``call_hops`` is captured, EXPLAINed
(``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL, ``EXPLAIN QUERY PLAN`` on
SQLite) and timed on its own ("SQL ms": the best of 7 direct runs, which a
busy machine disturbs less than the HTTP timings); the table shows the scans
it used, ``--plans DIR`` keeps the whole plans.

The earlier comparison in BENCHMARKS.md (revision 0007 against the listing
indexes of migration 0008, with the queries of that time) ran this script at
commit ef7cc39; later schemas add columns the 0007 schema lacks, so it is
reproduced from that commit.

PostgreSQL gets its own schema in the ``test`` database (dropped at the
end); SQLite a file in a temporary directory.  Run::

    .venv/bin/python -m benchmarks.bench_listing
    .venv/bin/python -m benchmarks.bench_listing --pg-calls 200000 --sqlite-calls 0 --plans /tmp/p

Timing never goes into the tests; this is the place.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from alembic import command
from fastapi import FastAPI
from sqlalchemy import (
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from callvault.recording.crypto import KeyRing
from callvault.recording.storage import LocalStorage
from callvault.store.db import Database, sync_url
from callvault.store.identity import User
from callvault.store.models import Account, CallObject, CallRecord, Number, Recording
from callvault.store.repository import Accounts
from callvault.web import listing
from callvault.web.api_calls import install_api
from callvault.web.context import ApiContext
from callvault.web.identity import create_token, create_user

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
"""How the migration adding the listing indexes starts its message; "before" is the one below."""

ACCOUNT_SHARES = (0.60, 0.10, 0.06, 0.05, 0.04, 0.04, 0.03, 0.03, 0.03, 0.02)
QUEUES = ("sales", "support", "billing", "tech", "vip", "returns", "b2b", "night")
MENUS = ("main", "after-hours", "language", "survey")
AGENTS = tuple(f"agent{i:02d}" for i in range(1, 39))
DAYS = 90
STATES = ("ready", "partial", "failed", "expected-but-missing")
STATE_WEIGHTS = (0.955, 0.02, 0.015, 0.01)
PEAK_BUCKETS = 250
"""Waveform buckets per stored recording (real ones have 1000; shortened to load faster)."""
FRAGMENT = "600123"
"""The number fragment searched for (planted in a few callers' numbers)."""


def ulid(prefix: str, when: datetime, rng: random.Random) -> str:
    """``prefix`` + a 26-character ULID of ``when`` (as :func:`new_call_id` makes them)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = (int(when.timestamp() * 1000) << 80) | rng.getrandbits(80)
    chars = []
    for _ in range(26):
        chars.append(alphabet[value & 31])
        value >>= 5
    return prefix + "".join(reversed(chars))


def queue_agents(queue_index: int) -> list[str]:
    """The SIP accounts answering queue ``queue_index`` (agent i serves queue i mod 8)."""
    return [agent for i, agent in enumerate(AGENTS) if i % len(QUEUES) == queue_index]


class History:
    """Deterministic generator of call records and their recordings, oldest first."""

    def __init__(self, calls: int, now: datetime, seed: int = 7) -> None:
        self.calls = calls
        self.now = now
        self.rng = random.Random(seed)
        rng = self.rng
        mobile = ("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88")
        self.callers = [
            "48" + rng.choice(mobile) + f"{rng.randrange(10_000_000):07d}"
            if rng.random() < 0.7
            else "48" + rng.choice(("22", "12", "61", "71", "58")) + f"{rng.randrange(10**7):07d}"
            for _ in range(max(1000, calls // 5))
        ]
        self.callers[:3] = ["48600123456", "48500600123", "48226001234"]
        self.frequent = self.callers[:2000]
        self.peaks = [
            [round(rng.uniform(-1, 0), 3) if i % 2 == 0 else round(rng.uniform(0, 1), 3)
             for i in range(2 * PEAK_BUCKETS)]
            for _ in range(32)
        ]  # fmt: skip

    def dids(self, account_id: int) -> list[str]:
        """The account's five DIDs."""
        return [f"4822{account_id:03d}{i:04d}" for i in range(5)]

    def _start_times(self) -> list[datetime]:
        rng = self.rng
        first_day = (self.now - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0)
        days = [first_day + timedelta(days=d) for d in range(DAYS + 1)]
        weights = [{5: 0.3, 6: 0.15}.get(day.weekday(), 1.0) for day in days]
        chosen = rng.choices(days, weights, k=self.calls)
        out = []
        for day in chosen:
            if rng.random() < 0.85:
                second = min(max(rng.gauss(12.5 * 3600, 2.8 * 3600), 0.0), 86_399.0)
            else:
                second = rng.uniform(0, 86_399)
            when = day + timedelta(seconds=second)
            if when >= self.now:  # today's office hours have not all happened yet
                when = self.now - timedelta(seconds=rng.uniform(1, 9e4))
            out.append(when)
        out.sort()
        return out

    def rows(self) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
        """``(call row, recording row or None)`` per call, in time order."""
        rng = self.rng
        accounts = rng.choices(range(1, 11), ACCOUNT_SHARES, k=self.calls)
        for account_id, started in zip(accounts, self._start_times(), strict=True):
            yield self._call(account_id, started, rng)

    def _call(
        self, account_id: int, started: datetime, rng: random.Random
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        roll = rng.random()
        direction = "inbound" if roll < 0.70 else "outbound" if roll < 0.95 else "internal"
        objects: list[dict[str, str]] = []
        answered = rng.random() < (0.80 if direction == "inbound" else 0.65)
        agent = rng.choice(AGENTS)
        trace: list[dict[str, Any]] = []
        if direction == "inbound":
            pool = self.frequent if rng.random() < 0.2 else self.callers
            from_number, to_number = rng.choice(pool), rng.choice(self.dids(account_id))
            if rng.random() < 0.5:
                menu = rng.choice(MENUS)
                objects.append({"kind": "ivr_menu", "login": menu})
                trace = [{"kind": "menu", "menu": menu, "digits": str(rng.randrange(1, 5))}]
            queue = rng.randrange(len(QUEUES))
            objects.append({"kind": "queue", "login": QUEUES[queue]})
            agent = rng.choice(queue_agents(queue))
            if answered:
                objects.append({"kind": "sip_account", "login": agent})
        elif direction == "outbound":
            from_number = agent
            to_number = "48" + rng.choice(("50", "60", "22", "71")) + f"{rng.randrange(10**7):07d}"
            objects.append({"kind": "trunk", "login": "main"})
        else:
            other = rng.choice(AGENTS)
            from_number, to_number = agent, f"1{AGENTS.index(other):02d}"
            objects.append({"kind": "sip_account", "login": other})
        ring = rng.uniform(2, 25)
        answered_at = started + timedelta(seconds=ring) if answered else None
        talk = min(rng.lognormvariate(4.4, 1.0), 7200.0) if answered else 0.0
        ended = started + timedelta(seconds=ring + talk)
        if answered:
            disposition = "answered"
        else:
            missed = ("no answer", "busy", "cancelled", "failed")
            disposition = rng.choices(missed, (12, 3, 4, 1))[0]
        call_id = ulid("c-", started, rng)
        legs = [
            {"direction": "in", "party": from_number, "started_at": started.isoformat(),
             "answered_at": answered_at.isoformat() if answered_at else None,
             "ended_at": ended.isoformat(), "end_reason": "bye", "hangup_side": "remote",
             "final_status": 200 if answered else 487},
        ]  # fmt: skip
        if answered and direction == "inbound":
            legs.append({**legs[0], "direction": "out", "party": agent, "hangup_side": "local"})
        recorded = answered and rng.random() < (0.42 if direction == "inbound" else 0.25)
        recording_id = ulid("r-", started, rng) if recorded else None
        call = {
            "id": call_id,
            "account_id": account_id,
            "from_number": from_number,
            "to_number": to_number,
            "direction": direction,
            "objects": objects,
            "disposition": disposition,
            "hangup_side": rng.choice(("caller", "callee")) if answered else "caller",
            "started_at": started,
            "answered_at": answered_at,
            "ended_at": ended,
            "legs": legs,
            "tags": {"ticket": f"T-{rng.randrange(10**6)}"} if rng.random() < 0.1 else {},
            "ivr_trace": trace,
            "recording": (
                {"recorded": True, "rule": "all-inbound", "recording_id": recording_id}
                if recorded
                else {"recorded": False, "checks": [{"rule": "all-inbound", "matched": False}]}
            ),
        }
        if recording_id is None or answered_at is None:
            return call, None
        state = rng.choices(STATES, STATE_WEIGHTS)[0]
        duration_ms = int(talk * 1000)
        recording = {
            "id": recording_id,
            "account_id": account_id,
            "call_id": call_id,
            "state": state,
            "rule_name": "all-inbound",
            "explanation": [{"rule": "all-inbound", "matched": True, "reasons": ["direction"]}],
            "mode": "mixed",
            "format": "opus",
            "storage_backend": "local",
            "storage_key": f"{account_id}/{started:%Y/%m/%d}/{recording_id}.opus.enc",
            "encrypted": True,
            "key_id": f"k-{account_id}",
            "duration_ms": duration_ms,
            "size_bytes": duration_ms * 3,
            "sha256": secrets.token_hex(32) if state != "failed" else None,
            "peaks": [] if state == "failed" else rng.choice(self.peaks),
            "consent": {"announced": True, "prompt": "recording-notice"},
            "tags": {},
            "caller_number": from_number if direction == "inbound" else to_number,
            "started_at": answered_at,
            "ended_at": ended,
            "expires_at": answered_at + timedelta(days=90),
            "legal_hold": rng.random() < 0.001,
            "error": "encoder failed" if state == "failed" else None,
            "created_at": answered_at,
        }
        return call, recording


# -- loading -------------------------------------------------------------------------------

CALL_COLUMNS = [column.name for column in CallRecord.__table__.columns]
RECORDING_COLUMNS = [column.name for column in Recording.__table__.columns]
JSON_COLUMNS = {"objects", "legs", "tags", "ivr_trace", "recording", "explanation", "peaks",
                "consent"}  # fmt: skip


def _copy_row(row: dict[str, Any], columns: list[str]) -> list[Any]:
    return [json.dumps(row[c]) if c in JSON_COLUMNS else row[c] for c in columns]


def load_postgres(url: str, history: History) -> tuple[int, int]:
    """COPY the generated calls and recordings (two connections, one COPY each)."""
    dsn = sync_url(url).replace("postgresql+psycopg:", "postgresql:")
    calls = recordings = 0
    with psycopg.connect(dsn) as c1, psycopg.connect(dsn) as c2:
        call_sql = f"COPY calls ({', '.join(CALL_COLUMNS)}) FROM STDIN"
        recording_sql = f"COPY recordings ({', '.join(RECORDING_COLUMNS)}) FROM STDIN"
        with c1.cursor().copy(call_sql) as copy1, c2.cursor().copy(recording_sql) as copy2:
            for call, recording in history.rows():
                copy1.write_row(_copy_row(call, CALL_COLUMNS))
                calls += 1
                if recording is not None:
                    copy2.write_row(_copy_row(recording, RECORDING_COLUMNS))
                    recordings += 1
        c1.commit()
        c2.commit()
    return calls, recordings


def load_sqlite(url: str, history: History, batch: int = 5000) -> tuple[int, int]:
    """Insert the generated rows with executemany (SQLAlchemy Core, so types match the app)."""
    engine = create_engine(sync_url(url))
    calls: list[dict[str, Any]] = []
    recordings: list[dict[str, Any]] = []
    counts = [0, 0]

    def flush(conn: Connection) -> None:
        if calls:
            conn.execute(insert(CallRecord), calls)
        if recordings:
            conn.execute(insert(Recording), recordings)
        counts[0] += len(calls)
        counts[1] += len(recordings)
        calls.clear()
        recordings.clear()

    with engine.begin() as conn:
        for call, recording in history.rows():
            calls.append(call)
            if recording is not None:
                recordings.append(recording)
            if len(calls) >= batch:
                flush(conn)
        flush(conn)
    engine.dispose()
    return counts[0], counts[1]


@dataclass
class Seeded:
    """The API tokens of the big account's users, and ids to look up."""

    tokens: dict[str, str] = field(default_factory=dict)
    call_id: str = ""


async def seed_accounts(db: Database, history: History) -> Seeded:
    """Accounts 1..10 with their objects and DIDs; users and tokens in account 1."""
    seeded = Seeded()
    async with db.session() as session:
        accounts = Accounts(session)
        big: Account | None = None
        for index in range(1, 11):
            account = await accounts.create(f"company-{index:02d}", f"Company {index}")
            assert account.id == index, "the benchmark expects account ids 1..10"
            big = big or account
            kinds = [("queue", q) for q in QUEUES] + [("ivr_menu", m) for m in MENUS]
            kinds += [("sip_account", a) for a in AGENTS]
            session.add_all(
                CallObject(account_id=index, kind=kind, login=login) for kind, login in kinds
            )
            session.add_all(Number(account_id=index, e164=did) for did in history.dids(index))
        await session.flush()
        assert big is not None
        password = secrets.token_urlsafe(16)
        people: list[tuple[str, User]] = [
            ("admin", await create_user(session, big, "admin@b.example", password,
                                        "administrator")),
            ("team", await create_user(session, big, "lead@b.example", password, "team_leader",
                                       sip_login="agent01",
                                       data_scope={"kind": "team", "objects": ["sales", "vip"]})),
            ("own", await create_user(session, big, "agent@b.example", password, "consultant",
                                      sip_login="agent05")),
        ]  # fmt: skip
        for name, user in people:
            scopes = ["calls.read", "recordings.list"]
            _, seeded.tokens[name] = await create_token(session, user, "bench", scopes)
        await session.commit()
    return seeded


@contextlib.contextmanager
def exact_totals() -> Iterator[None]:
    """Count every matching row for a list's ``total`` (the API before the capped count)."""
    saved = listing.TOTAL_CAP
    listing.TOTAL_CAP = 10**15
    try:
        yield
    finally:
        listing.TOTAL_CAP = saved


@dataclass(frozen=True)
class Case:
    """One question to the API: who asks, and the path with its query."""

    name: str
    who: str
    path: str
    params: tuple[tuple[str, str], ...] = ()


def cases(now: datetime, call_id: str) -> list[Case]:
    """The measured requests (the big account; admin sees it all)."""
    week = (now - timedelta(days=7)).isoformat()
    return [
        Case("overhead: unknown call id (auth + 1 lookup)", "admin", "/api/v1/calls/c-none"),
        Case("calls, first page (newest first)", "admin", "/api/v1/calls"),
        Case("calls, last 7 days", "admin", "/api/v1/calls", (("from", week),)),
        Case("calls, number fragment 600123", "admin", "/api/v1/calls",
             (("number", FRAGMENT),)),
        Case("calls, call_id filter", "admin", "/api/v1/calls", (("call_id", call_id),)),
        Case("call detail by id", "admin", f"/api/v1/calls/{call_id}"),
        Case("calls, team scope (2 queues)", "team", "/api/v1/calls"),
        Case("calls, own scope (consultant)", "own", "/api/v1/calls"),
        Case("calls, page 50", "admin", "/api/v1/calls", (("page", "50"),)),
        Case("recordings, first page", "admin", "/api/v1/recordings"),
        Case("recordings, state=failed", "admin", "/api/v1/recordings", (("state", "failed"),)),
        Case("recordings, state=ready, page 50", "admin", "/api/v1/recordings",
             (("state", "ready"), ("page", "50"))),
        Case("recordings, number fragment 600123", "admin", "/api/v1/recordings",
             (("number", FRAGMENT),)),
        Case("recordings, team scope", "team", "/api/v1/recordings"),
    ]  # fmt: skip


@dataclass
class Result:
    """Latencies of one case, the rows it found, the scans its SQL used."""

    case: Case
    samples_ms: list[float]
    total: int | None
    scans: str
    plans: str
    sql_ms: float
    """Best of 7 runs of the case's SQL directly on the database (no HTTP, no ORM)."""

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile ``q`` (0..1) in ms."""
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


_PG_SCAN = re.compile(
    r"((?:Parallel )?(?:Seq Scan|Index Scan|Index Only Scan|Bitmap Index Scan|Bitmap Heap Scan)"
    r"(?: Backward)?(?: using \S+)? on \S+)"
)


PLAN_TABLES = ("calls", "recordings", "call_hops")
"""The tables whose scans the summary of a plan names."""


def _summarise_pg(plan: str) -> list[str]:
    found = [m.group(1).replace("Parallel ", "") for m in _PG_SCAN.finditer(plan)]
    tables = tuple(f" on {table}" for table in PLAN_TABLES)
    found = [s for s in found if s.endswith(tables) or "Index Scan" in s]
    return list(dict.fromkeys(s for s in found if "users" not in s and "api_tokens" not in s))


def _summarise_sqlite(plan: str) -> list[str]:
    out = []
    for line in plan.splitlines():
        verb, _, rest = line.partition(" ")
        if verb in ("SCAN", "SEARCH") and rest.partition(" ")[0] in PLAN_TABLES:
            out.append(re.sub(r" \(.*\)$", "", line))
    return list(dict.fromkeys(out))


def explain(url: str, statements: list[tuple[str, Any]]) -> tuple[str, str, float]:
    """EXPLAIN every captured statement: the plans, the scans they use, their best run time."""
    texts, scans, runs = [], [], []
    if url.startswith("postgresql"):
        dsn = sync_url(url).replace("postgresql+psycopg:", "postgresql:")
        with psycopg.connect(dsn) as conn:
            for sql, params in statements:
                rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params).fetchall()
                plan = "\n".join(str(row[0]) for row in rows)
                texts.append(f"{sql}\n{params}\n{plan}")
                scans += _summarise_pg(plan)
            for _ in range(7):
                t0 = time.perf_counter()
                for sql, params in statements:
                    conn.execute(sql, params).fetchall()
                runs.append((time.perf_counter() - t0) * 1000)
    else:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            for sql, params in statements:
                rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
                plan = "\n".join(str(row[3]) for row in rows)
                texts.append(f"{sql}\n{params}\n{plan}")
                scans += _summarise_sqlite(plan)
            for _ in range(7):
                t0 = time.perf_counter()
                for sql, params in statements:
                    conn.execute(sql, params).fetchall()
                runs.append((time.perf_counter() - t0) * 1000)
    return "\n\n".join(texts), "; ".join(dict.fromkeys(scans)), min(runs)


async def measure(
    db: Database, seeded: Seeded, case_list: list[Case], *, samples: int, budget_s: float
) -> list[Result]:
    """Run each case (two warm-ups, then up to ``samples`` or ``budget_s`` seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        app = FastAPI()
        install_api(app, ApiContext(db, LocalStorage(tmp), KeyRing(os.urandom(32))))
        captured: list[tuple[str, Any]] = []
        capturing = [False]

        def capture(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
            if capturing[0] and re.search(r"\bFROM (calls|recordings)\b", sql):
                captured.append((sql, params))

        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        transport = httpx.ASGITransport(app=app)
        results = []
        async with httpx.AsyncClient(transport=transport, base_url="https://bench") as client:
            for case in case_list:
                headers = {"Authorization": f"Bearer {seeded.tokens[case.who]}"}
                params = dict(case.params)
                for _ in range(2):
                    answer = await client.get(case.path, params=params, headers=headers)
                    assert answer.status_code in (200, 404), (case, answer.text)
                captured.clear()
                capturing[0] = True
                await client.get(case.path, params=params, headers=headers)
                capturing[0] = False
                body = answer.json()
                total = body.get("total") if isinstance(body, dict) else None
                times: list[float] = []
                deadline = time.perf_counter() + budget_s
                while len(times) < samples and (len(times) < 5 or time.perf_counter() < deadline):
                    t0 = time.perf_counter()
                    await client.get(case.path, params=params, headers=headers)
                    times.append((time.perf_counter() - t0) * 1000)
                plans, scans, sql_ms = await asyncio.to_thread(explain, db.url, list(captured))
                results.append(Result(case, times, total, scans, plans, sql_ms))
                print(f"  {case.name}: p50 {results[-1].percentile(0.5):.1f} ms, "
                      f"SQL {sql_ms:.1f} ms", flush=True)  # fmt: skip
        event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
    return results


def table(before: list[Result], after: list[Result]) -> str:
    """The Markdown table of one database's results: exact totals, then capped totals."""

    def cells(r: Result) -> str:
        return f"{r.percentile(0.5):.1f} / {r.percentile(0.95):.1f} | {r.sql_ms:.1f}"

    lines = [
        "| case | rows | exact total: p50 / p95 ms | SQL ms | capped total: p50 / p95 ms "
        "| SQL ms | what the SQL uses |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for b, a in zip(before, after, strict=True):
        rows = b.total if b.total is not None else ""
        lines.append(f"| {b.case.name} | {rows} | {cells(b)} | {cells(a)} | {a.scans} |")
    return "\n".join(lines)


def analyze(url: str) -> None:
    """Fresh planner statistics (and a visibility map, for index-only scans on PostgreSQL)."""
    if url.startswith("postgresql"):
        dsn = sync_url(url).replace("postgresql+psycopg:", "postgresql:")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE calls")
            conn.execute("VACUUM ANALYZE recordings")
            if conn.execute("SELECT to_regclass('call_hops')").fetchone() != (None,):
                conn.execute("VACUUM ANALYZE call_hops")  # from migration 0011 on
    else:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("ANALYZE")


def dump_plans(directory: Path | None, label: str, results: list[Result]) -> None:
    """Write each case's full plans to ``directory/label-NN.txt``."""
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for index, result in enumerate(results, 1):
        path = directory / f"{label}-{index:02d}.txt"
        path.write_text(f"{result.case.name}\n\n{result.plans}\n")


async def run(url: str, calls: int, args: argparse.Namespace, label: str) -> str:
    """Migrate to head, load, measure with exact and with capped totals; the Markdown section."""
    now = datetime.now(UTC).replace(microsecond=0)
    db = Database(url)
    try:
        await asyncio.to_thread(command.upgrade, db.alembic_config(), "head")
        history = History(calls, now)
        seeded = await seed_accounts(db, history)
        t0 = time.perf_counter()
        loader = load_postgres if url.startswith("postgresql") else load_sqlite
        n_calls, n_recordings = await asyncio.to_thread(loader, url, history)
        load_s = time.perf_counter() - t0
        print(f"{label}: loaded {n_calls} calls, {n_recordings} recordings in {load_s:.0f} s")
        async with db.session() as session:
            seeded.call_id = str(await session.scalar(
                select(CallRecord.id).where(CallRecord.account_id == 1)
                .order_by(CallRecord.started_at).offset(n_calls // 3).limit(1)
            ))  # fmt: skip
        await asyncio.to_thread(analyze, url)
        case_list = cases(now, seeded.call_id)
        print(f"{label}: before (exact totals)")
        with exact_totals():
            before = await measure(db, seeded, case_list, samples=args.samples,
                                   budget_s=args.budget)  # fmt: skip
        dump_plans(args.plans, f"{label}-before", before)
        print(f"{label}: after (totals counted up to {listing.TOTAL_CAP})")
        after = await measure(db, seeded, case_list, samples=args.samples, budget_s=args.budget)
        dump_plans(args.plans, f"{label}-after", after)
    finally:
        await db.close()
    head = f"**{label}**: {n_calls:,} calls, {n_recordings:,} recordings (load {load_s:.0f} s)"
    return head.replace(",", " ") + "\n\n" + table(before, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pg-calls", type=int, default=1_000_000)
    parser.add_argument("--sqlite-calls", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30, help="timed requests per case")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per case at most")
    parser.add_argument("--plans", type=Path, default=None, help="write the EXPLAIN output here")
    args = parser.parse_args()
    sections = []
    if args.sqlite_calls:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            sections.append(asyncio.run(run(url, args.sqlite_calls, args, "SQLite")))
    if args.pg_calls:
        schema = f"cv_bench_{secrets.token_hex(4)}"
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            url = f"{POSTGRES_DSN}?options=-csearch_path%3D{schema}"
            sections.append(asyncio.run(run(url, args.pg_calls, args, "PostgreSQL")))
        finally:
            with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print()
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
