"""The engine against raw SIP on a UDP socket: bad input, refusals, INFO, re-INVITE, CANCEL.

A hand-written peer shows exactly what goes on the wire and what comes back.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callvault.config import Settings
from callvault.demo import sounds
from callvault.demo.apps import demo_router
from callvault.engine.call import Call
from callvault.engine.engine import Engine
from callvault.engine.leg import Leg
from callvault.media.rtp import RtpPacket
from callvault.sip.errors import SipParseError
from callvault.sip.message import Request, Response, parse_message
from callvault.sip.uri import SipUri


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Engine]:
    settings = Settings(
        sip_host="127.0.0.1",
        sip_port=0,
        data_dir=tmp_path / "server",
        rtp_port_min=33000,
        rtp_port_max=33999,
        rtp_timeout_s=2.0,
    )
    engine = Engine(settings, prompt_resolver=lambda name: sounds.path(name, "en"))
    engine.router = demo_router(engine)
    await engine.start()
    yield engine
    await engine.shutdown(grace_s=0.5)


class RawPeer:
    """A UDP socket that sends SIP text and reads responses."""

    def __init__(self, server: Engine) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.server = ("127.0.0.1", server.stack.listen[1])

    def close(self) -> None:
        self.sock.close()

    def send(self, text: str, body: bytes = b"") -> None:
        head = text.strip().replace("\n", "\r\n")
        if "Content-Length" not in head:
            head += f"\r\nContent-Length: {len(body)}"
        self.sock.sendto(head.encode() + b"\r\n\r\n" + body, self.server)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.server)

    async def response(self, timeout: float = 2.0, *, final: bool = True) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("no response")
            data = await asyncio.wait_for(loop.sock_recv(self.sock, 65535), remaining)
            try:
                message: Request | Response = parse_message(data)
            except SipParseError:
                # e.g. our 400 echoes the broken CSeq it refused; read the status line
                _, code, reason = data.split(b"\r\n", 1)[0].decode().split(" ", 2)
                message = Response(status=int(code), reason=reason)
            if isinstance(message, Response) and (not final or message.status >= 200):
                return message

    def request(self, method: str, user: str = "100", extra: str = "", cseq: int = 1) -> str:
        branch = "z9hG4bK" + secrets.token_hex(6)
        call_id = secrets.token_hex(8)
        return (
            f"{method} sip:{user}@127.0.0.1:{self.server[1]} SIP/2.0\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport\n"
            f"From: <sip:raw@127.0.0.1>;tag={secrets.token_hex(4)}\n"
            f"To: <sip:{user}@127.0.0.1>\n"
            f"Call-ID: {call_id}\n"
            f"CSeq: {cseq} {method}\n"
            f"Max-Forwards: 70\n"
            f"{extra}"
        )


@pytest.fixture
async def peer(server: Engine) -> AsyncIterator[RawPeer]:
    raw = RawPeer(server)
    yield raw
    raw.close()


async def test_garbage_is_dropped_and_the_server_goes_on(peer: RawPeer) -> None:
    peer.send_raw(b"\x00\xff garbage that is not SIP at all \r\n\r\n")
    peer.send_raw(b"INVITE sip:x SIP/2.0\r\n\r\n")  # no headers to route a reply: dropped
    peer.send(peer.request("OPTIONS"))
    response = await peer.response()
    assert response.status == 200
    assert "INVITE" in response.headers.get_all("Allow")


async def test_broken_cseq_gets_400_with_a_reason(peer: RawPeer) -> None:
    peer.send(peer.request("OPTIONS").replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS"))
    response = await peer.response()
    assert response.status == 400
    assert "CSeq" in response.reason
    peer.send(peer.request("OPTIONS"))
    assert (await peer.response()).status == 200


async def test_unknown_method_501_known_unsupported_405(peer: RawPeer) -> None:
    peer.send(peer.request("FROBNICATE"))
    assert (await peer.response()).status == 501
    peer.send(peer.request("REGISTER"))
    response = await peer.response()
    assert response.status == 405
    assert "BYE" in response.headers.get_all("Allow")


async def test_bye_for_unknown_dialog_is_481(peer: RawPeer) -> None:
    request = peer.request("BYE").replace("To: <sip:100@127.0.0.1>", "To: <sip:100@h>;tag=nope")
    peer.send(request)
    assert (await peer.response()).status == 481


async def test_invite_with_unparsable_sdp_is_refused(peer: RawPeer) -> None:
    body = b"v=0\r\nthis is not sdp\r\n"
    peer.send(peer.request("INVITE", extra="Content-Type: application/sdp"), body)
    assert (await peer.response()).status == 400


async def test_invite_without_common_codec_is_488(peer: RawPeer) -> None:
    body = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
    )
    peer.send(peer.request("INVITE", extra="Content-Type: application/sdp"), body)
    assert (await peer.response()).status == 488


async def _answered_call(server: Engine, user: str) -> tuple[Engine, Leg]:
    client = Engine(
        Settings(
            sip_host="127.0.0.1",
            sip_port=0,
            data_dir=server.settings.data_dir.parent / "client",
            rtp_port_min=34000,
            rtp_port_max=34999,
        )
    )
    await client.start()
    call = Call(from_user="tester", to_user=user, traces_dir=None)
    target = SipUri.parse(f"sip:{user}@127.0.0.1:{server.stack.listen[1]}")
    leg = await client.dial(call, target, from_user="tester")
    return client, leg


async def test_sip_info_dtmf_is_collected(server: Engine) -> None:
    client, leg = await _answered_call(server, "101")
    try:
        assert leg.dialog is not None
        for digit in "7#":
            via = client.stack.make_via("127.0.0.1", "udp")
            info = leg.dialog.create_request(
                "INFO",
                via=via,
                body=f"Signal={digit}\r\nDuration=160\r\n".encode(),
                content_type="application/dtmf-relay",
            )
            pending = client.stack.request(info, leg.peer, "udp")
            assert (await pending.final).status == 200
        assert await leg.wait_ended(15.0)
        text = next(server.settings.traces_dir.glob("*.jsonl")).read_text()
        assert '"digit": "7", "via": "sip-info"' in text
        assert '"digits": "7", "reason": "finishkey"' in text
    finally:
        await client.shutdown(grace_s=0.5)


async def test_reinvite_hold_and_resume(server: Engine) -> None:
    client, leg = await _answered_call(server, "102")
    try:
        assert leg.dialog is not None and leg.local_offer is not None and leg.media is not None
        from callvault.sdp import build_offer

        for direction, expect_hold in (("sendonly", True), ("sendrecv", False)):
            leg.sdp_version += 1
            offer = build_offer(
                "127.0.0.1",
                leg.media.local_port,
                direction=direction,
                session_id=leg.sdp_session_id,
                session_version=leg.sdp_version,
            )
            via = client.stack.make_via("127.0.0.1", "udp")
            reinvite = leg.dialog.create_request(
                "INVITE", via=via, contact=leg.contact(), body=offer.serialize()
            )
            pending = client.stack.request(reinvite, leg.peer, "udp")
            response = await pending.final
            assert response.status == 200
            answer = response.body.decode()
            assert ("a=recvonly" in answer) == expect_hold
            ack = leg.dialog.create_ack(reinvite, via=client.stack.make_via("127.0.0.1", "udp"))
            client.stack.send_stateless(ack, leg.peer, "udp")
            await asyncio.sleep(0.1)
            server_leg = next(iter(server.calls.values())).caller
            assert server_leg.on_hold == expect_hold
        await leg.hangup()
    finally:
        await client.shutdown(grace_s=0.5)


async def test_rtp_timeout_hangs_up_a_silent_call(server: Engine, peer: RawPeer) -> None:
    # an SDP pointing at a port where nobody sends: the server must give up after 2 s
    body = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 9 RTP/AVP 0\r\n"
    )
    peer.send(peer.request("INVITE", user="102", extra="Content-Type: application/sdp"), body)
    ok = await peer.response()
    assert ok.status == 200
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 6
    while loop.time() < deadline and server.calls:
        await asyncio.sleep(0.1)
    assert not server.calls, "the call should end after the RTP timeout"
    text = next(server.settings.traces_dir.glob("*.jsonl")).read_text()
    assert "rtp-timeout" in text


async def test_graceful_shutdown_sends_bye(tmp_path: Path) -> None:
    server = Engine(
        Settings(
            sip_host="127.0.0.1",
            sip_port=0,
            data_dir=tmp_path / "s",
            rtp_port_min=35000,
            rtp_port_max=35999,
        ),
        prompt_resolver=lambda name: sounds.path(name, "en"),
    )
    server.router = demo_router(server)
    await server.start()
    client, leg = await _answered_call(server, "102")
    try:
        await server.shutdown(grace_s=1.0)
        assert await leg.wait_ended(3.0)
        assert leg.hangup_side == "remote"
    finally:
        await client.shutdown(grace_s=0.5)


async def test_symmetric_rtp_latches_to_the_real_source(server: Engine, peer: RawPeer) -> None:
    """A caller behind NAT advertises where it cannot receive; we answer where it sends from.

    (The advertised port is a dead loopback port, so nothing leaves the machine.)
    """
    body = (
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        b"m=audio 9 RTP/AVP 0\r\n"
    )
    peer.send(peer.request("INVITE", user="100", extra="Content-Type: application/sdp"), body)
    ok = await peer.response()
    assert ok.status == 200
    answer = ok.body.decode()
    rtp_port = int(answer.split("m=audio ")[1].split()[0])
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as media:
        media.bind(("127.0.0.1", 0))
        media.setblocking(False)
        packet = RtpPacket(
            payload_type=0, sequence_number=1, timestamp=0, ssrc=7, payload=b"\xff" * 160
        )
        media.sendto(packet.serialize(), ("127.0.0.1", rtp_port))
        data = await asyncio.wait_for(loop.sock_recv(media, 2048), 2.0)
    received = RtpPacket.parse(data)
    assert received.payload_type == 0 and len(received.payload) == 160
    trace = next(server.settings.traces_dir.glob("*.jsonl")).read_text()
    assert "rtp-latched" in trace
