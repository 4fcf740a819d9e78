"""A real node's HTTP app over a migrated SQLite or PostgreSQL database, with real recordings.

:func:`world` builds the node exactly as ``callvault serve`` does
(:func:`callvault.node.build_node`, :func:`callvault.web.app.create_app`;
nothing is started, no port is bound) with its local recording storage in
``tmp_path``, and seeds two accounts:

* ``acme``: calls and recordings of the ``sales`` queue answered by jan
  (``own`` for jan) and by ewa (``team``), one of the ``support`` queue
  answered by adam (``other``), and an outbound call placed from jan's phone;
* ``beta``: a recording whose call has the very same object logins as acme's
  ``own`` one (``foreign``), to prove that the account, not the login, decides.

Each recording is a WAV encrypted with :func:`encrypt_file` under its
account's data key (an :class:`AccountKey` row wrapped by the node's
:class:`KeyRing`), stored through the node's storage; its clear bytes are
kept in memory only, to compare with what the API streams.  Users: jan
(consultant, own), lena (team leader of ``sales``), admin (administrator),
audit (auditor) in acme, and admin in beta.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from callvault.config import Settings
from callvault.node import Node, build_node
from callvault.recording.crypto import DataKey, encrypt_file
from callvault.store.db import Database
from callvault.store.models import Account, AccountKey, CallRecord, Recording
from callvault.store.repository import Accounts
from callvault.web.app import create_app
from callvault.web.identity import create_user
from callvault.web.security import CSRF_HEADER
from tests.store.conftest import database_url

__all__ = ["database_url"]

PASSWORD = "correct horse battery"
BASE_URL = "https://testserver"
STARTED = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

USERS = {
    "consultant": ("acme", "jan@acme.example", "consultant", "jan", None),
    "team_leader": ("acme", "lena@acme.example", "team_leader", "lena", ["sales"]),
    "administrator": ("acme", "admin@acme.example", "administrator", None, None),
    "auditor": ("acme", "audit@acme.example", "auditor", None, None),
    "beta_admin": ("beta", "admin@beta.example", "administrator", None, None),
}
"""name: (account, e-mail, role, SIP login, team objects)."""

CALLS = {
    # name: (account, objects, caller number, minutes after STARTED, duration s)
    "own": ("acme", [("queue", "sales"), ("sip_account", "jan")], "48600100001", 0, 95),
    "team": ("acme", [("queue", "sales"), ("sip_account", "ewa")], "48600100002", 10, 40),
    "other": ("acme", [("queue", "support"), ("sip_account", "adam")], "48600100003", 20, 300),
    "foreign": ("beta", [("queue", "sales"), ("sip_account", "jan")], "48600100004", 30, 60),
}


def wav_bytes(seconds: float, seed: int) -> bytes:
    """A mono 8 kHz 16-bit WAV of pseudo-random samples (distinct per seed)."""
    frames = bytes((i * 7 + seed * 31 + (i >> 8)) % 251 for i in range(int(seconds * 16000)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)
    return out.getvalue()


@dataclass
class World:
    """The node, its app, the seeded ids, and the clear audio of each recording."""

    node: Node
    app: FastAPI
    tmp: Path
    accounts: dict[str, Account] = field(default_factory=dict)
    keys: dict[str, DataKey] = field(default_factory=dict)
    recordings: dict[str, str] = field(default_factory=dict)
    """Seed name (own, team, other, foreign) to recording id."""
    calls: dict[str, str] = field(default_factory=dict)
    clear: dict[str, bytes] = field(default_factory=dict)
    """Recording id to its clear bytes."""
    stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    @property
    def db(self) -> Database:
        return self.node.db

    async def client(self) -> httpx.AsyncClient:
        """A fresh HTTP client of the app (own cookie jar)."""
        transport = httpx.ASGITransport(app=self.app)
        client = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
        return await self.stack.enter_async_context(client)

    async def signed_in(self, who: str, password: str = PASSWORD) -> httpx.AsyncClient:
        """A client signed in as seeded user ``who``, sending its CSRF token."""
        account, email, *_ = USERS[who]
        client = await self.client()
        answer = await client.post(
            "/api/v1/auth/login", json={"account": account, "email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        client.headers[CSRF_HEADER] = answer.json()["csrf_token"]
        return client

    async def signed_in_new_user(
        self, email: str, role: str, data_scope: dict[str, Any] | None = None
    ) -> httpx.AsyncClient:
        """Create a user in acme (password :data:`PASSWORD`) and sign them in, with CSRF."""
        async with self.db.session() as session:
            await create_user(
                session, self.accounts["acme"], email, PASSWORD, role, data_scope=data_scope
            )
            await session.commit()
        client = await self.client()
        answer = await client.post(
            "/api/v1/auth/login", json={"account": "acme", "email": email, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        client.headers[CSRF_HEADER] = answer.json()["csrf_token"]
        return client

    async def add_recording(self, name: str, account: str, **values: Any) -> str:
        """Encrypt a fresh WAV, store it, insert its row; the recording id."""
        recording_id = f"r-{name}"
        clear = wav_bytes(1.5, len(self.clear) + 1)
        plain = self.tmp / f"{recording_id}.wav"
        sealed = self.tmp / f"{recording_id}.wav.enc"
        plain.write_bytes(clear)
        encrypt_file(plain, sealed, self.keys[account], chunk_size=4096)
        plain.unlink()
        account_id = self.accounts[account].id
        key = f"{account_id}/2026/11/25/{recording_id}.wav.enc"
        await self.node.recordings.outbox.storage.put_file(key, sealed)
        sealed.unlink()
        self.clear[recording_id] = clear
        row = {
            "id": recording_id,
            "account_id": account_id,
            "call_id": f"c-{name}",
            "state": "ready",
            "rule_name": "all-inbound",
            "format": "wav",
            "mode": "mixed",
            "storage_key": key,
            "encrypted": True,
            "key_id": self.keys[account].key_id,
            "duration_ms": 1500,
            "size_bytes": len(clear),
            "peaks": [0.1, 0.5, 0.2],
            "explanation": [{"rule": "all-inbound", "matched": True, "reasons": []}],
            "consent": {"announced": True, "prompt": "recording-notice"},
            "caller_number": "",
            "started_at": STARTED,
        }
        async with self.db.session() as session:
            session.add(Recording(**{**row, **values}))
            await session.commit()
        return recording_id


async def _seed(world: World) -> None:
    async with world.db.session() as session:
        accounts = Accounts(session)
        for slug in ("acme", "beta"):
            account = await accounts.create(slug, slug.upper(), plan={"addons": ["recording"]})
            world.accounts[slug] = account
            plain, wrapped = world.node.recordings.keyring.new_data_key()
            session.add(AccountKey(account_id=account.id, key_id=f"k-{slug}", wrapped_key=wrapped))
            world.keys[slug] = DataKey(f"k-{slug}", plain)
        for account_slug, email, role, sip_login, objects in USERS.values():
            scope = {"kind": "team", "objects": objects} if objects else None
            await create_user(
                session,
                world.accounts[account_slug],
                email,
                PASSWORD,
                role,
                sip_login=sip_login,
                data_scope=scope,
            )
        for name, (slug, hops, caller, minute, seconds) in CALLS.items():
            started = STARTED + timedelta(minutes=minute)
            session.add(
                CallRecord(
                    id=f"c-{name}",
                    account_id=world.accounts[slug].id,
                    from_number=caller,
                    to_number="48221234567",
                    direction="inbound",
                    objects=[{"kind": kind, "login": login} for kind, login in hops],
                    disposition="answered",
                    started_at=started,
                    answered_at=started,
                    ended_at=started + timedelta(seconds=seconds),
                    ivr_trace=[{"kind": "request", "event": "start"}],
                    recording={"recorded": True, "recording_id": f"r-{name}"},
                )
            )
            world.calls[name] = f"c-{name}"
        started = STARTED + timedelta(minutes=40)
        session.add(
            CallRecord(
                id="c-outbound",
                account_id=world.accounts["acme"].id,
                from_number="jan",
                to_number="48500600700",
                direction="outbound",
                objects=[{"kind": "trunk", "login": "main"}],
                disposition="answered",
                started_at=started,
                answered_at=started,
                ended_at=started + timedelta(seconds=12),
            )
        )
        await session.commit()
    for name, (slug, _hops, caller, minute, _seconds) in CALLS.items():
        started = STARTED + timedelta(minutes=minute)
        world.recordings[name] = await world.add_recording(
            name, slug, caller_number=caller, started_at=started
        )


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        master_key=base64.b64encode(os.urandom(32)).decode(),
    )
    node = build_node(settings)
    await asyncio.to_thread(node.db.migrate)
    world = World(node, create_app(node.engine, node.db, node.recordings), tmp_path)
    await _seed(world)
    try:
        async with world.stack:
            yield world
    finally:
        await node.db.close()
