"""Outbound legs: the UAC side of INVITE, CANCEL and BYE (RFC 3261 §8.1, §9.1, §13.2, §15).

``dial()`` sends an INVITE with our SDP offer, answers a digest challenge
once (RFC 7616 / RFC 8760), follows provisional responses (180 ringing, 183
with early media), ACKs the 2xx and returns the answered leg -- or raises
:class:`DialFailed` carrying the final status.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from callvault.engine.call import Call
from callvault.engine.leg import Leg, LegState
from callvault.sdp import NegotiationError, SdpParseError, build_offer, parse_answer
from callvault.sdp import parse as parse_sdp
from callvault.sip.dialog import Dialog, build_cancel, new_call_id
from callvault.sip.digest import DigestClient
from callvault.sip.headers import CSeq, NameAddress
from callvault.sip.message import Headers, Request, Response
from callvault.sip.uri import SipUri
from callvault.transport.sip_transport import Address

if TYPE_CHECKING:
    from callvault.engine.engine import Engine


class DialFailed(Exception):
    """An outbound INVITE ended without a 2xx."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


async def resolve(uri: SipUri) -> tuple[Address, str]:
    """Where to send requests for ``uri`` (host or numeric, RFC 3263 without SRV)."""
    transport = uri.transport if uri.transport in ("udp", "tcp") else "udp"
    port = uri.port or 5060
    host = uri.host_no_brackets
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return (host, port), transport
    except OSError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    if not infos:
        raise DialFailed(503, f"cannot resolve {host}")
    return (str(infos[0][4][0]), port), transport


