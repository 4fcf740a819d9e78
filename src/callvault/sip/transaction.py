"""SIP transactions (RFC 3261 §17, RFC 6026), sans-I/O.

Four state machines -- INVITE and non-INVITE, client and server -- keep the
RFC's state and timer names.  They never read a clock or touch a socket:
every entry point takes ``now``, queued messages are drained with
:meth:`TransactionLayer.take_outgoing`, and :meth:`TransactionLayer.next_deadline`
tells the caller when to call :meth:`TransactionLayer.handle_timers`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from dataclasses import dataclass

from callvault.sip.headers import CSeq, Via
from callvault.sip.message import Headers, Request, Response, build_response

log = logging.getLogger("callvault.sip.transaction")

Address = tuple[str, int]

CALLING, TRYING, PROCEEDING = "Calling", "Trying", "Proceeding"
COMPLETED, CONFIRMED, ACCEPTED, TERMINATED = "Completed", "Confirmed", "Accepted", "Terminated"


@dataclass(frozen=True)
class TimerConfig:
    """T1, T2, T4 of RFC 3261 §17.1.1.1 (seconds)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0


@dataclass(frozen=True)
class Outgoing:
    """A message the transport must send now."""

    message: Request | Response
    destination: Address
    transport: str


class _Transaction:
    """State, timers and outbox shared by the four machines."""

    is_invite = False
    is_client = False

    def __init__(
        self, request: Request, peer: Address, transport: str, timers: TimerConfig
    ) -> None:
        self.request = request
        self.transport = transport
        self.reliable = transport != "udp"
        self.timers = timers
        self.state = ""
        self.last_response: Response | None = None
        self.deadlines: dict[str, float] = {}
        self.outbox: list[Outgoing] = []
        self.events: list[TransactionEvent] = []
        self._peer = peer
        self._intervals: dict[str, float] = {}

    @property
    def key(self) -> tuple[str, str]:
        """(branch, method) with ACK folded into INVITE (§17.1.3, §17.2.3)."""
        method = self.request.method
        return (self.request.branch, "INVITE" if method == "ACK" else method)

    def _change(self, new_state: str) -> None:
        if new_state == self.state:
            return
        log.debug(
            "%s %s %s: %s -> %s",
            type(self).__name__,
            self.request.method,
            self.request.call_id,
            self.state or "-",
            new_state,
        )
        self.state = new_state
        if new_state == TERMINATED:
            self.deadlines.clear()
            self.events.append(TransactionTerminated(self))  # type: ignore[arg-type]

    def _send(self, message: Request | Response, destination: Address) -> None:
        self.outbox.append(Outgoing(message, destination, self.transport))

    def _arm(self, name: str, now: float, delay: float) -> None:
        if delay <= 0 and name in ("D", "I", "J", "K"):
            self.deadlines[name] = now
        else:
            self.deadlines[name] = now + delay

    def next_deadline(self) -> float | None:
        return min(self.deadlines.values()) if self.deadlines else None

    def handle_timers(self, now: float) -> None:
        for name, when in sorted(self.deadlines.items(), key=lambda item: item[1]):
            if when <= now and self.deadlines.get(name) == when:
                del self.deadlines[name]
                self.on_timer(name, now)

    def start(self, now: float) -> None:
        """Enter the initial state (and send, for a client)."""

    def on_timer(self, name: str, now: float) -> None:
        """React to the expiry of timer ``name``."""


class ClientTransaction(_Transaction):
    """Base of the client transactions (§17.1)."""

    is_client = True

    @property
    def destination(self) -> Address:
        return self._peer

    def receive_response(self, response: Response, now: float) -> None:
        """Feed a response matched to this transaction."""


