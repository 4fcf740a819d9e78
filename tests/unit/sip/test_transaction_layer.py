"""RFC 3261 §17 transactions, driven by an injected clock over an in-memory lossy network."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from callvault.sip.dialog import build_cancel, new_branch, new_tag
from callvault.sip.headers import Via
from callvault.sip.message import Headers, Request, Response, build_response, parse_message
from callvault.sip.transaction import (
    AckReceived,
    RequestReceived,
    ResponseReceived,
    TimerConfig,
    TransactionEvent,
    TransactionLayer,
    TransactionTimeout,
    response_destination,
    stamp_received,
)
from callvault.sip.uri import SipUri

CLIENT = ("127.0.0.1", 5061)
SERVER = ("127.0.0.1", 5060)
T1 = 0.5


class Network:
    """Two transaction layers joined by a wire that can drop chosen datagrams."""

    def __init__(
        self, transport: str = "udp", drop: Callable[[int, str, str], bool] | None = None
    ) -> None:
        self.now = 0.0
        self.transport = transport
        self.client = TransactionLayer(TimerConfig())
        self.server = TransactionLayer(TimerConfig())
        self.drop = drop or (lambda index, direction, name: False)
        self.sent = 0
        self.wire: list[tuple[str, Request | Response]] = []
        self.times: list[tuple[str, str, float]] = []
        self.client_events: list[TransactionEvent] = []
        self.server_events: list[TransactionEvent] = []

    def pump(self) -> None:
        """Deliver everything queued (through serialize/parse) until quiet."""
        moved = True
        while moved:
            moved = False
            for name, layer, peer, events, source in (
                ("c->s", self.client, self.server, self.server_events, CLIENT),
                ("s->c", self.server, self.client, self.client_events, SERVER),
            ):
                for out in layer.take_outgoing():
                    moved = True
                    index = self.sent
                    self.sent += 1
                    self.wire.append((name, out.message))
                    self.times.append((name, _name(out.message), self.now))
                    if self.drop(index, name, _name(out.message)):
                        continue
                    message = parse_message(out.message.serialize())
                    if isinstance(message, Request):
                        stamp_received(message, source)
                    events.extend(peer.receive(message, source, self.transport, self.now))

    def advance(self, seconds: float) -> None:
        """Move the clock, firing timers in order."""
        end = self.now + seconds
        while True:
            deadlines = [d for d in (self.client.next_deadline(), self.server.next_deadline()) if d]
            upcoming = min(deadlines) if deadlines else None
            if upcoming is None or upcoming > end:
                break
            self.now = max(self.now, upcoming)
            self.client_events.extend(self.client.handle_timers(self.now))
            self.server_events.extend(self.server.handle_timers(self.now))
            self.pump()
        self.now = end

    def count(self, direction: str, what: str) -> int:
        """How many messages of a method/status crossed the wire that way."""
        return sum(1 for d, m in self.wire if d == direction and _name(m) == what)


def _name(message: Request | Response) -> str:
    return message.method if isinstance(message, Request) else str(message.status)


def _request(method: str, transport: str = "udp") -> Request:
    headers = Headers()
    via = Via(transport.upper(), CLIENT[0], CLIENT[1], {"branch": new_branch(), "rport": None})
    headers.add("Via", str(via))
    headers.add("Max-Forwards", "70")
    headers.add("From", f"<sip:alice@127.0.0.1>;tag={new_tag()}")
    headers.add("To", "<sip:bob@127.0.0.1>")
    headers.add("Call-ID", f"{new_tag()}@test")
    headers.add("CSeq", f"1 {method}")
    return Request(headers=headers, method=method, uri=SipUri.parse("sip:bob@127.0.0.1:5060"))


def _server_tx(net: Network) -> RequestReceived:
    received = [e for e in net.server_events if isinstance(e, RequestReceived)]
    assert len(received) == 1, "exactly one new request must reach the TU"
    return received[0]


def _finals(net: Network) -> list[Response]:
    return [
        e.response
        for e in net.client_events
        if isinstance(e, ResponseReceived) and e.response.status >= 200
    ]


def test_non_invite_without_loss_sends_once_and_terminates_after_timer_k() -> None:
    net = Network()
    net.client.send_request(_request("OPTIONS"), SERVER, "udp", net.now)
    net.pump()
    server = _server_tx(net)
    net.server.send_response(server.transaction, build_response(server.request, 200), net.now)
    net.pump()
    assert [r.status for r in _finals(net)] == [200]
    assert net.count("c->s", "OPTIONS") == 1
    net.advance(5.0)  # timer K = T4 on UDP
    net.advance(32.0)  # timer J = 64*T1 on UDP
    assert len(net.client) == 0 and len(net.server) == 0


def test_non_invite_retransmits_on_timer_e_and_caps_at_t2() -> None:
    net = Network(drop=lambda i, direction, name: name == "OPTIONS" and i < 6)
    net.client.send_request(_request("OPTIONS"), SERVER, "udp", net.now)
    net.pump()
    net.advance(16.0)
    times = [round(t, 2) for d, name, t in net.times if name == "OPTIONS"]
    # sent at 0, then E at T1, 2T1, 4T1, then capped at T2 = 4 s
    assert times[:7] == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert len([e for e in net.server_events if isinstance(e, RequestReceived)]) == 1


def test_non_invite_times_out_at_64_t1_when_everything_is_lost() -> None:
    net = Network(drop=lambda i, d, n: True)
    tx = net.client.send_request(_request("OPTIONS"), SERVER, "udp", net.now)
    net.pump()
    net.advance(31.9)
    assert not any(isinstance(e, TransactionTimeout) for e in net.client_events)
    net.advance(0.2)
    timeouts = [e for e in net.client_events if isinstance(e, TransactionTimeout)]
    assert len(timeouts) == 1 and timeouts[0].transaction is tx
    assert net.count("c->s", "OPTIONS") == 11  # 0, .5, 1.5, 3.5, 7.5, ... 31.5


def test_tcp_never_retransmits() -> None:
    net = Network(transport="tcp", drop=lambda i, d, n: True)
    net.client.send_request(_request("OPTIONS", "tcp"), SERVER, "tcp", net.now)
    net.pump()
    net.advance(40.0)
    assert net.count("c->s", "OPTIONS") == 1
    assert any(isinstance(e, TransactionTimeout) for e in net.client_events)


def test_invite_timer_a_doubles_and_provisional_stops_it() -> None:
    net = Network(drop=lambda i, d, n: n == "INVITE" and i < 2)
    net.client.send_request(_request("INVITE"), SERVER, "udp", net.now)
    net.pump()
    net.advance(1.6)  # A at 0.5 (lost #1), 1.5 (delivered)
    assert net.count("c->s", "INVITE") == 3
    server = _server_tx(net)
    net.server.send_response(
        server.transaction, build_response(server.request, 180, to_tag="t"), net.now
    )
    net.pump()
    net.advance(10.0)
    assert net.count("c->s", "INVITE") == 3, "a provisional response stops timer A"


def test_invite_100_trying_is_sent_after_200_ms_when_the_tu_is_silent() -> None:
    net = Network()
    net.client.send_request(_request("INVITE"), SERVER, "udp", net.now)
    net.pump()
    net.advance(0.19)
    assert net.count("s->c", "100") == 0
    net.advance(0.02)
    assert net.count("s->c", "100") == 1


def test_invite_rejected_client_acks_and_server_retransmits_until_ack() -> None:
    # the first two 486s are lost: timer G retransmits, the client ACKs the one it gets
    lost_486: list[int] = []

    def drop(index: int, direction: str, name: str) -> bool:
        if name == "486" and len(lost_486) < 2:
            lost_486.append(index)
            return True
        return False

    net = Network(drop=drop)
    invite = _request("INVITE")
    net.client.send_request(invite, SERVER, "udp", net.now)
    net.pump()
    server = _server_tx(net)
    busy = build_response(server.request, 486, to_tag="callee")
    net.server.send_response(server.transaction, busy, net.now)
    net.pump()
    net.advance(2.0)
    assert net.count("s->c", "486") == 3  # 0, G at 0.5, 1.5
    acks = [m for d, m in net.wire if d == "c->s" and _name(m) == "ACK"]
    assert len(acks) == 1
    ack = acks[0]
    assert isinstance(ack, Request)
    assert ack.top_via.branch == invite.top_via.branch  # §17.1.1.3: same branch
    assert ack.to.tag == "callee" and str(ack.cseq) == "1 ACK"
    assert server.transaction.state == "Confirmed"
    assert [r.status for r in _finals(net)] == [486], "the TU sees the final response once"
    net.advance(40.0)
    assert len(net.client) == 0 and len(net.server) == 0


def test_invite_server_gives_up_without_ack_at_timer_h() -> None:
    net = Network(drop=lambda i, d, n: n != "INVITE" or i > 0)  # only the first INVITE passes
    net.client.send_request(_request("INVITE"), SERVER, "udp", net.now)
    net.pump()
    server = _server_tx(net)
    net.server.send_response(
        server.transaction, build_response(server.request, 486, to_tag="x"), net.now
    )
    net.pump()
    net.advance(31.9)
    assert not any(isinstance(e, TransactionTimeout) for e in net.server_events)
    net.advance(0.2)
    assert any(isinstance(e, TransactionTimeout) for e in net.server_events)


def test_2xx_is_retransmitted_until_the_tu_sees_the_ack() -> None:
    net = Network(drop=lambda i, d, n: n == "200" and i == 1)  # the first 200 is lost
    net.client.send_request(_request("INVITE"), SERVER, "udp", net.now)
    net.pump()
    server = _server_tx(net)
    ok = build_response(server.request, 200, to_tag="callee")
    net.server.send_response(server.transaction, ok, net.now)
    net.pump()
    net.advance(0.6)
    assert [r.status for r in _finals(net)] == [200]
    # the TU (not the transaction) builds the ACK for a 2xx: it matches no server transaction
    ack = _request("ACK")
    ack.headers.set("Call-ID", ok.call_id)
    events = net.server.receive(ack, CLIENT, "udp", net.now)
    assert any(isinstance(e, AckReceived) for e in events)
    server.transaction.ack_2xx_received()
    sent = net.count("s->c", "200")
    net.advance(10.0)
    assert net.count("s->c", "200") == sent, "no more 2xx after the ACK"


def test_2xx_retransmission_times_out_without_ack() -> None:
    net = Network()
    net.client.send_request(_request("INVITE"), SERVER, "udp", net.now)
    net.pump()
    server = _server_tx(net)
    net.server.send_response(
        server.transaction, build_response(server.request, 200, to_tag="c"), net.now
    )
    net.pump()
    net.advance(33.0)
    assert any(isinstance(e, TransactionTimeout) for e in net.server_events)
    # every retransmitted 2xx reached the client TU, which re-sends its ACK for each
    assert len(_finals(net)) == net.count("s->c", "200") > 5


def test_retransmitted_request_is_absorbed_and_answered_again() -> None:
    net = Network()
    request = _request("OPTIONS")
    net.client.send_request(request, SERVER, "udp", net.now)
    net.pump()
    server = _server_tx(net)
    net.server.send_response(server.transaction, build_response(server.request, 200), net.now)
    net.pump()
    again = parse_message(request.serialize())
    assert isinstance(again, Request)
    stamp_received(again, CLIENT)
    events = net.server.receive(again, CLIENT, "udp", net.now)
    assert not any(isinstance(e, RequestReceived) for e in events)
    assert [o.message.status for o in net.server.take_outgoing()] == [200]  # type: ignore[union-attr]


def test_cancel_finds_its_invite_and_has_its_own_transaction() -> None:
    net = Network()
    invite = _request("INVITE")
    net.client.send_request(invite, SERVER, "udp", net.now)
    net.pump()
    invite_server = _server_tx(net)
    cancel = build_cancel(invite)
    net.client.send_request(cancel, SERVER, "udp", net.now)
    net.pump()
    cancels = [
        e
        for e in net.server_events
        if isinstance(e, RequestReceived) and e.request.method == "CANCEL"
    ]
    assert len(cancels) == 1
    assert (
        net.server.find_invite_server_transaction(cancels[0].request) is invite_server.transaction
    )
    assert cancels[0].transaction is not invite_server.transaction


def test_stray_response_reaches_the_tu_without_a_transaction() -> None:
    layer = TransactionLayer()
    stray = build_response(_request("INVITE"), 200, to_tag="x")
    events = layer.receive(stray, SERVER, "udp", 0.0)
    assert len(events) == 1 and isinstance(events[0], ResponseReceived)
    assert events[0].transaction is None


def test_response_destination_follows_received_and_rport() -> None:
    via = Via(
        "UDP",
        "10.0.0.5",
        5062,
        {"branch": "z9hG4bKx", "rport": "40000", "received": "198.51.100.7"},
    )
    assert response_destination(via, ("198.51.100.7", 40000), "udp") == ("198.51.100.7", 40000)
    plain = Via("UDP", "192.0.2.1", None, {"branch": "z9hG4bKy"})
    assert response_destination(plain, ("192.0.2.1", 5999), "udp") == ("192.0.2.1", 5060)
    assert response_destination(plain, ("192.0.2.1", 5999), "tcp") == ("192.0.2.1", 5999)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=30, max_size=30))
def test_any_loss_pattern_ends_in_a_response_or_timer_f(losses: list[bool]) -> None:
    net = Network(drop=lambda i, d, n: i < len(losses) and losses[i] and i % 3 != 2)
    net.client.send_request(_request("OPTIONS"), SERVER, "udp", net.now)
    net.pump()
    answered = False
    for _ in range(400):
        received = [e for e in net.server_events if isinstance(e, RequestReceived)]
        if received and not answered:
            net.server.send_response(
                received[0].transaction, build_response(received[0].request, 200), net.now
            )
            net.pump()
            answered = True
        net.advance(0.1)
        if _finals(net) or any(isinstance(e, TransactionTimeout) for e in net.client_events):
            break
    timed_out = any(isinstance(e, TransactionTimeout) for e in net.client_events)
    assert bool(_finals(net)) != timed_out, "exactly one outcome"
    assert net.count("c->s", "OPTIONS") <= 11
