"""RFC 3261 §17 transactions (and RFC 6026 Accepted) driven entirely by hand.

A client :class:`TransactionLayer` and a server one are joined by an in-memory
wire: every :class:`Outgoing` is serialised, re-parsed and delivered (or
dropped) while a float clock is advanced from one deadline to the next.  After
every step the wire checks that ``next_deadline()`` is the earliest timer of the
live transactions and that ``len(layer)`` counts exactly those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callvault.sip.dialog import build_cancel, new_branch
from callvault.sip.headers import Via
from callvault.sip.message import Headers, Request, Response, build_response, parse_message
from callvault.sip.transaction import (
    COMPLETED,
    CONFIRMED,
    PROCEEDING,
    TERMINATED,
    AckReceived,
    ClientTransaction,
    InviteClientTransaction,
    InviteServerTransaction,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TimerConfig,
    TransactionEvent,
    TransactionLayer,
    TransactionTerminated,
    TransactionTimeout,
    response_destination,
    stamp_received,
)
from callvault.sip.uri import SipUri

Address = tuple[str, int]
CLIENT: Address = ("127.0.0.1", 5061)
SERVER: Address = ("127.0.0.1", 5060)
T1, T2, T4 = 0.5, 4.0, 5.0
# E/G schedule (§17.1.2.2): T1, 2T1, 4T1 ... capped at T2, until 64*T1
CAPPED_SCHEDULE = [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
# A schedule (§17.1.1.2): doubling without a cap, until 64*T1
INVITE_SCHEDULE = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]


def make_request(
    method: str,
    *,
    transport: str = "udp",
    branch: str | None = None,
    via_host: str = CLIENT[0],
    via_port: int = CLIENT[1],
    cseq: int = 1,
) -> Request:
    """A minimal valid out-of-dialog request from the client."""
    via = Via(
        transport.upper(), via_host, via_port, {"branch": branch or new_branch(), "rport": None}
    )
    headers = Headers(
        [
            ("Via", str(via)),
            ("Max-Forwards", "70"),
            ("From", "<sip:alice@example.com>;tag=alice-1"),
            ("To", "<sip:bob@example.com>"),
            ("Call-ID", "tx-test@127.0.0.1"),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", f"<sip:alice@{via_host}:{via_port}>"),
            ("Route", "<sip:proxy.example.com;lr>"),
        ]
    )
    return Request(headers=headers, method=method, uri=SipUri.parse("sip:bob@127.0.0.1:5060"))


def label(message: Request | Response) -> str:
    return message.method if isinstance(message, Request) else str(message.status)


@dataclass
class Datagram:
    """One message put on the wire."""

    direction: str  # "c->s" or "s->c"
    out: Outgoing
    at: float
    dropped: bool

    @property
    def name(self) -> str:
        return label(self.out.message)


Dropper = Callable[[Datagram], bool]


class Wire:
    """Two transaction layers, a clock and a lossy in-memory network."""

    def __init__(
        self,
        transport: str = "udp",
        *,
        drop: Dropper | None = None,
        client_source: Address = CLIENT,
        check: bool = True,
    ) -> None:
        timers = TimerConfig(t1=T1, t2=T2, t4=T4)
        self.now = 0.0
        self.transport = transport
        self.client = TransactionLayer(timers)
        self.server = TransactionLayer(timers)
        self.client_source = client_source
        self.drop: Dropper = drop or (lambda datagram: False)
        self.check = check
        self.sent: list[Datagram] = []
        self.client_events: list[tuple[float, TransactionEvent]] = []
        self.server_events: list[tuple[float, TransactionEvent]] = []
        self.client_txs: list[ClientTransaction] = []
        self.server_txs: list[ServerTransaction] = []

    # -- driving ---------------------------------------------------------
    def start(self, request: Request) -> ClientTransaction:
        tx = self.client.send_request(request, SERVER, self.transport, self.now)
        self.client_txs.append(tx)
        self.flush()
        return tx

    def respond(self, tx: ServerTransaction, status: int, *, tag: str = "bob-1") -> Response:
        response = build_response(tx.request, status, to_tag=tag)
        self.server.send_response(tx, response, self.now)
        self.flush()
        return response

    def inject(self, direction: str, message: Request | Response) -> None:
        """Put a message on the wire outside any transaction (a TU's ACK for a 2xx)."""
        destination = SERVER if direction == "c->s" else CLIENT
        self._deliver(direction, Outgoing(message, destination, self.transport))
        self.flush()

    def flush(self) -> None:
        moved = True
        while moved:
            moved = False
            for direction, layer in (("c->s", self.client), ("s->c", self.server)):
                for out in layer.take_outgoing():
                    moved = True
                    self._deliver(direction, out)
        self.verify()

    def _deliver(self, direction: str, out: Outgoing) -> None:
        datagram = Datagram(direction, out, self.now, dropped=False)
        datagram.dropped = self.drop(datagram)
        self.sent.append(datagram)
        if datagram.dropped:
            return
        message = parse_message(out.message.serialize(), stream=self.transport != "udp")
        if direction == "c->s":
            assert isinstance(message, Request)
            stamp_received(message, self.client_source)
            events = self.server.receive(message, self.client_source, self.transport, self.now)
            for event in events:
                if isinstance(event, RequestReceived):
                    self.server_txs.append(event.transaction)
            self.server_events.extend((self.now, e) for e in events)
        else:
            assert out.destination == self.client_source
            events = self.client.receive(message, SERVER, self.transport, self.now)
            self.client_events.extend((self.now, e) for e in events)

    def advance_to(self, end: float) -> None:
        """Fire every timer up to ``end`` in deadline order, flushing after each."""
        while True:
            pending = [
                d
                for d in (self.client.next_deadline(), self.server.next_deadline())
                if d is not None
            ]
            if not pending or min(pending) > end:
                break
            self.now = max(self.now, min(pending))
            self.client_events.extend((self.now, e) for e in self.client.handle_timers(self.now))
            self.server_events.extend((self.now, e) for e in self.server.handle_timers(self.now))
            self.flush()
        self.now = end
        self.verify()

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now + seconds)

    # -- invariants and queries -------------------------------------------
    def verify(self) -> None:
        if not self.check:
            return
        pairs: list[tuple[TransactionLayer, Sequence[ClientTransaction | ServerTransaction]]] = [
            (self.client, self.client_txs),
            (self.server, self.server_txs),
        ]
        for layer, txs in pairs:
            live = [tx for tx in txs if tx.state != TERMINATED]
            deadlines = [d for d in (tx.next_deadline() for tx in live) if d is not None]
            assert layer.next_deadline() == (min(deadlines) if deadlines else None)
            assert len(layer) == len(live)

    def times(self, direction: str, name: str) -> list[float]:
        return [d.at for d in self.sent if d.direction == direction and d.name == name]

    def client_responses(self) -> list[ResponseReceived]:
        return [e for _, e in self.client_events if isinstance(e, ResponseReceived)]

    def requests_received(self) -> list[RequestReceived]:
        return [e for _, e in self.server_events if isinstance(e, RequestReceived)]

    def timeouts(self, side: str) -> list[tuple[float, TransactionTimeout]]:
        events = self.client_events if side == "client" else self.server_events
        return [(t, e) for t, e in events if isinstance(e, TransactionTimeout)]

    def server_tx(self, index: int = 0) -> ServerTransaction:
        return self.requests_received()[index].transaction


