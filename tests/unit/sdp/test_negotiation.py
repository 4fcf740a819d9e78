"""SDP offer/answer for audio (RFC 3264)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from callvault.sdp import (
    Attribute,
    Connection,
    MediaDescription,
    NegotiatedMedia,
    NegotiationError,
    NoCommonCodecError,
    SessionDescription,
    build_offer,
    is_unchanged,
    negotiate,
    new_session_id,
    next_version,
    parse,
    parse_answer,
)
from tests.unit.sdp import fixtures

LOCAL = "192.0.2.10"


def answer(offer: SessionDescription | str, **kwargs: object) -> NegotiatedMedia:
    if isinstance(offer, str):
        offer = parse(offer)
    return negotiate(offer, LOCAL, 30000, session_id=42, session_version=1, **kwargs)  # type: ignore[arg-type]


def with_direction(sdp: SessionDescription, direction: str) -> SessionDescription:
    """The description with its audio stream's direction attribute replaced."""
    audio = sdp.media[0]
    kept = tuple(
        a
        for a in audio.attributes
        if a.name not in ("sendrecv", "sendonly", "recvonly", "inactive")
    )
    audio = replace(audio, attributes=(*kept, Attribute(direction)))
    return replace(sdp, media=(audio, *sdp.media[1:]))


def test_build_offer_shape() -> None:
    offer = build_offer("192.0.2.1", 4000, session_id=5, session_version=1)
    assert offer.serialize() == (
        b"v=0\r\n"
        b"o=- 5 1 IN IP4 192.0.2.1\r\n"
        b"s=callvault\r\n"
        b"c=IN IP4 192.0.2.1\r\n"
        b"t=0 0\r\n"
        b"m=audio 4000 RTP/AVP 0 8 101\r\n"
        b"a=rtpmap:0 PCMU/8000\r\n"
        b"a=rtpmap:8 PCMA/8000\r\n"
        b"a=rtpmap:101 telephone-event/8000\r\n"
        b"a=fmtp:101 0-16\r\n"
        b"a=ptime:20\r\n"
        b"a=sendrecv\r\n"
    )
    assert parse(offer.serialize()) == offer


def test_build_offer_ipv6_and_options() -> None:
    offer = build_offer(
        "2001:db8::1", 4000, codecs=("pcma",), dtmf_pt=None, session_id=1, session_version=3
    )
    assert offer.origin.addrtype == "IP6"
    assert offer.connection == Connection("2001:db8::1", "IN", "IP6")
    assert offer.media[0].formats == ("8",)


@pytest.mark.parametrize(
    "kwargs",
    [{"codecs": ("G729",)}, {"codecs": ()}, {"dtmf_pt": 8}, {"direction": "sideways"}],
)
def test_build_offer_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_offer("192.0.2.1", 4000, session_id=1, session_version=1, **kwargs)  # type: ignore[arg-type]


def test_answer_sipp_pcmu_only() -> None:
    result = answer(fixtures.SIPP_UAC)
    assert (result.codec, result.payload_type, result.clock_rate) == ("PCMU", 0, 8000)
    assert (result.remote_address, result.remote_port) == ("127.0.0.1", 6000)
    assert (result.remote_rtcp_address, result.remote_rtcp_port) == ("127.0.0.1", 6001)
    assert result.telephone_event_pt is None
    assert result.ptime == 20
    assert result.direction == "sendrecv"
    assert not result.is_hold
    assert result.sends and result.receives
    sdp = result.answer
    assert sdp is result.local_sdp
    assert result.offer is result.remote_sdp
    assert sdp.origin.session_id == 42
    assert sdp.connection == Connection(LOCAL)
    (audio,) = sdp.media
    assert (audio.port, audio.formats) == (30000, ("0",))
    assert audio.direction == "sendrecv"
    assert parse(sdp.serialize()) == sdp


def test_answer_baresip_offerer_order_and_dtmf() -> None:
    result = answer(fixtures.BARESIP)
    # G722 comes first but is not supported; PCMU is the offerer's next choice.
    assert (result.codec, result.payload_type) == ("PCMU", 0)
    assert result.telephone_event_pt == 101
    audio = result.answer.media[0]
    assert audio.formats == ("0", "101")
    assert audio.fmtps == {101: "0-16"}
    assert audio.ptime == 20


def test_answer_local_order_prefers_our_codec() -> None:
    result = answer(fixtures.BARESIP, prefer="local order")
    assert (result.codec, result.payload_type) == ("PCMA", 8)
    result = answer(fixtures.BARESIP, prefer="local order", supported=("PCMU", "PCMA"))
    assert result.codec == "PCMU"


