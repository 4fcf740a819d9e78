"""Dialogs (RFC 3261 §12), CANCEL construction (§9.1) and identifier helpers (§8.1.1)."""

from __future__ import annotations

import pytest

from callvault.sip.dialog import (
    MAGIC_COOKIE,
    Dialog,
    build_cancel,
    new_branch,
    new_call_id,
    new_tag,
)
from callvault.sip.headers import NameAddress, Via
from callvault.sip.message import Request, Response, build_response, parse_message
from callvault.sip.uri import SipUri

INVITE = (
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnashds8;rport\r\n"
    "Via: SIP/2.0/UDP edge.atlanta.example.com;branch=z9hG4bKedge1\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com:5060>\r\n"
    "Record-Route: <sip:p2.example.com;lr>\r\n"
    "Record-Route: <sip:p1.example.com;lr>\r\n"
    "Route: <sip:p1.example.com;lr>\r\n"
    'Authorization: Digest username="alice", realm="atlanta"\r\n'
    "Content-Length: 0\r\n\r\n"
)


def invite() -> Request:
    message = parse_message(INVITE.encode())
    assert isinstance(message, Request)
    return message


def answer(request: Request, status: int = 200, *, contact: str | None = None) -> Response:
    extra = [("Contact", contact or "<sip:bob@192.0.2.4:5080>")]
    return build_response(request, status, to_tag="a6c85cf", extra=extra)


def local_via() -> Via:
    return Via("UDP", "pc33.atlanta.example.com", 5060, {"branch": new_branch()})


def uri(text: str) -> SipUri:
    return SipUri.parse(text)


# -- creation (§12.1) -------------------------------------------------------


def test_uas_dialog_takes_its_fields_from_the_request() -> None:
    request = invite()
    dialog = Dialog.as_uas(request, "bob-tag")
    assert dialog.key == ("a84b4c76e66710@pc33.atlanta.example.com", "bob-tag", "1928301774")
    assert dialog.local_uri.uri == uri("sip:bob@biloxi.example.com")
    assert dialog.local_uri.tag is None and dialog.remote_uri.tag is None
    assert dialog.remote_uri.uri == uri("sip:alice@atlanta.example.com")
    assert dialog.remote_target == uri("sip:alice@pc33.atlanta.example.com:5060")
    # §12.1.1: the UAS keeps the Record-Route order
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p2.example.com;lr",
        "sip:p1.example.com;lr",
    ]
    assert dialog.remote_seq == 314159
    assert dialog.state == "confirmed"
    assert dialog.secure is False


def test_uac_dialog_takes_its_fields_from_the_response() -> None:
    request = invite()
    response = answer(request)
    dialog = Dialog.as_uac(request, response)
    assert dialog.key == ("a84b4c76e66710@pc33.atlanta.example.com", "1928301774", "a6c85cf")
    assert dialog.local_uri.uri == uri("sip:alice@atlanta.example.com")
    assert dialog.local_uri.display_name == "Alice"
    assert dialog.remote_uri.uri == uri("sip:bob@biloxi.example.com")
    assert dialog.local_uri.tag is None and dialog.remote_uri.tag is None
    assert dialog.remote_target == uri("sip:bob@192.0.2.4:5080")
    # §12.1.2: the UAC reverses the Record-Route set
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:p1.example.com;lr",
        "sip:p2.example.com;lr",
    ]
    assert dialog.local_seq == 314159 and dialog.remote_seq is None
    assert dialog.state == "confirmed"


def test_uac_early_dialog_from_provisional_is_confirmed_by_2xx() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, answer(request, 180, contact="<sip:bob@192.0.2.4:5080>"))
    assert dialog.state == "early"
    dialog.update_from_response(answer(request, 200, contact="<sip:bob@192.0.2.99>"))
    assert dialog.state == "confirmed"
    assert dialog.remote_target == uri("sip:bob@192.0.2.99"), "2xx refreshes the target"


def test_uac_dialog_without_contact_targets_the_request_uri() -> None:
    request = invite()
    response = build_response(request, 200, to_tag="t")
    dialog = Dialog.as_uac(request, response)
    assert dialog.remote_target == request.uri