def drop_first(name: str, count: int = 1) -> Dropper:
    """Drop the first ``count`` datagrams called ``name``."""
    seen: list[Datagram] = []

    def drop(datagram: Datagram) -> bool:
        if datagram.name == name and len(seen) < count:
            seen.append(datagram)
            return True
        return False

    return drop


def drop_all(name: str) -> Dropper:
    return lambda datagram: datagram.name == name


# -- non-INVITE (§17.1.2, §17.2.2) ---------------------------------------------


def test_non_invite_without_loss_puts_one_request_on_the_wire() -> None:
    wire = Wire()
    tx = wire.start(make_request("OPTIONS"))
    assert isinstance(tx, NonInviteClientTransaction)
    server = wire.server_tx()
    assert isinstance(server, NonInviteServerTransaction)
    wire.respond(server, 200)
    assert tx.state == COMPLETED
    [received] = wire.client_responses()
    assert received.transaction is tx and received.response.status == 200
    wire.advance_to(T4 - 0.01)
    assert tx.state == COMPLETED, "timer K is T4 on UDP"
    wire.advance_to(T4)
    assert tx.state == TERMINATED
    assert len(wire.client) == 0
    wire.advance(64 * T1)  # timer J
    assert len(wire.server) == 0
    assert wire.times("c->s", "OPTIONS") == [0.0]
    assert wire.times("s->c", "200") == [0.0]


