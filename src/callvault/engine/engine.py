"""The call engine: a back-to-back user agent over the SIP stack (RFC 3261 §8, §12-§15).

It turns SIP events into calls and legs, hands each new inbound call to the
routing hook (a coroutine that runs the call's logic), answers in-dialog
requests (BYE, re-INVITE, INFO, OPTIONS), refuses what it does not do (405,
481, 501), and keeps media honest (RTP inactivity timeout, graceful shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from callvault.config import Settings
from callvault.engine.auth import InboundAuth
from callvault.engine.call import Call
from callvault.engine.guard import SourceGuard
from callvault.engine.leg import Leg, LegEnded, LegState
from callvault.engine.media_stream import MediaStream, PortPool
from callvault.engine.outbound import Dialer
from callvault.engine.pacer import Pacer
from callvault.engine.registrar import Registrar
from callvault.engine.sip_stack import SipStack
from callvault.engine.sources import EncodedPrompt, PromptCache
from callvault.media.dtmf import parse_dtmf_relay
from callvault.media.g711 import Codec
from callvault.sdp import (
    NegotiationError,
    SdpParseError,
    build_offer,
    negotiate,
    parse_answer,
)
from callvault.sdp import parse as parse_sdp
from callvault.sip.dialog import new_tag
from callvault.sip.errors import SipParseError
from callvault.sip.headers import NameAddress
from callvault.sip.message import Request, Response, build_response
from callvault.sip.transaction import AckReceived, RequestReceived, ServerTransaction
from callvault.sip.uri import SipUri
from callvault.transport.sip_transport import Address

log = logging.getLogger("callvault.engine")

CallApp = Callable[[Call], Awaitable[None]]
Router = Callable[[Call, Request], CallApp | Awaitable[CallApp | None] | None]
PromptResolver = Callable[[str], Path]

_KNOWN_UNSUPPORTED = {"REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE", "REFER", "PRACK"}


class Engine:
    """Owns the SIP stack, the media clock and every live call."""

    ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY"

    def __init__(
        self,
        settings: Settings,
        *,
        router: Router | None = None,
        prompt_resolver: PromptResolver | None = None,
        auth: InboundAuth | None = None,
        registrar: Registrar | None = None,
        guard: SourceGuard | None = None,
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.registrar = registrar
        self.guard = guard
        self.router = router
        self.prompt_resolver = prompt_resolver
        self.stack = SipStack(self, user_agent=settings.user_agent, guard=guard)
        self._background: set[asyncio.Task[None]] = set()
        self.call_ended_hooks: list[Callable[[Call], Awaitable[None]]] = []
        self.answer_hooks: list[Callable[[Leg], Awaitable[None]]] = []
        """Run when an inbound leg is answered, before call logic goes on (announcements)."""
        self.stack.public_address = settings.public_address
        self.stack.wire_hooks.append(self._trace_wire)
        self.pacer = Pacer()
        self.ports = PortPool(settings.rtp_port_min, settings.rtp_port_max)
        self.prompts = PromptCache()
        self.calls: dict[str, Call] = {}
        self._dialogs: dict[tuple[str, str], Leg] = {}
        self._invites: dict[str, Leg] = {}
        self._by_sip_call_id: dict[str, Call] = {}
        self._housekeeping: asyncio.Task[None] | None = None
        self.accepting = True
        self.dialer = Dialer(self)
        self.dial = self.dialer.dial  # outbound legs: see callvault.engine.outbound
        self.cancel_outbound = self.dialer.cancel_outbound
        self.send_bye = self.dialer.send_bye
        self.resend_ack = self.dialer.resend_ack

    # -- lifecycle ----------------------------------------------------------
    async def start(self) -> Address:
        """Bind SIP and start housekeeping; return the SIP address."""
        address = await self.stack.start(self.settings.sip_host, self.settings.sip_port)
        self._housekeeping = asyncio.create_task(self._housekeep())
        log.info("SIP listening on %s:%d (udp, tcp)", *address)
        return address

    async def shutdown(self, grace_s: float = 3.0) -> None:
        """End every live call cleanly (BYE/CANCEL/480), then close sockets."""
        self.accepting = False
        calls = list(self.calls.values())
        for call in calls:
            call.log.info("ending call for shutdown")
            if call.task is not None and not call.task.done():
                call.task.cancel()
        tasks = [c.task for c in calls if c.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)
        for call in list(self.calls.values()):
            await call.hangup_all("shutdown")
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        self.pacer.stop()
        await asyncio.sleep(0.05)
        await self.stack.close()

    # -- helpers used by legs ----------------------------------------------
    def contact_for(self, peer_host: str, transport: str) -> NameAddress:
        """Our Contact URI as seen from ``peer_host``."""
        params: dict[str, str | None] = {"transport": "tcp"} if transport == "tcp" else {}
        uri = SipUri(
            scheme="sip",
            user="callvault",
            host=self.stack.local_host_for(peer_host),
            port=self.stack.listen[1],
            params=params,
        )
        return NameAddress(uri=uri)

    def prompt(self, name: str, codec: Codec) -> EncodedPrompt:
        """A named prompt encoded for ``codec``."""
        if self.prompt_resolver is None:
            raise KeyError(f"no prompt library configured (asked for {name!r})")
        return self.prompts.get(self.prompt_resolver(name), codec)

    def register_dialog(self, leg: Leg) -> None:
        """Index a leg by its dialog so in-dialog requests find it."""
        assert leg.dialog is not None
        self._dialogs[(leg.dialog.call_id, leg.dialog.local_tag)] = leg

    def unregister_dialog(self, leg: Leg) -> None:
        """Forget a leg's dialog (after it ended)."""
        if leg.dialog is not None:
            self._dialogs.pop((leg.dialog.call_id, leg.dialog.local_tag), None)

    def find_leg(self, message: Request | Response, *, we_are_uas: bool) -> Leg | None:
        """The leg a message belongs to, by Call-ID and our tag."""
        tag = message.to.tag if we_are_uas else message.from_.tag
        return self._dialogs.get((message.call_id, tag or ""))

    async def allocate_media(self, leg: Leg) -> MediaStream:
        """Bind an RTP port for ``leg``."""
        loop_host = self.settings.sip_host
        _, stream, port = await self.ports.bind(
            loop_host, lambda: MediaStream(self.pacer, lambda e, d: leg.trace("media", e, **d))
        )
        stream.local_port = port
        stream.on_dtmf = lambda digit: leg.receive_digit(digit, "rfc4733")
        leg.media = stream
        return stream

    def release_media(self, leg: Leg) -> None:
        """Close a leg's RTP socket and return its port."""
        if leg.media is not None:
            leg.media.close()
            self.ports.release(leg.media.local_port)

    def start_silence(self, leg: Leg) -> None:
        """Answered legs send silence when nothing plays (NAT bindings, peers' RTP timers)."""
        if leg.media is not None:
            leg.media.start_idle_silence()

    def sdp_for_inbound(self, leg: Leg) -> bytes:
        """Our SDP answer (or offer, for an INVITE without SDP) for ``leg``."""
        assert leg.media is not None
        address = self.stack.local_host_for(leg.peer[0])
        if leg.remote_offer is None:
            leg.local_offer = build_offer(
                address,
                leg.media.local_port,
                session_id=leg.sdp_session_id,
                session_version=leg.sdp_version,
            )
            return leg.local_offer.serialize()
        negotiated = negotiate(
            leg.remote_offer,
            address,
            leg.media.local_port,
            session_id=leg.sdp_session_id,
            session_version=leg.sdp_version,
        )
        leg.apply_negotiated(negotiated)
        return negotiated.answer.serialize()

    # -- SIP handler ----------------------------------------------------------
    def on_request(self, event: RequestReceived) -> None:
        request = event.request
        method = request.method
        has_to_tag = request.to.tag is not None
        if method == "INVITE" and not has_to_tag:
            self._new_inbound(event)
        elif method == "CANCEL":
            self._on_cancel(event)
        elif method == "REGISTER" and self.registrar is not None:
            self._spawn(self._register(event))
        elif method == "OPTIONS" and not has_to_tag:
            self._reply(
                event.transaction, 200, extra=[("Allow", self.ALLOW), ("Accept", "application/sdp")]
            )
        elif has_to_tag:
            self._in_dialog(event)
        elif method in _KNOWN_UNSUPPORTED or method in ("BYE", "INFO", "ACK", "UPDATE"):
            status = 481 if method in ("BYE", "INFO", "UPDATE") else 405
            self._reply(event.transaction, status, extra=[("Allow", self.ALLOW)])
        else:
            self._reply(event.transaction, 501, extra=[("Allow", self.ALLOW)])

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _register(self, event: RequestReceived) -> None:
        assert self.registrar is not None
        try:
            local = (self.stack.local_host_for(event.source[0]), self.stack.listen[1])
            response = await self.registrar.register(
                event.request, event.source, event.transport, local
            )
        except Exception:
            log.exception("REGISTER from %s:%d failed", *event.source)
            response = build_response(event.request, 500, to_tag=new_tag())
        self.stack.respond(event.transaction, response)

    def on_ack(self, event: AckReceived) -> None:
        leg = self.find_leg(event.request, we_are_uas=True)
        if leg is None:
            return
        if leg.invite_tx is not None:
            leg.invite_tx.ack_2xx_received()
        for tx in leg.reinvite_txs:
            tx.ack_2xx_received()
        leg.reinvite_txs.clear()
        if event.request.body and leg.remote_offer is None and leg.local_offer is not None:
            # late offer: the ACK carries the answer to the SDP we offered (RFC 3261 §13.2.1)
            try:
                leg.apply_negotiated(parse_answer(leg.local_offer, parse_sdp(event.request.body)))
            except (SdpParseError, NegotiationError) as exc:
                leg.call.log.warning("bad SDP answer in ACK: %s", exc)
        leg.trace("sip", "ack")

    def on_late_response(self, response: Response) -> None:
        self.resend_ack(response)

    def on_server_timeout(self, transaction: ServerTransaction) -> None:
        leg = self._invites.get(transaction.request.branch)
        if leg is not None and leg.state == LegState.ANSWERED:
            leg.call.log.warning("no ACK for our 200 OK; hanging up")
            leg.mark_ended("no-ack", "caller")
            asyncio.get_running_loop().create_task(self.send_bye(leg, "no-ack"))

    def _reply(
        self,
        tx: ServerTransaction,
        status: int,
        *,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        response = build_response(
            tx.request, status, to_tag=_tag_for(tx.request), extra=extra or (), body=body
        )
        self.stack.respond(tx, response)

    # -- inbound calls --------------------------------------------------------
    def _new_inbound(self, event: RequestReceived) -> None:
        request, tx = event.request, event.transaction
        if not self.accepting:
            self._reply(tx, 503, extra=[("Retry-After", "5")])
            return
        auth_user: str | None = None
        if self.auth is not None:
            local = (self.stack.local_host_for(event.source[0]), self.stack.listen[1])
            decision = self.auth.check(request, local)
            if not decision.ok:
                log.info(
                    "INVITE from %s:%d refused %d: %s",
                    *event.source,
                    decision.status,
                    decision.reason,
                )
                if decision.status == 403 and self.guard is not None:
                    self.guard.auth_failed(event.source[0])
                self._reply(tx, decision.status, extra=decision.headers)
                return
            auth_user = decision.username
        offer = None
        if request.body:
            if request.content_type != "application/sdp":
                self._reply(tx, 415, extra=[("Accept", "application/sdp")])
                return
            try:
                offer = parse_sdp(request.body)
            except SdpParseError as exc:
                log.info("INVITE with bad SDP from %s: %s", event.source, exc)
                self._reply(tx, 400)
                return
        to_user = request.uri.user or ""
        from_user = request.from_.uri.user if request.from_.uri else ""
        call = Call(from_user=from_user or "", to_user=to_user, traces_dir=self.settings.traces_dir)
        if auth_user is not None:
            call.data["auth_user"] = auth_user
        leg = Leg(
            self,
            call,
            direction="inbound",
            invite=request,
            peer=event.source,
            transport=event.transport,
        )
        leg.invite_tx = tx
        leg.remote_offer = offer
        call.legs.append(leg)
        self.calls[call.id] = call
        self._invites[request.branch] = leg
        self._by_sip_call_id[request.call_id] = call
        call.trace.add(
            "call",
            "started",
            sip_call_id=request.call_id,
            source=f"{event.source[0]}:{event.source[1]}",
        )
        self._trace_wire("in", request, event.source, event.transport)
        call.log.info(
            "inbound call %s -> %s from %s:%d/%s",
            call.from_user,
            to_user,
            *event.source,
            event.transport,
        )
        call.task = asyncio.get_running_loop().create_task(self._run_inbound(call, leg))

    async def _run_inbound(self, call: Call, leg: Leg) -> None:
        try:
            try:
                await self.allocate_media(leg)
                if leg.remote_offer is not None:
                    leg.local_sdp = self.sdp_for_inbound(leg)
            except NegotiationError as exc:
                call.log.info("no common media: %s", exc)
                leg.reject(488)
                return
            except OSError as exc:
                call.log.error("cannot allocate RTP port: %s", exc)
                leg.reject(503)
                return
            routed = self.router(call, leg.invite) if self.router else None
            app = await routed if inspect.isawaitable(routed) else routed
            if app is None:
                call.log.info("no route for %s", call.to_user)
                leg.reject(404)
                return
            await app(call)
        except (LegEnded, asyncio.CancelledError):
            pass
        except Exception:
            call.log.exception("call logic failed")
        finally:
            await self._finish_call(call)

    async def _finish_call(self, call: Call) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(call.hangup_all("app-ended"))
        call.ended_at = time.time()
        call.trace.add("call", "ended", duration_s=round(call.ended_at - call.started_at, 3))
        call.trace.close()
        for hook in self.call_ended_hooks:
            try:
                await hook(call)
            except Exception:
                call.log.exception("call-ended hook failed")
        self.calls.pop(call.id, None)
        for leg in call.legs:
            self._invites.pop(leg.invite.branch, None)
            self._by_sip_call_id.pop(leg.invite.call_id, None)
        call.log.info("call ended")

    def _on_cancel(self, event: RequestReceived) -> None:
        """CANCEL (§9.2): 200 for the CANCEL, 487 for the INVITE if still pending."""
        invite_tx = self.stack.layer.find_invite_server_transaction(event.request)
        if invite_tx is None:
            self._reply(event.transaction, 481)
            return
        self._reply(event.transaction, 200)
        leg = self._invites.get(invite_tx.request.branch)
        if leg is None or leg.state in (LegState.ANSWERED, LegState.ENDED):
            return
        leg.trace("sip", "cancelled")
        leg.reject(487)
        leg.end_reason, leg.hangup_side = "cancelled", "caller"
        if leg.call.task is not None:
            leg.call.task.cancel()

    def _in_dialog(self, event: RequestReceived) -> None:
        request, tx = event.request, event.transaction
        leg = self.find_leg(request, we_are_uas=True)
        if leg is None or leg.dialog is None:
            self._reply(tx, 481)
            return
        status = leg.dialog.receive_request(request)
        if status is not None:
            self._reply(tx, status)
            return
        method = request.method
        if method == "BYE":
            self._reply(tx, 200)
            leg.call.log.info("BYE from the %s side", leg.direction)
            leg.mark_ended("bye", "remote")
            self.on_leg_hangup(leg)
        elif method == "INVITE":
            self._reinvite(leg, tx)
        elif method == "INFO":
            self._info(leg, tx)
        elif method == "REFER":
            self._refer(leg, tx)
        elif method == "NOTIFY":
            self._reply(tx, 200)  # progress of a REFER we sent; nothing to do with it
        elif method == "OPTIONS":
            self._reply(tx, 200, extra=[("Allow", self.ALLOW)])
        elif method in _KNOWN_UNSUPPORTED or method == "UPDATE":
            self._reply(tx, 405, extra=[("Allow", self.ALLOW)])
        else:
            self._reply(tx, 501, extra=[("Allow", self.ALLOW)])

    def on_leg_hangup(self, leg: Leg) -> None:
        """The remote side ended ``leg``: stop the call's logic if it was the caller."""
        call = leg.call
        if leg is call.caller and call.task is not None and not call.task.done():
            call.task.cancel()

    def _reinvite(self, leg: Leg, tx: ServerTransaction) -> None:
        """Re-INVITE (§14.2): hold/resume or a new remote address."""
        assert leg.media is not None
        request = tx.request
        body = b""
        if request.body:
            try:
                offer = parse_sdp(request.body)
                leg.remote_offer = offer
                leg.sdp_version += 1
                address = self.stack.local_host_for(leg.peer[0])
                negotiated = negotiate(
                    offer,
                    address,
                    leg.media.local_port,
                    session_id=leg.sdp_session_id,
                    session_version=leg.sdp_version,
                )
            except (SdpParseError, NegotiationError) as exc:
                leg.call.log.info("re-INVITE refused: %s", exc)
                self._reply(tx, 488)
                return
            leg.apply_negotiated(negotiated)
            body = negotiated.answer.serialize()
            leg.local_sdp = body
            leg.trace("media", "hold" if negotiated.is_hold else "resume")
        else:
            body = leg.local_sdp or b""
        response = build_response(
            request,
            200,
            to_tag=leg.local_tag,
            body=body,
            extra=[("Contact", str(leg.contact())), ("Content-Type", "application/sdp")],
        )
        leg.reinvite_txs.append(tx)
        self.stack.respond(tx, response)

    def _refer(self, leg: Leg, tx: ServerTransaction) -> None:
        """REFER (RFC 3515): accept a blind transfer request; call logic carries it out.

        202 Accepted at once, then ``NOTIFY`` with ``message/sipfrag`` as the
        transfer progresses (§2.4.4), sent by :meth:`Dialer.notify_refer`.
        """
        header = tx.request.headers.get("Refer-To")
        target = None
        if header:
            with contextlib.suppress(SipParseError):
                target = NameAddress.parse(header).uri
        if target is None:
            self._reply(tx, 400)
            return
        if leg.state != LegState.ANSWERED:
            self._reply(tx, 403)
            return
        self._reply(tx, 202)
        leg.trace("sip", "refer", target=str(target))
        leg.call.log.info("transfer requested by the %s leg to %s", leg.direction, target)
        leg.refer_requests.put_nowait(target)
        self._spawn(self.dialer.notify_refer(leg, "SIP/2.0 100 Trying", final=False))

    def _info(self, leg: Leg, tx: ServerTransaction) -> None:
        """SIP INFO DTMF (application/dtmf-relay, application/dtmf)."""
        request = tx.request
        digit = parse_dtmf_relay(request.body.decode("utf-8", "replace"), request.content_type)
        if digit is None and request.body:
            self._reply(tx, 415, extra=[("Accept", "application/dtmf-relay, application/dtmf")])
            return
        self._reply(tx, 200)
        if digit is not None:
            leg.receive_digit(digit, "sip-info")

    # -- housekeeping ---------------------------------------------------------
    async def _housekeep(self) -> None:
        """Once a second: hang up calls whose RTP stopped or that ran too long."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for call in list(self.calls.values()):
                for leg in call.live_legs:
                    if leg.state != LegState.ANSWERED or leg.media is None or leg.on_hold:
                        continue
                    if now - leg.media.last_rx > self.settings.rtp_timeout_s:
                        call.log.warning(
                            "no RTP for %.0f s on %s leg; hanging up",
                            self.settings.rtp_timeout_s,
                            leg.direction,
                        )
                        leg.trace("media", "rtp-timeout")
                        await leg.hangup("rtp-timeout")
                        leg.hangup_side = "timeout"
                        if call.task is not None:
                            call.task.cancel()
                if time.time() - call.started_at > self.settings.max_call_duration_s and call.task:
                    call.task.cancel()

    def _trace_wire(
        self, direction: str, message: Request | Response, peer: Address, transport: str
    ) -> None:
        call = self._by_sip_call_id.get(message.call_id)
        if call is None:
            return
        what = (
            message.method if isinstance(message, Request) else f"{message.status} {message.reason}"
        )
        call.trace.add(
            "sip",
            direction,
            message=what,
            cseq=message.headers.get("CSeq"),
            peer=f"{peer[0]}:{peer[1]}",
            transport=transport,
        )


def _tag_for(request: Request) -> str | None:
    return None if request.to.tag else new_tag()
