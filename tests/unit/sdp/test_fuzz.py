"""Property-based tests: the parser never fails in an unexpected way and
serialisation round-trips (RFC 4566)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callvault.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    NegotiationError,
    Origin,
    SdpParseError,
    SessionDescription,
    Timing,
    negotiate,
    parse,
)
from tests.unit.sdp import fixtures

_HEADER = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"

_LINES = [
    line
    for text in (
        fixtures.BARESIP,
        fixtures.LINPHONE,
        fixtures.CISCO_VIDEO,
        fixtures.RFC4566_EXAMPLE,
    )
    for line in text.replace("\r\n", "\n").split("\n")
    if line
]

sdp_like_line = st.one_of(
    st.sampled_from(_LINES),
    st.builds(
        lambda kind, value: f"{kind}={value}",
        st.sampled_from("vosiuepcbtrzkamxA"),
        st.text(max_size=30),
    ),
    st.builds(
        lambda head, tail: f"{head}{tail}",
        st.sampled_from(["m=audio ", "m=video 0 ", "a=rtpmap:", "a=ptime:", "a=rtcp:", "a=fmtp:"]),
        st.text(alphabet="0123456789 /.RTPAVtelephone-ventPCMU", max_size=25),
    ),
)
sdp_like_text = st.builds(
    lambda lines, sep: _HEADER + sep.join(lines),
    st.lists(sdp_like_line, max_size=12),
    st.sampled_from(["\r\n", "\n"]),
)


def _parse_or_error(text: str | bytes) -> SessionDescription | None:
    try:
        return parse(text)
    except SdpParseError:
        return None


@settings(max_examples=300)
@given(st.one_of(st.text(), sdp_like_text))
def test_any_text_parses_or_raises_sdp_parse_error(text: str) -> None:
    sdp = _parse_or_error(text)
    if sdp is not None:
        assert isinstance(sdp, SessionDescription)
        again = parse(sdp.serialize())
        assert again == sdp


@settings(max_examples=200)
@given(st.binary())
def test_any_bytes_parse_or_raise_sdp_parse_error(data: bytes) -> None:
    sdp = _parse_or_error(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n" + data)
    if sdp is not None:
        assert parse(sdp.serialize()) == sdp


@settings(max_examples=200)
@given(sdp_like_text)
def test_negotiating_parsed_offers_fails_only_with_negotiation_error(text: str) -> None:
    sdp = _parse_or_error(text)
    if sdp is None:
        return
    try:
        result = negotiate(sdp, "192.0.2.9", 30000, session_id=1, session_version=1)
    except NegotiationError:
        return
    assert len(result.answer.media) == len(sdp.media)
    assert parse(result.answer.serialize()) == result.answer


token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-._", min_size=1, max_size=12)
free_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=20
).map(str.strip)
number = st.integers(min_value=0, max_value=2**64)
attribute = st.builds(
    Attribute,
    token.filter(lambda name: name not in ("rtpmap", "fmtp", "ptime", "rtcp")),
    st.one_of(st.none(), st.text(alphabet="abc 0123:/=;", max_size=15).map(str.strip)),
)
connection = st.builds(Connection, token, st.just("IN"), st.sampled_from(["IP4", "IP6"]))
bandwidth = st.builds(Bandwidth, st.sampled_from(["AS", "TIAS", "CT"]), number)
media = st.builds(
    MediaDescription,
    st.sampled_from(["audio", "video", "image", "application"]),
    st.integers(min_value=1, max_value=65535),
    st.sampled_from(["RTP/AVP", "udptl", "UDP/BFCP"]),
    st.lists(st.integers(min_value=0, max_value=127).map(str), min_size=1, max_size=5).map(tuple),
    port_count=st.one_of(st.none(), st.integers(min_value=1, max_value=9)),
    connection=st.one_of(st.none(), connection),
    bandwidths=st.lists(bandwidth, max_size=2).map(tuple),
    attributes=st.lists(attribute, max_size=4).map(tuple),
    extra_lines=st.lists(
        st.tuples(st.sampled_from("ikxy"), free_text.filter(bool)), max_size=3
    ).map(tuple),
)
session = st.builds(
    SessionDescription,
    origin=st.builds(Origin, token, number, number, st.just("IN"), st.just("IP4"), token),
    session_name=free_text,
    connection=st.one_of(st.none(), connection),
    timings=st.lists(
        st.builds(Timing, number, number, st.lists(free_text.filter(bool), max_size=2).map(tuple)),
        max_size=2,
    ).map(tuple),
    bandwidths=st.lists(bandwidth, max_size=2).map(tuple),
    attributes=st.lists(attribute, max_size=4).map(tuple),
    media=st.lists(media, max_size=3).map(tuple),
    extra_lines=st.lists(
        st.tuples(st.sampled_from("iuepzkxy"), free_text.filter(bool)), max_size=4
    ).map(tuple),
)


@settings(max_examples=300)
@given(session)
def test_round_trip_of_built_descriptions(sdp: SessionDescription) -> None:
    assert parse(sdp.serialize()) == sdp