class InviteClientTransaction(ClientTransaction):
    """INVITE client transaction (§17.1.1, RFC 6026 §7.2)."""

    is_invite = True

    def start(self, now: float) -> None:
        self._change(CALLING)
        self._send(self.request, self._peer)
        if not self.reliable:
            self._intervals["A"] = self.timers.t1
            self._arm("A", now, self.timers.t1)
        self._arm("B", now, 64 * self.timers.t1)

    def on_timer(self, name: str, now: float) -> None:
        if name == "A" and self.state == CALLING:
            self._send(self.request, self._peer)
            self._intervals["A"] *= 2
            self._arm("A", now, self._intervals["A"])
        elif name == "B" and self.state == CALLING:
            self.events.append(TransactionTimeout(self))
            self._change(TERMINATED)
        elif name in ("D", "M"):
            self._change(TERMINATED)

    def _ack_for(self, response: Response) -> Request:
        """ACK for a non-2xx final (§17.1.1.3)."""
        headers = Headers()
        headers.add("Via", self.request.headers.get("Via") or "")
        headers.add("Max-Forwards", "70")
        headers.add("From", self.request.headers.get("From") or "")
        headers.add("To", response.headers.get("To") or "")
        headers.add("Call-ID", self.request.call_id)
        headers.add("CSeq", str(CSeq(self.request.cseq.seq, "ACK")))
        for route in self.request.headers.get_all("Route"):
            headers.add("Route", route)
        return Request(headers=headers, method="ACK", uri=self.request.uri)

    def receive_response(self, response: Response, now: float) -> None:
        status = response.status
        if status < 200:
            if self.state in (CALLING, PROCEEDING):
                self.deadlines.pop("A", None)
                self._change(PROCEEDING)
                self.last_response = response
                self.events.append(ResponseReceived(response, self))
            return
        if status < 300:
            if self.state in (CALLING, PROCEEDING, ACCEPTED):
                self.deadlines.pop("A", None)
                self.deadlines.pop("B", None)
                if self.state != ACCEPTED:
                    self._arm("M", now, 64 * self.timers.t1)
                self._change(ACCEPTED)
                self.last_response = response
                self.events.append(ResponseReceived(response, self))
            return
        if self.state in (CALLING, PROCEEDING):
            self.deadlines.pop("A", None)
            self.deadlines.pop("B", None)
            self.last_response = response
            self._send(self._ack_for(response), self._peer)
            self._change(COMPLETED)
            self._arm("D", now, 0 if self.reliable else 32.0)
            self.events.append(ResponseReceived(response, self))
        elif self.state == COMPLETED:
            self._send(self._ack_for(response), self._peer)


class NonInviteClientTransaction(ClientTransaction):
    """Non-INVITE client transaction (§17.1.2)."""

    def start(self, now: float) -> None:
        self._change(TRYING)
        self._send(self.request, self._peer)
        if not self.reliable:
            self._intervals["E"] = self.timers.t1
            self._arm("E", now, self.timers.t1)
        self._arm("F", now, 64 * self.timers.t1)

    def on_timer(self, name: str, now: float) -> None:
        if name == "E" and self.state in (TRYING, PROCEEDING):
            self._send(self.request, self._peer)
            if self.state == TRYING:
                self._intervals["E"] = min(2 * self._intervals["E"], self.timers.t2)
            else:
                self._intervals["E"] = self.timers.t2
            self._arm("E", now, self._intervals["E"])
        elif name == "F" and self.state in (TRYING, PROCEEDING):
            self.events.append(TransactionTimeout(self))
            self._change(TERMINATED)
        elif name == "K":
            self._change(TERMINATED)

    def receive_response(self, response: Response, now: float) -> None:
        if self.state not in (TRYING, PROCEEDING):
            return
        self.last_response = response
        if response.status < 200:
            self._change(PROCEEDING)
            self.events.append(ResponseReceived(response, self))
            return
        self.deadlines.pop("E", None)
        self.deadlines.pop("F", None)
        self._change(COMPLETED)
        self._arm("K", now, 0 if self.reliable else self.timers.t4)
        self.events.append(ResponseReceived(response, self))


class ServerTransaction(_Transaction):
    """Base of the server transactions (§17.2)."""

    @property
    def source(self) -> Address:
        return self._peer

    def ack_2xx_received(self) -> None:
        """The TU saw the ACK for our 2xx: stop retransmitting it."""

    def send_response(self, response: Response, now: float) -> None:
        """Send a response from the TU."""

    def receive_retransmission(self, request: Request, now: float) -> None:
        """Absorb a retransmitted request (or the ACK of a non-2xx)."""

    def _reply_to(self) -> Address:
        return response_destination(self.request.top_via, self._peer, self.transport)