@pytest.mark.parametrize("lost", [1, 2, 3, 5, 8])
def test_timer_e_retransmits_lost_requests_on_the_capped_schedule(lost: int) -> None:
    wire = Wire(drop=drop_first("OPTIONS", lost))
    tx = wire.start(make_request("OPTIONS"))
    wire.advance_to(CAPPED_SCHEDULE[lost])
    assert wire.times("c->s", "OPTIONS") == CAPPED_SCHEDULE[: lost + 1]
    assert len(wire.requests_received()) == 1
    wire.respond(wire.server_tx(), 200)
    assert tx.state == COMPLETED
    wire.advance(T2 * 3)
    assert tx.state == TERMINATED
    assert len(wire.times("c->s", "OPTIONS")) == lost + 1, "a final response stops timer E"
    assert not wire.timeouts("client")


def test_timer_f_fires_at_64_t1_when_everything_is_lost() -> None:
    wire = Wire(drop=drop_all("OPTIONS"))
    tx = wire.start(make_request("OPTIONS"))
    wire.advance_to(64 * T1 - 0.001)
    assert not wire.timeouts("client")
    wire.advance_to(64 * T1)
    [(when, timeout)] = wire.timeouts("client")
    assert when == 64 * T1 and timeout.transaction is tx
    assert tx.state == TERMINATED
    assert wire.times("c->s", "OPTIONS") == CAPPED_SCHEDULE
    assert len(wire.client) == 0
    wire.advance(100.0)
    assert len(wire.times("c->s", "OPTIONS")) == len(CAPPED_SCHEDULE)


def test_timer_e_uses_t2_once_proceeding() -> None:
    wire = Wire(drop=lambda d: d.name == "OPTIONS" and d.at > 0)
    tx = wire.start(make_request("OPTIONS"))
    wire.respond(wire.server_tx(), 100)
    assert tx.state == PROCEEDING
    wire.advance(10.0)
    assert wire.times("c->s", "OPTIONS") == [0.0, 0.5, 4.5, 8.5]


def test_non_invite_over_tcp_never_retransmits_and_k_is_zero() -> None:
    wire = Wire("tcp", drop=drop_all("OPTIONS"))
    tx = wire.start(make_request("OPTIONS", transport="tcp"))
    wire.advance(64 * T1 + 1)
    assert wire.times("c->s", "OPTIONS") == [0.0]
    assert [t for t, _ in wire.timeouts("client")] == [64 * T1]
    assert tx.state == TERMINATED

    wire = Wire("tcp")
    tx = wire.start(make_request("OPTIONS", transport="tcp"))
    wire.respond(wire.server_tx(), 200)
    assert wire.client.next_deadline() == wire.now, "timer K is zero on a reliable transport"
    wire.advance(0.0)
    assert tx.state == TERMINATED
    assert len(wire.client) == 0 and len(wire.server) == 0, "timer J is zero as well"


def test_retransmitted_non_invite_is_absorbed_and_answered_again() -> None:
    wire = Wire(drop=drop_first("200"))
    tx = wire.start(make_request("OPTIONS"))
    wire.advance(0.1)  # the TU is slow: nothing to re-send yet
    wire.respond(wire.server_tx(), 200)  # lost
    wire.advance_to(0.5)  # timer E: the server re-sends its last response
    assert wire.times("c->s", "OPTIONS") == [0.0, 0.5]
    assert wire.times("s->c", "200") == [0.1, 0.5]
    assert len(wire.requests_received()) == 1
    assert tx.state == COMPLETED and len(wire.client_responses()) == 1