def test_sips_request_uri_makes_a_secure_dialog() -> None:
    request = invite()
    request.uri = uri("sips:bob@biloxi.example.com")
    assert Dialog.as_uas(request, "t").secure is True


# -- in-dialog requests (§12.2.1.1) -----------------------------------------


def test_create_request_increments_cseq_and_uses_loose_routes() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, answer(request))
    bye = dialog.create_request("BYE", via=local_via())
    assert (bye.cseq.seq, bye.cseq.method) == (314160, "BYE")
    assert bye.method == "BYE"
    assert bye.uri == uri("sip:bob@192.0.2.4:5080"), "loose routing keeps the remote target"
    assert [NameAddress.parse(r).uri for r in bye.headers.get_all("Route")] == [
        uri("sip:p1.example.com;lr"),
        uri("sip:p2.example.com;lr"),
    ]
    assert bye.from_.tag == "1928301774" and bye.to.tag == "a6c85cf"
    assert bye.call_id == request.call_id
    assert dialog.destination_uri() == uri("sip:p1.example.com;lr")
    info = dialog.create_request(
        "INFO", via=local_via(), body=b"x", content_type="application/dtmf-relay"
    )
    assert info.cseq.seq == 314161
    assert info.headers.get("Content-Type") == "application/dtmf-relay" and info.body == b"x"
    reparsed = parse_message(info.serialize())
    assert isinstance(reparsed, Request) and reparsed.body == b"x"


def test_uas_first_request_starts_at_cseq_one() -> None:
    dialog = Dialog.as_uas(invite(), "bob-tag")
    bye = dialog.create_request("BYE", via=local_via(), contact=NameAddress(uri("sip:b@h")))
    assert bye.cseq.seq == 1
    assert bye.from_.tag == "bob-tag" and bye.to.tag == "1928301774"
    assert bye.uri == uri("sip:alice@pc33.atlanta.example.com:5060")
    assert [NameAddress.parse(r).uri for r in bye.headers.get_all("Route")] == [
        uri("sip:p2.example.com;lr"),
        uri("sip:p1.example.com;lr"),
    ]
    assert bye.contacts[0].uri == uri("sip:b@h")


def test_strict_route_goes_into_the_request_uri_and_target_last() -> None:
    request = invite()
    request.headers.remove("Record-Route")
    request.headers.add("Record-Route", "<sip:strict2.example.com>")
    request.headers.add("Record-Route", "<sip:strict1.example.com>")
    dialog = Dialog.as_uac(request, answer(request))
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:strict1.example.com",
        "sip:strict2.example.com",
    ]
    bye = dialog.create_request("BYE", via=local_via())
    assert bye.uri == uri("sip:strict1.example.com")
    assert [NameAddress.parse(r).uri for r in bye.headers.get_all("Route")] == [
        uri("sip:strict2.example.com"),
        uri("sip:bob@192.0.2.4:5080"),
    ]
    assert dialog.destination_uri() == uri("sip:strict1.example.com")


def test_no_route_set_means_no_route_header() -> None:
    request = invite()
    request.headers.remove("Record-Route")
    dialog = Dialog.as_uac(request, answer(request))
    bye = dialog.create_request("BYE", via=local_via())
    assert bye.headers.get_all("Route") == []
    assert bye.uri == dialog.remote_target == dialog.destination_uri()


def test_create_ack_uses_the_invite_cseq_and_copies_credentials() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, answer(request))
    dialog.create_request("INFO", via=local_via())  # CSeq moves on ...
    via = local_via()
    ack = dialog.create_ack(request, via=via, body=b"v=0\r\n")
    assert (ack.cseq.seq, ack.cseq.method) == (314159, "ACK"), "... the ACK does not"
    assert ack.method == "ACK"
    assert ack.branch == via.branch and ack.branch != request.branch
    assert ack.headers.get("Authorization") == request.headers.get("Authorization")
    assert ack.uri == dialog.remote_target
    assert len(ack.headers.get_all("Route")) == 2
    assert ack.content_type == "application/sdp" and ack.body == b"v=0\r\n"
    assert dialog.local_seq == 314160