class Dialer:
    """UAC operations of :class:`~callvault.engine.engine.Engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def dial(
        self,
        call: Call,
        target: SipUri,
        *,
        from_user: str,
        from_display: str | None = None,
        credentials: tuple[str, str] | None = None,
        timeout_s: float = 30.0,
        on_ringing: Callable[[Leg], None] | None = None,
        offer_dtmf: bool = True,
        route_to: tuple[Address, str] | None = None,
    ) -> Leg:
        """Place an outbound leg of ``call`` to ``target``; return it answered.

        ``offer_dtmf=False`` leaves telephone-event out of the offer (as some
        gateways do), so DTMF must travel in-band.  ``route_to`` sends the
        INVITE to that (address, transport) instead of resolving ``target``
        (a registered phone's flow).
        """
        destination, transport = route_to if route_to is not None else await resolve(target)
        local_host = self.engine.stack.local_host_for(destination[0])
        from_addr = NameAddress(
            uri=SipUri(
                scheme="sip", user=from_user, host=local_host, port=self.engine.stack.listen[1]
            ),
            display_name=from_display,
        )
        headers = Headers()
        headers.add("Via", str(self.engine.stack.make_via(destination[0], transport)))
        headers.add("Max-Forwards", "70")
        headers.add("From", str(from_addr))
        headers.add("To", str(NameAddress(uri=target.without_params("transport"))))
        headers.add("Call-ID", new_call_id(local_host))
        headers.add("CSeq", "1 INVITE")
        invite = Request(headers=headers, method="INVITE", uri=target)
        leg = Leg(
            self.engine,
            call,
            direction="outbound",
            invite=invite,
            peer=destination,
            transport=transport,
        )
        invite.headers.set("From", str(from_addr.with_tag(leg.local_tag)))
        invite.headers.add("Contact", str(leg.contact()))
        invite.headers.add("Allow", self.engine.ALLOW)
        call.legs.append(leg)
        self.engine._by_sip_call_id[invite.call_id] = call
        media = await self.engine.allocate_media(leg)
        leg.local_offer = build_offer(
            local_host,
            media.local_port,
            dtmf_pt=101 if offer_dtmf else None,
            session_id=leg.sdp_session_id,
            session_version=leg.sdp_version,
        )
        invite.headers.add("Content-Type", "application/sdp")
        invite.body = leg.local_offer.serialize()
        call.log.info("dialing %s via %s:%d/%s", target, *destination, transport)
        leg.trace("call", "dialing", target=str(target))
        return await self._run_invite(leg, credentials, timeout_s, on_ringing)

    async def _run_invite(
        self,
        leg: Leg,
        credentials: tuple[str, str] | None,
        timeout_s: float,
        on_ringing: Callable[[Leg], None] | None,
    ) -> Leg:
        digest = DigestClient(*credentials) if credentials else None
        challenged = False
        while True:
            pending = self.engine.stack.request(
                leg.invite, leg.peer, leg.transport, lambda r: self._provisional(leg, r, on_ringing)
            )
            leg.pending_invite = pending
            pending.final.add_done_callback(functools.partial(self._late_answer, leg))
            try:
                response = await asyncio.wait_for(asyncio.shield(pending.final), timeout_s)
            except TimeoutError:
                await self.cancel_outbound(leg)
                raise DialFailed(408, "no answer") from None
            except asyncio.CancelledError:
                await self.cancel_outbound(leg)
                raise
            if response.status in (401, 407) and digest is not None and not challenged:
                challenged = True
                self._authorize(leg, response, digest)
                continue
            if 200 <= response.status < 300:
                self._confirm(leg, response)
                return leg
            leg.final_status = response.status
            leg.mark_ended(f"status-{response.status}", "callee")
            raise DialFailed(response.status, response.reason)

    def _authorize(self, leg: Leg, response: Response, digest: DigestClient) -> None:
        """Re-send the INVITE with credentials (RFC 3261 §22.2): CSeq+1, new branch."""
        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        answer_header = "Authorization" if response.status == 401 else "Proxy-Authorization"
        challenges = response.headers.get_all(header)
        invite = leg.invite
        value = digest.answer(challenges, "INVITE", str(invite.uri), invite.body)
        headers = invite.headers.copy()
        cseq = invite.cseq
        headers.set("CSeq", str(CSeq(cseq.seq + 1, "INVITE")))
        headers.remove_first("Via")
        headers.prepend("Via", str(self.engine.stack.make_via(leg.peer[0], leg.transport)))
        headers.set(answer_header, value)
        leg.invite = Request(headers=headers, body=invite.body, method="INVITE", uri=invite.uri)
        leg.trace("sip", "auth-challenge", status=response.status)

    def _provisional(
        self, leg: Leg, response: Response, on_ringing: Callable[[Leg], None] | None
    ) -> None:
        if response.status == 100 or leg.state == LegState.ENDED:
            return
        if response.body and leg.local_offer is not None and leg.negotiated is None:
            with contextlib.suppress(SdpParseError, NegotiationError):
                leg.apply_negotiated(parse_answer(leg.local_offer, parse_sdp(response.body)))
                leg.state = LegState.EARLY
        if leg.state == LegState.NEW:
            leg.state = LegState.RINGING
        leg.trace("call", "progress", status=response.status)
        if on_ringing is not None:
            on_ringing(leg)

    def _confirm(self, leg: Leg, response: Response) -> None:
        """2xx: build the dialog, apply the SDP answer, send the ACK (§13.2.2.4)."""
        dialog = Dialog.as_uac(leg.invite, response)
        leg.dialog = dialog
        self.engine.register_dialog(leg)
        if response.body and leg.local_offer is not None:
            try:
                leg.apply_negotiated(parse_answer(leg.local_offer, parse_sdp(response.body)))
            except (SdpParseError, NegotiationError) as exc:
                leg.call.log.warning("unusable SDP answer: %s", exc)
        self._send_ack(leg)
        leg.answered_at = leg.answered_at or time.time()
        leg.state = LegState.ANSWERED
        leg.trace("call", "answered")
        leg.answered.set()
        self.engine.start_silence(leg)

    def _send_ack(self, leg: Leg) -> None:
        assert leg.dialog is not None
        if leg.ack is None:
            destination = leg.dialog.destination_uri()
            via = self.engine.stack.make_via(destination.host_no_brackets, leg.transport)
            leg.ack = leg.dialog.create_ack(leg.invite, via=via)
        self.engine.stack.send_stateless(leg.ack, self._dialog_destination(leg), leg.transport)

    def _dialog_destination(self, leg: Leg) -> Address:
        assert leg.dialog is not None
        uri = leg.dialog.destination_uri()
        if leg.transport == "tcp":
            return leg.peer
        return (uri.host_no_brackets, uri.port or 5060)

    def _late_answer(self, leg: Leg, final: asyncio.Future[Response]) -> None:
        """A 2xx that arrives after we gave up (CANCEL race): ACK it, then BYE."""
        if final.cancelled() or final.exception() is not None:
            return
        response = final.result()
        if 200 <= response.status < 300 and leg.state == LegState.ENDED and leg.dialog is None:
            leg.dialog = Dialog.as_uac(leg.invite, response)
            self._send_ack(leg)
            asyncio.get_running_loop().create_task(self._bye_request(leg))

    def resend_ack(self, response: Response) -> None:
        """Re-send our ACK for a retransmitted 2xx (§13.2.2.4)."""
        if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
            return
        leg = self.engine.find_leg(response, we_are_uas=False)
        if leg is not None and leg.ack is not None:
            self.engine.stack.send_stateless(leg.ack, self._dialog_destination(leg), leg.transport)

    async def cancel_outbound(self, leg: Leg) -> None:
        """CANCEL a ringing outbound leg (§9.1); it ends with 487."""
        if leg.state in (LegState.ANSWERED, LegState.ENDED):
            return
        leg.mark_ended("cancelled", "local")
        pending = leg.pending_invite
        if pending is None or pending.final.done():
            return
        cancel = build_cancel(leg.invite)
        result = self.engine.stack.request(cancel, leg.peer, leg.transport)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(result.final), 5.0)

    async def send_bye(self, leg: Leg, reason: str) -> None:
        """End an answered leg with BYE (§15.1)."""
        if leg.state == LegState.ENDED:
            return
        leg.mark_ended(reason, "local")
        await self._bye_request(leg)

    async def _bye_request(self, leg: Leg) -> None:
        if leg.dialog is None:
            return
        destination = leg.dialog.destination_uri()
        via = self.engine.stack.make_via(destination.host_no_brackets, leg.transport)
        bye = leg.dialog.create_request("BYE", via=via, contact=leg.contact())
        pending = self.engine.stack.request(bye, self._dialog_destination(leg), leg.transport)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pending.final), 5.0)

    async def notify_refer(self, leg: Leg, sipfrag: str, *, final: bool) -> None:
        """Report a transfer's progress to the referrer (RFC 3515 §2.4.4): NOTIFY with sipfrag."""
        if leg.dialog is None or leg.state != LegState.ANSWERED:
            return
        destination = leg.dialog.destination_uri()
        via = self.engine.stack.make_via(destination.host_no_brackets, leg.transport)
        state = "terminated;reason=noresource" if final else "active;expires=60"
        request = leg.dialog.create_request(
            "NOTIFY", via=via, contact=leg.contact(), body=sipfrag.encode() + b"\r\n",
            content_type="message/sipfrag;version=2.0",
            extra=[("Event", "refer"), ("Subscription-State", state)],
        )  # fmt: skip
        pending = self.engine.stack.request(request, self._dialog_destination(leg), leg.transport)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pending.final), 5.0)

    async def reinvite(self, leg: Leg, direction: str = "sendrecv") -> bool:
        """Re-offer media in the dialog (RFC 3261 §14.1): hold with ``sendonly``/``inactive``.

        Returns True when the peer accepted (2xx, answer applied, ACK sent).
        """
        if leg.dialog is None or leg.media is None or leg.state != LegState.ANSWERED:
            return False
        leg.sdp_version += 1
        local_host = self.engine.stack.local_host_for(leg.peer[0])
        offer = build_offer(
            local_host,
            leg.media.local_port,
            direction=direction,
            session_id=leg.sdp_session_id,
            session_version=leg.sdp_version,
        )
        destination = leg.dialog.destination_uri()
        via = self.engine.stack.make_via(destination.host_no_brackets, leg.transport)
        request = leg.dialog.create_request(
            "INVITE", via=via, contact=leg.contact(), body=offer.serialize()
        )
        pending = self.engine.stack.request(request, self._dialog_destination(leg), leg.transport)
        try:
            response = await asyncio.wait_for(asyncio.shield(pending.final), 32.0)
        except TimeoutError:
            return False
        if not 200 <= response.status < 300:
            leg.trace("sip", "reinvite-refused", status=response.status)
            return False
        ack_via = self.engine.stack.make_via(destination.host_no_brackets, leg.transport)
        ack = leg.dialog.create_ack(request, via=ack_via)
        self.engine.stack.send_stateless(ack, self._dialog_destination(leg), leg.transport)
        try:
            leg.apply_negotiated(parse_answer(offer, parse_sdp(response.body)))
        except (SdpParseError, NegotiationError) as exc:
            leg.call.log.warning("unusable SDP answer to re-INVITE: %s", exc)
            return False
        leg.local_offer = offer
        leg.trace("media", "hold" if direction != "sendrecv" else "resume", by="local")
        return True
