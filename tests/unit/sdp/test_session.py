"""Parsing and serialising session descriptions (RFC 4566)."""

from __future__ import annotations

import pytest

from callvault.sdp import (
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    Rtcp,
    RtpMap,
    SdpParseError,
    SessionDescription,
    Timing,
    parse,
)
from tests.unit.sdp import fixtures

ALL_FIXTURES = [
    fixtures.SIPP_UAC,
    fixtures.BARESIP,
    fixtures.LINPHONE,
    fixtures.CISCO_VIDEO,
    fixtures.OLD_STYLE_HOLD,
    fixtures.RFC4566_EXAMPLE,
]


def test_sipp_uac() -> None:
    sdp = parse(fixtures.SIPP_UAC)
    assert sdp.origin == Origin("user1", 53655765, 2353687637, "IN", "IP4", "127.0.0.1")
    assert sdp.session_name == "-"
    assert sdp.connection == Connection("127.0.0.1")
    assert sdp.timings == (Timing(0, 0),)
    (audio,) = sdp.media
    assert (audio.media, audio.port, audio.proto, audio.formats) == (
        "audio",
        6000,
        "RTP/AVP",
        ("0",),
    )
    assert audio.rtpmaps == {0: RtpMap(0, "PCMU", 8000)}
    assert audio.direction is None
    assert sdp.direction_for(audio) == "sendrecv"


def test_sipp_uac_serializes_to_the_same_bytes() -> None:
    assert parse(fixtures.SIPP_UAC).serialize() == fixtures.SIPP_UAC.encode()


def test_baresip_session_and_media_attributes() -> None:
    sdp = parse(fixtures.BARESIP.encode())
    assert sdp.attributes == (Attribute("tool", "baresip 3.10.1"),)
    audio = sdp.media[0]
    assert audio.payload_types == [9, 0, 8, 101]
    assert audio.bandwidths == (Bandwidth("AS", 64),)
    assert audio.fmtps == {101: "0-15"}
    assert audio.ptime == 20
    assert audio.direction == "sendrecv"
    assert audio.get_attribute("rtcp-rsize") == ""
    assert audio.get_attribute("label") == "1"
    assert audio.get_attribute("nothing") is None
    assert audio.codec(101) == RtpMap(101, "telephone-event", 8000)
    assert parse(sdp.serialize()) == sdp


def test_linphone_lf_only_with_rtcp_and_video() -> None:
    sdp = parse(fixtures.LINPHONE)
    audio, video = sdp.media
    assert audio.rtcp == Rtcp(7079)
    assert audio.rtpmaps[96] == RtpMap(96, "opus", 48000, 2)
    assert audio.codec(18) == RtpMap(18, "G729", 8000)  # static, no rtpmap
    assert audio.codec(8) == RtpMap(8, "PCMA", 8000)
    assert audio.codec(77) is None
    assert audio.attribute_values("rtcp-fb") == ["* trr-int 1000", "* ccm tmmbr"]
    assert video.media == "video"
    assert video.port == 9078
    # Serialising normalises to CRLF.
    assert b"\r\n" in sdp.serialize()
    assert b"\n" not in sdp.serialize().replace(b"\r\n", b"")
    assert parse(sdp.serialize()) == sdp


def test_cisco_with_video_and_bfcp() -> None:
    sdp = parse(fixtures.CISCO_VIDEO)
    assert sdp.bandwidths == (Bandwidth("TIAS", 6000000), Bandwidth("AS", 6000))
    assert [m.media for m in sdp.media] == ["audio", "video", "application"]
    bfcp = sdp.media[2]
    assert bfcp.proto == "UDP/BFCP"
    assert bfcp.formats == ("*",)
    assert sdp.media[1].direction == "sendrecv"
    assert parse(sdp.serialize()) == sdp


def test_rfc4566_example_keeps_optional_lines_in_order() -> None:
    sdp = parse(fixtures.RFC4566_EXAMPLE)
    assert sdp.extra_lines == (
        ("i", "A Seminar on the session description protocol"),
        ("u", "http://www.example.com/seminars/sdp.pdf"),
        ("e", "j.doe@example.com (Jane Doe)"),
    )
    assert sdp.connection == Connection("224.2.17.12/127")
    assert sdp.timings == (Timing(2873397496, 2873404696, ("7d 1h 0 25h",)),)
    assert sdp.direction == "recvonly"
    assert sdp.direction_for(sdp.media[0]) == "recvonly"
    assert sdp.serialize() == fixtures.RFC4566_EXAMPLE.encode()


@pytest.mark.parametrize("text", ALL_FIXTURES)
def test_fixture_round_trip(text: str) -> None:
    sdp = parse(text)
    again = parse(sdp.serialize())
    assert again == sdp
    assert again.serialize() == sdp.serialize()