def test_retransmission_before_the_tu_answers_is_silently_absorbed() -> None:
    wire = Wire()
    wire.start(make_request("OPTIONS"))
    wire.inject("c->s", wire.client_txs[0].request)
    assert len(wire.requests_received()) == 1
    assert [d.name for d in wire.sent if d.direction == "s->c"] == []


# -- INVITE client (§17.1.1) ------------------------------------------------


def test_timer_a_doubles_and_timer_b_times_out_at_64_t1() -> None:
    wire = Wire(drop=drop_all("INVITE"))
    tx = wire.start(make_request("INVITE"))
    assert isinstance(tx, InviteClientTransaction)
    wire.advance(64 * T1 + 10)
    assert wire.times("c->s", "INVITE") == INVITE_SCHEDULE
    [(when, timeout)] = wire.timeouts("client")
    assert when == 64 * T1 and timeout.transaction is tx
    assert tx.state == TERMINATED and len(wire.client) == 0


def test_provisional_response_stops_timer_a_and_b() -> None:
    wire = Wire(drop=drop_first("INVITE", 2))
    tx = wire.start(make_request("INVITE"))
    wire.advance_to(1.5)
    assert wire.times("c->s", "INVITE") == [0.0, 0.5, 1.5]
    wire.respond(wire.server_tx(), 180)
    assert tx.state == PROCEEDING
    wire.advance(100.0)
    assert len(wire.times("c->s", "INVITE")) == 3
    assert not wire.timeouts("client"), "timer B only applies in Calling"
    assert [r.response.status for r in wire.client_responses()] == [180]


def test_non_2xx_final_is_acked_by_the_client_transaction() -> None:
    wire = Wire()
    invite = make_request("INVITE", cseq=7)
    tx = wire.start(invite)
    wire.advance(1.0)
    response = wire.respond(wire.server_tx(), 486, tag="busy-tag")
    assert tx.state == COMPLETED
    [ack_datagram] = [d for d in wire.sent if d.name == "ACK"]
    ack = ack_datagram.out.message
    assert isinstance(ack, Request)
    # §17.1.1.3: one Via equal to the INVITE's top Via, To of the response, CSeq n ACK
    assert ack.headers.get_all("Via") == [invite.headers.get("Via")]
    assert ack.branch == invite.branch
    assert ack.to.tag == "busy-tag"
    assert ack.headers.get("To") == response.headers.get("To")
    assert ack.headers.get("From") == invite.headers.get("From")
    assert ack.call_id == invite.call_id
    assert (ack.cseq.seq, ack.cseq.method) == (7, "ACK")
    assert ack.uri == invite.uri
    assert ack.headers.get_all("Route") == invite.headers.get_all("Route")
    assert ack_datagram.out.destination == SERVER
    server = wire.server_tx()
    assert server.state == CONFIRMED, "the ACK went to the INVITE server transaction"
    assert not [e for _, e in wire.server_events if isinstance(e, AckReceived)]
    wire.advance_to(1.0 + 32.0 - 0.01)
    assert tx.state == COMPLETED, "timer D is 32 s on UDP"
    wire.advance_to(1.0 + 32.0)
    assert tx.state == TERMINATED and len(wire.client) == 0


def test_retransmitted_non_2xx_is_acked_again_but_passed_up_once() -> None:
    wire = Wire(drop=drop_first("ACK"))
    tx = wire.start(make_request("INVITE"))
    server = wire.server_tx()
    wire.respond(server, 486)
    assert server.state == COMPLETED
    wire.advance_to(T1)  # timer G re-sends the 486, the client ACKs it again
    assert wire.times("s->c", "486") == [0.0, 0.5]
    assert wire.times("c->s", "ACK") == [0.0, 0.5]
    assert [r.response.status for r in wire.client_responses()] == [486]
    assert tx.state == COMPLETED and server.state == CONFIRMED
    wire.advance_to(T1 + T4)  # timer I
    assert server.state == TERMINATED and len(wire.server) == 0
    assert wire.times("s->c", "486") == [0.0, 0.5], "Confirmed absorbs, no more G"


