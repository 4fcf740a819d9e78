"""The registrar (RFC 3261 §10.3): phones of SIP accounts bind their contacts.

An address-of-record is ``sip:<login>@<account sip_domain>``: the domain
names the account, the login its SIP-account object, whose ``password``
setting the digest check uses (realm = the domain).  Bindings live in
memory, several per login, each with its expiry and the address the
REGISTER came from -- calls go there, which keeps phones behind NAT reachable
(the flow-token idea of RFC 5626, without the extensions).

Persistence.  The in-memory dict is the cache every INVITE reads
(:meth:`Registrar.lookup` never touches the database).  With a
:class:`BindingStore` (``callvault.store.registrations``, the ``registrations``
table) every REGISTER that changed a login's bindings is written through
before the 2xx goes out -- a failed or slow write is logged with the login
and retried later, never failing the REGISTER -- and :meth:`Registrar.start`
loads the live bindings back, so a restarted node reaches its phones without
waiting for them to re-register.  A background task deletes expired rows
(every 60 s), retries failed writes and, every 30 s, refreshes the cache from
the table.  Bindings over TCP point at the phone's connection, which a
restart closes: those phones are reachable again once they reconnect.

Several nodes on one database: each writes only the contacts its REGISTERs
touched, so they do not erase each other's phones, and each sees the others'
phones at start and after the next refresh (up to 30 s late; a login found
nowhere in memory is not looked up in the database).  A fully shared
registrar -- every lookup consistent across nodes -- is future work.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from callvault.engine.auth import AuthDecision, InboundAuth
from callvault.sip.digest import DigestCredentials, DigestError
from callvault.sip.errors import SipParseError
from callvault.sip.headers import NameAddress
from callvault.sip.message import Request, Response, build_response
from callvault.sip.uri import SipUri, is_digits
from callvault.transport.sip_transport import Address

log = logging.getLogger("callvault.registrar")

DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 7200
SAVE_TIMEOUT_S = 5.0
"""A write-through slower than this is abandoned (and retried by the maintenance task)."""
REFRESH_S = 30.0
PURGE_S = 60.0


@dataclass(frozen=True)
class SipAccountRef:
    """What the registrar needs to know of a SIP account."""

    account_id: int
    domain: str
    login: str
    password: str


@dataclass
class Binding:
    """One registered contact of a login."""

    contact: SipUri
    expires_at: float
    source: Address
    transport: str
    call_id: str
    cseq: int

    def expires_in(self, now: float) -> int:
        """Seconds left."""
        return max(0, int(self.expires_at - now))

    def route(self) -> tuple[Address, str]:
        """Where to send requests for this contact.

        Over TCP: back through the phone's own connection.  Over UDP: the
        Contact's address, unless it is a private address other than the one
        the REGISTER came from -- a phone behind NAT -- then the source.
        """
        if self.transport != "udp":
            return self.source, self.transport
        host = self.contact.host_no_brackets
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return (host, self.contact.port or 5060), "udp"
        behind_nat = address.is_private and not address.is_loopback and host != self.source[0]
        if behind_nat:
            return self.source, "udp"
        return (host, self.contact.port or 5060), "udp"


CredentialLookup = Callable[[str, str], Awaitable[SipAccountRef | None]]
Key = tuple[int, str]
"""(account id, login): one address-of-record."""


class StoredBinding(Protocol):
    """A binding as the store gives it back (plain values; times in epoch seconds)."""

    @property
    def account_id(self) -> int: ...
    @property
    def login(self) -> str: ...
    @property
    def contact(self) -> str: ...
    @property
    def source_host(self) -> str: ...
    @property
    def source_port(self) -> int: ...
    @property
    def transport(self) -> str: ...
    @property
    def expires_at(self) -> float: ...
    @property
    def call_id(self) -> str: ...
    @property
    def cseq(self) -> int: ...


class BindingStore(Protocol):
    """Where the registrar keeps its bindings across restarts (``store.registrations``)."""

    async def save(
        self, account_id: int, login: str, bindings: Sequence[Binding], removed: Collection[str]
    ) -> None:
        """Upsert ``bindings`` (keyed by contact text); delete the ``removed`` contacts."""

    async def load_live(self, now: float) -> Sequence[StoredBinding]:
        """Every binding not expired at ``now``."""

    async def purge(self, now: float) -> int:
        """Delete the bindings expired at ``now``; how many."""


class Registrar:
    """Processes REGISTER requests and answers "where is login X?"."""

    def __init__(
        self,
        lookup: CredentialLookup,
        *,
        algorithms: tuple[str, ...] = ("MD5",),
        clock: Callable[[], float] = time.time,
        on_auth_failure: Callable[[str], None] | None = None,
        store: BindingStore | None = None,
    ) -> None:
        self._lookup = lookup
        self._store = store
        self._algorithms = algorithms
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._auth: dict[str, InboundAuth] = {}
        self._bindings: dict[Key, dict[str, Binding]] = {}
        self.on_auth_failure = on_auth_failure
        # write-through bookkeeping (only with a store):
        self._pending: dict[Key, set[str]] = {}
        """Logins changed in memory and not saved yet -> contacts removed meanwhile."""
        self._saving: set[Key] = set()
        self._touched: dict[Key, int] = {}
        """Local change counter per login: a refresh keeps what changed after it began."""
        self._version = 0
        self._save_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def _auth_for(self, domain: str, password: str) -> InboundAuth:
        auth = self._auth.get(domain)
        if auth is None:
            auth = InboundAuth(domain, lambda _: None, algorithms=self._algorithms,
                               clock=self._clock, secret_key=self._secret)  # fmt: skip
            self._auth[domain] = auth
        auth.password_lookup = lambda _user: password
        return auth

    def challenge_for(self, domain: str) -> list[tuple[str, str]]:
        """WWW-Authenticate headers for ``domain`` (used for unknown users too)."""
        return self._auth_for(domain, "")._challenge("").headers

    async def register(
        self, request: Request, source: Address, transport: str, local: Address | None = None
    ) -> Response:
        """Answer one REGISTER (§10.3 steps 1-8)."""
        to_uri = request.to.uri
        if to_uri is None or to_uri.user is None:
            return build_response(request, 400, "To must name a login", to_tag=_tag())
        domain, login = to_uri.host, to_uri.user
        ref = await self._lookup(domain, login)
        if ref is None:
            # answer as for a wrong password: no hint which logins exist
            if request.headers.get("Authorization") is None:
                return self._reply(request, 401, headers=self.challenge_for(domain))
            self._failed(source, f"unknown login {login}@{domain}")
            return self._reply(request, 403, reason="Forbidden")
        decision = self._auth_for(domain, ref.password).check(request, local)
        if not decision.ok:
            if decision.status == 403:
                self._failed(source, f"wrong password for {login}@{domain}")
            # the wire says only "Forbidden"/"Bad Request"; the log has the detail
            log.info("REGISTER %s@%s: %s", login, domain, decision.reason)
            return self._reply(request, decision.status, headers=decision.headers)
        if decision.username != login:
            self._failed(source, f"{decision.username} may not register {login}")
            return self._reply(request, 403, reason="Forbidden")
        response = self._update(request, ref, source, transport)
        key = (ref.account_id, ref.login)
        if key in self._pending:
            await self._flush(key)
        return response

    async def authenticate(
        self, request: Request, source: Address, local: Address | None = None
    ) -> AuthDecision:
        """Digest check of a phone's request other than REGISTER (an INVITE, §22.2).

        The realm is the From domain (the account); the credentials must be
        those of one of its SIP accounts.  Failures count towards the
        source's ban exactly as failed registrations do.
        """
        from_uri = request.from_.uri
        domain = from_uri.host if from_uri is not None else ""
        header = request.headers.get("Authorization")
        if header is None:
            return AuthDecision(None, 401, "credentials required", self.challenge_for(domain))
        try:
            username = DigestCredentials.parse(header).username
        except DigestError as exc:
            return AuthDecision(None, 400, f"bad credentials: {exc}")
        ref = await self._lookup(domain, username)
        if ref is None:
            self._failed(source, f"unknown login {username}@{domain}", request.method)
            return AuthDecision(None, 403, "Forbidden")
        decision = self._auth_for(domain, ref.password).check(request, local)
        if decision.status == 403:
            self._failed(source, f"wrong password for {username}@{domain}", request.method)
        return decision

    def _failed(self, source: Address, why: str, method: str = "REGISTER") -> None:
        log.warning("%s from %s:%d refused: %s", method, source[0], source[1], why)
        if self.on_auth_failure is not None:
            self.on_auth_failure(source[0])

    def _reply(
        self,
        request: Request,
        status: int,
        *,
        headers: list[tuple[str, str]] | None = None,
        reason: str | None = None,
    ) -> Response:
        return build_response(request, status, None if status == 401 else reason,
                              to_tag=_tag(), extra=headers or [])  # fmt: skip

    def _update(
        self, request: Request, ref: SipAccountRef, source: Address, transport: str
    ) -> Response:
        now = self._clock()
        key = (ref.account_id, ref.login)
        bindings = self._bindings.setdefault(key, {})
        header_expires = request.headers.get("Expires")
        default = (
            int(header_expires) if header_expires and is_digits(header_expires) else DEFAULT_EXPIRES
        )
        contacts = request.contacts
        cseq = request.cseq.seq
        if any(c.uri is None for c in contacts):
            if len(contacts) != 1 or default != 0:
                return self._reply(request, 400, reason="'Contact: *' needs Expires: 0 alone")
            self._changed(key, bindings)
            bindings.clear()
        for contact in contacts:
            if contact.uri is None:
                continue
            expires = contact.expires if contact.expires is not None else default
            if 0 < expires < MIN_EXPIRES:
                return self._reply(request, 423, headers=[("Min-Expires", str(MIN_EXPIRES))])
            text = str(contact.uri)
            existing = bindings.get(text)
            if existing and existing.call_id == request.call_id and cseq <= existing.cseq:
                return self._reply(request, 500, reason="CSeq out of order")
            if expires == 0:
                bindings.pop(text, None)
                self._changed(key, [text])  # also when another node registered it
                continue
            bindings[text] = Binding(
                contact=contact.uri,
                expires_at=now + min(expires, MAX_EXPIRES),
                source=source,
                transport=transport,
                call_id=request.call_id,
                cseq=cseq,
            )
            self._changed(key)
        self._purge(key, now)
        current = self._bindings.get(key, {})
        log.info("%s@%s registered %d contact(s)", ref.login, ref.domain, len(current))
        extra = [
            ("Contact", str(NameAddress(uri=b.contact, params={"expires": str(b.expires_in(now))})))
            for b in current.values()
        ]
        extra.append(("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))))
        return self._reply(request, 200, headers=extra)

    def _purge(self, key: Key, now: float) -> None:
        bindings = self._bindings.get(key)
        if bindings is None:
            return
        for text in [t for t, b in bindings.items() if b.expires_at <= now]:
            del bindings[text]
        if not bindings:
            del self._bindings[key]

    def lookup(self, account_id: int, login: str) -> list[Binding]:
        """The live bindings of a login (expired ones are dropped)."""
        key = (account_id, login)
        self._purge(key, self._clock())
        return list(self._bindings.get(key, {}).values())

    def binding_count(self, now: float | None = None) -> int:
        """How many live contact bindings the registrar holds (for monitoring)."""
        moment = self._clock() if now is None else now
        return sum(b.expires_at > moment for bs in self._bindings.values() for b in bs.values())

    def registered_sources(self) -> set[str]:
        """Addresses of every phone with a live binding (exempt from rate limits)."""
        return {b.source[0] for bs in self._bindings.values() for b in bs.values()}

    # -- persistence (a BindingStore: write-through, load at start) ------------
    def _changed(self, key: Key, removed: Iterable[str] = ()) -> None:
        """Note that ``key``'s bindings changed in memory (``removed``: contacts dropped)."""
        if self._store is None:
            return
        self._pending.setdefault(key, set()).update(removed)
        self._touch(key)

    def _touch(self, key: Key) -> None:
        self._version += 1
        self._touched[key] = self._version

    async def _flush(self, key: Key) -> None:
        """Write ``key``'s bindings through; a failure is logged and retried later."""
        try:
            await asyncio.wait_for(self._save(key), SAVE_TIMEOUT_S)
        except Exception as exc:  # the REGISTER is answered all the same
            account_id, login = key
            log.warning("saving the bindings of %s (account %d) failed: %s",
                        login, account_id, str(exc) or type(exc).__name__)  # fmt: skip

    async def _save(self, key: Key) -> None:
        assert self._store is not None
        async with self._save_lock:  # one write at a time: the last one has the latest state
            removed = self._pending.pop(key, None)
            if removed is None:
                return  # written meanwhile
            current = dict(self._bindings.get(key, {}))
            self._saving.add(key)
            saved = False
            try:
                await self._store.save(key[0], key[1], list(current.values()),
                                       removed - current.keys())  # fmt: skip
                saved = True
            finally:
                self._saving.discard(key)
                self._touch(key)
                if not saved:
                    self._pending.setdefault(key, set()).update(removed)

    async def restore(self) -> int:
        """Load the store's live bindings into memory (a starting node); how many.

        Also the periodic refresh: a login whose bindings changed here since
        the read began, or that has a write pending, keeps its memory.
        """
        if self._store is None:
            return 0
        stamp = self._version
        rows = await self._store.load_live(self._clock())
        fresh: dict[Key, dict[str, Binding]] = {}
        for row in rows:
            try:
                contact = SipUri.parse(row.contact)
            except SipParseError as exc:
                log.warning("stored contact of %s unreadable: %s", row.login, exc)
                continue
            fresh.setdefault((row.account_id, row.login), {})[row.contact] = Binding(
                contact=contact,
                expires_at=row.expires_at,
                source=(row.source_host, row.source_port),
                transport=row.transport,
                call_id=row.call_id,
                cseq=row.cseq,
            )
        for key in fresh.keys() | self._bindings.keys():
            if self._touched.get(key, 0) > stamp or key in self._pending or key in self._saving:
                continue
            if key in fresh:
                self._bindings[key] = fresh[key]
            else:
                self._bindings.pop(key, None)
        self._touched = {k: v for k, v in self._touched.items() if v > stamp}
        return sum(len(b) for b in fresh.values())

    async def start(self, *, refresh_s: float | None = REFRESH_S, purge_s: float = PURGE_S) -> None:
        """Load the live bindings, then maintain the store in the background (with a store)."""
        if self._store is None or self._task is not None:
            return
        try:
            log.info("restored %d registered contact(s)", await self.restore())
        except Exception as exc:
            log.warning("cannot load the stored registrations: %s", exc)
        self._task = asyncio.create_task(self._maintain(refresh_s, purge_s))

    async def stop(self) -> None:
        """End the background task; one last try at writes still pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for key in list(self._pending):
            await self._flush(key)

    async def _maintain(self, refresh_s: float | None, purge_s: float) -> None:
        """Retry failed writes, refresh the cache (``refresh_s``), purge expired rows."""
        assert self._store is not None
        step = min(refresh_s or purge_s, purge_s)
        last_purge = time.monotonic()
        while True:
            await asyncio.sleep(step)
            for key in list(self._pending):
                await self._flush(key)
            try:
                if refresh_s:
                    await self.restore()
                if time.monotonic() - last_purge >= purge_s - 0.001:
                    last_purge = time.monotonic()
                    now = self._clock()
                    for key in list(self._bindings):
                        self._purge(key, now)
                    removed = await self._store.purge(now)
                    if removed:
                        log.info("purged %d expired registration(s)", removed)
            except Exception as exc:
                log.warning("registrations maintenance failed: %s", exc)


def _tag() -> str:
    return secrets.token_hex(6)