def test_answer_linphone_picks_8khz_telephone_event_and_rtcp_attribute() -> None:
    result = answer(fixtures.LINPHONE)
    assert result.codec == "PCMU"
    assert result.telephone_event_pt == 100  # the 8000 Hz one, not 101 at 48 kHz
    assert result.remote_rtcp_port == 7079
    # The video stream is refused with port 0, formats echoed.
    video = result.answer.media[1]
    assert (video.media, video.port, video.formats) == ("video", 0, ("96",))


def test_answer_cisco_with_video_and_dtmf_on_pt_96() -> None:
    result = answer(fixtures.CISCO_VIDEO)
    assert (result.codec, result.payload_type) == ("PCMU", 0)
    assert result.telephone_event_pt == 96
    assert result.remote_address == "10.10.20.5"
    media = result.answer.media
    assert [(m.media, m.port) for m in media] == [
        ("audio", 30000),
        ("video", 0),
        ("application", 0),
    ]
    assert media[0].rtpmaps[96].encoding == "telephone-event"
    assert media[0].fmtps == {96: "0-16"}
    assert media[2].proto == "UDP/BFCP"
    assert parse(result.answer.serialize()) == result.answer


def test_answer_copies_timing_and_uses_remote_ptime() -> None:
    offer = parse(fixtures.SIPP_UAC.replace("t=0 0", "t=3034423619 0") + "a=ptime:30\r\n")
    result = answer(offer)
    assert result.answer.timings == offer.timings
    assert result.ptime == 30


def test_no_common_codec() -> None:
    offer = parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nm=audio 5 RTP/AVP 18 9\r\n"
    )
    with pytest.raises(NoCommonCodecError) as info:
        answer(offer)
    assert info.value.status == 488
    assert info.value.reason == "Not Acceptable Here"
    assert "audio 5 RTP/AVP 18 9" in str(info.value)


def test_codec_at_other_clock_rate_is_not_common() -> None:
    offer = parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nm=audio 5 RTP/AVP 97\r\n"
        "a=rtpmap:97 PCMA/16000\r\n"
    )
    with pytest.raises(NoCommonCodecError):
        answer(offer)


def test_dynamic_payload_type_for_g711_is_honoured() -> None:
    offer = parse(
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nm=audio 5 RTP/AVP 97\r\n"
        "a=rtpmap:97 pcma/8000\r\n"
    )
    result = answer(offer)
    assert (result.codec, result.payload_type) == ("PCMA", 97)


@pytest.mark.parametrize(
    "media_line",
    ["m=video 5 RTP/AVP 96", "m=audio 5 RTP/SAVP 0", "m=audio 0 RTP/AVP 0", "m=image 5 udptl t38"],
)
def test_offer_without_usable_audio_is_refused(media_line: str) -> None:
    offer = parse(f"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n{media_line}\r\n")
    with pytest.raises(NegotiationError) as info:
        answer(offer)
    assert not isinstance(info.value, NoCommonCodecError)
    assert info.value.status == 488


def test_second_audio_stream_is_refused() -> None:
    text = fixtures.SIPP_UAC + "m=audio 6002 RTP/AVP 8\r\n"
    result = answer(text)
    assert [m.port for m in result.answer.media] == [30000, 0]


def test_audio_without_connection_is_refused() -> None:
    with pytest.raises(NegotiationError, match="no c= line"):
        answer("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 5 RTP/AVP 0\r\n")


def test_media_level_connection_wins() -> None:
    offer = parse(fixtures.SIPP_UAC + "c=IN IP4 198.51.100.9\r\n")
    assert answer(offer).remote_address == "198.51.100.9"


@pytest.mark.parametrize(
    ("offered", "answered", "hold"),
    [
        ("sendrecv", "sendrecv", False),
        ("sendonly", "recvonly", True),
        ("inactive", "inactive", True),
        ("recvonly", "sendonly", False),
    ],
)
def test_answer_direction_rfc3264_6_1(offered: str, answered: str, hold: bool) -> None:
    result = answer(with_direction(parse(fixtures.BARESIP), offered))
    assert result.answer.media[0].direction == answered
    assert result.direction == answered
    assert result.is_hold is hold