# -- INVITE server (§17.2.1) -------------------------------------------------


def test_completed_retransmits_with_timer_g_until_timer_h() -> None:
    wire = Wire(drop=drop_all("ACK"))
    tx = wire.start(make_request("INVITE"))
    server = wire.server_tx()
    wire.respond(server, 486)
    wire.advance(64 * T1 + 10)
    assert wire.times("s->c", "486") == CAPPED_SCHEDULE
    [(when, timeout)] = wire.timeouts("server")
    assert when == 64 * T1 and timeout.transaction is server
    assert server.state == TERMINATED and len(wire.server) == 0
    assert len(wire.times("c->s", "ACK")) == len(CAPPED_SCHEDULE)
    assert tx.state == TERMINATED  # timer D, 32 s after the first 486
    assert [r.response.status for r in wire.client_responses()] == [486]


def test_invite_over_tcp_needs_no_timers_a_g_and_d_i_are_zero() -> None:
    wire = Wire("tcp")
    tx = wire.start(make_request("INVITE", transport="tcp"))
    wire.advance(T1 * 3)
    assert wire.times("c->s", "INVITE") == [0.0]
    server = wire.server_tx()
    wire.respond(server, 603)
    assert wire.times("c->s", "ACK") == [wire.now]
    wire.advance(0.0)
    assert tx.state == TERMINATED and server.state == TERMINATED
    assert len(wire.client) == 0 and len(wire.server) == 0
    assert wire.times("s->c", "603") == [wire.now]


def test_100_trying_is_sent_after_200_ms_when_the_tu_is_silent() -> None:
    wire = Wire()
    tx = wire.start(make_request("INVITE"))
    wire.advance(0.199)
    assert wire.times("s->c", "100") == []
    wire.advance_to(0.2)
    assert wire.times("s->c", "100") == [0.2]
    assert tx.state == PROCEEDING
    wire.advance(5.0)
    assert wire.times("c->s", "INVITE") == [0.0], "the 100 stopped timer A"


def test_no_100_trying_when_the_tu_answers_first() -> None:
    wire = Wire()
    wire.start(make_request("INVITE"))
    wire.advance(0.1)
    wire.respond(wire.server_tx(), 180)
    wire.advance(1.0)
    assert wire.times("s->c", "100") == []
    assert wire.times("s->c", "180") == [0.1]


def test_retransmitted_invite_gets_the_last_provisional_again() -> None:
    wire = Wire(drop=drop_first("180"))
    tx = wire.start(make_request("INVITE"))
    wire.advance(0.1)
    wire.respond(wire.server_tx(), 180)  # lost
    wire.advance_to(0.5)  # timer A
    assert wire.times("s->c", "180") == [0.1, 0.5]
    assert len(wire.requests_received()) == 1
    assert tx.state == PROCEEDING


# -- 2xx (RFC 6026 Accepted) -------------------------------------------------


def test_server_retransmits_2xx_until_the_ack_is_seen() -> None:
    # ack_2xx_received() changes the transaction's timers behind the layer's back:
    # the layer must still know about timer L (a lost L leaked one transaction per call)
    wire = Wire()
    wire.start(make_request("INVITE"))
    server = wire.server_tx()
    assert isinstance(server, InviteServerTransaction)
    wire.respond(server, 200)
    wire.advance_to(7.5)
    assert wire.times("s->c", "200") == CAPPED_SCHEDULE[:5]
    server.ack_2xx_received()
    assert wire.server.next_deadline() == 64 * T1
    wire.advance_to(64 * T1)
    assert server.state == TERMINATED and len(wire.server) == 0
    wire.advance(10)
    assert wire.times("s->c", "200") == CAPPED_SCHEDULE[:5]
    assert not wire.timeouts("server")