def test_unknown_lines_are_kept_where_rfc4566_puts_them() -> None:
    text = (
        "v=0\nx=first\no=- 1 2 IN IP4 h\ns=-\nk=prompt\nz=0 -1h\nt=0 0\ni=about\n"
        "m=audio 5 RTP/AVP 0\ny=media-unknown\ni=audio info\nc=IN IP4 10.0.0.1\n"
    )
    sdp = parse(text)
    assert sdp.extra_lines == (("i", "about"), ("z", "0 -1h"), ("k", "prompt"), ("x", "first"))
    assert sdp.media[0].extra_lines == (("i", "audio info"), ("y", "media-unknown"))
    assert sdp.serialize().decode().split("\r\n") == [
        "v=0",
        "o=- 1 2 IN IP4 h",
        "s=-",
        "i=about",
        "t=0 0",
        "z=0 -1h",
        "k=prompt",
        "x=first",
        "m=audio 5 RTP/AVP 0",
        "i=audio info",
        "c=IN IP4 10.0.0.1",
        "y=media-unknown",
        "",
    ]
    assert parse(sdp.serialize()) == sdp


def test_missing_timing_defaults_to_permanent_session() -> None:
    sdp = parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\n")
    assert sdp.timings == (Timing(0, 0),)
    assert b"t=0 0\r\n" in sdp.serialize()


def test_empty_session_name_serialises_as_single_space() -> None:
    sdp = SessionDescription(origin=Origin("-", 1, 1))
    assert b"s= \r\n" in sdp.serialize()
    assert parse(sdp.serialize()) == sdp


def test_trailing_whitespace_and_blank_lines_are_tolerated() -> None:
    sdp = parse(
        "v=0  \r\n\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0 8 \r\na=sendonly \r\n\r\n"
    )
    assert sdp.media[0].formats == ("0", "8")
    assert sdp.media[0].direction == "sendonly"


def test_port_count_and_rejected_stream_without_formats() -> None:
    sdp = parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 49170/2 RTP/AVP 0\r\nm=video 0 RTP/AVP\r\n"
    )
    assert sdp.media[0].port_count == 2
    assert sdp.media[0].m_line() == "audio 49170/2 RTP/AVP 0"
    assert sdp.media[1].port == 0
    assert sdp.media[1].formats == ()
    assert parse(sdp.serialize()) == sdp


def test_non_utf8_bytes_survive_a_round_trip() -> None:
    raw = b"v=0\r\no=- 1 1 IN IP4 h\r\ns=Caf\xe9\r\nt=0 0\r\n"
    sdp = parse(raw)
    assert sdp.serialize() == raw


def test_built_description_serialises_in_rfc_order() -> None:
    sdp = SessionDescription(
        origin=Origin("-", 7, 9, address="192.0.2.1"),
        session_name="call",
        connection=Connection("192.0.2.1"),
        media=(
            MediaDescription(
                "audio",
                4000,
                "RTP/AVP",
                ("8",),
                attributes=(Attribute("rtpmap", "8 PCMA/8000"), Attribute("sendrecv")),
            ),
        ),
    )
    assert sdp.serialize() == (
        b"v=0\r\no=- 7 9 IN IP4 192.0.2.1\r\ns=call\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        b"m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n"
    )


def test_ptime_fraction_is_rounded() -> None:
    sdp = parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\na=ptime:29.5\r\n")
    assert sdp.media[0].ptime == 30


def test_rtcp_with_address() -> None:
    sdp = parse(
        "v=0\no=- 1 1 IN IP4 h\ns=-\nm=audio 5 RTP/AVP 0\na=rtcp:53020 IN IP4 126.16.64.4\n"
    )
    assert sdp.media[0].rtcp == Rtcp(53020, "IN", "IP4", "126.16.64.4")
    assert Rtcp(53020, "IN", "IP4", "126.16.64.4").serialize() == "53020 IN IP4 126.16.64.4"


def test_error_message_names_line_number_and_content() -> None:
    text = "v=0\r\no=- 1 1 IN IP4 h\r\nm=audio x RTP/AVP 0\r\n"
    with pytest.raises(SdpParseError) as info:
        parse(text)
    assert str(info.value).startswith("line 3: invalid m= line 'audio x RTP/AVP 0'")
    assert info.value.line_number == 3
    assert info.value.line == "m=audio x RTP/AVP 0"


@pytest.mark.parametrize(("text", "line_number", "words"), fixtures.HOSTILE)
def test_hostile_descriptions(text: str, line_number: int | None, words: str) -> None:
    with pytest.raises(SdpParseError) as info:
        parse(text)
    assert info.value.line_number == line_number
    assert words in str(info.value)
    if line_number is not None:
        assert str(info.value).startswith(f"line {line_number}: ")


def test_parse_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty session description"):
        parse(b"")
