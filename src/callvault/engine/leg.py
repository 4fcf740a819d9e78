"""A call leg: one SIP dialog with one media stream (RFC 3261 §12-§15, RFC 3264).

Inbound legs are the UAS side of an INVITE we received; outbound legs are the
UAC side of one we sent (see :mod:`callvault.engine.outbound`).  A leg offers
what call logic needs -- ring, early media, answer, play, collect digits,
send DTMF, hang up -- and hides SIP and RTP from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from callvault.engine.media_stream import InbandDtmfConsumer, MediaStream
from callvault.engine.sip_stack import PendingRequest
from callvault.engine.sources import PayloadSource, PromptSource
from callvault.media.g711 import codec_by_name
from callvault.sdp import NegotiatedMedia, SessionDescription, new_session_id
from callvault.sip.dialog import Dialog, new_tag
from callvault.sip.headers import NameAddress
from callvault.sip.message import Request, Response, build_response
from callvault.sip.transaction import ServerTransaction
from callvault.sip.uri import SipUri
from callvault.transport.sip_transport import Address

if TYPE_CHECKING:
    from callvault.engine.call import Call
    from callvault.engine.engine import Engine


class LegState(StrEnum):
    """Where a leg is in its life."""

    NEW = "new"
    RINGING = "ringing"
    EARLY = "early"
    ANSWERED = "answered"
    ENDED = "ended"


class LegEnded(Exception):
    """Raised by leg operations once the leg has ended (the other side hung up)."""


class Leg:
    """One side of a call."""

    def __init__(
        self,
        engine: Engine,
        call: Call,
        *,
        direction: str,
        invite: Request,
        peer: Address,
        transport: str,
    ) -> None:
        self.engine = engine
        self.call = call
        self.direction = direction
        self.invite = invite
        self.peer = peer
        self.transport = transport
        self.local_tag = new_tag()
        self.dialog: Dialog | None = None
        self.invite_tx: ServerTransaction | None = None
        self.reinvite_txs: list[ServerTransaction] = []
        self.local_offer: SessionDescription | None = None
        self.ack: Request | None = None
        self.pending_invite: PendingRequest | None = None
        self.media: MediaStream | None = None
        self.remote_offer: SessionDescription | None = None
        self.negotiated: NegotiatedMedia | None = None
        self.local_sdp: bytes | None = None
        self.sdp_session_id = new_session_id()
        self.sdp_version = 1
        self.state = LegState.NEW
        self.started_at = time.time()
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.end_reason: str | None = None
        self.hangup_side: str | None = None
        self.on_hold = False
        self.ended = asyncio.Event()
        self.answered = asyncio.Event()
        self.digits: asyncio.Queue[str] = asyncio.Queue()
        self.digit_listeners: list[Callable[[str], None]] = []
        self.refer_requests: asyncio.Queue[SipUri] = asyncio.Queue()
        """Transfer targets the peer asked for with REFER (RFC 3515)."""
        self._digit_signal = asyncio.Event()
        self.final_status: int | None = None

    def __repr__(self) -> str:
        return f"<Leg {self.direction} {self.state} call={self.call.id}>"

    @property
    def is_up(self) -> bool:
        """Answered and not ended."""
        return self.state == LegState.ANSWERED

    @property
    def remote_party(self) -> str:
        """The other party's URI as text (From of inbound, To of outbound)."""
        nameaddr = self.invite.from_ if self.direction == "inbound" else self.invite.to
        return str(nameaddr.uri)

    def trace(self, kind: str, event: str, **data: Any) -> None:
        """Add an event to the call's trace, naming this leg."""
        self.call.trace.add(kind, event, leg=self.direction, **data)

    def _ensure_alive(self) -> None:
        if self.state == LegState.ENDED:
            raise LegEnded(self.end_reason or "ended")

    def _set_state(self, state: LegState) -> None:
        if state == self.state:
            return
        self.trace("call", "leg-state", old=self.state.value, new=state.value)
        self.call.log.debug("%s leg %s -> %s", self.direction, self.state, state)
        self.state = state

    # -- media ------------------------------------------------------------
    def apply_negotiated(self, negotiated: NegotiatedMedia) -> None:
        """Point the media stream at the negotiated address and codec."""
        assert self.media is not None
        self.negotiated = negotiated
        self.media.configure(
            (negotiated.remote_address, negotiated.remote_port) if negotiated.remote_port else None,
            codec_by_name(negotiated.codec),
            negotiated.telephone_event_pt,
            negotiated.local_telephone_event_pt,
        )
        self.on_hold = negotiated.is_hold
        has_inband = any(isinstance(c, InbandDtmfConsumer) for c in self.media.consumers)
        if negotiated.telephone_event_pt is None and not has_inband:
            # the peer cannot send RFC 4733 events: listen for tones in the audio
            self.media.consumers.append(
                InbandDtmfConsumer(lambda digit: self.receive_digit(digit, "inband"))
            )
        self.media.send_enabled = negotiated.direction in ("sendrecv", "sendonly")
        self.trace(
            "media",
            "negotiated",
            codec=negotiated.codec,
            remote=f"{negotiated.remote_address}:{negotiated.remote_port}",
            dtmf_pt=negotiated.telephone_event_pt,
            direction=negotiated.direction,
        )

    async def play(self, source: PayloadSource, *, barge_in: bool = False) -> bool:
        """Send audio until it ends; with ``barge_in`` a digit interrupts it.

        Returns True when the audio ran to its end, False when a digit (or a
        hang-up) cut it short; with barge-in the digit stays queued.
        """
        self._ensure_alive()
        assert self.media is not None
        done = self.media.play(source)
        waiters: set[asyncio.Future[Any]] = {done, asyncio.ensure_future(self.ended.wait())}
        digit_waiter: asyncio.Future[Any] | None = None
        if barge_in:
            if not self.digits.empty():
                self.media.stop_source()
                return False
            self._digit_signal.clear()
            digit_waiter = asyncio.ensure_future(self._digit_signal.wait())
            waiters.add(digit_waiter)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                if waiter is not done and not waiter.done():
                    waiter.cancel()
            if not done.done():
                self.media.stop_source()
        self._ensure_alive()
        return bool(done.result()) if done.done() else False

    async def play_prompts(self, names: list[str], *, barge_in: bool = False) -> bool:
        """Play prompts from the node's sound library by name, back to back."""
        assert self.negotiated is not None
        codec = codec_by_name(self.negotiated.codec)
        prompts = [self.engine.prompt(name, codec) for name in names]
        return await self.play(PromptSource(prompts), barge_in=barge_in)

    async def collect_digits(
        self,
        *,
        max_digits: int,
        finish_on: str = "#",
        timeout_s: float = 5.0,
        first_timeout_s: float | None = None,
    ) -> tuple[str, str]:
        """Collect DTMF: returns (digits without the finish key, reason).

        ``reason`` is ``maxdigits``, ``finishkey`` or ``timeout``; the
        timeout counts between digits (the first one may have its own).
        """
        collected = ""
        timeout = first_timeout_s if first_timeout_s is not None else timeout_s
        while True:
            self._ensure_alive()
            try:
                digit = await asyncio.wait_for(self._next_digit_or_end(), timeout)
            except TimeoutError:
                return collected, "timeout"
            if finish_on and digit in finish_on:
                return collected, "finishkey"
            collected += digit
            if len(collected) >= max_digits:
                return collected, "maxdigits"
            timeout = timeout_s

    async def _next_digit_or_end(self) -> str:
        getter = asyncio.ensure_future(self.digits.get())
        ender = asyncio.ensure_future(self.ended.wait())
        try:
            await asyncio.wait({getter, ender}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ender.cancel()
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        raise LegEnded(self.end_reason or "ended")

    def flush_digits(self) -> None:
        """Forget digits typed before now."""
        while not self.digits.empty():
            self.digits.get_nowait()

    def receive_digit(self, digit: str, via: str) -> None:
        """A digit arrived (RFC 4733, SIP INFO or in-band)."""
        if via != "rfc4733":
            self.trace("media", "dtmf", digit=digit, via=via)
        self.call.log.info("DTMF %s (%s) on %s leg", digit, via, self.direction)
        self.digits.put_nowait(digit)
        self._digit_signal.set()
        for listener in self.digit_listeners:
            listener(digit)

    def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        """Send digits as RFC 4733 events."""
        self._ensure_alive()
        assert self.media is not None
        for digit in digits:
            self.media.send_dtmf(digit, duration_ms)

    # -- inbound (UAS) signalling ------------------------------------------
    def _respond(
        self,
        status: int,
        *,
        body: bytes = b"",
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> Response:
        assert self.invite_tx is not None
        extra: list[tuple[str, str]] = list(headers or [])
        if 100 < status < 300:
            extra.append(("Contact", str(self.engine.contact_for(self.peer[0], self.transport))))
        if status < 300 or status == 405:
            extra.append(("Allow", self.engine.ALLOW))
        if body:
            extra.append(("Content-Type", "application/sdp"))
        response = build_response(
            self.invite, status, reason, to_tag=self.local_tag, body=body, extra=extra
        )
        if 100 < status < 300 and self.dialog is None:
            self.dialog = Dialog.as_uas(self.invite, self.local_tag)
            self.engine.register_dialog(self)
        self.engine.stack.respond(self.invite_tx, response)
        return response

    def _answer_sdp(self) -> bytes:
        if self.local_sdp is None:
            self.local_sdp = self.engine.sdp_for_inbound(self)
        return self.local_sdp

    async def ring(self) -> None:
        """Send 180 Ringing (no media)."""
        self._ensure_alive()
        if self.state == LegState.NEW:
            self._respond(180)
            self._set_state(LegState.RINGING)

    async def early_media(self) -> None:
        """Send 183 Session Progress with SDP: audio before answer (RFC 3960)."""
        self._ensure_alive()
        if self.state in (LegState.NEW, LegState.RINGING):
            self._respond(183, body=self._answer_sdp())
            self._set_state(LegState.EARLY)

    async def answer(self) -> None:
        """Send 200 OK with the SDP answer; the call is up."""
        self._ensure_alive()
        if self.state == LegState.ANSWERED:
            return
        self._respond(200, body=self._answer_sdp())
        self.answered_at = time.time()
        self._set_state(LegState.ANSWERED)
        self.answered.set()
        self.engine.start_silence(self)
        for hook in self.engine.answer_hooks:
            await hook(self)

    def reject(
        self, status: int, reason: str | None = None, headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Refuse an unanswered inbound call with a final response (and extra headers)."""
        if self.state in (LegState.ANSWERED, LegState.ENDED):
            return
        self._respond(status, reason=reason, headers=headers)
        self.final_status = status
        self.mark_ended(f"rejected-{status}", "callee")

    def mark_ended(self, reason: str, side: str) -> None:
        """Record the end of the leg and release its media."""
        if self.state == LegState.ENDED:
            return
        self.end_reason = reason
        self.hangup_side = side
        self.ended_at = time.time()
        self._set_state(LegState.ENDED)
        self.trace("call", "leg-ended", reason=reason, side=side)
        self.ended.set()
        if self.media is not None:
            self.engine.release_media(self)
        self.engine.unregister_dialog(self)

    async def hangup(self, reason: str = "normal") -> None:
        """End the leg from our side, whatever its state."""
        if self.state == LegState.ENDED:
            return
        if self.direction == "inbound" and self.state != LegState.ANSWERED:
            self.reject(480 if reason != "busy" else 486)
            return
        if self.direction == "outbound" and self.state != LegState.ANSWERED:
            await self.engine.cancel_outbound(self)
            return
        await self.engine.send_bye(self, reason)

    async def hold(self) -> bool:
        """Put the far end on hold (re-INVITE with ``sendonly``, RFC 3264 §8.4)."""
        return await self.engine.dialer.reinvite(self, "sendonly")

    async def resume(self) -> bool:
        """Take the far end off hold (re-INVITE with ``sendrecv``)."""
        return await self.engine.dialer.reinvite(self, "sendrecv")

    async def wait_ended(self, timeout: float | None = None) -> bool:
        """Wait until the leg ends; False on timeout."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), timeout)
        return self.ended.is_set()

    def contact(self) -> NameAddress:
        """Our Contact for this leg."""
        return self.engine.contact_for(self.peer[0], self.transport)
