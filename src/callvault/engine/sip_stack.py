"""The asyncio shell around the sans-I/O SIP core: transports, timers, dispatch.

Bytes from :class:`~callvault.transport.sip_transport.SipTransports` are
parsed, stamped with ``received``/``rport`` (RFC 3581 §4), fed to the
:class:`~callvault.sip.transaction.TransactionLayer`, and its events are
handed to the :class:`SipHandler` (the engine).  One loop timer follows the
layer's next deadline.  A malformed request gets ``400`` where enough of it
survived to route a response, and is dropped otherwise; nothing a peer sends
can stop the loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from callvault.engine.guard import SourceGuard
from callvault.sip.dialog import new_branch
from callvault.sip.errors import SipParseError
from callvault.sip.headers import Via
from callvault.sip.message import Request, Response, build_error_from_raw, parse_message
from callvault.sip.transaction import (
    AckReceived,
    ClientTransaction,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TransactionEvent,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimeout,
    stamp_received,
)
from callvault.transport.sip_transport import Address, SipTransports

log = logging.getLogger("callvault.sip")

WireHook = Callable[[str, Request | Response, Address, str], None]


class SipHandler(Protocol):
    """What the engine implements to receive SIP traffic."""

    def on_request(self, event: RequestReceived) -> None:
        """A new request (not a retransmission) with its server transaction."""

    def on_ack(self, event: AckReceived) -> None:
        """An ACK for a 2xx (matches a dialog, not a transaction)."""

    def on_late_response(self, response: Response) -> None:
        """A response no pending request waits for (2xx retransmission)."""

    def on_server_timeout(self, transaction: ServerTransaction) -> None:
        """A server transaction gave up waiting for an ACK."""


@dataclass
class PendingRequest:
    """A request we sent, awaiting its final response."""

    transaction: ClientTransaction
    final: asyncio.Future[Response]
    on_provisional: Callable[[Response], None] | None = None
    extra_finals: list[Response] = field(default_factory=list)


class SipStack:
    """Runs the SIP transaction layer over real sockets."""

    def __init__(
        self,
        handler: SipHandler,
        *,
        user_agent: str = "callvault",
        guard: SourceGuard | None = None,
    ) -> None:
        self.handler = handler
        self.guard = guard
        self.user_agent = user_agent
        self.layer = TransactionLayer()
        self.transports = SipTransports(self._on_bytes)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._pending: dict[int, PendingRequest] = {}
        self._local_for: dict[str, str] = {}
        self.listen: Address = ("0.0.0.0", 0)
        self.public_address: str | None = None
        self.wire_hooks: list[WireHook] = []
        self.parse_errors = 0

    async def start(self, host: str, port: int) -> Address:
        """Bind UDP and TCP; return the bound address."""
        self.listen = await self.transports.start(host, port)
        return self.listen

    async def close(self) -> None:
        """Stop timers and close sockets."""
        if self._timer is not None:
            self._timer.cancel()
        await self.transports.close()

    # -- addressing -------------------------------------------------------
    def local_host_for(self, peer_host: str) -> str:
        """The address of ours that faces ``peer_host`` (for Via, Contact, SDP)."""
        if self.public_address:
            return self.public_address
        if self.listen[0] not in ("0.0.0.0", "::"):
            return self.listen[0]
        cached = self._local_for.get(peer_host)
        if cached is None:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.connect((peer_host, 9))
                    cached = str(probe.getsockname()[0])
            except OSError:
                cached = "127.0.0.1"
            self._local_for[peer_host] = cached
        return cached

    def make_via(self, peer_host: str, transport: str) -> Via:
        """A fresh top Via for a request we originate (§8.1.1.7, RFC 3581 rport)."""
        return Via(
            transport=transport.upper(),
            host=self.local_host_for(peer_host),
            port=self.listen[1],
            params={"branch": new_branch(), "rport": None},
        )

    # -- receive path -----------------------------------------------------
    def _on_bytes(self, data: bytes, source: Address, transport: str) -> None:
        if self.guard is not None and not self.guard.admit(source[0]):
            return  # banned or over its rate: no reply, nothing to learn
        try:
            message = parse_message(data, stream=transport == "tcp")
        except SipParseError as exc:
            self.parse_errors += 1
            log.info("malformed SIP from %s:%d: %s", source[0], source[1], exc)
            if exc.raw_headers is not None and exc.method not in (None, "ACK"):
                reply = build_error_from_raw(exc.raw_headers, 400, f"Bad Request ({exc})")
                if reply is not None:
                    self.transports.send(reply, source, transport)
            return
        except Exception:  # defensive: a parser bug must not kill the node
            self.parse_errors += 1
            log.exception("unexpected error parsing SIP from %s:%d", *source)
            return
        if isinstance(message, Request):
            stamp_received(message, source)
        for hook in self.wire_hooks:
            hook("in", message, source, transport)
        now = asyncio.get_running_loop().time()
        try:
            events = self.layer.receive(message, source, transport, now)
            self._dispatch(events)
        except Exception:
            log.exception("error handling %r from %s:%d", message, *source)
        self._flush()

    def _dispatch(self, events: list[TransactionEvent]) -> None:
        for event in events:
            try:
                self._dispatch_one(event)
            except Exception:
                log.exception("error handling SIP event %r", event)

    def _dispatch_one(self, event: TransactionEvent) -> None:
        if isinstance(event, RequestReceived):
            self.handler.on_request(event)
        elif isinstance(event, AckReceived):
            self.handler.on_ack(event)
        elif isinstance(event, ResponseReceived):
            self._on_response(event)
        elif isinstance(event, TransactionTimeout):
            tx = event.transaction
            if isinstance(tx, ClientTransaction):
                pending = self._pending.pop(id(tx), None)
                if pending is not None and not pending.final.done():
                    timeout = Response(status=408, reason="Request Timeout")
                    pending.final.set_result(timeout)
            else:
                self.handler.on_server_timeout(tx)
        elif isinstance(event, TransactionTerminated):
            self._pending.pop(id(event.transaction), None)

    def _on_response(self, event: ResponseReceived) -> None:
        response = event.response
        pending = self._pending.get(id(event.transaction)) if event.transaction else None
        if pending is None:
            self.handler.on_late_response(response)
            return
        if response.status < 200:
            if pending.on_provisional is not None:
                pending.on_provisional(response)
            return
        if pending.final.done():
            self.handler.on_late_response(response)
            return
        pending.final.set_result(response)

    # -- send path --------------------------------------------------------
    def request(
        self,
        request: Request,
        destination: Address,
        transport: str,
        on_provisional: Callable[[Response], None] | None = None,
    ) -> PendingRequest:
        """Send a request through a client transaction; await ``.final``."""
        loop = asyncio.get_running_loop()
        request.headers.set("User-Agent", self.user_agent)
        tx = self.layer.send_request(request, destination, transport, loop.time())
        pending = PendingRequest(tx, loop.create_future(), on_provisional)
        self._pending[id(tx)] = pending
        self._flush()
        return pending

    def respond(self, transaction: ServerTransaction, response: Response) -> None:
        """Send a response through its server transaction."""
        if "Server" not in response.headers:
            response.headers.add("Server", self.user_agent)
        now = asyncio.get_running_loop().time()
        self.layer.send_response(transaction, response, now)
        self._flush()

    def send_stateless(
        self, message: Request | Response, destination: Address, transport: str
    ) -> None:
        """Send outside any transaction (the ACK for a 2xx, §13.2.2.4)."""
        for hook in self.wire_hooks:
            hook("out", message, destination, transport)
        self.transports.send(message.serialize(), destination, transport)

    def _flush(self) -> None:
        for out in self.layer.take_outgoing():
            for hook in self.wire_hooks:
                hook("out", out.message, out.destination, out.transport)
            try:
                self.transports.send(out.message.serialize(), out.destination, out.transport)
            except OSError as exc:
                log.warning("send to %s:%d failed: %s", *out.destination, exc)
        self._reschedule()

    def _reschedule(self) -> None:
        deadline = self.layer.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = asyncio.get_running_loop().time()
        try:
            self._dispatch(self.layer.handle_timers(now))
        except Exception:
            log.exception("error in SIP timers")
        self._flush()
