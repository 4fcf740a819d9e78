"""SIP message parsing against byte fixtures: valid, truncated and hostile (RFC 3261 §7, §18.3)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callvault.sip.errors import SipParseError
from callvault.sip.headers import CSeq, NameAddress, Via, canonical_name, split_list
from callvault.sip.message import (
    Request,
    Response,
    StreamFramer,
    build_error_from_raw,
    build_response,
    parse_message,
)
from callvault.sip.uri import SipUri

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sip"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_sipp_invite() -> None:
    message = parse_message(fixture("sipp_invite.txt"))
    assert isinstance(message, Request)
    assert message.method == "INVITE" and message.uri.user == "100" and message.uri.port == 5060
    assert message.cseq == CSeq(1, "INVITE")
    assert message.from_.tag == "2686SIPpTag001" and message.from_.display_name == "sipp"
    assert message.body.startswith(b"v=0") and len(message.body) == 129
    assert message.contacts[0].uri == SipUri.parse("sip:sipp@127.0.0.1:5061")


def test_compact_headers_ipv6_quoted_display_name_and_folding() -> None:
    message = parse_message(fixture("baresip_compact_invite.txt"), stream=True)
    assert isinstance(message, Request)
    via = message.top_via
    assert via.transport == "TCP" and via.host == "[::1]" and via.port == 41234
    assert "rport" in via.params and via.params["rport"] is None
    assert message.from_.display_name == 'Bob "the builder"'
    assert message.call_id == "7f0e2c4a@[::1]"
    assert message.headers.get("Supported") == "replaces"
    assert message.headers.get_all("k") == ["replaces", "100rel"]
    assert len(message.headers.get_all("Allow")) == 11
    assert message.headers.get("X-Long-Header") == "first part folded second part"
    assert message.content_type == "application/sdp"
    assert message.contacts[0].uri is not None and message.contacts[0].uri.transport == "tcp"


def test_register_with_authorization_keeps_commas_in_quotes() -> None:
    message = parse_message(fixture("linphone_register.txt"))
    assert isinstance(message, Request)
    assert message.to.uri == SipUri.parse("sip:jan@acme.test")
    authorization = message.headers.get("Authorization") or ""
    assert 'nonce="abc,def"' in authorization, "Authorization is not a list header"
    assert message.contacts[0].expires == 600
    assert message.headers.get_all("Supported") == ["replaces", "outbound", "gruu"]


def test_response_with_via_stack_and_record_route() -> None:
    message = parse_message(fixture("response_two_vias.txt"))
    assert isinstance(message, Response)
    assert message.status == 200 and message.reason == "OK"
    assert [v.host for v in message.vias] == ["127.0.0.1", "10.0.0.1"]
    assert message.top_via.params["received"] == "127.0.0.1"
    assert [str(r.uri) for r in message.record_route] == [
        "sip:proxy1.example.com;lr",
        "sip:proxy2.example.com;lr",
    ]


def test_lf_only_line_endings_odd_case_names_and_tel_uri() -> None:
    message = parse_message(fixture("lf_only_odd_case.txt"))
    assert isinstance(message, Request)
    assert message.uri.scheme == "tel" and message.uri.user == "+48221234567"
    assert message.call_id == "lf-only" and message.cseq.method == "OPTIONS"


def test_serialize_round_trip_sets_content_length() -> None:
    original = parse_message(fixture("sipp_invite.txt"))
    again = parse_message(original.serialize())
    assert isinstance(again, Request)
    assert again.body == original.body
    assert list(again.headers) == list(original.headers)
    assert b"Content-Length: 129\r\n" in original.serialize()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.replace(b"CSeq: 1 INVITE", b"CSeq: one INVITE"), "invalid CSeq"),
        (lambda b: b.replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE"), "does not match request method"),
        (
            lambda b: b.replace(b"Call-ID: 1-2686@127.0.0.1\r\n", b""),
            "missing mandatory header Call-ID",
        ),
        (lambda b: b.replace(b"Via: SIP/2.0/UDP", b"Via: SIP/3.0/UDP"), "invalid Via"),
        (
            lambda b: b.replace(b"Content-Length:   129", b"Content-Length: 400"),
            "exceeds the 129 body",
        ),
        (
            lambda b: b.replace(b"Content-Length:   129", b"Content-Length: -1"),
            "invalid Content-Length",
        ),
        (lambda b: b.replace(b"SIP/2.0\r\n", b"SIP/1.0\r\n", 1), "unsupported SIP version"),
        (lambda b: b.replace(b"INVITE sip:", b"INV\x00TE sip:", 1), "invalid method"),
        (lambda b: b.replace(b"To: <sip:100", b"To: <sip:100\xff", 1), "not UTF-8"),
        (lambda b: b.replace(b"Max-Forwards: 70", b"Max-Forwards: many"), "invalid Max-Forwards"),
        (lambda b: b + b"x" * 70000, "exceeds 65535"),
        (lambda b: b"\r\n\r\n", "empty message"),
        (lambda b: b.replace(b"From: sipp <sip:", b"From: sipp <sop:"), "unsupported URI scheme"),
        (
            lambda b: b.replace(b"Subject: Performance Test", b"Subject Performance Test"),
            "malformed header line",
        ),
    ],
)
def test_hostile_input_raises_the_one_parse_error_with_a_precise_message(
    mutate: object, message: str
) -> None:
    assert callable(mutate)
    with pytest.raises(SipParseError, match=message):
        parse_message(mutate(fixture("sipp_invite.txt")))


def test_truncation_at_every_offset_parses_or_raises_parse_error_only() -> None:
    data = fixture("sipp_invite.txt")
    for end in range(len(data)):
        try:
            parse_message(data[:end])
        except SipParseError:
            continue


def test_broken_cseq_still_gets_a_400_and_missing_via_does_not() -> None:
    data = fixture("sipp_invite.txt").replace(b"CSeq: 1 INVITE", b"CSeq: x INVITE")
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert info.value.raw_headers is not None
    reply = build_error_from_raw(info.value.raw_headers, 400, f"Bad Request ({info.value})")
    assert reply is not None and reply.startswith(b"SIP/2.0 400 Bad Request (invalid CSeq")
    assert b"Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-2686-1-0" in reply
    no_via = [(n, v) for n, v in info.value.raw_headers if n != "Via"]
    assert build_error_from_raw(no_via, 400, "x") is None


def test_build_response_copies_the_dialog_headers_and_tags_once() -> None:
    request = parse_message(fixture("sipp_invite.txt"))
    assert isinstance(request, Request)
    ringing = build_response(request, 180, to_tag="abc")
    assert ringing.to.tag == "abc" and ringing.call_id == request.call_id
    assert ringing.headers.get_all("Via") == request.headers.get_all("Via")
    # a request whose To already carries a tag (in-dialog) keeps it
    in_dialog = parse_message(
        request.serialize().replace(
            b"To: <sip:100@127.0.0.1:5060>", b"To: <sip:100@127.0.0.1:5060>;tag=abc"
        )
    )
    assert isinstance(in_dialog, Request)
    assert build_response(in_dialog, 200, to_tag="zzz").to.tag == "abc"


def test_stream_framer_handles_keepalives_and_split_messages() -> None:
    one = fixture("sipp_invite.txt")
    two = fixture("response_two_vias.txt")
    framer = StreamFramer()
    stream = b"\r\n\r\n" + one + two
    out: list[bytes] = []
    for i in range(0, len(stream), 7):
        out += framer.feed(stream[i : i + 7])
    assert out == [one, two]
    assert framer.keepalives >= 1


def test_stream_framer_refuses_missing_content_length() -> None:
    with pytest.raises(SipParseError, match="mandatory on stream"):
        StreamFramer().feed(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")


def test_header_registry_and_list_splitting() -> None:
    assert canonical_name("i") == "Call-ID" and canonical_name("CALL-id") == "Call-ID"
    assert canonical_name("m") == "Contact" and canonical_name("X-Custom") == "X-Custom"
    assert split_list('"a, b" <sip:x@y>, <sip:z@w;p=1,2>, c') == [
        '"a, b" <sip:x@y>',
        "<sip:z@w;p=1,2>",
        "c",
    ]
    assert str(NameAddress.parse("sip:a@b;tag=1")) == "<sip:a@b>;tag=1"
    assert str(Via.parse("SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport")) == (
        "SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport"
    )


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_yield_a_message_or_the_parse_error(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse_message(data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_fixtures_yield_a_message_or_the_parse_error(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in FIXTURES.glob("*.txt"))))
    raw = bytearray(fixture(name))
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            raw[position] = data.draw(st.integers(0, 255))
        elif action == "insert":
            raw.insert(position, data.draw(st.sampled_from(list(b':;,<>"\r\n @=\\\x00'))))
        elif len(raw) > 1:
            del raw[position]
    with contextlib.suppress(SipParseError):
        parse_message(bytes(raw))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_header_value_parsers_raise_only_the_parse_error(text: str) -> None:
    for parser in (SipUri.parse, NameAddress.parse, Via.parse, CSeq.parse):
        with contextlib.suppress(SipParseError):
            parser(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 60), min_size=1, max_size=20))
def test_framer_any_chunking_yields_exactly_the_messages(chunks: list[int]) -> None:
    messages = [fixture("sipp_invite.txt"), fixture("response_two_vias.txt")] * 2
    stream = b"".join(messages)
    framer = StreamFramer()
    out: list[bytes] = []
    position = 0
    index = 0
    while position < len(stream):
        size = chunks[index % len(chunks)]
        out += framer.feed(stream[position : position + size])
        position += size
        index += 1
    assert out == messages