def test_session_level_direction_applies() -> None:
    result = answer(fixtures.SIPP_UAC.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n"))
    assert result.direction == "recvonly"
    assert result.is_hold


def test_local_direction_is_intersected() -> None:
    result = answer(fixtures.BARESIP, direction="sendonly")
    assert result.direction == "sendonly"
    result = answer(with_direction(parse(fixtures.BARESIP), "sendonly"), direction="sendonly")
    assert result.direction == "inactive"


def test_old_style_hold_with_zero_address() -> None:
    result = answer(fixtures.OLD_STYLE_HOLD)
    assert result.is_hold
    assert result.remote_address == "0.0.0.0"
    assert not result.sends
    assert result.direction == "recvonly"
    assert result.codec == "PCMA"


def test_hold_and_resume_sequence_with_growing_versions() -> None:
    remote = parse(fixtures.BARESIP)
    first = answer(remote)
    assert not first.is_hold

    hold_offer = replace(
        with_direction(remote, "sendonly"),
        origin=replace(remote.origin, session_version=next_version(remote)),
    )
    assert not is_unchanged(remote, hold_offer)
    held = negotiate(
        hold_offer, LOCAL, 30000, session_id=42, session_version=next_version(first.local_sdp)
    )
    assert held.is_hold
    assert held.direction == "recvonly"
    assert held.local_sdp.origin.session_version == 2
    assert held.local_sdp.origin.session_id == first.local_sdp.origin.session_id

    resume_offer = replace(
        with_direction(remote, "sendrecv"),
        origin=replace(remote.origin, session_version=next_version(hold_offer)),
    )
    resumed = negotiate(
        resume_offer, LOCAL, 30000, session_id=42, session_version=next_version(held.local_sdp)
    )
    assert not resumed.is_hold
    assert resumed.direction == "sendrecv"
    assert resumed.local_sdp.origin.session_version == 3
    assert is_unchanged(resume_offer, parse(resume_offer.serialize()))


def test_new_session_id_is_random_and_fits_o_line() -> None:
    ids = {new_session_id() for _ in range(8)}
    assert len(ids) == 8
    assert all(0 <= i < 2**63 for i in ids)


# --- we are the offerer (RFC 3264 §7) -------------------------------------------


def our_offer(**kwargs: object) -> SessionDescription:
    return build_offer("192.0.2.1", 4000, session_id=9, session_version=1, **kwargs)  # type: ignore[arg-type]


def test_parse_answer_from_our_own_negotiate() -> None:
    offer = our_offer()
    answered = negotiate(offer, "192.0.2.2", 5000, session_id=1, session_version=1)
    result = parse_answer(offer, answered.local_sdp)
    assert result.we_offered
    assert result.offer is offer
    assert result.answer is answered.local_sdp
    assert (result.codec, result.payload_type) == ("PCMU", 0)
    assert (result.remote_address, result.remote_port, result.remote_rtcp_port) == (
        "192.0.2.2",
        5000,
        5001,
    )
    assert result.telephone_event_pt == result.local_telephone_event_pt == 101
    assert result.direction == "sendrecv"
    assert not result.is_hold


def test_parse_answer_with_renumbered_telephone_event() -> None:
    offer = our_offer()
    text = (
        "v=0\r\no=peer 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n"
        "m=audio 7000 RTP/AVP 8 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"
        "a=ptime:30\r\n"
    )
    result = parse_answer(offer, parse(text))
    assert (result.codec, result.payload_type) == ("PCMA", 8)
    assert result.telephone_event_pt == 96
    assert result.local_telephone_event_pt == 101
    assert result.ptime == 30


def test_parse_answer_hold_we_initiated() -> None:
    offer = our_offer(direction="sendonly")
    answered = negotiate(offer, "192.0.2.2", 5000, session_id=1, session_version=2)
    assert answered.direction == "recvonly"
    result = parse_answer(offer, answered.local_sdp)
    assert result.is_hold
    assert result.direction == "sendonly"


def test_parse_answer_zero_address_means_do_not_send() -> None:
    offer = our_offer()
    result = parse_answer(offer, parse(fixtures.OLD_STYLE_HOLD.replace("8 0", "0")))
    assert not result.sends
    assert result.receives


def test_parse_answer_rejections() -> None:
    offer = our_offer()
    refused = parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nm=audio 0 RTP/AVP 0\r\n")
    with pytest.raises(NoCommonCodecError, match="port 0"):
        parse_answer(offer, refused)
    foreign = parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nm=audio 5 RTP/AVP 18\r\n")
    with pytest.raises(NoCommonCodecError, match="none of the offered codecs"):
        parse_answer(offer, foreign)
    empty = parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n")
    with pytest.raises(NegotiationError, match="RFC 3264"):
        parse_answer(offer, empty)
    video = parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nm=video 5 RTP/AVP 0\r\n")
    with pytest.raises(NegotiationError, match="'video'"):
        parse_answer(offer, video)


def test_parse_answer_codec_we_did_not_offer_is_ignored() -> None:
    offer = our_offer(codecs=("PCMA",))
    text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nm=audio 5 RTP/AVP 0 8\r\n"
    assert parse_answer(offer, parse(text)).codec == "PCMA"


def test_offer_without_audio_cannot_be_read_back() -> None:
    offer = replace(our_offer(), media=(MediaDescription("video", 5, "RTP/AVP", ("96",)),))
    with pytest.raises(NegotiationError, match="no audio stream"):
        parse_answer(offer, offer)
