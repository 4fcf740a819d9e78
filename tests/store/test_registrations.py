"""The registrar's bindings in the database (RFC 3261 §10.3), on SQLite and PostgreSQL.

The store round-trip (upsert, live-only load, unregister, purge), and a
registrar that restarts: a new one loads what the old one wrote through.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, select

from callvault.engine.registrar import Registrar, SipAccountRef
from callvault.sip.digest import DigestClient
from callvault.sip.message import Headers, Request, Response
from callvault.sip.uri import SipUri
from callvault.store.db import Database
from callvault.store.models import Account
from callvault.store.registrations import Registration, RegistrationStore
from callvault.store.repository import Accounts

NOW = 1_800_000_000.0


@dataclass
class _Binding:
    contact: SipUri
    expires_at: float
    source: tuple[str, int]
    transport: str
    call_id: str
    cseq: int


async def _account(db: Database) -> int:
    async with db.session() as session:
        account = await Accounts(session).create("acme", "ACME", sip_domain="acme.test")
        await session.commit()
        return account.id


def _binding(port: int, expires_in: float, cseq: int = 1, transport: str = "udp") -> _Binding:
    return _Binding(
        SipUri.parse(f"sip:jan@192.168.1.20:{port}"),
        NOW + expires_in,
        ("198.51.100.7", 40000 + port % 1000),
        transport,
        f"call-{port}@phone",
        cseq,
    )


async def _rows(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Registration)) or 0)


async def test_save_upserts_loads_live_bindings_and_unregisters(db: Database) -> None:
    account_id = await _account(db)
    store = RegistrationStore(db)
    await store.save(account_id, "jan", [_binding(5060, 300), _binding(5062, 30, transport="tcp")])
    await store.save(account_id, "jan", [_binding(5060, 600, cseq=7)])  # a refresh: upsert
    assert await _rows(db) == 2
    loaded = {b.contact: b for b in await store.load_live(NOW)}
    assert set(loaded) == {"sip:jan@192.168.1.20:5060", "sip:jan@192.168.1.20:5062"}
    first = loaded["sip:jan@192.168.1.20:5060"]
    assert (first.account_id, first.login, first.source_host, first.source_port) == (
        account_id, "jan", "198.51.100.7", 40060,
    )  # fmt: skip
    assert (first.transport, first.call_id, first.cseq) == ("udp", "call-5060@phone", 7)
    assert first.expires_at == pytest.approx(NOW + 600, abs=1e-3)
    assert loaded["sip:jan@192.168.1.20:5062"].transport == "tcp"
    # 60 s later the 30 s binding is no longer live, and the purge deletes it
    assert [b.contact for b in await store.load_live(NOW + 60)] == ["sip:jan@192.168.1.20:5060"]
    assert await store.purge(NOW + 60) == 1
    assert await _rows(db) == 1
    # contacts a save does not name are kept (another node may have registered them)
    await store.save(account_id, "jan", [_binding(5064, 300)])
    assert await _rows(db) == 2
    await store.save(account_id, "jan", [], removed=["sip:jan@192.168.1.20:5060"])
    assert [b.contact for b in await store.load_live(NOW)] == ["sip:jan@192.168.1.20:5064"]
    async with db.session() as session:  # an account's deletion takes its bindings along
        await session.execute(delete(Account).where(Account.id == account_id))
        await session.commit()
    assert await _rows(db) == 0


def _register(cseq: int, contact: str, expires: str = "300") -> Request:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP 198.51.100.7:40000;branch=z9hG4bK{cseq}")
    headers.add("From", "<sip:jan@acme.test>;tag=1")
    headers.add("To", "<sip:jan@acme.test>")
    headers.add("Call-ID", "reg-1@phone")
    headers.add("CSeq", f"{cseq} REGISTER")
    headers.add("Contact", contact)
    headers.add("Expires", expires)
    return Request(headers=headers, method="REGISTER", uri=SipUri.parse("sip:acme.test"))


async def _authorized(registrar: Registrar, request: Request) -> Response:
    source = ("198.51.100.7", 40000)
    challenge = await registrar.register(request, source, "udp")
    assert challenge.status == 401
    answer = DigestClient("jan", "s3cret").answer(
        challenge.headers.get_all("WWW-Authenticate"), "REGISTER", str(request.uri)
    )
    request.headers.set("Authorization", answer)
    return await registrar.register(request, source, "udp")


async def test_a_new_registrar_finds_the_bindings_the_old_one_wrote(db: Database) -> None:
    account_id = await _account(db)

    async def lookup(domain: str, login: str) -> SipAccountRef | None:
        return SipAccountRef(account_id, domain, login, "s3cret") if login == "jan" else None

    def restarted() -> Registrar:
        return Registrar(lookup, store=RegistrationStore(db))

    before = restarted()
    ok = await _authorized(before, _register(1, "<sip:jan@192.168.1.20:5060>"))
    assert ok.status == 200
    after = restarted()
    assert after.lookup(account_id, "jan") == [], "memory only until started"
    await after.start(refresh_s=None)
    try:
        [binding] = after.lookup(account_id, "jan")
        assert binding.route() == (("198.51.100.7", 40000), "udp"), "NAT: via the source"
        assert binding.cseq == 1 and binding.call_id == "reg-1@phone"
        # the CSeq check survives the restart: a replayed REGISTER is refused
        stale = await _authorized(after, _register(1, "<sip:jan@192.168.1.20:5060>"))
        assert stale.status == 500
        gone = await _authorized(after, _register(2, "<sip:jan@192.168.1.20:5060>", "0"))
        assert gone.status == 200 and after.lookup(account_id, "jan") == []
    finally:
        await after.stop()
    again = restarted()
    assert await again.restore() == 0
    assert again.lookup(account_id, "jan") == []
    assert await _rows(db) == 0
