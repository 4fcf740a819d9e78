"""The registrar writes its bindings through a store (RFC 3261 §10.3) -- a fake one here.

Which REGISTERs write, that a failing or hanging store never fails a REGISTER
(the write is retried), and that refreshing the cache from the store adopts
other nodes' changes without undoing this node's newer ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pytest

from callvault.engine import registrar as registrar_module
from callvault.engine.registrar import Binding, Registrar, SipAccountRef
from callvault.sip.digest import DigestClient
from callvault.sip.message import Headers, Request, Response
from callvault.sip.uri import SipUri

SOURCE = ("127.0.0.1", 40000)
NOW = 1_000_000.0


@dataclass(frozen=True)
class Row:
    account_id: int
    login: str
    contact: str
    source_host: str
    source_port: int
    transport: str
    expires_at: float
    call_id: str
    cseq: int


class FakeStore:
    """The ``registrations`` table as a dict; ``fail``/``hang`` make the next saves misbehave."""

    def __init__(self) -> None:
        self.rows: dict[tuple[int, str, str], Row] = {}
        self.saves: list[tuple[str, list[str], set[str]]] = []
        self.purges: list[float] = []
        self.fail = False
        self.hang = False

    async def save(
        self, account_id: int, login: str, bindings: Sequence[Binding], removed: Collection[str]
    ) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail:
            raise ConnectionError("database is down")
        self.saves.append((login, [str(b.contact) for b in bindings], set(removed)))
        for contact in removed:
            self.rows.pop((account_id, login, contact), None)
        for b in bindings:
            self.put(account_id, login, str(b.contact), b.expires_at, b.cseq)

    def put(self, account_id: int, login: str, contact: str, expires_at: float, cseq: int) -> None:
        self.rows[(account_id, login, contact)] = Row(
            account_id, login, contact, *SOURCE, "udp", expires_at, "c1", cseq
        )

    async def load_live(self, now: float) -> list[Row]:
        return [row for row in self.rows.values() if row.expires_at > now]

    async def purge(self, now: float) -> int:
        self.purges.append(now)
        return 0


async def _lookup(domain: str, login: str) -> SipAccountRef | None:
    return SipAccountRef(account_id=1, domain=domain, login=login, password="s3cret")


def _register(cseq: int, contacts: list[str], expires: str = "300", login: str = "jan") -> Request:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK{cseq}{login}")
    headers.add("From", f"<sip:{login}@acme.test>;tag=1")
    headers.add("To", f"<sip:{login}@acme.test>")
    headers.add("Call-ID", "c1")
    headers.add("CSeq", f"{cseq} REGISTER")
    for contact in contacts:
        headers.add("Contact", contact)
    headers.add("Expires", expires)
    return Request(headers=headers, method="REGISTER", uri=SipUri.parse("sip:acme.test"))


async def _authorized(registrar: Registrar, request: Request) -> Response:
    challenge = await registrar.register(request, SOURCE, "udp")
    assert challenge.status == 401
    login = request.to.uri.user if request.to.uri else ""
    answer = DigestClient(login or "", "s3cret").answer(
        challenge.headers.get_all("WWW-Authenticate"), "REGISTER", str(request.uri)
    )
    request.headers.set("Authorization", answer)
    return await registrar.register(request, SOURCE, "udp")


def _registrar(store: FakeStore) -> Registrar:
    return Registrar(_lookup, clock=lambda: NOW, store=store)


async def test_changes_are_written_through_and_queries_are_not() -> None:
    store = FakeStore()
    registrar = _registrar(store)
    a, b = "<sip:jan@127.0.0.1:5001>", "<sip:jan@127.0.0.1:5002>"
    assert (await _authorized(registrar, _register(1, [a, b]))).status == 200
    assert store.saves == [("jan", ["sip:jan@127.0.0.1:5001", "sip:jan@127.0.0.1:5002"], set())]
    assert (await _authorized(registrar, _register(2, []))).status == 200  # a query: no write
    assert len(store.saves) == 1
    await _authorized(registrar, _register(3, [b], expires="0"))
    assert store.saves[-1] == ("jan", ["sip:jan@127.0.0.1:5001"], {"sip:jan@127.0.0.1:5002"})
    await _authorized(registrar, _register(4, ["*"], expires="0"))
    assert store.saves[-1] == ("jan", [], {"sip:jan@127.0.0.1:5001"})
    assert store.rows == {}
    assert (await _authorized(registrar, _register(2, [a], login="anna"))).status == 200
    assert [login for login, _, _ in store.saves] == ["jan"] * 3 + ["anna"]


async def test_a_failing_store_never_fails_the_register_and_the_write_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FakeStore()
    store.fail = True
    registrar = _registrar(store)
    with caplog.at_level(logging.WARNING, "callvault.registrar"):
        ok = await _authorized(registrar, _register(1, ["<sip:jan@127.0.0.1:5001>"]))
    assert ok.status == 200 and len(registrar.lookup(1, "jan")) == 1
    assert "saving the bindings of jan (account 1) failed: database is down" in caplog.text
    store.fail = False
    await registrar.stop()  # retries what is pending (so does the maintenance task)
    assert list(store.rows) == [(1, "jan", "sip:jan@127.0.0.1:5001")]


async def test_a_hanging_store_is_abandoned_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(registrar_module, "SAVE_TIMEOUT_S", 0.05)
    store = FakeStore()
    store.hang = True
    registrar = _registrar(store)
    with caplog.at_level(logging.WARNING, "callvault.registrar"):
        ok = await _authorized(registrar, _register(1, ["<sip:jan@127.0.0.1:5001>"]))
    assert ok.status == 200
    assert "saving the bindings of jan (account 1) failed: TimeoutError" in caplog.text
    store.hang = False
    await registrar.stop()
    assert list(store.rows) == [(1, "jan", "sip:jan@127.0.0.1:5001")]


async def test_refresh_adopts_other_nodes_changes_but_keeps_newer_local_ones() -> None:
    store = FakeStore()
    registrar = _registrar(store)
    await _authorized(registrar, _register(1, ["<sip:jan@127.0.0.1:5001>"]))
    store.put(1, "anna", "sip:anna@127.0.0.1:6001", NOW + 300, 1)  # registered on another node
    store.put(1, "old", "sip:old@127.0.0.1:6002", NOW - 1, 1)  # expired
    assert await registrar.restore() == 2
    assert [b.contact.port for b in registrar.lookup(1, "anna")] == [6001]
    assert registrar.lookup(1, "old") == []
    store.rows.pop((1, "anna", "sip:anna@127.0.0.1:6001"))  # unregistered over there
    await registrar.restore()
    assert registrar.lookup(1, "anna") == []
    assert [b.contact.port for b in registrar.lookup(1, "jan")] == [5001]

    # a REGISTER landing while the store is read wins over the (older) snapshot
    reading = asyncio.Event()
    release = asyncio.Event()
    load_live = store.load_live

    async def slow_load(now: float) -> list[Row]:
        rows = await load_live(now)
        reading.set()
        await release.wait()
        return rows

    store.load_live = slow_load  # type: ignore[method-assign]
    refresh = asyncio.create_task(registrar.restore())
    await reading.wait()
    await _authorized(registrar, _register(2, ["<sip:jan@127.0.0.1:5009>"]))
    release.set()
    await refresh
    assert {b.contact.port for b in registrar.lookup(1, "jan")} == {5001, 5009}


async def test_the_maintenance_task_purges_and_stops() -> None:
    store = FakeStore()
    registrar = _registrar(store)
    await registrar.start(refresh_s=None, purge_s=0.01)
    for _ in range(100):
        if store.purges:
            break
        await asyncio.sleep(0.01)
    await registrar.stop()
    assert store.purges and store.purges[0] == NOW
    count = len(store.purges)
    await asyncio.sleep(0.05)
    assert len(store.purges) == count, "stopped"