def test_server_gives_up_on_2xx_without_ack_after_64_t1() -> None:
    wire = Wire()
    tx = wire.start(make_request("INVITE"))
    server = wire.server_tx()
    wire.respond(server, 200)
    wire.advance(64 * T1 + 10)
    assert wire.times("s->c", "200") == CAPPED_SCHEDULE
    [(when, timeout)] = wire.timeouts("server")
    assert when == 64 * T1 and timeout.transaction is server
    assert len(wire.server) == 0
    # client side: every retransmitted 2xx reached the TU so it can re-send its ACK
    responses = wire.client_responses()
    assert [r.response.status for r in responses] == [200] * len(CAPPED_SCHEDULE)
    assert all(r.transaction is tx for r in responses)
    assert tx.state == TERMINATED, "timer M"
    assert not wire.timeouts("client")


def test_client_accepted_ends_with_timer_m_then_2xx_is_stray() -> None:
    wire = Wire()
    tx = wire.start(make_request("INVITE"))
    response = wire.respond(wire.server_tx(), 200)
    wire.advance_to(64 * T1 - 0.01)
    assert tx.state != TERMINATED
    wire.advance_to(64 * T1)
    assert tx.state == TERMINATED and len(wire.client) == 0
    assert any(
        isinstance(e, TransactionTerminated) and e.transaction is tx for _, e in wire.client_events
    )
    before = len(wire.client_responses())
    wire.inject("s->c", response)
    stray = wire.client_responses()[before:]
    assert len(stray) == 1 and stray[0].transaction is None
    assert [d.name for d in wire.sent].count("ACK") == 0, "the TU, not the transaction, ACKs 2xx"


def test_ack_for_2xx_reaches_the_tu_as_ack_received() -> None:
    wire = Wire()
    invite = make_request("INVITE")
    wire.start(invite)
    wire.respond(wire.server_tx(), 200)
    ack = make_request("ACK")  # new branch, as for any ACK of a 2xx (§13.2.2.4)
    wire.inject("c->s", ack)
    [event] = [e for _, e in wire.server_events if isinstance(e, AckReceived)]
    assert event.request.branch == ack.branch
    assert event.source == CLIENT and event.transport == "udp"
    assert len(wire.server_txs) == 1


# -- CANCEL, strays, destinations --------------------------------------------


def test_cancel_finds_the_invite_and_has_its_own_transaction() -> None:
    wire = Wire()
    invite = make_request("INVITE")
    invite_tx = wire.start(invite)
    wire.respond(wire.server_tx(), 180)
    cancel = build_cancel(invite)
    cancel_tx = wire.start(cancel)
    assert cancel_tx is not invite_tx and len(wire.client) == 2
    received = wire.requests_received()
    assert [r.request.method for r in received] == ["INVITE", "CANCEL"]
    cancel_server = received[1].transaction
    assert isinstance(cancel_server, NonInviteServerTransaction)
    assert (
        wire.server.find_invite_server_transaction(received[1].request) is received[0].transaction
    )
    other = build_cancel(make_request("INVITE"))
    assert wire.server.find_invite_server_transaction(other) is None
    wire.respond(cancel_server, 200)
    wire.respond(received[0].transaction, 487)
    statuses = {(r.response.status, r.transaction) for r in wire.client_responses()}
    assert statuses == {(180, invite_tx), (200, cancel_tx), (487, invite_tx)}
    assert wire.times("c->s", "ACK") == [wire.now]
    wire.advance(100.0)
    assert len(wire.client) == 0 and len(wire.server) == 0


def test_stray_response_is_passed_up_without_a_transaction() -> None:
    layer = TransactionLayer()
    response = build_response(make_request("OPTIONS"), 200, to_tag="x")
    [event] = layer.receive(response, SERVER, "udp", 0.0)
    assert isinstance(event, ResponseReceived)
    assert event.transaction is None and event.response is response
    assert len(layer) == 0 and layer.next_deadline() is None
    assert layer.take_outgoing() == []


def test_ack_matching_no_transaction_is_ack_received() -> None:
    layer = TransactionLayer()
    ack = make_request("ACK")
    [event] = layer.receive(ack, CLIENT, "tcp", 0.0)
    assert event == AckReceived(ack, CLIENT, "tcp")
    assert len(layer) == 0