class InviteServerTransaction(ServerTransaction):
    """INVITE server transaction (§17.2.1, RFC 6026 §7.1); 2xx retransmission folded in."""

    is_invite = True

    def start(self, now: float) -> None:
        self._change(PROCEEDING)
        self._arm("trying", now, 0.2)

    def on_timer(self, name: str, now: float) -> None:
        if name == "trying" and self.state == PROCEEDING and self.last_response is None:
            self.send_response(build_response(self.request, 100), now)
        elif name == "G" and self.state in (COMPLETED, ACCEPTED) and self.last_response:
            self._send(self.last_response, self._reply_to())
            self._intervals["G"] = min(2 * self._intervals["G"], self.timers.t2)
            self._arm("G", now, self._intervals["G"])
        elif name == "H" and self.state == COMPLETED:
            self.events.append(TransactionTimeout(self))
            self._change(TERMINATED)
        elif name == "L" and self.state == ACCEPTED:
            if "G" in self._intervals and not self._acked:
                self.events.append(TransactionTimeout(self))
            self._change(TERMINATED)
        elif name == "I":
            self._change(TERMINATED)

    _acked = False

    def send_response(self, response: Response, now: float) -> None:
        if self.state not in (PROCEEDING, ACCEPTED):
            return
        status = response.status
        self.deadlines.pop("trying", None)
        if self.state == ACCEPTED:
            if 200 <= status < 300:
                self._send(response, self._reply_to())
            return
        self.last_response = response
        self._send(response, self._reply_to())
        if status < 200:
            return
        if status < 300:
            self._change(ACCEPTED)
            if not self.reliable:
                self._intervals["G"] = self.timers.t1
                self._arm("G", now, self.timers.t1)
            self._arm("L", now, 64 * self.timers.t1)
            return
        self._change(COMPLETED)
        if not self.reliable:
            self._intervals["G"] = self.timers.t1
            self._arm("G", now, self.timers.t1)
        self._arm("H", now, 64 * self.timers.t1)

    def ack_2xx_received(self) -> None:
        self._acked = True
        self.deadlines.pop("G", None)

    def receive_retransmission(self, request: Request, now: float) -> None:
        if request.method == "ACK":
            if self.state == COMPLETED:
                self.deadlines.pop("G", None)
                self.deadlines.pop("H", None)
                self._change(CONFIRMED)
                self._arm("I", now, 0 if self.reliable else self.timers.t4)
            return
        if self.state in (PROCEEDING, COMPLETED) and self.last_response is not None:
            self._send(self.last_response, self._reply_to())


class NonInviteServerTransaction(ServerTransaction):
    """Non-INVITE server transaction (§17.2.2)."""

    def start(self, now: float) -> None:
        self._change(TRYING)

    def on_timer(self, name: str, now: float) -> None:
        if name == "J":
            self._change(TERMINATED)

    def send_response(self, response: Response, now: float) -> None:
        if self.state not in (TRYING, PROCEEDING):
            return
        self.last_response = response
        self._send(response, self._reply_to())
        if response.status < 200:
            self._change(PROCEEDING)
            return
        self._change(COMPLETED)
        self._arm("J", now, 0 if self.reliable else 64 * self.timers.t1)

    def receive_retransmission(self, request: Request, now: float) -> None:
        if self.state in (PROCEEDING, COMPLETED) and self.last_response is not None:
            self._send(self.last_response, self._reply_to())


@dataclass(frozen=True)
class RequestReceived:
    """A new request with the server transaction created for it."""

    request: Request
    transaction: ServerTransaction
    source: Address
    transport: str


@dataclass(frozen=True)
class AckReceived:
    """An ACK that matched no server transaction: the ACK for a 2xx (§13.3.1.4)."""

    request: Request
    source: Address
    transport: str


@dataclass(frozen=True)
class ResponseReceived:
    """A response for the TU; ``transaction`` is None for a stray one."""

    response: Response
    transaction: ClientTransaction | None


@dataclass(frozen=True)
class TransactionTimeout:
    """Timer B/F (client) or H/L (server) fired."""

    transaction: ClientTransaction | ServerTransaction


@dataclass(frozen=True)
class TransactionTerminated:
    """The transaction is gone."""

    transaction: ClientTransaction | ServerTransaction


TransactionEvent = (
    RequestReceived | AckReceived | ResponseReceived | TransactionTimeout | TransactionTerminated
)


def response_destination(via: Via, source: Address, transport: str) -> Address:
    """Where a response goes (§18.2.2, RFC 3581 §4)."""
    if transport != "udp":
        return source
    host = via.params.get("received") or via.host
    rport = via.params.get("rport")
    if rport:
        return (host, int(rport))
    return (host, via.port or 5060)


def stamp_received(request: Request, source: Address) -> None:
    """Add ``received``/``rport`` to an incoming request's top Via (§18.2.1, RFC 3581 §4)."""
    via = request.top_via
    params: dict[str, str | None] = {}
    if "rport" in via.params:
        params["rport"] = str(source[1])
        params["received"] = source[0]
    elif via.host != source[0]:
        params["received"] = source[0]
    if params:
        request.headers.remove_first("Via")
        request.headers.prepend("Via", str(via.with_params(**params)))


def _server_key(request: Request) -> tuple[str, str, str]:
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith("z9hG4bK"):
        return (branch, f"{via.host}:{via.port or 5060}", method)
    # RFC 2543 peers: fall back to the request's identity (§17.2.3)
    legacy = f"{request.uri}|{request.from_.tag}|{request.call_id}|{request.cseq.seq}|{via}"
    if request.method == "ACK":
        legacy = f"{request.uri}|{request.from_.tag}|{request.call_id}|{request.cseq.seq}|{via}"
    return (legacy, "", method)