# -- receiving in-dialog requests (§12.2.2) ---------------------------------


def in_dialog(method: str, seq: int, contact: str | None = None) -> Request:
    text = (
        f"{method} sip:bob@192.0.2.4:5080 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKr\r\n"
        "From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
        "To: <sip:bob@biloxi.example.com>;tag=bob-tag\r\n"
        "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
        f"CSeq: {seq} {method}\r\n"
        + (f"Contact: {contact}\r\n" if contact else "")
        + "Content-Length: 0\r\n\r\n"
    )
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


def test_lower_cseq_gets_500_and_higher_updates_remote_seq() -> None:
    dialog = Dialog.as_uas(invite(), "bob-tag")
    assert dialog.receive_request(in_dialog("INFO", 314160)) is None
    assert dialog.remote_seq == 314160
    assert dialog.receive_request(in_dialog("INFO", 314159)) == 500
    assert dialog.remote_seq == 314160, "a rejected request leaves the state alone"
    assert dialog.receive_request(in_dialog("INFO", 314160)) is None, "equal is not lower"


@pytest.mark.parametrize("method", ["ACK", "CANCEL"])
def test_ack_and_cancel_are_not_checked_against_cseq(method: str) -> None:
    dialog = Dialog.as_uas(invite(), "bob-tag")
    assert dialog.receive_request(in_dialog(method, 1)) is None
    assert dialog.remote_seq == 314159


def test_first_request_on_uac_side_sets_remote_seq() -> None:
    request = invite()
    dialog = Dialog.as_uac(request, answer(request))
    assert dialog.receive_request(in_dialog("BYE", 5)) is None
    assert dialog.remote_seq == 5


def test_reinvite_with_contact_refreshes_the_remote_target() -> None:
    dialog = Dialog.as_uas(invite(), "bob-tag")
    new_target = "<sip:alice@198.51.100.20:5070;transport=tcp>"
    assert dialog.receive_request(in_dialog("INVITE", 314160, new_target)) is None
    assert dialog.remote_target == uri("sip:alice@198.51.100.20:5070;transport=tcp")
    assert dialog.receive_request(in_dialog("INFO", 314161, "<sip:ignored@h>")) is None
    assert dialog.remote_target == uri("sip:alice@198.51.100.20:5070;transport=tcp")
    assert dialog.receive_request(in_dialog("INVITE", 314162)) is None
    assert dialog.remote_target == uri("sip:alice@198.51.100.20:5070;transport=tcp")


# -- CANCEL (§9.1) and identifiers -------------------------------------------


def test_build_cancel_copies_the_invite_identity() -> None:
    request = invite()
    cancel = build_cancel(request)
    assert cancel.method == "CANCEL"
    assert cancel.uri == request.uri
    assert cancel.headers.get_all("Via") == [request.headers.get("Via")], "only the top Via"
    assert cancel.branch == request.branch
    for name in ("From", "To", "Call-ID"):
        assert cancel.headers.get(name) == request.headers.get(name)
    assert cancel.to.tag is None
    assert (cancel.cseq.seq, cancel.cseq.method) == (314159, "CANCEL")
    assert cancel.headers.get_all("Route") == request.headers.get_all("Route")
    assert cancel.headers.get("Authorization") is None
    reparsed = parse_message(cancel.serialize())
    assert isinstance(reparsed, Request) and reparsed.method == "CANCEL"


def test_identifiers_are_well_formed_and_unique() -> None:
    branches = {new_branch() for _ in range(200)}
    assert len(branches) == 200
    assert all(b.startswith(MAGIC_COOKIE) and len(b) > len(MAGIC_COOKIE) + 8 for b in branches)
    tags = {new_tag() for _ in range(200)}
    assert len(tags) == 200 and all(len(t) == 16 for t in tags)
    call_id = new_call_id("192.0.2.1")
    assert call_id.endswith("@192.0.2.1") and len(call_id.split("@")[0]) == 24
    assert new_call_id("h") != new_call_id("h")