def test_response_goes_to_the_nat_binding_via_rport() -> None:
    nat: Address = ("203.0.113.9", 40000)
    wire = Wire(client_source=nat)
    wire.start(make_request("OPTIONS", via_host="10.0.0.5", via_port=5062))
    server = wire.server_tx()
    assert server.request.top_via.params["received"] == nat[0]
    wire.respond(server, 200)
    [response] = [d for d in wire.sent if d.direction == "s->c"]
    assert response.out.destination == nat


def via(text: str) -> Via:
    return Via.parse(f"SIP/2.0/UDP {text};branch=z9hG4bKx")


SOURCE: Address = ("198.51.100.7", 33000)


@pytest.mark.parametrize(
    ("via_text", "transport", "expected"),
    [
        ("10.0.0.1:5070", "udp", ("10.0.0.1", 5070)),
        ("10.0.0.1", "udp", ("10.0.0.1", 5060)),
        ("10.0.0.1:5070;received=192.0.2.1", "udp", ("192.0.2.1", 5070)),
        ("10.0.0.1;received=192.0.2.1", "udp", ("192.0.2.1", 5060)),
        ("10.0.0.1:5070;received=192.0.2.1;rport=40000", "udp", ("192.0.2.1", 40000)),
        ("10.0.0.1:5070;rport=40000", "udp", ("10.0.0.1", 40000)),
        ("10.0.0.1:5070;rport;received=192.0.2.1", "udp", ("192.0.2.1", 5070)),
        ("10.0.0.1:5070;received=192.0.2.1;rport=40000", "tcp", SOURCE),
        ("10.0.0.1:5070", "tls", SOURCE),
        ("10.0.0.1:5070", "ws", SOURCE),
    ],
)
def test_response_destination(via_text: str, transport: str, expected: Address) -> None:
    assert response_destination(via(via_text), SOURCE, transport) == expected


def test_next_deadline_tracks_the_earliest_timer_across_transactions() -> None:
    layer = TransactionLayer(TimerConfig(t1=T1, t2=T2, t4=T4))
    assert layer.next_deadline() is None
    layer.send_request(make_request("OPTIONS"), SERVER, "udp", 0.0)
    assert layer.next_deadline() == T1  # E
    layer.send_request(make_request("INVITE"), SERVER, "tcp", 0.2)
    assert layer.next_deadline() == T1
    layer.handle_timers(T1)
    assert layer.next_deadline() == 1.5  # E doubled, INVITE's B at 32.2 later
    layer.handle_timers(1.5)
    layer.handle_timers(3.5)
    assert layer.next_deadline() == 7.5
    events = layer.handle_timers(40.0)
    assert {type(e) for e in events} == {TransactionTimeout, TransactionTerminated}
    assert len(layer) == 0 and layer.next_deadline() is None


# -- property: any loss pattern ----------------------------------------------


@settings(max_examples=200, deadline=None)
@given(losses=st.lists(st.booleans(), max_size=30))
def test_any_loss_pattern_ends_in_a_response_or_timer_f(losses: list[bool]) -> None:
    def drop(datagram: Datagram) -> bool:
        index = len(wire.sent)
        return index < len(losses) and losses[index]

    wire = Wire(drop=drop)
    tx = wire.start(make_request("OPTIONS"))
    # the server's TU answers as soon as the request gets through
    while not wire.requests_received() and wire.now < 64 * T1:
        wire.advance(0.25)
    if wire.requests_received():
        wire.respond(wire.server_tx(), 200)
    wire.advance_to(100.0)
    finals = [
        (t, e)
        for t, e in wire.client_events
        if isinstance(e, ResponseReceived) and e.response.status >= 200
    ]
    timeouts = wire.timeouts("client")
    assert len(finals) + len(timeouts) == 1
    if timeouts:
        assert timeouts[0][0] == 64 * T1 and timeouts[0][1].transaction is tx
    else:
        assert finals[0][1].transaction is tx and finals[0][0] < 64 * T1
    requests = wire.times("c->s", "OPTIONS")
    assert requests == CAPPED_SCHEDULE[: len(requests)]
    assert len(requests) <= 11
    assert len(wire.requests_received()) <= 1
    assert tx.state == TERMINATED
    assert len(wire.client) == 0 and len(wire.server) == 0
