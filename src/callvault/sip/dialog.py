"""SIP dialogs (RFC 3261 §12) and the identifiers they are made of.

A :class:`Dialog` is the state two user agents share after a 1xx-with-tag or
2xx to an INVITE: Call-ID, both tags, CSeq numbers, the remote target and the
route set.  It builds in-dialog requests (§12.2.1.1) and checks the ones it
receives (§12.2.2).  :func:`build_cancel` builds a CANCEL (§9.1).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from callvault.sip.headers import CSeq, NameAddress, Via
from callvault.sip.message import Headers, Request, Response
from callvault.sip.uri import SipUri

MAGIC_COOKIE = "z9hG4bK"


def new_tag() -> str:
    """A From/To tag with 64 bits of randomness (§19.3)."""
    return secrets.token_hex(8)


def new_branch() -> str:
    """A branch id starting with the RFC 3261 magic cookie (§8.1.1.7)."""
    return MAGIC_COOKIE + secrets.token_hex(10)


def new_call_id(host: str) -> str:
    """A globally unique Call-ID (§8.1.1.4)."""
    return f"{secrets.token_hex(12)}@{host}"


def _strip_tag(address: NameAddress) -> NameAddress:
    return replace(address, params={k: v for k, v in address.params.items() if k != "tag"})


@dataclass
class Dialog:
    """One dialog as seen from our side."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddress
    remote_uri: NameAddress
    remote_target: SipUri
    route_set: list[NameAddress] = field(default_factory=list)
    local_seq: int = 1
    remote_seq: int | None = None
    state: str = "early"
    secure: bool = False

    @classmethod
    def as_uas(cls, request: Request, local_tag: str) -> Dialog:
        """The dialog a UAS creates when it answers ``request`` (§12.1.1)."""
        contacts = request.contacts
        target = contacts[0].uri if contacts and contacts[0].uri else request.from_.uri
        assert target is not None
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",
            local_uri=_strip_tag(request.to),
            remote_uri=_strip_tag(request.from_),
            remote_target=target,
            route_set=request.record_route,
            local_seq=0,
            remote_seq=request.cseq.seq,
            state="confirmed",
            secure=request.uri.scheme == "sips",
        )

    @classmethod
    def as_uac(cls, request: Request, response: Response) -> Dialog:
        """The dialog a UAC creates from a response with a To tag (§12.1.2)."""
        contacts = response.contacts
        target = contacts[0].uri if contacts and contacts[0].uri else request.uri
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=response.to.tag or "",
            local_uri=_strip_tag(request.from_),
            remote_uri=_strip_tag(response.to),
            remote_target=target,
            route_set=list(reversed(response.record_route)),
            local_seq=request.cseq.seq,
            remote_seq=None,
            state="confirmed" if 200 <= response.status < 300 else "early",
            secure=request.uri.scheme == "sips",
        )

    @property
    def key(self) -> tuple[str, str, str]:
        """(Call-ID, local tag, remote tag): the dialog id (§12)."""
        return (self.call_id, self.local_tag, self.remote_tag)

    def _loose(self) -> bool:
        return (
            bool(self.route_set)
            and self.route_set[0].uri is not None
            and ("lr" in self.route_set[0].uri.params)
        )

    def destination_uri(self) -> SipUri:
        """Where in-dialog requests go: the first route if loose, else the target."""
        if self.route_set and self.route_set[0].uri is not None:
            return self.route_set[0].uri
        return self.remote_target

    def _base_request(self, method: str, cseq: int, via: Via) -> Request:
        headers = Headers()
        headers.add("Via", str(via))
        headers.add("Max-Forwards", "70")
        headers.add("From", str(self.local_uri.with_tag(self.local_tag)))
        to = self.remote_uri.with_tag(self.remote_tag) if self.remote_tag else self.remote_uri
        headers.add("To", str(to))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", str(CSeq(cseq, method)))
        request_uri = self.remote_target
        if self.route_set and not self._loose():
            # strict routing (§12.2.1.1): first route becomes the Request-URI
            first = self.route_set[0].uri
            assert first is not None
            request_uri = first
            for route in self.route_set[1:]:
                headers.add("Route", str(route))
            headers.add("Route", str(NameAddress(uri=self.remote_target)))
        else:
            for route in self.route_set:
                headers.add("Route", str(route))
        return Request(headers=headers, method=method, uri=request_uri)

    def create_request(
        self,
        method: str,
        *,
        via: Via,
        contact: NameAddress | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        extra: Iterable[tuple[str, str]] = (),
    ) -> Request:
        """A new in-dialog request with the next local CSeq (§12.2.1.1)."""
        self.local_seq += 1
        request = self._base_request(method, self.local_seq, via)
        if contact is not None:
            request.headers.add("Contact", str(contact))
        for name, value in extra:
            request.headers.add(name, value)
        if body:
            request.headers.add("Content-Type", content_type or "application/sdp")
            request.body = body
        return request

    def create_ack(
        self,
        invite: Request,
        *,
        via: Via,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """The ACK for a 2xx to ``invite``: its CSeq number, a new branch (§13.2.2.4)."""
        ack = self._base_request("ACK", invite.cseq.seq, via)
        for name in ("Authorization", "Proxy-Authorization"):
            value = invite.headers.get(name)
            if value is not None:
                ack.headers.add(name, value)
        if body:
            ack.headers.add("Content-Type", content_type or "application/sdp")
            ack.body = body
        return ack

    def receive_request(self, request: Request) -> int | None:
        """Check an in-dialog request (§12.2.2); return an error status or None.

        A CSeq lower than the last one seen gets ``500``; a re-INVITE or UPDATE
        with a Contact refreshes the remote target.
        """
        if request.method in ("ACK", "CANCEL"):
            return None
        seq = request.cseq.seq
        if self.remote_seq is not None and seq < self.remote_seq:
            return 500
        self.remote_seq = seq
        if request.method in ("INVITE", "UPDATE"):
            contacts = request.contacts
            if contacts and contacts[0].uri is not None:
                self.remote_target = contacts[0].uri
        return None

    def update_from_response(self, response: Response) -> None:
        """Early → confirmed on a 2xx; target refresh from a 2xx's Contact (§12.2.1.2)."""
        if 200 <= response.status < 300:
            self.state = "confirmed"
            contacts = response.contacts
            if response.cseq.method in ("INVITE", "UPDATE") and contacts and contacts[0].uri:
                self.remote_target = contacts[0].uri


def build_cancel(invite: Request) -> Request:
    """CANCEL for a pending INVITE (§9.1): same Request-URI, branch, Call-ID, From, To."""
    headers = Headers()
    headers.add("Via", invite.headers.get("Via") or "")
    headers.add("Max-Forwards", "70")
    for name in ("From", "To", "Call-ID"):
        headers.add(name, invite.headers.get(name) or "")
    headers.add("CSeq", str(CSeq(invite.cseq.seq, "CANCEL")))
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    return Request(headers=headers, method="CANCEL", uri=invite.uri)


def match_dialog_key(message: Request | Response, is_uas_side: bool) -> tuple[str, str, str]:
    """The dialog key of ``message`` from our side (§12)."""
    from_tag = message.from_.tag or ""
    to_tag = message.to.tag or ""
    if isinstance(message, Request):
        # a request we receive: the To tag is ours
        return (message.call_id, to_tag, from_tag)
    # a response we receive: the From tag is ours
    _ = is_uas_side
    return (message.call_id, from_tag, to_tag)