class TransactionLayer:
    """Every transaction of one endpoint: matching, timers and the outbox."""

    def __init__(self, timers: TimerConfig | None = None) -> None:
        self.timers = timers or TimerConfig()
        self._clients: dict[tuple[str, str], ClientTransaction] = {}
        self._servers: dict[tuple[str, str, str], ServerTransaction] = {}
        self._outbox: list[Outgoing] = []
        self._heap: list[tuple[float, int, _Transaction]] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._clients) + len(self._servers)

    def _collect(self, tx: _Transaction, events: list[TransactionEvent]) -> None:
        self._outbox.extend(tx.outbox)
        tx.outbox.clear()
        events.extend(tx.events)
        tx.events.clear()
        if tx.state == TERMINATED:
            if isinstance(tx, ClientTransaction):
                if self._clients.get(tx.key) is tx:
                    del self._clients[tx.key]
            else:
                assert isinstance(tx, ServerTransaction)
                self._servers.pop(_server_key(tx.request), None)
            return
        deadline = tx.next_deadline()
        if deadline is not None:
            heapq.heappush(self._heap, (deadline, next(self._counter), tx))

    def receive(
        self, message: Request | Response, source: Address, transport: str, now: float
    ) -> list[TransactionEvent]:
        """Match an incoming message to a transaction or create one (§17.1.3, §17.2.3)."""
        events: list[TransactionEvent] = []
        if isinstance(message, Response):
            key = (message.top_via.branch or "", message.cseq.method)
            client = self._clients.get(key)
            if client is None:
                events.append(ResponseReceived(message, None))
                return events
            client.receive_response(message, now)
            self._collect(client, events)
            return events
        server_key = _server_key(message)
        server = self._servers.get(server_key)
        if server is not None:
            server.receive_retransmission(message, now)
            self._collect(server, events)
            return events
        if message.method == "ACK":
            events.append(AckReceived(message, source, transport))
            return events
        new: ServerTransaction
        if message.method == "INVITE":
            new = InviteServerTransaction(message, source, transport, self.timers)
        else:
            new = NonInviteServerTransaction(message, source, transport, self.timers)
        new.start(now)
        self._servers[server_key] = new
        events.append(RequestReceived(message, new, source, transport))
        self._collect(new, events)
        return events

    def send_request(
        self, request: Request, destination: Address, transport: str, now: float
    ) -> ClientTransaction:
        """Start a client transaction for ``request``."""
        tx: InviteClientTransaction | NonInviteClientTransaction
        if request.method == "INVITE":
            tx = InviteClientTransaction(request, destination, transport, self.timers)
        else:
            tx = NonInviteClientTransaction(request, destination, transport, self.timers)
        self._clients[tx.key] = tx
        tx.start(now)
        self._collect(tx, [])
        return tx

    def send_response(self, transaction: ServerTransaction, response: Response, now: float) -> None:
        """Send a response through its server transaction."""
        transaction.send_response(response, now)
        self._collect(transaction, [])

    def find_invite_server_transaction(self, cancel: Request) -> ServerTransaction | None:
        """The INVITE transaction a CANCEL targets (§9.2)."""
        branch, sent_by, _ = _server_key(cancel)
        return self._servers.get((branch, sent_by, "INVITE"))

    def next_deadline(self) -> float | None:
        """The earliest timer of any transaction."""
        heap = self._heap
        while heap:
            deadline, _, tx = heap[0]
            if tx.state == TERMINATED:
                heapq.heappop(heap)
                continue
            current = tx.next_deadline()
            if current == deadline:
                return deadline
            # stale: the transaction's timers changed outside the layer (e.g. the TU
            # called ack_2xx_received()); keep its real next deadline queued
            if current is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (current, next(self._counter), tx))
        return None

    def handle_timers(self, now: float) -> list[TransactionEvent]:
        """Fire every due timer."""
        events: list[TransactionEvent] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, tx = heapq.heappop(heap)
            if tx.state == TERMINATED:
                continue
            current = tx.next_deadline()
            if current != deadline:
                if current is not None:  # stale entry: requeue the real deadline
                    heapq.heappush(heap, (current, next(self._counter), tx))
                continue
            tx.handle_timers(now)
            self._collect(tx, events)
        return events

    def take_outgoing(self) -> list[Outgoing]:
        """Drain the messages to send."""
        out, self._outbox = self._outbox, []
        return out
